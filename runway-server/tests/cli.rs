//! The `runway-server` binary: its help, its start-up report, and a SIGTERM that
//! lets in-flight requests finish.

mod common;

use common::{Server, binary, kill_processes_under};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let output = binary().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--listen",
        "RUNWAY_LISTEN",
        "--data-dir",
        "RUNWAY_DATA_DIR",
        "--storage",
        "RUNWAY_STORAGE",
        "--download-redirect-secs",
        "--public-url",
        "RUNWAY_PUBLIC_URL",
        "--api-key",
        "RUNWAY_API_KEYS",
        "--max-jobs",
        "--job-timeout-secs",
        "--allow-private-fetch",
        "--ffmpeg",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn presigned_redirects_need_a_bucket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = binary()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--download-redirect-secs",
            "60",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("RUNWAY_STORAGE")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--download-redirect-secs needs S3 storage"),
        "{stderr}"
    );
}

/// Starts the binary on a free loopback port and reads its start-up report up to
/// the line with the key (the created one, or the one `extra` passes with
/// `--api-key`).
fn start(data_dir: &std::path::Path, extra: &[&str]) -> (Server, String, String, Vec<String>) {
    let given_key = extra
        .iter()
        .position(|a| *a == "--api-key")
        .and_then(|i| extra.get(i + 1))
        .map(|k| k.to_string());
    let mut child = binary()
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("RUNWAY_API_KEYS")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut url = String::new();
    let mut key = String::new();
    let mut reader = BufReader::new(stdout).lines();
    for line in reader.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            url = rest.trim().to_owned();
        }
        if let Some(rest) = line
            .split("API key of the new account `default`")
            .nth(1)
            .and_then(|rest| rest.split("): ").nth(1))
        {
            key = rest.trim().to_owned();
        }
        let last_of_report = line.starts_with("ffmpeg:") && given_key.is_some();
        lines.push(line);
        if last_of_report {
            key = given_key.clone().unwrap_or_default();
        }
        if !key.is_empty() {
            break;
        }
    }
    // Keep reading what the server prints later.
    std::thread::spawn(move || reader.for_each(drop));
    (Server(child), url, key, lines)
}

/// Sends `signal` (`-TERM`, `-KILL`) to the child.
fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn start_up_report_then_sigterm_drains_in_flight_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    // An ffmpeg that takes two seconds per job, so a request is in flight at SIGTERM.
    let script = dir.path().join("slow-ffmpeg");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in -version) exec ffmpeg -version ;; esac\nsleep 2\nexec ffmpeg \"$@\"\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data = dir.path().join("data");
    let ffmpeg = script.to_string_lossy().into_owned();
    let (mut child, url, key, lines) = start(&data, &["--ffmpeg", &ffmpeg]);
    let report = lines.join("\n");
    assert!(url.starts_with("http://127.0.0.1:"), "{report}");
    assert!(key.starts_with("rwk_"), "{report}");
    assert!(report.contains("media stored in"), "{report}");
    assert!(report.contains("ffmpeg: found"), "{report}");

    let http = reqwest::Client::new();
    let health = http
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);

    let slow = {
        let request = http
            .post(format!("{url}/v1/generate-video"))
            .bearer_auth(&key)
            .json(
                &serde_json::json!({"prompt": "drain", "duration": 1, "width": 64, "height": 48}),
            );
        tokio::spawn(async move { request.send().await })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    signal(&child, "-TERM");
    let response = slow
        .await
        .expect("join")
        .expect("the in-flight request completes");
    assert_eq!(response.status(), 200);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("exit status");
    assert!(status.success(), "exit {status}");
}

