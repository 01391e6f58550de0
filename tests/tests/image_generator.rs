//! `generate-image` delegated to the operator's model server
//! (`--image-generator`), against loopback stand-ins that speak OpenAI's Images
//! API and AUTOMATIC1111's `txt2img` as those servers do: what is sent, field by
//! field; what is stored from each kind of answer; and each failure's answer,
//! synchronously and as a task.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use reqwest::StatusCode;
use runway_api::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A PNG of one colour, as a model server would send it.
fn png(width: u32, height: u32, colour: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb(colour));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

const RED: [u8; 3] = [220, 30, 30];
const BLUE: [u8; 3] = [20, 40, 210];
const GREEN: [u8; 3] = [30, 200, 60];

/// A server that delegates generation to `generator` (a full
/// `--image-generator` URL), with `model` and `key` when given.
async fn delegating(generator: String, model: Option<&str>, key: Option<&str>) -> TestServer {
    delegating_within(generator, model, key, 30).await
}

/// The same, with the generator's timeout.
async fn delegating_within(
    generator: String,
    model: Option<&str>,
    key: Option<&str>,
    timeout_secs: u64,
) -> TestServer {
    let model = model.map(str::to_owned);
    let key = key.map(Into::into);
    TestServer::start_with(move |config| {
        config.image_generator = Some(generator);
        config.image_generator_model = model;
        config.image_generator_key = key;
        config.image_generator_timeout_secs = timeout_secs;
    })
    .await
}

/// The requests the stand-in received, as (path, authorization, JSON body).
async fn received(upstream: &MockServer) -> Vec<(String, Option<String>, Value)> {
    upstream
        .received_requests()
        .await
        .expect("recording")
        .iter()
        .map(|request| {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            (request.url.path().to_owned(), auth, body)
        })
        .collect()
}

/// Asserts that every pixel of `image` is within a few levels of `colour`.
fn assert_colour(image: &image::RgbImage, colour: [u8; 3]) {
    let means = channel_means(image);
    for (mean, want) in means.iter().zip(colour) {
        assert!(
            (mean - f64::from(want)).abs() < 6.0,
            "{means:?} vs {colour:?}"
        );
    }
}

#[tokio::test]
async fn openai_generation_sends_the_protocols_body_and_stores_the_picture() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1_765_000_000,
            "data": [{"b64_json": b64(&png(320, 200, RED))}]
        })))
        .mount(&upstream)
        .await;
    let server = delegating(
        format!("openai+{}/v1", upstream.uri()),
        Some("sd-1.5"),
        Some("sk-upstream"),
    )
    .await;
    let client = server.client();
    let url = client
        .generate_image()
        .body_map(|b| {
            b.prompt("a red fox in the snow")
                .style(types::ImageStyle::Sketch)
                .width(320)
                .height(200)
                .seed(7)
                .negative_prompt(types::NegativePrompt::try_from("text").ok())
        })
        .send()
        .await
        .expect("generated")
        .into_inner()
        .image_url;
    let image = fetch_image(&client, &url).await;
    assert_eq!(image.dimensions(), (320, 200));
    assert_colour(&image, RED);

    let sent = received(&upstream).await;
    assert_eq!(sent.len(), 1, "one request to the model server");
    let (route, auth, body) = &sent[0];
    assert_eq!(route, "/v1/images/generations");
    assert_eq!(auth.as_deref(), Some("Bearer sk-upstream"));
    // OpenAI's protocol has no negative prompt: it is not sent.
    assert_eq!(
        body,
        &json!({
            "prompt": "a red fox in the snow, pencil sketch",
            "n": 1,
            "size": "320x200",
            "response_format": "b64_json",
            "model": "sd-1.5",
            "seed": 7,
        })
    );
}

