//! Media with a lifecycle: listing (pages, filters), usage and quotas, retention,
//! and a full disk handled as a state, against a real server.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::*;
use futures_util::TryStreamExt;
use reqwest::{Method, StatusCode};
use runway_api::{RunwayError, types};

/// Generates a `width` x `height` image for `client` and answers its URL.
async fn image(client: &runway_api::Client, prompt: &str, width: i32, height: i32) -> String {
    generate_image(client, prompt, types::ImageStyle::Abstract, width, height).await
}

#[tokio::test]
async fn media_are_listed_newest_first_page_by_page_and_filtered() {
    let t = TestServer::start().await;
    let client = t.client();
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(image(&client, &format!("listed {i}"), 64, 48).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let video = client
        .generate_video()
        .body_map(|b| {
            b.prompt("listed video")
                .duration(1u32)
                .width(160)
                .height(120)
        })
        .send()
        .await
        .expect("video")
        .into_inner()
        .video_url;
    // Another key's media are not listed.
    image(&t.client_with(OTHER_KEY), "not mine", 64, 48).await;

    // Two at a time, following the cursor: newest first, each once.
    let mut pages = 0;
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client.list_media().limit(2);
        if let Some(cursor) = cursor.take() {
            request = request.cursor(cursor);
        }
        let page = request.send().await.expect("list").into_inner();
        pages += 1;
        assert!(page.data.len() <= 2);
        listed.extend(page.data);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let urls: Vec<&str> = listed.iter().map(|m| m.url.as_str()).collect();
    let mut expected: Vec<&str> = made.iter().map(String::as_str).collect();
    expected.push(&video);
    expected.reverse();
    assert_eq!(urls, expected);
    // Each item says what the metadata operations say.
    let first = &listed[0];
    assert_eq!(first.kind, types::StoredMediaKind::Video);
    assert_eq!(first.width.map(|w| w.get()), Some(160));
    assert!(
        first
            .duration_seconds
            .is_some_and(|d| (d - 1.0).abs() < 0.1)
    );
    assert_eq!(first.has_audio, Some(true));
    let last = listed.last().expect("items");
    assert_eq!(last.kind, types::StoredMediaKind::Image);
    assert_eq!(
        (last.width.map(|w| w.get()), last.height.map(|h| h.get())),
        (Some(64), Some(48))
    );
    assert_eq!(
        last.size_bytes as usize,
        fetch(&client, &last.url).await.len()
    );
    assert!(last.expires_at.is_none(), "kept until deleted by default");

    // By kind, through the SDK's stream.
    let images: Vec<types::MediaItem> = client
        .media_stream(Some(types::StoredMediaKind::Image))
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(images.len(), 5);
    let everything: Vec<types::MediaItem> = client
        .media_stream(None)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(everything.len(), 6);

    // By creation time: from the third image on.
    let third = listed
        .iter()
        .find(|m| m.url == made[2])
        .expect("listed")
        .created_at;
    let since = client
        .list_media()
        .created_after(third)
        .send()
        .await
        .expect("list")
        .into_inner();
    let since: HashSet<&str> = since.data.iter().map(|m| m.url.as_str()).collect();
    let want: HashSet<&str> = [&made[2], &made[3], &made[4], &video]
        .into_iter()
        .map(String::as_str)
        .collect();
    assert_eq!(since, want);

    // A deleted media leaves the listing; usage follows.
    client.delete_own_media(&made[0]).await.expect("delete");
    let usage = client.get_usage().send().await.expect("usage").into_inner();
    assert_eq!(usage.media_count, 5);
    let left: Vec<types::MediaItem> = client
        .media_stream(None)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(
        usage.used_bytes,
        left.iter().map(|m| m.size_bytes).sum::<i64>()
    );
    assert!(usage.quota_bytes.is_none());

    // A cursor this server did not give is refused.
    let refused = t
        .raw(Method::GET, "/v1/media?cursor=nonsense")
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The size of the JPEG that `prompt` at 320x240 gives (generation is deterministic).
async fn size_of_image(prompt: &str) -> u64 {
    let t = TestServer::start().await;
    let url = image(&t.client(), prompt, 320, 240).await;
    fetch(&t.client(), &url).await.len() as u64
}

#[tokio::test]
async fn a_quota_refuses_what_would_exceed_it_and_says_by_how_much() {
    let size = size_of_image("quota").await;
    let quota = size + 100;
    let t = TestServer::start_with(|c| c.quota_bytes = Some(quota)).await;
    let client = t.client();
    let first = image(&client, "quota", 320, 240).await;
    let usage = client.get_usage().send().await.expect("usage").into_inner();
    assert_eq!(
        (usage.media_count, usage.used_bytes, usage.quota_bytes),
        (1, size as i64, Some(quota as i64))
    );

    // The same image again would take the key past its quota: refused, nothing stored.
    let err = client
        .generate_image()
        .body_map(|b| {
            b.prompt("quota")
                .style(types::ImageStyle::Abstract)
                .width(320)
                .height(240)
        })
        .send()
        .await
        .expect_err("over quota");
    let err = RunwayError::from(err);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    assert_eq!(err.code(), Some("quota_exceeded"));
    let message = err.to_string();
    assert!(
        message.contains(&format!("{size} of {quota} bytes")),
        "{message}"
    );
    let usage = client.get_usage().send().await.expect("usage").into_inner();
    assert_eq!(usage.media_count, 1);
    // Another key has its own quota.
    image(&t.client_with(OTHER_KEY), "quota", 320, 240).await;

    // A task that would exceed it fails with the same code.
    let task = client
        .create_task()
        .body(types::CreateTaskRequest::GenerateImage(
            types::GenerateImageRequest::builder()
                .prompt("quota")
                .style(types::ImageStyle::Abstract)
                .width(320)
                .height(240)
                .try_into()
                .expect("request"),
        ))
        .send()
        .await
        .expect("task")
        .into_inner();
    let failed = client.wait_for_task(&task.id).await.expect_err("fails");
    let failed = failed.task().expect("the task").clone();
    assert_eq!(
        failed.error.as_ref().map(|e| e.code.as_str()),
        Some("quota_exceeded")
    );

    // Deleting makes room again.
    client.delete_own_media(&first).await.expect("delete");
    image(&client, "quota", 320, 240).await;
}

#[tokio::test]
async fn a_key_at_its_quota_starts_nothing() {
    let size = size_of_image("at quota").await;
    let t = TestServer::start_with(|c| c.quota_bytes = Some(size)).await;
    let client = t.client();
    image(&client, "at quota", 320, 240).await;
    // At the limit: refused before any work, tasks included.
    for (path, body) in [
        (
            "/v1/generate-image",
            serde_json::json!({"prompt": "more", "width": 64, "height": 64}),
        ),
        (
            "/v1/tasks",
            serde_json::json!({"operation": "generate-image", "input": {"prompt": "more"}}),
        ),
    ] {
        let refused = t
            .raw(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        let body: serde_json::Value = refused.json().await.expect("json");
        assert_eq!(body["error"]["code"], "quota_exceeded", "{path}");
    }
    let tasks = client.list_tasks().send().await.expect("list").into_inner();
    assert!(tasks.data.is_empty(), "no task was created");
}

#[tokio::test]
async fn expired_media_are_gone_everywhere_and_swept_from_disk() {
    let t = TestServer::start_with(|c| c.media_ttl_secs = Some(2)).await;
    let client = t.client();
    let url = image(&client, "short-lived", 64, 48).await;
    let metadata = client
        .get_image_metadata()
        .image_url(url.as_str())
        .send()
        .await
        .expect("metadata")
        .into_inner();
    assert_eq!(
        metadata.expires_at,
        Some(metadata.created_at + chrono::Duration::seconds(2))
    );
    let listed: Vec<types::MediaItem> = client
        .media_stream(None)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at, metadata.expires_at);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let gone = reqwest::get(&url).await.expect("get");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let err = client
        .get_image_metadata()
        .image_url(url.as_str())
        .send()
        .await
        .expect_err("expired");
    assert_eq!(
        RunwayError::from(err).status().map(|s| s.as_u16()),
        Some(404)
    );
    let listed: Vec<types::MediaItem> = client
        .media_stream(None)
        .try_collect()
        .await
        .expect("stream");
    assert!(listed.is_empty());
    let usage = client.get_usage().send().await.expect("usage").into_inner();
    assert_eq!((usage.media_count, usage.used_bytes), (0, 0));

    // The sweep (every second with this TTL) removes the files themselves.
    let media = t.dir.path().join("media");
    let files = |folder: &str| files_under(&media.join(folder)).len();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while files("images") + files("records") + files("index") > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "expired media still on disk"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A tmpfs of `bytes` mounted on a new directory; unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount runs");
        assert!(
            status.success(),
            "mounting a tmpfs needs root: run as root (CI does)"
        );
        Self { dir }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
#[ignore = "mounts a tmpfs: needs root (CI runs it with --ignored)"]
async fn a_full_disk_is_a_state_the_server_reports_and_leaves() {
    let disk = SmallDisk::mount(3 * 1024 * 1024);
    let dir = disk.dir.path().to_owned();
    let config = runway_server::ServerConfig::for_data_dir(&dir, vec![KEY.to_owned()]);
    let server = runway_server::start(config).await.expect("starts");
    let client = runway_api::Client::builder()
        .base_url(&server.base_url)
        .api_key(KEY)
        .retry_policy(runway_api::RetryPolicy::none())
        .build()
        .expect("client");
    let http = reqwest::Client::new();

    // Upload until the disk is full.
    let mut stored = Vec::new();
    let full = loop {
        let response = http
            .post(format!("{}/v1/upload-media", server.base_url))
            .bearer_auth(KEY)
            .body(noise_png(400, 300, stored.len() as u64))
            .send()
            .await
            .expect("send");
        match response.status() {
            StatusCode::CREATED => {
                let body: serde_json::Value = response.json().await.expect("json");
                stored.push(body["media_url"].as_str().expect("url").to_owned());
                assert!(stored.len() < 100, "the disk never filled");
            }
            _ => break response,
        }
    };
    assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert!(full.headers().contains_key("retry-after"));
    let body: serde_json::Value = full.json().await.expect("json");
    assert_eq!(body["error"]["code"], "storage_full", "{body}");
    assert!(
        stored.len() >= 3,
        "{} stored before the disk filled",
        stored.len()
    );

    // Readiness says so; health does not (the process is fine).
    let ready = http
        .get(format!("{}/readyz", server.base_url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: serde_json::Value = ready.json().await.expect("json");
    assert!(
        ready["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("storage is full")),
        "{ready}"
    );

    // Nothing half-written: no staged files, and every media has its record.
    let media = dir.join("media");
    let all = files_under(&media);
    assert!(
        all.iter().all(|p| !p.to_string_lossy().contains('#')),
        "staged leftovers: {all:?}"
    );
    let count = |folder: &str| files_under(&media.join(folder)).len();
    assert_eq!(count("images"), stored.len());
    assert_eq!(count("records"), stored.len());
    for url in &stored {
        assert_eq!(fetch_image(&client, url).await.dimensions(), (400, 300));
    }

    // Space returns: the server takes writes again by itself.
    for url in stored.iter().take(2) {
        client.delete_own_media(url).await.expect("delete");
    }
    let ready = http
        .get(format!("{}/readyz", server.base_url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let again = http
        .post(format!("{}/v1/upload-media", server.base_url))
        .bearer_auth(KEY)
        .body(noise_png(400, 300, 1000))
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), StatusCode::CREATED);
    server.shutdown().await;
}
