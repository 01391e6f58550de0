//! The database down and back: requests that need it answer 503
//! `database_unavailable` with `Retry-After`, `/readyz` says so, and the server
//! serves again by itself once the database returns. Runs a PostgreSQL of its
//! own (`scripts/postgres.sh`, Debian's, as the `postgres` user: CI runs it as
//! root with `--ignored`).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use runway_server::ServerConfig;

/// The test's own PostgreSQL port, apart from the conformance suite's.
const PORT: &str = "55437";

fn postgres(command: &str) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
    let output = Command::new("bash")
        .arg(script)
        .arg(command)
        .env("RUNWAY_PG_PORT", PORT)
        .output()
        .expect("scripts/postgres.sh runs");
    assert!(output.status.success(), "postgres.sh {command}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Stops the test's PostgreSQL however the test ends.
struct Stop;
impl Drop for Stop {
    fn drop(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .env("RUNWAY_PG_PORT", PORT)
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
    let _stop = Stop;
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