#[tokio::test]
async fn a_picture_answered_by_url_is_fetched_from_the_generator_only() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(body_string_contains("own host"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1_765_000_000,
            "data": [{"url": format!("{}/generated-images/fox.png", upstream.uri())}]
        })))
        .mount(&upstream)
        .await;
    // Another origin (another port of this machine): never asked.
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(png(320, 200, RED)))
        .mount(&elsewhere)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .and(body_string_contains("other host"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1_765_000_000,
            "data": [{"url": format!("{}/generated-images/fox.png", elsewhere.uri())}]
        })))
        .mount(&upstream)
        .await;
    // A picture of another size and shape than asked.
    Mock::given(method("GET"))
        .and(path("/generated-images/fox.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(png(512, 512, BLUE)))
        .mount(&upstream)
        .await;
    let server = delegating(format!("openai+{}/v1", upstream.uri()), None, None).await;
    let client = server.client();
    let url = client
        .generate_image()
        .body_map(|b| b.prompt("own host").width(320).height(200))
        .send()
        .await
        .expect("generated")
        .into_inner()
        .image_url;
    let image = fetch_image(&client, &url).await;
    assert_eq!(image.dimensions(), (320, 200), "stored at the asked size");
    assert_colour(&image, BLUE);
    let sent = received(&upstream).await;
    assert_eq!(sent.len(), 2, "the generation, then the picture");
    assert_eq!(sent[0].1, None, "no key configured, none sent");
    assert_eq!(
        sent[0].2,
        json!({"prompt": "own host, photorealistic photograph", "n": 1, "size": "320x200",
               "response_format": "b64_json"})
    );
    assert_eq!(sent[1].0, "/generated-images/fox.png");

    let refused = client
        .generate_image()
        .body_map(|b| b.prompt("other host").width(320).height(200))
        .send()
        .await
        .expect_err("another host's URL");
    assert_eq!(refused.status(), Some(StatusCode::BAD_GATEWAY));
    assert_eq!(refused.error_code(), Some(ErrorCode::UpstreamError));
    assert!(
        refused
            .message()
            .is_some_and(|m| m.contains("another host")),
        "{refused}"
    );
    assert!(
        received(&elsewhere).await.is_empty(),
        "nothing fetched there"
    );
}

#[tokio::test]
async fn sdapi_generation_sends_the_protocols_body_and_fills_the_asked_size() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sdapi/v1/txt2img"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [b64(&png(256, 256, GREEN))],
            "parameters": {},
            "info": "{\"seed\": 1234}"
        })))
        .mount(&upstream)
        .await;
    let server = delegating(format!("sdapi+{}", upstream.uri()), None, Some("a1111")).await;
    let client = server.client();
    let url = client
        .generate_image()
        .body_map(|b| {
            b.prompt("a lighthouse")
                .style(types::ImageStyle::Abstract)
                .width(320)
                .height(200)
                .negative_prompt(types::NegativePrompt::try_from("text, watermark").ok())
        })
        .send()
        .await
        .expect("generated")
        .into_inner()
        .image_url;
    let image = fetch_image(&client, &url).await;
    assert_eq!(image.dimensions(), (320, 200));
    assert_colour(&image, GREEN);
    let sent = received(&upstream).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "/sdapi/v1/txt2img");
    assert_eq!(sent[0].1.as_deref(), Some("Bearer a1111"));
    assert_eq!(
        sent[0].2,
        json!({
            "prompt": "a lighthouse, abstract art",
            "negative_prompt": "text, watermark",
            "width": 320,
            "height": 200,
            "seed": -1,
            "batch_size": 1,
        })
    );
}

#[tokio::test]
async fn upstream_failures_answer_502_and_timeouts_504_and_store_nothing() {
    let upstream = MockServer::start().await;
    let answer = |prompt: &str, response: ResponseTemplate| {
        Mock::given(method("POST"))
            .and(path("/v1/images/generations"))
            .and(body_string_contains(prompt))
            .respond_with(response)
    };
    answer(
        "fails",
        ResponseTemplate::new(500).set_body_json(json!({
            "error": {"message": "CUDA out of memory\n  (tried 2 GiB)", "type": "server_error"}
        })),
    )
    .mount(&upstream)
    .await;
    answer(
        "broken",
        ResponseTemplate::new(200).set_body_json(json!({"data": [{"b64_json": "iVBOR%%w0K"}]})),
    )
    .mount(&upstream)
    .await;
    answer(
        "not a picture",
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": [{"b64_json": b64(b"plain words, no image")}]})),
    )
    .mount(&upstream)
    .await;
    answer(
        "empty",
        ResponseTemplate::new(200).set_body_json(json!({"created": 1, "data": []})),
    )
    .mount(&upstream)
    .await;
    answer(
        "slow picture",
        ResponseTemplate::new(200).set_body_json(
            json!({"data": [{"url": format!("{}/generated-images/slow.png", upstream.uri())}]}),
        ),
    )
    .mount(&upstream)
    .await;
    answer(
        "slow",
        ResponseTemplate::new(200)
            .set_delay(Duration::from_secs(3))
            .set_body_json(json!({"data": [{"b64_json": b64(&png(64, 64, RED))}]})),
    )
    .mount(&upstream)
    .await;
    // The answer comes at once; the picture it points at does not.
    Mock::given(method("GET"))
        .and(path("/generated-images/slow.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_secs(3))
                .set_body_bytes(png(64, 64, RED)),
        )
        .mount(&upstream)
        .await;
    let server = delegating_within(format!("openai+{}/v1", upstream.uri()), None, None, 1).await;
    let client = server.client();
    let generate = |prompt: &'static str| {
        client
            .generate_image()
            .body_map(move |b| b.prompt(prompt).width(64).height(64))
            .send()
    };
    for (prompt, status, code, says) in [
        (
            "fails",
            StatusCode::BAD_GATEWAY,
            ErrorCode::UpstreamError,
            "answered 500 Internal Server Error: CUDA out of memory (tried 2 GiB)",
        ),
        (
            "broken",
            StatusCode::BAD_GATEWAY,
            ErrorCode::UpstreamError,
            "not valid base64",
        ),
        (
            "not a picture",
            StatusCode::BAD_GATEWAY,
            ErrorCode::UpstreamError,
            "cannot be read",
        ),
        (
            "empty",
            StatusCode::BAD_GATEWAY,
            ErrorCode::UpstreamError,
            "no picture",
        ),
        (
            "slow picture",
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::UpstreamTimeout,
            "within 1 s",
        ),
        (
            "slow",
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::UpstreamTimeout,
            "within 1 s",
        ),
    ] {
        let err = generate(prompt).await.expect_err(prompt);
        assert_eq!(err.status(), Some(status), "{prompt}: {err}");
        assert_eq!(err.error_code(), Some(code), "{prompt}: {err}");
        assert!(
            err.message().is_some_and(|m| m.contains(says)),
            "{prompt}: {err}"
        );
    }
    let listed = client.list_media().send().await.expect("list").into_inner();
    assert!(listed.data.is_empty(), "nothing stored: {:?}", listed.data);
}