#[tokio::test]
async fn sigkill_during_writes_loses_no_completed_media_and_shows_no_partial_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut child, url, key, _) = start(&data, &["--max-jobs", "2"]);

    // Two writers store images until the server dies under them.
    let mut writers = Vec::new();
    for writer in 0..2 {
        let (url, key) = (url.clone(), key.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut stored = Vec::new();
            for i in 0.. {
                let response = http
                    .post(format!("{url}/v1/generate-image"))
                    .bearer_auth(&key)
                    .json(&serde_json::json!({"prompt": format!("w{writer} {i}"), "width": 400, "height": 300}))
                    .send()
                    .await;
                let Ok(response) = response else { break };
                let Ok(body) = response.json::<serde_json::Value>().await else { break };
                if let Some(image_url) = body["image_url"].as_str() {
                    stored.push(image_url.to_owned());
                }
            }
            stored
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&child, "-KILL");
    let _ = child.wait();
    let mut stored = Vec::new();
    for writer in writers {
        stored.extend(writer.await.expect("join"));
    }
    assert!(
        !stored.is_empty(),
        "some images were stored before the kill"
    );

    // Restart on the same data: every answered media is intact...
    // (The key is the database's now: given again, it names the same account.)
    let (mut child, new_url, _, _) = start(&data, &["--api-key", &key]);
    let http = reqwest::Client::new();
    for old in &stored {
        let path = old.strip_prefix(&url).expect("our URL");
        let response = http
            .get(format!("{new_url}{path}"))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "{path} survived");
        let bytes = response.bytes().await.expect("body");
        let image = image::load_from_memory(&bytes).expect("a whole JPEG");
        assert_eq!((image.width(), image.height()), (400, 300));
    }
    // ...and no partial write is visible: every media file has a record, no staging
    // file is left.
    let media = data.join("media");
    let names = |folder: &str| -> Vec<String> {
        std::fs::read_dir(media.join(folder))
            .expect("folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    let images = names("images");
    let records = names("records");
    assert!(
        images.iter().chain(&records).all(|n| !n.contains('#')),
        "{images:?} {records:?}"
    );
    for image in &images {
        let id = image.trim_end_matches(".jpg");
        assert!(
            records.contains(&format!("{id}.json")),
            "{image} has a record"
        );
    }
    assert!(images.len() >= stored.len());
    signal(&child, "-KILL");
    let _ = child.wait();
}

/// Creates a long render task on a server over `data` started with `extra`,
/// waits until it runs, and stops the server with `stop` (`-TERM`, `-KILL`);
/// then starts the server again; answers it, its URL, and the task's id.
async fn cut_short(data: &std::path::Path, extra: &[&str], stop: &str) -> (Server, String, String) {
    let key = "restart-key";
    let args: Vec<&str> = ["--api-key", key].iter().chain(extra).copied().collect();
    let (mut child, url, _, _) = start(data, &args);
    let http = reqwest::Client::new();
    let task: serde_json::Value = http
        .post(format!("{url}/v1/tasks"))
        .bearer_auth(key)
        .json(
            &serde_json::json!({"operation": "generate-video", "input": {
            "prompt": "cut short", "duration": 10, "fps": 60, "width": 1280, "height": 720}}),
        )
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("task");
    let id = task["id"].as_str().expect("id").to_owned();
    let running = wait_task(&http, &url, key, &id, |task| {
        task["progress"].as_f64().is_some_and(|p| p > 0.0)
    })
    .await;
    assert_eq!(running["status"], "running", "stopped mid-run: {running}");
    signal(&child, stop);
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    kill_processes_under(data);
    let (child, url, _, _) = start(data, &args);
    (child, url, id)
}

/// A task cut short by `stop` runs again once the server is back, and leaves one
/// output.
async fn a_task_cut_short_runs_again_after_restart(stop: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = "restart-key";
    let (mut child, url, id) = cut_short(&data, &[], stop).await;
    let http = reqwest::Client::new();
    let task = wait_task(&http, &url, key, &id, |task| {
        task["status"] == "succeeded" || task["status"] == "failed"
    })
    .await;
    assert_eq!(task["status"], "succeeded", "{task}");
    let video_url = task["output"]["video_url"].as_str().expect("a video URL");
    let listed: serde_json::Value = http
        .get(format!("{url}/v1/media"))
        .bearer_auth(key)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let media = listed["data"].as_array().expect("a list");
    assert_eq!(media.len(), 1, "one output, not one per attempt: {listed}");
    let media_id = media[0]["id"].as_str().expect("an id");
    assert!(
        video_url.ends_with(&format!("{media_id}.mp4")),
        "{video_url}"
    );
    let videos = std::fs::read_dir(data.join("media/videos"))
        .expect("videos")
        .count();
    assert_eq!(videos, 1, "one file in the store");
    let bytes = http
        .get(video_url)
        .send()
        .await
        .expect("answers")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&bytes[4..8], b"ftyp", "a whole MP4");
    signal(&child, "-KILL");
    let _ = child.wait();
}

#[tokio::test]
async fn a_task_stopped_by_sigterm_runs_again_after_restart() {
    a_task_cut_short_runs_again_after_restart("-TERM").await;
}

#[tokio::test]
async fn a_task_killed_by_sigkill_runs_again_after_restart() {
    a_task_cut_short_runs_again_after_restart("-KILL").await;
}

#[tokio::test]
async fn a_task_out_of_attempts_reads_interrupted_and_stored_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut child, url, id) = cut_short(&data, &["--task-max-attempts", "1"], "-KILL").await;
    let task = wait_task(&reqwest::Client::new(), &url, "restart-key", &id, |task| {
        task["status"] != "running"
    })
    .await;
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["error"]["code"], "interrupted", "{task}");
    assert!(task.get("output").is_none(), "{task}");
    let videos = std::fs::read_dir(data.join("media/videos"))
        .expect("videos")
        .count();
    assert_eq!(videos, 0, "nothing stored");
    signal(&child, "-KILL");
    let _ = child.wait();
}

