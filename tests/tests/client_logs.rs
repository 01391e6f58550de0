//! The SDK's logs never show the API key or `auth_token`, and do show the operation
//! and the status.
//!
//! In a test binary of its own, with a global subscriber: tracing caches which
//! callsites are enabled process-wide, so a per-test (thread-local) subscriber can
//! miss events when other tests in the same process log at the same time.

mod common;

use common::Captured;
use runway_api::{Client, RetryPolicy, RunwayError};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "test-key-5d41402abc4b2a76";

#[tokio::test]
async fn logs_and_errors_never_show_the_key_or_auth_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("the only subscriber of this test binary");

    let server = MockServer::start().await;
    Mock::given(path("/v1/delete-media"))
        .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!(
            {"error": {"code": "forbidden", "message": "not yours"}}
        )))
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(server.uri())
        .api_key(KEY)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let err = client
        .delete_media()
        .media_url("http://x/images/a.jpg")
        .auth_token(KEY)
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("403");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err}");

    let logs = captured.text();
    assert!(
        logs.contains("delete_media"),
        "the span names the operation: {logs}"
    );
    assert!(logs.contains("status=403"), "the status is logged: {logs}");
    assert!(!logs.contains(KEY), "the key leaked into the logs: {logs}");
    assert!(!format!("{err} {err:?} {client:?}").contains(KEY));
}
