//! Tasks end to end, through the SDK and over HTTP: progress, success, failure,
//! cancellation, the queue's bound, ownership, listing, expiry, and idempotent
//! replays of `POST`s.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use runway_api::{RunwayError, types};
use serde_json::{Value, json};

/// A task request, from its wire form.
fn task_request(wire: Value) -> types::CreateTaskRequest {
    serde_json::from_value(wire).expect("a valid task request")
}

/// A task request for a render that keeps ffmpeg busy for seconds.
fn long_render() -> types::CreateTaskRequest {
    task_request(json!({"operation": "generate-video", "input": {
        "prompt": "a long render to watch", "duration": 10, "fps": 60, "width": 1280, "height": 720
    }}))
}

/// A small image task.
fn image_task(prompt: &str, width: u32, height: u32) -> types::CreateTaskRequest {
    task_request(json!({"operation": "generate-image", "input": {
        "prompt": prompt, "width": width, "height": height
    }}))
}

/// Media files stored under the data directory (images, videos, audios).
fn stored_media(data_dir: &Path) -> usize {
    ["images", "videos", "audios"]
        .iter()
        .map(|folder| files_under(&data_dir.join("media").join(folder)).len())
        .sum()
}

/// Processes whose command line mentions `needle` (ffmpeg runs on files in the
/// job's scratch directory under the data directory).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(text);
            }
        }
    }
    found
}

async fn create(server: &TestServer, key: &str, request: types::CreateTaskRequest) -> types::Task {
    server
        .client_with(key)
        .create_task()
        .body(request)
        .send()
        .await
        .expect("task created")
        .into_inner()
}

/// Cancels (or deletes) task `id` through the SDK; answers the task.
async fn cancel(server: &TestServer, id: &str) -> types::Task {
    server
        .client()
        .delete_task()
        .task_id(id)
        .send()
        .await
        .expect("cancel")
        .into_inner()
}

