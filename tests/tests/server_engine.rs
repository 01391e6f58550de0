//! The media engine's limits: no ffmpeg, a busy engine, a job that overruns its
//! timeout. A wrapper script around the real ffmpeg makes jobs slow on purpose.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use reqwest::{Method, StatusCode};
use runway_api::types;
use serde_json::json;

/// A program that sleeps `seconds` on every real job, then runs ffmpeg.
fn slow_ffmpeg(dir: &Path, seconds: u32) -> PathBuf {
    let path = dir.join("slow-ffmpeg");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\ncase \"$1\" in -version) exec ffmpeg -version ;; esac\nsleep {seconds}\nexec ffmpeg \"$@\"\n"
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn files_under(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test]
async fn without_ffmpeg_images_work_and_videos_answer_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = runway_server::ServerConfig::for_data_dir(dir.path(), vec![KEY.to_owned()]);
    config.ffmpeg = "/nonexistent/ffmpeg".into();
    let server = runway_server::start(config)
        .await
        .expect("starts without ffmpeg");
    assert!(!server.has_media_engine);
    let client = runway_api::Client::builder()
        .base_url(&server.base_url)
        .api_key(KEY)
        .max_retries(0)
        .build()
        .expect("client");
    let health = client
        .get_health()
        .send()
        .await
        .expect("health")
        .into_inner();
    assert!(!health.media_engine);
    let image = generate_image(&client, "still works", types::ImageStyle::Sketch, 32, 32).await;
    assert_eq!(fetch_image(&client, &image).await.dimensions(), (32, 32));

    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}/v1/generate-video", server.base_url))
        .bearer_auth(KEY)
        .json(&json!({"prompt": "x", "duration": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "media_engine_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("install ffmpeg")
    );
}

#[tokio::test]
async fn a_busy_engine_answers_503_with_retry_after() {
    let scripts = tempfile::tempdir().expect("tempdir");
    let ffmpeg = slow_ffmpeg(scripts.path(), 2);
    let t = TestServer::start_with(|c| {
        c.ffmpeg = ffmpeg.clone();
        c.max_jobs = 1;
        c.queue_timeout_secs = 0;
    })
    .await;
    let first = {
        let request = t
            .raw(Method::POST, "/v1/generate-video")
            .json(&json!({"prompt": "slow", "duration": 1, "width": 64, "height": 48}));
        tokio::spawn(async move { request.send().await.map(|r| r.status()) })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = t
        .raw(Method::POST, "/v1/generate-video")
        .json(&json!({"prompt": "waits", "duration": 1, "width": 64, "height": 48}))
        .send()
        .await
        .expect("send");
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(second.headers().contains_key("retry-after"));
    let body: serde_json::Value = second.json().await.expect("json");
    assert_eq!(body["error"]["code"], "overloaded");
    let first = first.await.expect("join").expect("first request");
    assert_eq!(first, StatusCode::OK, "the job holding the slot finishes");
}

#[tokio::test]
async fn a_job_over_its_timeout_is_killed_and_leaves_nothing() {
    let scripts = tempfile::tempdir().expect("tempdir");
    let ffmpeg = slow_ffmpeg(scripts.path(), 30);
    let t = TestServer::start_with(|c| {
        c.ffmpeg = ffmpeg.clone();
        c.job_timeout_secs = 1;
    })
    .await;
    let response = t
        .raw(Method::POST, "/v1/generate-video")
        .json(&json!({"prompt": "never", "duration": 1}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "internal_error");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ffmpeg"),
        "engine details stay in the log: {body}"
    );
    assert_eq!(
        files_under(&t.dir.path().join("media")),
        0,
        "no media stored"
    );
    assert_eq!(
        files_under(&t.dir.path().join("work")),
        0,
        "no scratch files left"
    );
}
