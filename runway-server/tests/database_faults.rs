//! The database down and back: requests that need it answer 503
//! `database_unavailable` with `Retry-After`, `/readyz` says so, and the server
//! serves again by itself once the database returns. Runs a PostgreSQL of its
//! own (`scripts/postgres.sh`, Debian's, as the `postgres` user: CI runs it as
//! root with `--ignored`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use runway_server::ServerConfig;

/// The tests' own PostgreSQL ports, apart from the conformance suite's: one
/// each, since they run at once.
const PORT: &str = "55437";
const TASK_PORT: &str = "55438";

fn postgres(command: &str) -> String {
    postgres_on(PORT, command)
}

fn postgres_on(port: &str, command: &str) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(command)
        .env("RUNWAY_PG_PORT", port)
        .output()
        .expect("scripts/postgres.sh runs");
    assert!(output.status.success(), "postgres.sh {command}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Stops a test's PostgreSQL (on its port) however the test ends.
struct Stop(&'static str);
impl Drop for Stop {
    fn drop(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .env("RUNWAY_PG_PORT", self.0)
            .output();
    }
}

async fn get(url: &str, key: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .expect("answers")
}

#[tokio::test]
#[ignore = "needs Debian's PostgreSQL and root (scripts/postgres.sh); CI runs it"]
async fn the_database_down_is_a_503_and_the_server_resumes_after_it() {
    let url = postgres("start");
    let _stop = Stop(PORT);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config =
        ServerConfig::for_data_dir(dir.path(), vec!["first-key".into(), "second-key".into()]);
    config.database = Some(url);
    let server = runway_server::start(config).await.expect("starts");
    let base = server.base_url.clone();
    assert_eq!(
        get(&format!("{base}/v1/usage"), "first-key").await.status(),
        200
    );

    postgres("stop");
    // A key this replica has not read yet needs the database.
    let down = get(&format!("{base}/v1/usage"), "second-key").await;
    assert_eq!(down.status(), 503);
    assert_eq!(
        down.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = down.json().await.expect("json");
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    let ready = reqwest::get(format!("{base}/readyz"))
        .await
        .expect("answers");
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("database")),
        "{body}"
    );

    postgres("resume");
    let started = Instant::now();
    loop {
        let status = get(&format!("{base}/v1/usage"), "second-key")
            .await
            .status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "only unavailable while it comes back");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server serves again once the database is back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
#[ignore = "needs Debian's PostgreSQL and root (scripts/postgres.sh); CI runs it"]
async fn a_task_running_while_the_database_restarts_ends_with_one_output() {
    let url = postgres_on(TASK_PORT, "start");
    let _stop = Stop(TASK_PORT);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ServerConfig::for_data_dir(dir.path(), vec!["task-key".into()]);
    config.database = Some(url);
    let server = runway_server::start(config).await.expect("starts");
    let base = server.base_url.clone();
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{base}/v1/tasks"))
        .bearer_auth("task-key")
        .json(&serde_json::json!({"operation": "generate-video", "input": {
            "prompt": "through an outage", "duration": 10, "fps": 60, "width": 1280, "height": 720
        }}))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("an id").to_owned();
    let task = |http: reqwest::Client, base: String, id: String| async move {
        let response = http
            .get(format!("{base}/v1/tasks/{id}"))
            .bearer_auth("task-key")
            .send()
            .await
            .expect("answers");
        let status = response.status().as_u16();
        (
            status,
            response
                .json::<serde_json::Value>()
                .await
                .unwrap_or_default(),
        )
    };
    let started = Instant::now();
    loop {
        let (_, read) = task(http.clone(), base.clone(), id.clone()).await;
        if read["progress"].as_f64().is_some_and(|p| p > 0.0) {
            assert_eq!(read["status"], "running", "{read}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{read}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Down for three seconds in the middle of the task.
    postgres_on(TASK_PORT, "stop");
    let (status, read) = task(http.clone(), base.clone(), id.clone()).await;
    assert_eq!(status, 503, "{read}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres_on(TASK_PORT, "resume");

    let started = Instant::now();
    let done = loop {
        let (status, read) = task(http.clone(), base.clone(), id.clone()).await;
        if status == 200 && read["status"] != "running" {
            break read;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{status} {read}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(done["status"], "succeeded", "{done}");
    let listed: serde_json::Value = http
        .get(format!("{base}/v1/media"))
        .bearer_auth("task-key")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        listed["data"].as_array().map(Vec::len),
        Some(1),
        "one output: {listed}"
    );
    let videos = std::fs::read_dir(dir.path().join("media/videos"))
        .expect("videos")
        .count();
    assert_eq!(videos, 1, "one file in the store");
    server.shutdown().await;
}
