//! Task dispatch latency: from a task's creation to its claim by a worker
//! (`started_at - created_at`, both in milliseconds, the start stamped by the
//! database's clock at the claim). Two topologies:
//!
//! - one server on its embedded SQLite: the worker is woken in process;
//! - with `DISPATCH_POSTGRES_URL` (a server URL; `scripts/postgres.sh start`
//!   prints one), a fresh database on it and two in-process servers, one
//!   `--role api` (where tasks are created) and one `--role worker` (which
//!   claims them, woken by PostgreSQL's `NOTIFY`).
//!
//! ```sh
//! cargo bench -p runway-server --bench dispatch
//! DISPATCH_POSTGRES_URL=$(scripts/postgres.sh start) cargo bench -p runway-server --bench dispatch
//! ```
//!
//! Each topology creates 200 small image tasks one after another (each waited
//! for, so the worker is idle when the next is created) and prints p50 and p99.
//! Bounded: three minutes per topology.

use std::time::{Duration, Instant};

const KEY: &str = "bench-dispatch";
const SAMPLES: usize = 200;

/// Creates `SAMPLES` tasks through `api`, each waited for; the dispatch latency
/// of each, in milliseconds, sorted.
async fn dispatch_latencies(api: &str) -> Vec<i64> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut latencies = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let created: serde_json::Value = http
            .post(format!("{api}/v1/tasks"))
            .bearer_auth(KEY)
            .json(
                &serde_json::json!({"operation": "generate-image", "input": {
                    "prompt": format!("dispatch {i}"), "width": 64, "height": 64
                }}),
            )
            .send()
            .await
            .expect("created")
            .json()
            .await
            .expect("JSON");
        let id = created["id"].as_str().expect("an id").to_owned();
        let task = loop {
            assert!(Instant::now() < deadline, "the bench took too long");
            let task: serde_json::Value = http
                .get(format!("{api}/v1/tasks/{id}"))
                .bearer_auth(KEY)
                .send()
                .await
                .expect("read")
                .json()
                .await
                .expect("JSON");
            if task["status"] == "succeeded" {
                break task;
            }
            assert_ne!(task["status"], "failed", "{task}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let ms = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(task[field].as_str().expect(field))
                .expect("a time")
                .timestamp_millis()
        };
        latencies.push(ms("started_at") - ms("created_at"));
    }
    latencies.sort_unstable();
    latencies
}

fn report(topology: &str, latencies: &[i64]) {
    println!(
        "| {topology} | {} | {} | {} |",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1]
    );
}

/// A fresh database on the PostgreSQL server at `server_url` (made with `psql`,
/// which Debian's PostgreSQL ships).
async fn fresh_postgres(server_url: &str) -> String {
    let name = format!("runway_dispatch_{}", std::process::id());
    let status = tokio::process::Command::new("psql")
        .args([server_url, "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .await
        .expect("psql runs");
    assert!(status.success(), "CREATE DATABASE {name}");
    let mut url = url::Url::parse(server_url).expect("a URL");
    url.set_path(&name);
    url.to_string()
}

#[tokio::main]
async fn main() {
    println!("| topology | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|");
    let dir = tempfile::tempdir().expect("tempdir");
    let server = runway_server::start(runway_server::ServerConfig::for_data_dir(
        dir.path(),
        vec![KEY.to_owned()],
    ))
    .await
    .expect("server starts");
    report(
        "one server, SQLite (woken in process)",
        &dispatch_latencies(&server.base_url).await,
    );
    server.shutdown().await;

    let Ok(server_url) = std::env::var("DISPATCH_POSTGRES_URL") else {
        return;
    };
    let database = fresh_postgres(&server_url).await;
    let start = |role: runway_server::config::Role, dir: &std::path::Path| {
        let mut config = runway_server::ServerConfig::for_data_dir(dir, vec![KEY.to_owned()]);
        config.database = Some(database.clone());
        config.role = role;
        runway_server::start(config)
    };
    let (api_dir, worker_dir) = (
        tempfile::tempdir().expect("api"),
        tempfile::tempdir().expect("w"),
    );
    let api = start(runway_server::config::Role::Api, api_dir.path())
        .await
        .expect("the API server starts");
    let worker = start(runway_server::config::Role::Worker, worker_dir.path())
        .await
        .expect("the worker starts");
    report(
        "API server and worker, PostgreSQL (woken by NOTIFY)",
        &dispatch_latencies(&api.base_url).await,
    );
    api.shutdown().await;
    worker.shutdown().await;
}