/// A `generate-image` task.
fn task(prompt: &str) -> types::CreateTaskRequest {
    serde_json::from_value(json!({"operation": "generate-image", "input": {
        "prompt": prompt, "width": 320, "height": 200, "seed": 3
    }}))
    .expect("a valid task request")
}

#[tokio::test]
async fn a_task_generates_through_the_model_server_and_fails_with_its_error() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sdapi/v1/txt2img"))
        .and(body_string_contains("fox"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "images": [b64(&png(320, 200, RED))], "parameters": {}, "info": "{}"
        })))
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/sdapi/v1/txt2img"))
        .and(body_string_contains("refused"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"detail": "Sampler not found: Euler z"})),
        )
        .mount(&upstream)
        .await;
    let server = delegating(format!("sdapi+{}", upstream.uri()), None, None).await;
    let client = server.client();

    let created = client
        .create_task()
        .body(task("a fox"))
        .send()
        .await
        .expect("created")
        .into_inner();
    let done = client.wait_for_task(&created.id).await.expect("succeeds");
    let url = done
        .output
        .and_then(|output| output.image_url)
        .expect("image_url");
    let image = fetch_image(&client, &url).await;
    assert_eq!(image.dimensions(), (320, 200));
    assert_colour(&image, RED);
    let sent = received(&upstream).await;
    assert_eq!(sent[0].2["seed"], 3, "the task's seed reaches the model");
    assert_eq!(sent[0].2["prompt"], "a fox, photorealistic photograph");

    let created = client
        .create_task()
        .body(task("refused"))
        .send()
        .await
        .expect("created")
        .into_inner();
    let failed = client
        .wait_for_task(&created.id)
        .await
        .expect_err("the model server refused");
    assert_eq!(failed.error_code(), Some(ErrorCode::UpstreamError));
    let task = failed.task().expect("the failed task");
    let error = task.error.as_ref().expect("its error");
    assert!(
        error
            .message
            .contains("422 Unprocessable Entity: Sampler not found: Euler z"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_server_names_a_generator_it_cannot_use_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    for wrong in [
        "http://127.0.0.1:7860",
        "comfy+http://127.0.0.1:8188",
        "sdapi+http://user:secret@127.0.0.1:7860",
    ] {
        let mut config =
            runway_server::ServerConfig::for_data_dir(dir.path(), vec![KEY.to_owned()]);
        config.image_generator = Some(wrong.to_owned());
        let Err(err) = runway_server::start(config).await else {
            panic!("{wrong} was accepted");
        };
        let said = err.to_string();
        assert!(said.contains("--image-generator"), "{said}");
        assert!(!said.contains("secret"), "{said}");
    }
    // A key for a generator the server was not given is a mistake, said at start.
    let mut config = runway_server::ServerConfig::for_data_dir(dir.path(), vec![KEY.to_owned()]);
    config.image_generator_key = Some("sk-orphan".into());
    let Err(err) = runway_server::start(config).await else {
        panic!("a key without a generator was accepted");
    };
    assert!(err.to_string().contains("need --image-generator"), "{err}");
}
