//! Several replicas on one S3 bucket, end to end: the topology of
//! `scripts/scale-out.sh` (moto's S3 server, replicas A and B, HAProxy in front),
//! plus replicas these tests start and stop themselves.
//!
//! Ignored in a plain `cargo test`: they need that topology. `scripts/scale-out.sh
//! test` starts it, runs them with `--ignored`, and stops it (CI does this).

mod common;

use common::{Server, kill_processes_under};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use object_store::ObjectStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by scripts/scale-out.sh"))
}

struct Topology {
    balancer: String,
    a: String,
    b: String,
    key: String,
    http: reqwest::Client,
}

fn topology() -> Topology {
    Topology {
        balancer: env("RUNWAY_SCALE_OUT_BALANCER"),
        a: env("RUNWAY_SCALE_OUT_REPLICA_A"),
        b: env("RUNWAY_SCALE_OUT_REPLICA_B"),
        key: env("RUNWAY_SCALE_OUT_KEY"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client"),
    }
}

impl Topology {
    async fn post(&self, base: &str, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{base}{path}"))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Posts `body` to `path` through `base`, expects `status`, and answers the
    /// string `field` of the JSON answer (a media URL, a task id).
    async fn post_for(
        &self,
        base: &str,
        path: &str,
        body: Value,
        status: StatusCode,
        field: &str,
    ) -> String {
        let response = self.post(base, path, body).await;
        assert_eq!(response.status(), status, "{path}");
        let answer: Value = response.json().await.expect("json");
        answer[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {answer}"))
            .to_owned()
    }

    /// The whole body at `url`.
    async fn bytes(&self, url: &str) -> bytes::Bytes {
        self.http
            .get(url)
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes")
    }

    async fn get_json(&self, base: &str, path: &str) -> (StatusCode, Value) {
        self.get_json_with(base, path, &self.key).await
    }

    /// GETs `path` through `base` with `key`: the status and the JSON answer.
    async fn get_json_with(&self, base: &str, path: &str, key: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn task(&self, base: &str, id: &str) -> Value {
        let (status, task) = self.get_json(base, &format!("/v1/tasks/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{task}");
        task
    }

    /// Reads task `id` through `base` until `done` says so, or panics after `within`.
    async fn wait_task(
        &self,
        base: &str,
        id: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let task = self.task(base, id).await;
            if done(&task) {
                return task;
            }
            assert!(started.elapsed() < within, "task after {within:?}: {task}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `url` (handed out with the balancer's base) through replica `base`.
    fn through(&self, url: &str, base: &str) -> String {
        let path = url
            .strip_prefix(&self.balancer)
            .expect("a URL of this deployment");
        format!("{base}{path}")
    }
}

/// The bucket, read directly.
fn bucket() -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(env("RUNWAY_SCALE_OUT_BUCKET"))
        .build()
        .expect("bucket")
}

async fn count_objects(folder: &str) -> usize {
    let prefix = object_store::path::Path::from(folder);
    bucket()
        .list(Some(&prefix))
        .try_collect::<Vec<_>>()
        .await
        .expect("list")
        .len()
}

/// A long task: a 10 s 1280x720 render keeps both cores busy for seconds.
fn long_render() -> Value {
    json!({"operation": "generate-video", "input": {"prompt": "a long render", "duration": 10, "fps": 60, "width": 1280, "height": 720}})
}

/// Starts one more replica on the bucket (with the deployment's environment) on a
/// free loopback port; answers the process and its base URL.
fn start_replica(data_dir: &std::path::Path, extra: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_runway-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("listening on ").nth(1).map(str::to_owned))
        .expect("the replica reports its address");
    std::thread::spawn(move || lines.for_each(drop));
    (Server(child), url)
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn media_made_through_one_replica_is_served_described_and_deleted_through_the_other() {
    let t = topology();
    let url = t
        .post_for(
            &t.a,
            "/v1/generate-video",
            json!({"prompt": "replicas", "duration": 2, "width": 320, "height": 240}),
            StatusCode::OK,
            "video_url",
        )
        .await;

    // The bytes, whole through A and in part through B.
    let whole = t.bytes(&t.through(&url, &t.a)).await;
    assert_eq!(&whole[4..8], b"ftyp", "an MP4");
    let part = t
        .http
        .get(t.through(&url, &t.b))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .expect("get");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"].to_str().expect("ascii"),
        format!("bytes 100-199/{}", whole.len())
    );
    assert_eq!(part.bytes().await.expect("bytes"), whole.slice(100..200));

    // Listed through B (the owner's index is in the bucket too).
    let (status, listed) = t.get_json(&t.b, "/v1/media?kind=video&limit=100").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let urls: Vec<&str> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["url"].as_str())
        .collect();
    assert!(urls.contains(&url.as_str()), "{listed}");

    // Described through B.
    let query = format!(
        "/v1/video-metadata?video_url={}",
        url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
    );
    let (status, metadata) = t.get_json(&t.b, &query).await;
    assert_eq!(status, StatusCode::OK, "{metadata}");
    assert_eq!(metadata["width"], 320);
    assert_eq!(metadata["height"], 240);
    let duration = metadata["duration_seconds"].as_f64().expect("duration");
    assert!((duration - 2.0).abs() < 0.1, "{metadata}");

    // Edited through B (its input read from the bucket, its output written there),
    // and the result fetched through A.
    let thumbnail = t
        .post_for(
            &t.b,
            "/v1/generate-thumbnail",
            json!({"video_url": url, "time_position": 1}),
            StatusCode::OK,
            "thumbnail_url",
        )
        .await;
    let jpeg = t.bytes(&t.through(&thumbnail, &t.a)).await;
    let frame = image::load_from_memory(&jpeg).expect("a JPEG");
    assert_eq!((frame.width(), frame.height()), (320, 240));

    // Deleted through B: gone through A.
    let deleted = t
        .http
        .delete(format!("{}/v1/delete-media", t.b))
        .bearer_auth(&t.key)
        .query(&[("media_url", url.as_str()), ("auth_token", t.key.as_str())])
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::OK);
    let gone = t.http.get(t.through(&url, &t.a)).send().await.expect("get");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn a_task_created_on_one_replica_is_read_and_cancelled_on_the_other() {
    let t = topology();
    let videos_before = count_objects("videos").await;
    let id = t
        .post_for(&t.a, "/v1/tasks", long_render(), StatusCode::ACCEPTED, "id")
        .await;

    // B sees it run, with progress, then cancels it.
    t.wait_task(&t.b, &id, Duration::from_secs(30), |task| {
        task["status"] == "running"
    })
    .await;
    let cancelled = t
        .http
        .delete(format!("{}/v1/tasks/{id}", t.b))
        .bearer_auth(&t.key)
        .send()
        .await
        .expect("delete");
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.expect("json");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let asked = Instant::now();

    // Whichever replica runs it stops the job within a second or two: ffmpeg
    // gone, scratch emptied.
    let root = std::path::Path::new(&env("RUNWAY_SCALE_OUT_DIR")).to_owned();
    let scratches = [root.join("a/work"), root.join("b/work")];
    while scratches.iter().any(|dir| busy(dir)) {
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "a replica still works on the cancelled task after {:?}",
            asked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It stays cancelled (its runner never writes over it), and nothing was stored.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(t.task(&t.a, &id).await["status"], "cancelled");
    assert_eq!(count_objects("videos").await, videos_before);
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn an_idempotent_retry_that_lands_on_the_other_replica_gets_the_first_answer() {
    let t = topology();
    let key = format!("scale-out-{}", fastrand::u64(..));
    let body = json!({"prompt": "one answer", "width": 64, "height": 64});
    let send = |base: &str, body: &Value| {
        t.http
            .post(format!("{base}/v1/generate-image"))
            .bearer_auth(&t.key)
            .header("Idempotency-Key", &key)
            .json(body)
            .send()
    };
    let first = send(&t.a, &body).await.expect("first");
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.expect("json");
    let again = send(&t.b, &body).await.expect("again");
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.expect("json"), first);
    let other = send(
        &t.b,
        &json!({"prompt": "another", "width": 64, "height": 64}),
    )
    .await
    .expect("other");
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: Value = other.json().await.expect("json");
    assert_eq!(error["error"]["code"], "idempotency_key_reused");
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn cancels_racing_the_end_of_tasks_leave_one_outcome_each() {
    let t = topology();
    let images_before = count_objects("images").await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = t
            .post_for(
                &t.a,
                "/v1/tasks",
                json!({"operation": "generate-image", "input": {"prompt": format!("race {i}"), "width": 320, "height": 240}}),
                StatusCode::ACCEPTED,
                "id",
            )
            .await;
        ids.push(id);
    }
    // Cancel each through B while A finishes them.
    let answers = futures_util::future::join_all(ids.iter().map(|id| {
        t.http
            .delete(format!("{}/v1/tasks/{id}", t.b))
            .bearer_auth(&t.key)
            .send()
    }))
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut succeeded = 0;
    for (id, answer) in ids.iter().zip(answers) {
        let answer = answer.expect("delete");
        assert_eq!(answer.status(), StatusCode::OK);
        let answer: Value = answer.json().await.expect("json");
        match answer["status"].as_str() {
            // Cancelled in time: it stays so, with no output.
            Some("cancelled") => {
                let task = t.task(&t.a, id).await;
                assert_eq!(task["status"], "cancelled", "{task}");
                assert!(task["output"].is_null(), "{task}");
            }
            // Finished first: the DELETE removed the record, the media is there.
            Some("succeeded") => {
                succeeded += 1;
                let url = answer["output"]["image_url"].as_str().expect("url");
                let got = t.http.get(url).send().await.expect("get");
                assert_eq!(got.status(), StatusCode::OK);
                let (status, _) = t.get_json(&t.b, &format!("/v1/tasks/{id}")).await;
                assert_eq!(status, StatusCode::NOT_FOUND);
            }
            _ => panic!("unexpected answer {answer}"),
        }
    }
    // Exactly the media of the tasks that succeeded were kept.
    assert_eq!(count_objects("images").await, images_before + succeeded);
}

/// Whether a replica's scratch directory holds a job's files.
fn busy(scratch: &std::path::Path) -> bool {
    std::fs::read_dir(scratch).is_ok_and(|mut entries| entries.next().is_some())
}

/// Replicas A and B frozen (SIGSTOP) until dropped, so that only the replicas a
/// test starts claim its tasks; on drop they resume and the balancer is waited
/// for.
struct Frozen(Vec<String>);

impl Frozen {
    fn a_and_b() -> Self {
        let root = std::path::Path::new(&env("RUNWAY_SCALE_OUT_DIR")).to_owned();
        let pids: Vec<String> = ["a.pid", "b.pid"]
            .iter()
            .map(|name| {
                std::fs::read_to_string(root.join(name))
                    .expect("the replica's pid")
                    .trim()
                    .to_owned()
            })
            .collect();
        for pid in &pids {
            let status = Command::new("kill")
                .args(["-STOP", pid])
                .status()
                .expect("kill");
            assert!(status.success());
        }
        Frozen(pids)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for pid in &self.0 {
            let _ = Command::new("kill").args(["-CONT", pid]).status();
        }
        // The balancer's checks see them again within seconds.
        let ready = format!("{}/readyz", env("RUNWAY_SCALE_OUT_BALANCER"));
        for _ in 0..100 {
            let answered = std::process::Command::new("curl")
                .args(["-fs", "-o", "/dev/null", &ready])
                .status()
                .is_ok_and(|s| s.success());
            if answered {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn a_task_of_a_killed_replica_is_finished_by_another_with_one_output() {
    let t = topology();
    let lease: u64 = env("RUNWAY_TASK_LEASE_SECS").parse().expect("seconds");
    let frozen = Frozen::a_and_b();
    let (x_dir, y_dir) = (
        tempfile::tempdir().expect("x"),
        tempfile::tempdir().expect("y"),
    );
    let (x, x_url) = start_replica(x_dir.path(), &[]);
    let (y, y_url) = start_replica(y_dir.path(), &[]);
    let videos_before = count_objects("videos").await;
    let id = t
        .post_for(
            &x_url,
            "/v1/tasks",
            long_render(),
            StatusCode::ACCEPTED,
            "id",
        )
        .await;
    t.wait_task(&x_url, &id, Duration::from_secs(30), |task| {
        task["status"] == "running" && task["progress"].as_f64().is_some_and(|p| p > 0.0)
    })
    .await;
    // Kill whichever of the two runs it.
    let (mut runner, survivor) = if busy(&x_dir.path().join("work")) {
        (x, (y, y_url))
    } else {
        assert!(busy(&y_dir.path().join("work")), "X or Y runs it");
        (y, (x, x_url))
    };
    let (mut survivor, survivor_url) = survivor;
    runner.kill().expect("SIGKILL");
    runner.wait().expect("reaped");
    let killed = Instant::now();

    // The survivor takes it once the lease lapses, and finishes it.
    let task = t
        .wait_task(
            &survivor_url,
            &id,
            Duration::from_secs(lease + 60),
            |task| task["status"] == "succeeded" || task["status"] == "failed",
        )
        .await;
    assert_eq!(task["status"], "succeeded", "{task}");
    assert!(killed.elapsed() >= Duration::from_secs(lease.saturating_sub(1)));
    let url = task["output"]["video_url"].as_str().expect("a video URL");
    let video = t.bytes(&t.through(url, &survivor_url)).await;
    assert_eq!(&video[4..8], b"ftyp", "an MP4");
    assert_eq!(
        count_objects("videos").await,
        videos_before + 1,
        "one output"
    );
    let _ = survivor.kill();
    let _ = survivor.wait();
    kill_processes_under(x_dir.path());
    kill_processes_under(y_dir.path());
    drop(frozen);
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn work_queued_through_an_api_replica_is_run_by_the_workers() {
    let t = topology();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut api, api_url) = start_replica(dir.path(), &["--role", "api"]);
    let mut ids = Vec::new();
    for i in 0..4 {
        let id = t
            .post_for(
                &api_url,
                "/v1/tasks",
                json!({"operation": "generate-image", "input": {"prompt": format!("queued {i}"), "width": 320, "height": 200}}),
                StatusCode::ACCEPTED,
                "id",
            )
            .await;
        ids.push(id);
    }
    for id in &ids {
        let task = t
            .wait_task(&api_url, id, Duration::from_secs(30), |task| {
                task["status"] == "succeeded" || task["status"] == "failed"
            })
            .await;
        assert_eq!(task["status"], "succeeded", "{task}");
    }
    // It ran none of them: its scratch directory was never used, and as an API
    // node it has no worker (its metrics say so).
    assert!(!busy(&dir.path().join("work")));
    let metrics = t
        .http
        .get(format!("{api_url}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        !metrics.contains("runway_tasks_finished_total"),
        "the API node finished no task"
    );
    let _ = api.kill();
    let _ = api.wait();
}

/// Runs `runway-server ARGS` against the deployment's database; its stdout.
fn admin(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_runway-server"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn a_key_revoked_once_is_refused_by_both_replicas() {
    let t = topology();
    let account = format!("revoked-{}", fastrand::u64(..));
    let key = admin(&["keys", "create", "--account", &account]);
    assert!(key.starts_with("rwk_"), "{key}");
    let usage = |base: String, key: String| {
        let http = t.http.clone();
        async move {
            http.get(format!("{base}/v1/usage"))
                .bearer_auth(key)
                .send()
                .await
                .expect("answers")
                .status()
        }
    };
    for base in [&t.a, &t.b] {
        assert_eq!(usage(base.clone(), key.clone()).await, StatusCode::OK);
    }
    admin(&["keys", "revoke", &key]);
    let revoked = Instant::now();
    for base in [&t.a, &t.b] {
        loop {
            if usage(base.clone(), key.clone()).await == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(
                revoked.elapsed() < Duration::from_secs(8),
                "{base} still takes the revoked key"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn concurrent_uploads_through_both_replicas_never_pass_a_quota() {
    let t = topology();
    let account = format!("quota-{}", fastrand::u64(..));
    let key = admin(&["keys", "create", "--account", &account]);
    let quota: u64 = 150_000;
    let quota_flag = quota.to_string();
    let (x_dir, y_dir) = (
        tempfile::tempdir().expect("x"),
        tempfile::tempdir().expect("y"),
    );
    let (mut x, x_url) = start_replica(x_dir.path(), &["--quota-bytes", &quota_flag]);
    let (mut y, y_url) = start_replica(y_dir.path(), &["--quota-bytes", &quota_flag]);
    // One image, re-encoded to the same JPEG each time.
    let image = {
        let mut png = Vec::new();
        let pixels = image::RgbImage::from_fn(480, 320, |x, y| {
            image::Rgb([
                (x * 7 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x ^ y) % 256) as u8,
            ])
        });
        pixels
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("png");
        png
    };
    let uploads = (0..40).map(|i| {
        let base = if i % 2 == 0 { &x_url } else { &y_url };
        t.http
            .post(format!("{base}/v1/upload-media"))
            .bearer_auth(&key)
            .header("Content-Type", "application/octet-stream")
            .body(image.clone())
            .send()
    });
    let answers = futures_util::future::join_all(uploads).await;
    let (mut kept, mut refused) = (0u64, 0u64);
    for answer in answers {
        let answer = answer.expect("answers");
        match answer.status() {
            StatusCode::OK | StatusCode::CREATED => kept += 1,
            StatusCode::FORBIDDEN => {
                let body: Value = answer.json().await.expect("json");
                assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
                refused += 1;
            }
            other => panic!(
                "unexpected {other}: {}",
                answer.text().await.unwrap_or_default()
            ),
        }
    }
    let (_, usage) = t.get_json_with(&x_url, "/v1/usage", &key).await;
    let used = usage["used_bytes"].as_u64().expect("used_bytes");
    assert!(
        used <= quota,
        "{used} bytes kept against a quota of {quota}"
    );
    assert_eq!(usage["media_count"].as_u64(), Some(kept), "{usage}");
    assert!(kept > 0 && refused > 0, "{kept} kept, {refused} refused");
    assert_eq!(kept + refused, 40);
    let _ = x.kill();
    let _ = y.kill();
    let _ = x.wait();
    let _ = y.wait();
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn downloads_can_redirect_to_a_presigned_url_of_the_bucket() {
    let t = topology();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut replica, base) = start_replica(dir.path(), &["--download-redirect-secs", "60"]);
    let url = t
        .post_for(
            &t.balancer,
            "/v1/generate-image",
            json!({"prompt": "presigned", "width": 320, "height": 200}),
            StatusCode::OK,
            "image_url",
        )
        .await;
    let whole = t.bytes(&url).await;

    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let redirect = no_follow
        .get(t.through(&url, &base))
        .send()
        .await
        .expect("get");
    assert_eq!(redirect.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = redirect.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with(&env("AWS_ENDPOINT_URL")) && location.contains("X-Amz-Signature="),
        "{location}"
    );
    // A client that follows it (as the SDK does) gets the bytes, ranges included.
    let part = t
        .http
        .get(t.through(&url, &base))
        .header("Range", "bytes=0-9")
        .send()
        .await
        .expect("get");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("bytes"), whole.slice(0..10));
    // So does the SDK (which keeps its key to itself: the bucket is another origin).
    let sdk = runway_api::ClientBuilder::new()
        .base_url(&base)
        .api_key(&t.key)
        .build()
        .expect("sdk");
    let mut downloaded = Vec::new();
    sdk.download_to_writer(&t.through(&url, &base), &mut downloaded)
        .await
        .expect("download");
    assert_eq!(downloaded, whole);
    let _ = replica.kill();
    let _ = replica.wait();
}

#[tokio::test]
#[ignore = "needs the replicas of scripts/scale-out.sh"]
async fn start_up_says_what_is_wrong_with_the_bucket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = |storage: &str, endpoint: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_runway-server"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--storage",
                storage,
                "--data-dir",
            ])
            .arg(dir.path())
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("RUST_LOG", "warn")
            .output()
            .expect("runs");
        assert!(
            !output.status.success(),
            "started with {storage} at {endpoint}"
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let endpoint = env("AWS_ENDPOINT_URL");
    let started = Instant::now();
    let missing = start("s3://no-such-bucket-here", &endpoint);
    assert!(missing.contains("the bucket does not exist"), "{missing}");
    // Port 9 (discard) has no listener on loopback.
    let unreachable = start(
        &format!("s3://{}", env("RUNWAY_SCALE_OUT_BUCKET")),
        "http://127.0.0.1:9",
    );
    assert!(
        unreachable.contains("the endpoint cannot be reached"),
        "{unreachable}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_runway-server"))
        .args(["--storage", "gs://elsewhere"])
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected a directory or s3://"));
}
