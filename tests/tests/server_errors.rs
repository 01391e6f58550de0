//! Every class of bad input gets the contract's error body and status, and nothing
//! is stored.

mod common;

use base64::Engine as _;
use common::*;
use reqwest::{Method, StatusCode};
use runway_api::types;
use serde_json::{Value, json};

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.expect("an error body in JSON");
    assert!(body["error"]["code"].is_string(), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, body)
}

fn stored_files(t: &TestServer) -> usize {
    ["images", "videos", "audios", "records"]
        .iter()
        .map(|f| {
            std::fs::read_dir(t.dir.path().join("media").join(f))
                .map(|d| d.count())
                .unwrap_or(0)
        })
        .sum()
}

#[tokio::test]
async fn every_v1_route_needs_a_known_key() {
    let t = TestServer::start().await;
    let http = reqwest::Client::new();
    let routes = [
        (Method::POST, "/v1/generate-image"),
        (Method::POST, "/v1/edit-image"),
        (Method::POST, "/v1/generate-video"),
        (Method::POST, "/v1/edit-video"),
        (Method::POST, "/v1/video-filter"),
        (Method::GET, "/v1/image-metadata?image_url=x"),
        (Method::GET, "/v1/video-metadata?video_url=x"),
        (Method::POST, "/v1/image-to-video"),
        (Method::POST, "/v1/add-text-to-image"),
        (Method::POST, "/v1/style-transfer"),
        (Method::POST, "/v1/resize-video"),
        (Method::POST, "/v1/generate-thumbnail"),
        (Method::POST, "/v1/extract-audio"),
        (Method::POST, "/v1/speed-adjust"),
        (Method::DELETE, "/v1/delete-media?media_url=x&auth_token=y"),
        (Method::POST, "/v1/upload-media"),
    ];
    for (method, route) in routes {
        let url = format!("{}{route}", t.server.base_url);
        for auth in [
            None,
            Some("Bearer wrong-key"),
            Some("Basic abc"),
            Some("Bearer "),
        ] {
            let mut request = http
                .request(method.clone(), &url)
                .json(&json!({"prompt": "x"}));
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let (status, body) = error_of(request.send().await.expect("send")).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {route} with {auth:?}"
            );
            assert_eq!(body["error"]["code"], "unauthorized");
        }
    }
    let health = http
        .get(format!("{}/healthz", t.server.base_url))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(stored_files(&t), 0);
}

