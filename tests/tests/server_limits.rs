//! Per-key rate limiting, end to end: the server answers 429 with `Retry-After`,
//! and the SDK's retry waits it out.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use runway_api::{Client, RetryPolicy, RunwayError};

#[tokio::test]
async fn over_the_limit_is_429_and_the_sdk_waits_it_out() {
    let t = TestServer::start_with(|c| {
        c.rate_limit_per_minute = 60;
        c.rate_limit_burst = Some(1);
    })
    .await;

    // Raw: the second request at once is 429 with Retry-After, in the error format.
    let first = t
        .raw(Method::GET, "/v1/image-metadata?image_url=x")
        .send()
        .await
        .expect("send");
    // Answered (`x` is not a URL: 422), not limited.
    assert_eq!(first.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let second = t
        .raw(Method::GET, "/v1/image-metadata?image_url=x")
        .send()
        .await
        .expect("send");
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.headers()["retry-after"], "1");
    let body: serde_json::Value = second.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    // Another key has its own budget.
    let other = t.client_with(OTHER_KEY);
    other
        .get_health()
        .send()
        .await
        .expect("health is not limited");
    let image = generate_image(&other, "x", runway_api::types::ImageStyle::Sketch, 16, 16).await;

    // The SDK without retries reports the 429...
    let err = t
        .client()
        .get_image_metadata()
        .image_url(image.as_str())
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("limited");
    assert_eq!(err.code(), Some("rate_limited"));
    match &err {
        RunwayError::Api { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(1)))
        }
        other => panic!("expected an API error, got {other:?}"),
    }

    // ...and with retries it honours Retry-After and succeeds.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let patient = Client::builder()
        .base_url(&t.server.base_url)
        .api_key(KEY)
        .retry_policy(RetryPolicy::default().with_max_retries(3))
        .build()
        .expect("client");
    let started = Instant::now();
    for _ in 0..2 {
        patient
            .get_image_metadata()
            .image_url(image.as_str())
            .send()
            .await
            .expect("succeeds after waiting");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the second call waited"
    );
}