#[tokio::test]
async fn an_idempotent_post_cut_short_by_sigkill_can_be_retried_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = "retry-key";
    let (mut child, url, _, _) = start(&data, &["--api-key", key]);
    let body = serde_json::json!({"prompt": "cut short", "duration": 10, "fps": 60, "width": 1280, "height": 720});
    let post = |url: String| {
        let body = body.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/v1/generate-video"))
                .bearer_auth(key)
                .header("Idempotency-Key", "the-same-key")
                .json(&body)
                .send()
                .await
        }
    };
    let first = tokio::spawn(post(url.clone()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    signal(&child, "-KILL");
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    kill_processes_under(&data);
    assert!(
        first.await.expect("join").is_err(),
        "the first attempt got no answer"
    );

    // The retry after the restart runs (the key is not held by a dead request).
    let (mut child, url, _, _) = start(&data, &["--api-key", key]);
    let retry = post(url).await.expect("send");
    assert_eq!(retry.status(), 200);
    let answer: serde_json::Value = retry.json().await.expect("json");
    assert!(
        answer["video_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(".mp4")),
        "{answer}"
    );
    signal(&child, "-KILL");
    let _ = child.wait();
}

/// Runs the server with `--log-format format` (`RUST_LOG=info`) and API key
/// `secret`, sends two requests that end in 404 (one with `X-Request-Id: log-1`,
/// one with the key in its query), stops it, and answers every line it printed.
async fn logs_of_two_requests(format: &str, secret: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = binary()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            format,
            "--api-key",
            secret,
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    for pipe in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let (lines, url_tx) = (lines.clone(), url_tx.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let url = match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(event) => event["url"].as_str().map(str::to_owned),
                    Err(_) => line.split("listening on ").nth(1).map(str::to_owned),
                };
                if let Some(url) = url {
                    let _ = url_tx.send(url.trim().to_owned());
                }
                lines.lock().expect("lines").push(line);
            }
        });
    }
    let url = url_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("started");
    let http = reqwest::Client::new();
    let answered = http
        .get(format!("{url}/v1/image-metadata"))
        .query(&[("image_url", format!("{url}/images/img_none.jpg"))])
        .bearer_auth(secret)
        .header("X-Request-Id", "log-1")
        .send()
        .await
        .expect("send");
    assert_eq!(answered.status(), 404);
    let deleted = http
        .delete(format!("{url}/v1/delete-media"))
        .query(&[
            ("media_url", format!("{url}/images/img_none.jpg")),
            ("auth_token", secret.to_owned()),
        ])
        .bearer_auth(secret)
        .send()
        .await
        .expect("send");
    assert_eq!(deleted.status(), 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&child, "-TERM");
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let lines = lines.lock().expect("lines").clone();
    for line in &lines {
        assert!(!line.contains(secret), "a secret in the log: {line}");
    }
    lines
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_and_no_secrets() {
    let lines = logs_of_two_requests("json", "sk-json-log-secret-5f2b9c").await;
    // Every line, the start report's too, is a JSON object.
    let logs: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    // The event's own fields are at the top; its request span's under "span".
    let access = logs
        .iter()
        .find(|l| l["span"]["request_id"] == "log-1" && l["message"] == "answered")
        .unwrap_or_else(|| panic!("no access line for the request in {lines:#?}"));
    assert_eq!(access["status"], 404);
    assert!(access["latency_ms"].as_f64().is_some(), "{access}");
    assert_eq!(access["span"]["path"], "/v1/image-metadata");
    assert_eq!(access["span"]["method"], "GET");
    let started = logs
        .iter()
        .find(|l| l["url"].is_string() && l["storage"].is_string())
        .unwrap_or_else(|| panic!("no start report in {lines:#?}"));
    assert_eq!(started["ffmpeg"], true, "{started}");
}

#[tokio::test]
async fn text_logs_written_to_a_pipe_are_plain() {
    let lines = logs_of_two_requests("text", "sk-text-log-secret-8d1e4a").await;
    let access = lines
        .iter()
        .find(|l| l.contains("request_id=log-1") && l.contains("answered"))
        .unwrap_or_else(|| panic!("no access line for the request in {lines:#?}"));
    assert!(access.contains("status=404"), "{access}");
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "a terminal colour code: {line:?}");
    }
}

/// Reads task `id` through `url` until `done` says so (60 s at most).
async fn wait_task(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    id: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let task: serde_json::Value = http
            .get(format!("{url}/v1/tasks/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        if done(&task) {
            return task;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{task}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