#[tokio::test]
async fn validation_rules_answer_422_naming_the_parameter() {
    let t = TestServer::start().await;
    let image = generate_image(&t.client(), "x", types::ImageStyle::Sketch, 32, 32).await;
    let video = upload_test_video(&t.client(), 1).await;
    let before = stored_files(&t);
    let long = "x".repeat(2001);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/v1/generate-image", json!({}), "prompt"),
        ("/v1/generate-image", json!({"prompt": ""}), "prompt"),
        ("/v1/generate-image", json!({"prompt": long}), "prompt"),
        (
            "/v1/generate-image",
            json!({"prompt": "x", "style": "oil"}),
            "style",
        ),
        (
            "/v1/generate-image",
            json!({"prompt": "x", "width": 15}),
            "width",
        ),
        (
            "/v1/generate-image",
            json!({"prompt": "x", "height": 4096}),
            "height",
        ),
        ("/v1/generate-image", json!({"prompt": 7}), "prompt"),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "crop"}),
            "edit_type",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "add-filter"}),
            "filter",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "add-filter", "filter": "neon"}),
            "filter",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "resize_width": 10}),
            "edit_type",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "resize", "resize_width": "wide"}),
            "resize_width",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "resize", "resize_width": 0}),
            "resize_width",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "resize", "resize_height": 9000}),
            "resize_height",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "color-adjust", "brightness": null}),
            "brightness",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "color-adjust", "contrast": 2}),
            "contrast",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": image, "edit_type": "color-adjust", "hue_rotate": 181}),
            "hue_rotate",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": "not a url", "edit_type": "resize", "resize_width": 5}),
            "image_url",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": "ftp://example.com/a.jpg", "edit_type": "resize", "resize_width": 5}),
            "image_url",
        ),
        (
            "/v1/add-text-to-image",
            json!({"image_url": image, "text": "", "position": "center"}),
            "text",
        ),
        (
            "/v1/add-text-to-image",
            json!({"image_url": image, "text": "a", "position": "middle"}),
            "position",
        ),
        (
            "/v1/add-text-to-image",
            json!({"image_url": image, "text": "a", "position": "center", "font_size": 5}),
            "font_size",
        ),
        (
            "/v1/style-transfer",
            json!({"image_url": image, "style_reference": image, "strength": 1.5}),
            "strength",
        ),
        (
            "/v1/style-transfer",
            json!({"image_url": image}),
            "style_reference",
        ),
        (
            "/v1/generate-video",
            json!({"prompt": "x", "duration": 0}),
            "duration",
        ),
        (
            "/v1/generate-video",
            json!({"prompt": "x", "duration": 11}),
            "duration",
        ),
        (
            "/v1/generate-video",
            json!({"prompt": "x", "duration": 1, "fps": 61}),
            "fps",
        ),
        (
            "/v1/generate-video",
            json!({"prompt": "x", "duration": 1, "width": 33}),
            "width",
        ),
        ("/v1/generate-video", json!({"prompt": "x"}), "duration"),
        (
            "/v1/image-to-video",
            json!({"image_url": image, "duration": 11}),
            "duration",
        ),
        (
            "/v1/image-to-video",
            json!({"image_url": image, "duration": 1, "motion": "spin"}),
            "motion",
        ),
        (
            "/v1/edit-video",
            json!({"video_url": video, "edit_type": "trim", "end_time": 0}),
            "end_time",
        ),
        (
            "/v1/edit-video",
            json!({"video_url": video, "edit_type": "trim", "start_time": 2, "end_time": 1}),
            "end_time",
        ),
        (
            "/v1/edit-video",
            json!({"video_url": video, "edit_type": "trim", "start_time": 5}),
            "start_time",
        ),
        (
            "/v1/edit-video",
            json!({"video_url": video, "edit_type": "add-filter"}),
            "filter",
        ),
        (
            "/v1/edit-video",
            json!({"video_url": video, "edit_type": "adjust-speed"}),
            "speed_factor",
        ),
        (
            "/v1/edit-video",
            json!({"video_url": video, "edit_type": "adjust-speed", "speed_factor": 5}),
            "speed_factor",
        ),
        (
            "/v1/video-filter",
            json!({"video_url": video, "filter": "sepia-ish"}),
            "filter",
        ),
        (
            "/v1/resize-video",
            json!({"video_url": video, "new_width": 321, "new_height": 240}),
            "new_width",
        ),
        (
            "/v1/resize-video",
            json!({"video_url": video, "new_width": 320, "new_height": 8}),
            "new_height",
        ),
        (
            "/v1/speed-adjust",
            json!({"video_url": video, "speed_factor": 0.1}),
            "speed_factor",
        ),
        (
            "/v1/speed-adjust",
            json!({"video_url": video}),
            "speed_factor",
        ),
        (
            "/v1/generate-thumbnail",
            json!({"video_url": video, "time_position": 5}),
            "time_position",
        ),
        (
            "/v1/generate-thumbnail",
            json!({"video_url": video, "time_position": -1}),
            "time_position",
        ),
    ];
    for (route, body, param) in cases {
        let response = t
            .raw(Method::POST, route)
            .json(&body)
            .send()
            .await
            .expect("send");
        let (status, error) = error_of(response).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{route} {body}: {error}"
        );
        assert_eq!(error["error"]["param"], param, "{route} {body}: {error}");
    }
    for query in ["/v1/image-metadata", "/v1/delete-media?media_url=x"] {
        let method = if query.contains("delete") {
            Method::DELETE
        } else {
            Method::GET
        };
        let (status, _) = error_of(t.raw(method, query).send().await.expect("send")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
    assert_eq!(stored_files(&t), before, "a refused request stores nothing");
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let t = TestServer::start().await;
    for body in ["{", "not json", "", "{\"prompt\": \"x\"} trailing"] {
        let response = t
            .raw(Method::POST, "/v1/generate-image")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {error}");
        assert_eq!(error["error"]["code"], "invalid_request");
    }
    let response = t
        .raw(Method::POST, "/v1/upload-media")
        .send()
        .await
        .expect("send");
    assert_eq!(error_of(response).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_media_is_404() {
    let t = TestServer::start().await;
    let base = t.server.base_url.clone();
    let cases = [
        (
            Method::GET,
            format!("/v1/image-metadata?image_url={base}/images/img_ffff.jpg"),
        ),
        (
            Method::GET,
            format!("/v1/video-metadata?video_url={base}/videos/vid_ffff.mp4"),
        ),
        (
            Method::GET,
            "/v1/image-metadata?image_url=https://elsewhere.example/a.jpg".to_owned(),
        ),
        (
            Method::DELETE,
            format!("/v1/delete-media?media_url={base}/audios/aud_ffff.mp3&auth_token={KEY}"),
        ),
        (Method::GET, "/no/such/route".to_owned()),
    ];
    for (method, path) in cases {
        let (status, _) = error_of(t.raw(method, &path).send().await.expect("send")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let response = t
        .raw(Method::POST, "/v1/edit-image")
        .json(&json!({"image_url": format!("{base}/images/img_ffff.jpg"), "edit_type": "add-filter", "filter": "sepia"}))
        .send()
        .await
        .expect("send");
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"]["param"], "image_url");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let t = TestServer::start_with(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_upload_bytes = 64 * 1024;
    })
    .await;
    let response = t
        .raw(Method::POST, "/v1/upload-media")
        .body(vec![0u8; 200 * 1024])
        .send()
        .await
        .expect("send");
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error["error"]["code"], "payload_too_large");
    let response = t
        .raw(Method::POST, "/v1/generate-image")
        .json(&json!({"prompt": "x".repeat(100 * 1024)}))
        .send()
        .await
        .expect("send");
    assert_eq!(error_of(response).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored_files(&t), 0);
}

#[tokio::test]
async fn the_wrong_kind_of_media_is_415() {
    let t = TestServer::start().await;
    let client = t.client();
    let image = generate_image(&client, "x", types::ImageStyle::Sketch, 32, 32).await;
    let video = upload_test_video(&client, 1).await;
    let cases = [
        (
            "/v1/edit-image",
            json!({"image_url": video, "edit_type": "add-filter", "filter": "sepia"}),
            "image_url",
        ),
        (
            "/v1/video-filter",
            json!({"video_url": image, "filter": "vintage"}),
            "video_url",
        ),
        (
            "/v1/extract-audio",
            json!({"video_url": "data:video/mp4;base64,AAAA"}),
            "video_url",
        ),
        (
            "/v1/edit-image",
            json!({"image_url": "data:image/png;base64,AAAA", "edit_type": "add-filter", "filter": "sepia"}),
            "image_url",
        ),
    ];
    for (route, body, param) in cases {
        let response = t
            .raw(Method::POST, route)
            .json(&body)
            .send()
            .await
            .expect("send");
        let (status, error) = error_of(response).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{route} {body}: {error}"
        );
        assert_eq!(error["error"]["param"], param);
    }
}

#[tokio::test]
async fn a_decompression_bomb_is_refused() {
    let t = TestServer::start().await;
    // A 1 MB-ish PNG declaring 20000 x 20000 pixels: over the decoding limit.
    let mut png = Vec::new();
    {
        let encoder = image::codecs::png::PngEncoder::new(&mut png);
        let row = vec![0u8; 3 * 200];
        let pixels: Vec<u8> = row.iter().cycle().take(3 * 200 * 200).copied().collect();
        image::ImageEncoder::write_image(
            encoder,
            &pixels,
            200,
            200,
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode");
    }
    // Patch the declared size in IHDR (bytes 16..24) and its CRC.
    png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let response = t
        .raw(Method::POST, "/v1/upload-media")
        .body(png)
        .send()
        .await
        .expect("send");
    let (status, _) = error_of(response).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored_files(&t), 0);
}

#[tokio::test]
async fn odd_inputs_never_crash_the_server() {
    let t = TestServer::start().await;
    let odd_urls = [
        "\u{cccaf}\u{a4dd1}ß8«ß£vè",
        "da\u{e9}",
        "",
        "data:",
        "data:,",
        "http://[::1",
        "%00",
    ];
    for url in odd_urls {
        for (route, body) in [
            (
                "/v1/edit-image",
                json!({"image_url": url, "edit_type": "add-filter", "filter": "sepia"}),
            ),
            (
                "/v1/video-filter",
                json!({"video_url": url, "filter": "vintage"}),
            ),
        ] {
            let response = t
                .raw(Method::POST, route)
                .json(&body)
                .send()
                .await
                .expect("an answer");
            assert!(
                response.status().is_client_error(),
                "{route} {url:?}: {}",
                response.status()
            );
        }
        let response = t
            .raw(Method::GET, "/v1/video-metadata")
            .query(&[("video_url", url)])
            .send()
            .await
            .expect("an answer");
        assert!(response.status().is_client_error(), "metadata {url:?}");
    }
    // Explicit nulls and non-objects are refused, naming the field.
    for (body, param) in [
        (json!({"prompt": "x", "style": null}), "style"),
        (json!({"prompt": null}), "prompt"),
        (json!(["prompt"]), "body"),
        (json!("prompt"), "body"),
    ] {
        let response = t
            .raw(Method::POST, "/v1/generate-image")
            .json(&body)
            .send()
            .await
            .expect("send");
        let (status, error) = error_of(response).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error["error"]["param"], param, "{body}");
    }
    // Unknown fields are ignored, even when null.
    let response = t
        .raw(Method::POST, "/v1/generate-image")
        .json(&json!({"prompt": "x", "width": 16, "height": 16, "future_field": null}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    // So are the fields of another edit type, even when null.
    let image = generate_image(&t.client(), "x", types::ImageStyle::Sketch, 32, 32).await;
    let response = t
        .raw(Method::POST, "/v1/edit-image")
        .json(
            &json!({"image_url": image, "edit_type": "resize", "resize_width": 16, "filter": null}),
        )
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let health = reqwest::get(format!("{}/healthz", t.server.base_url))
        .await
        .expect("alive");
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_resize_whose_other_side_would_be_huge_is_refused() {
    let t = TestServer::start().await;
    // A tall strip: 4 wide, 500 high; 8000 wide keeps the ratio at 1 000 000 high.
    let png = make_png(4, 500);
    let uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    let response = t
        .raw(Method::POST, "/v1/edit-image")
        .json(&json!({"image_url": uri, "edit_type": "resize", "resize_width": 8000}))
        .send()
        .await
        .expect("send");
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["param"], "resize_width", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("8000x1000000")),
        "{body}"
    );
    assert_eq!(stored_files(&t), 0);
}

#[tokio::test]
async fn media_url_parameters_are_checked_against_the_contract() {
    let t = TestServer::start().await;
    for (path, expected) in [
        (
            "/v1/image-metadata?image_url=",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/video-metadata?video_url=not%20a%20url",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/v1/delete-media?media_url=https%3A%2F%2Fx.example%2Fimages%2Fa.jpg&auth_token=",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let method = if path.contains("delete") {
            Method::DELETE
        } else {
            Method::GET
        };
        let (status, body) = error_of(t.raw(method, path).send().await.expect("send")).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_parameter", "{path}: {body}");
    }
    let long = format!("https://x.example/{}", "a".repeat(2100));
    let (status, body) = error_of(
        t.raw(Method::GET, "/v1/image-metadata")
            .query(&[("image_url", long.as_str())])
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["param"], "image_url");
}
