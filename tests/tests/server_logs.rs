//! The server's log never holds an API key or an `auth_token`, whatever happens.
//! One test in this file: it installs the process-wide log subscriber.

mod common;

use common::*;
use reqwest::Method;
use runway_api::types;

#[tokio::test]
async fn keys_and_auth_tokens_never_reach_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .init();

    let t = TestServer::start().await;
    let client = t.client();
    let image = generate_image(&client, "logged", types::ImageStyle::Sketch, 32, 32).await;
    // A wrong key, a wrong auth_token, a failing fetch and a real delete.
    let _ = reqwest::Client::new()
        .post(format!("{}/v1/generate-image", t.server.base_url))
        .bearer_auth("wrong-secret-key-123")
        .json(&serde_json::json!({"prompt": "x"}))
        .send()
        .await;
    let _ = t
        .raw(
            Method::DELETE,
            &format!("/v1/delete-media?media_url={image}&auth_token=token-secret-456"),
        )
        .send()
        .await;
    let _ = t
        .raw(Method::POST, "/v1/edit-image")
        .json(&serde_json::json!({"image_url": "http://127.0.0.1:9/x.jpg", "edit_type": "add-filter", "filter": "sepia"}))
        .send()
        .await;
    client.delete_own_media(&image).await.expect("delete");

    let log = captured.text();
    assert!(
        log.contains("stored media") && log.contains("deleted media"),
        "the log records events:\n{log}"
    );
    for secret in [KEY, OTHER_KEY, "wrong-secret-key-123", "token-secret-456"] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}
