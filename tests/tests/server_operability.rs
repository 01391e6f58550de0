//! What operators and other teams see of a running server: the contract it serves,
//! its readiness, and the request id on every answer.

mod common;

use common::*;
use reqwest::StatusCode;
use runway_api::RunwayError;
use serde_json::Value;

const CONTRACT: &str = include_str!("../../openapi/runway.yaml");

#[tokio::test]
async fn the_contract_is_served_byte_for_byte_with_an_etag() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/openapi.yaml", server.server.base_url);
    let response = http.get(&url).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::OK, "no key needed");
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let etag = response.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    assert_eq!(response.text().await.expect("body"), CONTRACT);

    let again = http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let json: Value = http
        .get(format!("{}/openapi.json", server.server.base_url))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    let yaml: Value = yaml_serde::from_str(CONTRACT).expect("YAML");
    assert_eq!(json, yaml, "the same document");
}

/// `GET /readyz` of `base`: the status and the body.
async fn readyz(base: &str) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{base}/readyz")).await.expect("send");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn readiness_says_ready_or_which_part_is_not() {
    let server = TestServer::start().await;
    let (_, ready) = readyz(&server.server.base_url).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["max_queued_tasks"], 64);

    // A store that cannot be written (a file where the probe's folder goes).
    let probes = server.dir.path().join("media/health");
    let _ = std::fs::remove_dir_all(&probes);
    std::fs::write(&probes, b"in the way").expect("write");
    let (status, body) = readyz(&server.server.base_url).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "not_ready");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("store is not writable"), "{message}");

    // No ffmpeg, and a queue with no room.
    let server = TestServer::start_with(|config| config.max_queued_tasks = 0).await;
    let (_, body) = readyz(&server.server.base_url).await;
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("task queue is full"), "{message}");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = runway_server::ServerConfig::for_data_dir(dir.path(), vec![KEY.to_owned()]);
    config.ffmpeg = "/nonexistent/ffmpeg".into();
    let bare = runway_server::start(config).await.expect("starts");
    let (status, body) = readyz(&bare.base_url).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("ffmpeg"), "{message}");
    // Liveness stays up.
    let health = reqwest::get(format!("{}/healthz", bare.base_url))
        .await
        .expect("send");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_errors_name_it() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let base = &server.server.base_url;

    let made = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("send");
    let id = made.headers()["x-request-id"]
        .to_str()
        .expect("id")
        .to_owned();
    assert!(id.starts_with("req_"), "{id}");

    let answered_id = |sent: &'static str| {
        let request = http
            .get(format!("{base}/healthz"))
            .header("X-Request-Id", sent);
        async move {
            let response = request.send().await.expect("send");
            response.headers()["x-request-id"]
                .to_str()
                .expect("id")
                .to_owned()
        }
    };
    assert_eq!(answered_id("trace:abc-123").await, "trace:abc-123", "kept");
    assert_ne!(
        answered_id("not a good id").await,
        "not a good id",
        "replaced"
    );

    // An error body names the id of its answer.
    let refused = http
        .post(format!("{base}/v1/generate-image"))
        .header("X-Request-Id", "client-42")
        .json(&serde_json::json!({"prompt": "x"}))
        .send()
        .await
        .expect("send");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["request_id"], "client-42");

    // The SDK exposes it on its error.
    let err = server
        .client()
        .get_image_metadata()
        .image_url(format!("{base}/images/img_unknown.jpg"))
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("404");
    let id = err.request_id().expect("a request id");
    assert!(id.starts_with("req_"), "{id}");
    assert!(err.to_string().contains(id), "{err}");
}

/// The value of the series `name` whose labels include every one of `labels`.
fn series(metrics: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, value)| value.parse::<f64>().expect("a number"))
        .sum()
}

async fn scrape(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("send")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn metrics_move_with_real_calls() {
    let server = TestServer::start().await;
    let base = server.server.base_url.clone();
    let client = server.client();
    let before = scrape(&base).await;

    let image = generate_image(
        &client,
        "counted",
        runway_api::types::ImageStyle::Sketch,
        64,
        48,
    )
    .await;
    let bytes = fetch(&client, &image).await;
    let _ = client
        .get_image_metadata()
        .image_url(format!("{base}/images/img_missing.jpg"))
        .send()
        .await;
    let after = scrape(&base).await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        series(&after, name, labels) - series(&before, name, labels)
    };
    let generate = [
        ("method", "POST"),
        ("route", "/v1/generate-image"),
        ("status", "200"),
    ];
    assert!(
        moved("runway_http_requests_total", &generate) >= 1.0,
        "{after}"
    );
    assert!(
        moved(
            "runway_http_request_duration_seconds_count",
            &[("route", "/v1/generate-image")]
        ) >= 1.0
    );
    assert!(
        moved(
            "runway_job_duration_seconds_count",
            &[("operation", "generate-image")]
        ) >= 1.0
    );
    assert!(moved("runway_errors_total", &[("code", "not_found")]) >= 1.0);
    assert!(moved("runway_served_bytes_total", &[]) >= bytes.len() as f64);
    assert!(after.contains("runway_jobs_running"), "{after}");
    assert!(after.contains("runway_tasks_waiting"), "{after}");
    assert!(after.contains("runway_requests_waiting"), "{after}");
}

#[tokio::test]
async fn a_metrics_token_guards_the_metrics() {
    let server =
        TestServer::start_with(|config| config.metrics_token = Some("m-token".into())).await;
    let url = format!("{}/metrics", server.server.base_url);
    let http = reqwest::Client::new();
    let refused = http.get(&url).send().await.expect("send");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wrong = http.get(&url).bearer_auth(KEY).send().await.expect("send");
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "an API key is not the token"
    );
    let allowed = http
        .get(&url)
        .bearer_auth("m-token")
        .send()
        .await
        .expect("send");
    assert_eq!(allowed.status(), StatusCode::OK);
    assert!(
        allowed
            .text()
            .await
            .expect("text")
            .contains("runway_http_requests_total")
    );
}

#[tokio::test]
async fn the_reference_page_and_its_script_are_served_by_the_server() {
    let server = TestServer::start().await;
    let base = &server.server.base_url;
    let page = reqwest::get(format!("{base}/docs")).await.expect("send");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self' 'sha256-"),
        "{csp}"
    );
    assert!(!csp.contains("http"), "no other host is allowed: {csp}");
    let html = page.text().await.expect("html");
    assert!(
        html.contains(r#"from "/docs/redoc.standalone.js""#),
        "{html}"
    );
    assert!(html.contains(r#"init("/openapi.json""#), "{html}");
    assert!(html.contains("disableTelemetry: true"), "{html}");
    assert!(
        !html.contains("https://"),
        "nothing from another host: {html}"
    );

    let script = reqwest::get(format!("{base}/docs/redoc.standalone.js"))
        .await
        .expect("send");
    assert_eq!(script.status(), StatusCode::OK);
    let served = script.bytes().await.expect("script");
    let vendored = include_bytes!("../../runway-server/assets/redoc/redoc.standalone.js");
    assert_eq!(&served[..], &vendored[..]);
}
