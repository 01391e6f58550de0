//! Following a task live: `GET /v1/tasks/{id}/events` (Server-Sent Events) over
//! HTTP, through the SDK's `task_events`, and under `wait_for_task`.

mod common;

use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use runway_api::types;
use serde_json::{Value, json};

/// A render that runs for a few seconds, reporting progress.
fn render() -> types::CreateTaskRequest {
    serde_json::from_value(json!({"operation": "generate-video", "input": {
        "prompt": "followed live", "duration": 6, "fps": 60, "width": 1280, "height": 720
    }}))
    .expect("a valid task request")
}

async fn create(server: &TestServer) -> types::Task {
    server
        .client()
        .create_task()
        .body(render())
        .send()
        .await
        .expect("created")
        .into_inner()
}

/// Reads a `text/event-stream` body to its end: each event's `id` and `data`.
async fn events(response: reqwest::Response) -> Vec<(String, Value)> {
    let text = response.text().await.expect("the stream ends");
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.to_owned());
                }
                if let Some(value) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(value).ok();
                }
            }
            Some((id?, data?))
        })
        .collect()
}

/// The servers' metrics are one recorder per process: a test that counts
/// requests holds this lock for writing, the others for reading, so no other
/// test's requests run into its counts.
static COUNTED: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Requests of `method` to `route` the servers of this process have counted.
async fn served(server: &TestServer, method: &str, route: &str) -> u64 {
    let metrics = server
        .raw(Method::GET, "/metrics")
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let labels = format!("method=\"{method}\",route=\"{route}\"");
    metrics
        .lines()
        .filter(|line| line.starts_with("runway_http_requests_total") && line.contains(&labels))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

#[tokio::test]
async fn a_task_is_followed_over_http_to_its_end_and_resumed_by_its_last_id() {
    let _uncounted = COUNTED.read().await;
    let server = TestServer::start().await;
    let task = create(&server).await;
    let response = server
        .raw(Method::GET, &format!("/v1/tasks/{}/events", task.id))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(response).await;
    assert!(
        events.len() >= 3,
        "the start, progress, the end: {events:?}"
    );
    let progress: Vec<f64> = events
        .iter()
        .map(|(_, task)| task["progress"].as_f64().expect("progress"))
        .collect();
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress only rises: {progress:?}"
    );
    assert!(
        progress.iter().any(|p| *p > 0.0 && *p < 1.0),
        "{progress:?}"
    );
    let (last_id, last) = events.last().expect("an end");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["id"], task.id.as_str());
    assert!(last["output"]["video_url"].is_string(), "{last}");
    assert_eq!(last_id, "succeeded.1");

    // Resumed after the end: nothing new to send, the stream just ends.
    let resumed = server
        .raw(Method::GET, &format!("/v1/tasks/{}/events", task.id))
        .header("Last-Event-ID", last_id)
        .send()
        .await
        .expect("send");
    assert_eq!(resumed.status(), StatusCode::OK);
    assert!(resumed.text().await.expect("ends").trim().is_empty());
    // Resumed from an earlier state: the final state comes at once.
    let (first_id, _) = &events[0];
    let again = server
        .raw(Method::GET, &format!("/v1/tasks/{}/events", task.id))
        .header("Last-Event-ID", first_id)
        .send()
        .await
        .expect("send");
    let again = self::events(again).await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].1["status"], "succeeded");

    // Another key's task does not exist for it.
    let other = reqwest::Client::new()
        .get(format!(
            "{}/v1/tasks/{}/events",
            server.server.base_url, task.id
        ))
        .bearer_auth(OTHER_KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_sdk_follows_events_and_waits_without_polling() {
    let _counting = COUNTED.write().await;
    let server = TestServer::start().await;
    let client = server.client();
    let task = create(&server).await;
    let states: Vec<types::Task> = client
        .task_events(&task.id)
        .map(|state| state.expect("a state"))
        .collect()
        .await;
    let last = states.last().expect("states");
    assert_eq!(last.status, types::TaskStatus::Succeeded);
    assert!(
        states
            .iter()
            .any(|s| s.status == types::TaskStatus::Running)
    );

    // wait_for_task follows the events: one stream, no reads of the task.
    let reads_before = served(&server, "GET", "/v1/tasks/{task_id}").await;
    let streams_before = served(&server, "GET", "/v1/tasks/{task_id}/events").await;
    let task = create(&server).await;
    let mut seen = Vec::new();
    let done = client
        .wait_for_task(&task.id)
        .on_progress(|task| seen.push(task.progress))
        .await
        .expect("succeeds");
    assert_eq!(done.status, types::TaskStatus::Succeeded);
    assert!(seen.len() >= 3, "progress reported as it came: {seen:?}");
    assert_eq!(
        served(&server, "GET", "/v1/tasks/{task_id}").await,
        reads_before
    );
    assert_eq!(
        served(&server, "GET", "/v1/tasks/{task_id}/events").await,
        streams_before + 1
    );
}

#[tokio::test]
async fn a_stopping_server_ends_open_streams_and_stops() {
    let _uncounted = COUNTED.read().await;
    let server = TestServer::start().await;
    let task = create(&server).await;
    let mut stream = server
        .raw(Method::GET, &format!("/v1/tasks/{}/events", task.id))
        .send()
        .await
        .expect("send")
        .bytes_stream();
    let first = stream.next().await.expect("a first event").expect("bytes");
    assert!(String::from_utf8_lossy(&first).contains("event: task"));
    let TestServer { server, dir: _dir } = server;
    let stopped = tokio::time::timeout(Duration::from_secs(20), server.shutdown()).await;
    assert!(stopped.is_ok(), "the server stops with a stream open");
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(rest.is_ok(), "the stream ended");
}