/// Reads the task until `done` says so (10 s at most).
async fn poll_until(
    server: &TestServer,
    id: &str,
    done: impl Fn(&types::Task) -> bool,
) -> types::Task {
    let client = server.client();
    for _ in 0..200 {
        let task = client
            .get_task()
            .task_id(id)
            .send()
            .await
            .expect("task")
            .into_inner();
        if done(&task) {
            return task;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} never reached the awaited state");
}

#[tokio::test]
async fn a_render_task_reports_rising_progress_then_a_playable_video() {
    let server = TestServer::start().await;
    let client = server.client();
    let task = create(&server, KEY, long_render()).await;
    assert_eq!(task.status, types::TaskStatus::Pending);
    assert_eq!(task.operation, types::TaskOperation::GenerateVideo);
    assert_eq!(task.progress, 0.0);

    let mut seen = Vec::new();
    let done = client
        .wait_for_task(&task.id)
        .on_progress(|t| seen.push((t.status, t.progress)))
        .await
        .expect("the render succeeds");
    let running: Vec<f64> = seen
        .iter()
        .filter(|(status, p)| *status == types::TaskStatus::Running && *p > 0.0 && *p < 1.0)
        .map(|(_, p)| *p)
        .collect();
    assert!(running.len() >= 2, "progress seen while running: {seen:?}");
    assert!(
        running.windows(2).all(|w| w[0] <= w[1]),
        "progress only rises: {running:?}"
    );
    assert_eq!(done.status, types::TaskStatus::Succeeded);
    assert_eq!(done.progress, 1.0);
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    assert!(done.error.is_none());
    let output = done.output.expect("output");
    let url = output
        .video_url
        .clone()
        .expect("video_url, as generate-video answers");
    assert_eq!(
        serde_json::to_value(&output).expect("json"),
        json!({ "video_url": url }),
        "exactly the synchronous response body"
    );
    let probe = fetch_probe(&client, &url).await;
    assert!(
        (probe.duration() - 10.0).abs() < 0.1,
        "{}",
        probe.duration()
    );
    assert_eq!(probe.video_codec(), Some("h264"));
    assert_eq!(probe.size(), (1280, 720));
}

#[tokio::test]
async fn creating_a_task_answers_202_with_its_location() {
    let server = TestServer::start().await;
    let response = server
        .raw(Method::POST, "/v1/tasks")
        .json(&json!({
            "operation": "edit-image",
            "input": {"image_url": "data:,x", "edit_type": "add-filter", "filter": "sepia"}
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"]
        .to_str()
        .expect("text")
        .to_owned();
    let task: Value = response.json().await.expect("json");
    assert_eq!(
        location,
        format!("/v1/tasks/{}", task["id"].as_str().expect("id"))
    );
    assert_eq!(task["operation"], "edit-image");

    // `data:,x` is no image: the task fails with the error the synchronous call gives.
    let failed = server
        .client()
        .wait_for_task(task["id"].as_str().expect("id"))
        .await
        .expect_err("fails");
    assert!(
        matches!(failed, RunwayError::TaskFailed { .. }),
        "{failed:?}"
    );
    assert_eq!(failed.code(), Some("unsupported_media_type"));
    assert_eq!(
        failed.param(),
        Some("input.image_url"),
        "named inside the task's input"
    );
    assert_eq!(stored_media(server.dir.path()), 0);
}

#[tokio::test]
async fn a_running_task_is_cancelled_leaving_no_process_no_scratch_and_no_media() {
    let server = TestServer::start().await;
    let data_dir = server.dir.path().to_string_lossy().into_owned();
    let task = create(&server, KEY, long_render()).await;
    // Running, and ffmpeg really at work.
    poll_until(&server, &task.id, |t| t.progress > 0.0).await;
    assert!(
        !processes_mentioning(&data_dir).is_empty(),
        "ffmpeg runs on the scratch directory"
    );

    let cancelled = server
        .client()
        .delete_task()
        .task_id(task.id.as_str())
        .send()
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.status, types::TaskStatus::Cancelled);
    assert!(cancelled.output.is_none() && cancelled.finished_at.is_some());

    // Killed with the job: give the kernel a moment to reap it.
    for _ in 0..40 {
        if processes_mentioning(&data_dir).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(processes_mentioning(&data_dir), Vec::<String>::new());
    assert_eq!(
        files_under(&server.dir.path().join("work")),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(stored_media(server.dir.path()), 0);

    let err = server
        .client()
        .wait_for_task(&task.id)
        .await
        .expect_err("cancelled");
    assert!(matches!(err, RunwayError::TaskCancelled { .. }), "{err:?}");
    assert_eq!(
        err.task().map(|t| t.status),
        Some(types::TaskStatus::Cancelled)
    );
}

#[tokio::test]
async fn a_finished_task_is_deleted_and_then_gone() {
    let server = TestServer::start().await;
    let client = server.client();
    let task = create(&server, KEY, image_task("kept", 64, 48)).await;
    let done = client.wait_for_task(&task.id).await.expect("succeeds");
    let url = done
        .output
        .as_ref()
        .and_then(|o| o.image_url.clone())
        .expect("image_url");
    assert_eq!(fetch_image(&client, &url).await.dimensions(), (64, 48));

    let deleted = client
        .delete_task()
        .task_id(task.id.as_str())
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.into_inner(), done, "answered as it was");
    let gone = client.get_task().task_id(task.id.as_str()).send().await;
    assert_eq!(
        RunwayError::from(gone.expect_err("404")).status(),
        Some(StatusCode::NOT_FOUND)
    );
    // The media the task made stays.
    assert_eq!(fetch_image(&client, &url).await.dimensions(), (64, 48));
}

#[tokio::test]
async fn another_key_sees_no_task_of_this_one() {
    let server = TestServer::start().await;
    let task = create(&server, KEY, long_render()).await;
    let other = server.client_with(OTHER_KEY);
    let read = other.get_task().task_id(task.id.as_str()).send().await;
    assert_eq!(
        RunwayError::from(read.expect_err("404")).status(),
        Some(StatusCode::NOT_FOUND)
    );
    let refused = other.delete_task().task_id(task.id.as_str()).send().await;
    assert_eq!(
        RunwayError::from(refused.expect_err("404")).status(),
        Some(StatusCode::NOT_FOUND)
    );
    let listed = other.list_tasks().send().await.expect("list").into_inner();
    assert!(listed.data.is_empty());
    // Still running for its owner.
    let mine = server
        .client()
        .get_task()
        .task_id(task.id.as_str())
        .send()
        .await
        .expect("read");
    assert_ne!(mine.status, types::TaskStatus::Cancelled);
    cancel(&server, &task.id).await;
}

#[tokio::test]
async fn a_bad_request_is_refused_before_any_task_exists() {
    let server = TestServer::start().await;
    let response = server
        .raw(Method::POST, "/v1/tasks")
        .json(&json!({"operation": "generate-video", "input": {"prompt": "x", "duration": 11}}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_parameter");
    assert_eq!(body["error"]["param"], "input.duration");

    let response = server
        .raw(Method::POST, "/v1/tasks")
        .json(&json!({"operation": "make-coffee", "input": {}}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let listed = server
        .client()
        .list_tasks()
        .send()
        .await
        .expect("list")
        .into_inner();
    assert!(listed.data.is_empty());
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let server = TestServer::start_with(|config| {
        config.max_jobs = 1;
        config.max_queued_tasks = 1;
    })
    .await;
    let first = create(&server, KEY, long_render()).await;
    poll_until(&server, &first.id, |t| {
        t.status == types::TaskStatus::Running
    })
    .await;
    let second = create(&server, KEY, long_render()).await;
    let response = server
        .raw(Method::POST, "/v1/tasks")
        .json(&json!({"operation": "generate-video", "input": {"prompt": "x", "duration": 1}}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "overloaded");

    // The waiting task is still pending; cancelling it frees its place.
    let waiting = cancel(&server, &second.id).await;
    assert_eq!(waiting.status, types::TaskStatus::Cancelled);
    assert!(waiting.started_at.is_none(), "it never ran");
    cancel(&server, &first.id).await;
    let third = create(&server, KEY, long_render()).await;
    cancel(&server, &third.id).await;
}

#[tokio::test]
async fn tasks_are_listed_newest_first_page_by_page() {
    let server = TestServer::start().await;
    let client = server.client();
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            create(&server, KEY, image_task(&format!("page {i}"), 32, 32))
                .await
                .id,
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = client
            .list_tasks()
            .limit(std::num::NonZeroU32::new(2).expect("2"));
        if let Some(cursor) = &cursor {
            request = request.cursor(cursor.as_str());
        }
        let page = request.send().await.expect("page").into_inner();
        pages += 1;
        assert!(page.data.len() <= 2);
        listed.extend(page.data.into_iter().map(|t| t.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(listed, created, "newest first, each once");

    let response = server
        .raw(Method::GET, "/v1/tasks?cursor=..%2F..")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_finished_task_expires_after_its_time() {
    let server = TestServer::start_with(|config| config.task_ttl_secs = 1).await;
    let client = server.client();
    let task = create(&server, KEY, image_task("short lived", 32, 32)).await;
    client.wait_for_task(&task.id).await.expect("succeeds");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let read = client.get_task().task_id(task.id.as_str()).send().await;
    assert_eq!(
        RunwayError::from(read.expect_err("expired")).status(),
        Some(StatusCode::NOT_FOUND)
    );
    assert!(
        client
            .list_tasks()
            .send()
            .await
            .expect("list")
            .into_inner()
            .data
            .is_empty()
    );
}

#[tokio::test]
async fn waiting_gives_up_after_its_timeout() {
    let server = TestServer::start().await;
    let task = create(&server, KEY, long_render()).await;
    let err = server
        .client()
        .wait_for_task(&task.id)
        .timeout(Duration::from_millis(600))
        .await
        .expect_err("times out");
    match &err {
        RunwayError::TaskTimedOut {
            task_id,
            task,
            waited,
        } => {
            assert_eq!(task_id, &task.as_ref().expect("read at least once").id);
            assert!(matches!(
                task.as_ref().map(|t| t.status),
                Some(types::TaskStatus::Pending | types::TaskStatus::Running)
            ));
            assert!(
                *waited >= Duration::from_millis(600) && *waited < Duration::from_secs(2),
                "{waited:?}"
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    cancel(&server, &task.id).await;
}

#[tokio::test]
async fn a_replayed_post_returns_the_first_answer_and_stores_one_media() {
    let server = TestServer::start().await;
    let body = json!({"prompt": "once only", "width": 64, "height": 64});
    let http = reqwest::Client::new();
    let url = format!("{}/v1/generate-image", server.server.base_url);
    let post = |key: &'static str, idempotency: &'static str, body: Value| {
        http.post(&url)
            .bearer_auth(key)
            .header("Idempotency-Key", idempotency)
            .json(&body)
            .send()
    };
    let first = post(KEY, "key-1", body.clone()).await.expect("send");
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");

    let again = post(KEY, "key-1", body.clone()).await.expect("send");
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.expect("json"), first);
    assert_eq!(stored_media(server.dir.path()), 1, "one job, one media");

    let reused = post(KEY, "key-1", json!({"prompt": "something else"}))
        .await
        .expect("send");
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let reused: Value = reused.json().await.expect("json");
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");

    // Keys are per API key: another key's request with the same key is its own.
    let other: Value = post(OTHER_KEY, "key-1", body)
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_ne!(other["image_url"], first["image_url"]);
    assert_eq!(stored_media(server.dir.path()), 2);
}

#[tokio::test]
async fn a_repeat_while_the_first_runs_waits_for_its_answer_through_the_sdk() {
    let server = TestServer::start().await;
    // The SDK retries a 409 `idempotency_key_in_use` after its Retry-After.
    let client = runway_api::Client::builder()
        .base_url(&server.server.base_url)
        .api_key(KEY)
        .max_retries(30)
        .build()
        .expect("client");
    let body: types::GenerateVideoRequest =
        serde_json::from_value(json!({"prompt": "one render, two callers", "duration": 3}))
            .expect("valid");
    let call = || {
        client
            .generate_video()
            .idempotency_key("shared-key")
            .body(body.clone())
            .send()
    };
    let (a, b) = tokio::join!(call(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        call().await
    });
    let (a, b) = (
        a.expect("first").into_inner(),
        b.expect("second").into_inner(),
    );
    assert_eq!(a, b, "the same video for both");
    assert_eq!(stored_media(server.dir.path()), 1);

    // Over raw HTTP, the in-flight answer is 409 with Retry-After.
    let slow = json!({"prompt": "slow", "duration": 10, "fps": 60, "width": 1280, "height": 720});
    let first = server
        .raw(Method::POST, "/v1/generate-video")
        .header("Idempotency-Key", "slow-key")
        .json(&slow)
        .send();
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server
            .raw(Method::POST, "/v1/generate-video")
            .header("Idempotency-Key", "slow-key")
            .json(&slow)
            .send()
            .await
    };
    let (_, second) = tokio::join!(
        tokio::time::timeout(Duration::from_millis(800), first),
        second
    );
    let second = second.expect("send");
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert_eq!(second.headers()["retry-after"], "1");
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["error"]["code"], "idempotency_key_in_use");
}

#[tokio::test]
async fn a_replayed_task_creation_returns_the_same_task() {
    let server = TestServer::start().await;
    let client = server.client();
    let create_with_key = || {
        client
            .create_task()
            .idempotency_key("task-key")
            .body(long_render())
            .send()
    };
    let first = create_with_key().await.expect("created").into_inner();
    let again = create_with_key().await.expect("replayed").into_inner();
    assert_eq!(first.id, again.id);
    let listed = server
        .client()
        .list_tasks()
        .send()
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.data.len(), 1, "one task");
    cancel(&server, &first.id).await;
}

#[tokio::test]
async fn a_server_that_stops_gives_its_task_back_and_the_next_start_finishes_it() {
    let server = TestServer::start().await;
    let task = create(&server, KEY, long_render()).await;
    let running = poll_until(&server, &task.id, |t| t.progress > 0.0).await;
    assert_eq!(running.status, types::TaskStatus::Running);
    let TestServer { server, dir } = server;
    server.shutdown().await;
    // Nothing half-done is left: no media, no scratch.
    assert_eq!(stored_media(dir.path()), 0);
    assert!(files_under(&dir.path().join("work")).is_empty());

    let config = runway_server::config::ServerConfig::for_data_dir(
        dir.path(),
        vec![KEY.to_owned(), OTHER_KEY.to_owned()],
    );
    let server = TestServer {
        server: runway_server::start(config).await.expect("starts again"),
        dir,
    };
    let done = server
        .client()
        .wait_for_task(&task.id)
        .await
        .expect("it succeeds on the next start");
    let url = done.output.and_then(|o| o.video_url).expect("video_url");
    let probe = fetch_probe(&server.client(), &url).await;
    assert!(
        (probe.duration() - 10.0).abs() < 0.1,
        "{}",
        probe.duration()
    );
    assert_eq!(stored_media(server.dir.path()), 1, "one output");
}

#[tokio::test]
async fn an_image_to_video_task_holds_one_slot_from_start_to_end() {
    // One slot: the task's two steps (decode the image, then ffmpeg) must not
    // queue twice, and a second task waits until the first is done.
    let server = TestServer::start_with(|config| {
        config.max_jobs = 1;
        config.max_queued_tasks = 1;
    })
    .await;
    let client = server.client();
    let image = generate_image(&client, "still", types::ImageStyle::Abstract, 320, 240).await;
    let to_video = task_request(json!({"operation": "image-to-video", "input": {
        "image_url": image, "duration": 2
    }}));
    let first = create(&server, KEY, to_video.clone()).await;
    let second = create(&server, KEY, to_video).await;
    let done = client
        .wait_for_task(&first.id)
        .await
        .expect("first succeeds");
    let url = done.output.and_then(|o| o.video_url).expect("video_url");
    let probe = fetch_probe(&client, &url).await;
    assert!((probe.duration() - 2.0).abs() < 0.1);
    client
        .wait_for_task(&second.id)
        .await
        .expect("second succeeds");
}
