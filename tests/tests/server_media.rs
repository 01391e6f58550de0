//! Uploads, downloads (with ranges), data: URIs, remote URLs, deletion and
//! persistence, through the SDK and plain HTTP against a real server.

mod common;

use base64::Engine as _;
use common::*;
use reqwest::{Method, StatusCode};
use runway_api::{RunwayError, types};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn uploads_are_sniffed_and_stored_as_jpeg() {
    let t = TestServer::start().await;
    let client = t.client();
    let uploaded = client
        .upload_media()
        .body(make_png(200, 100))
        .send()
        .await
        .expect("upload png")
        .into_inner();
    assert_eq!(uploaded.media_type, types::MediaKind::Image);
    assert!(uploaded.media_url.ends_with(".jpg"));
    let image = fetch_image(&client, &uploaded.media_url).await;
    assert_eq!(image.dimensions(), (200, 100));
    assert_eq!(
        uploaded.size_bytes,
        fetch(&client, &uploaded.media_url).await.len() as i64
    );

    // Whatever the client declares, text is not media.
    let response = t
        .raw(Method::POST, "/v1/upload-media")
        .header("content-type", "image/png")
        .body("definitely not a picture")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
}

#[tokio::test]
async fn downloads_carry_headers_and_honour_ranges() {
    let t = TestServer::start().await;
    let client = t.client();
    let url = generate_image(&client, "a kite", types::ImageStyle::Photorealistic, 64, 48).await;
    let whole = reqwest::get(&url).await.expect("get");
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "image/jpeg");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let etag = whole.headers()["etag"].to_str().expect("etag").to_owned();
    let length: usize = whole.headers()["content-length"]
        .to_str()
        .expect("len")
        .parse()
        .expect("number");
    let bytes = whole.bytes().await.expect("body");
    assert_eq!(bytes.len(), length);

    let http = reqwest::Client::new();
    let part = http
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-19/{length}").as_str()
    );
    assert_eq!(part.headers()["etag"], etag.as_str());
    assert_eq!(&part.bytes().await.expect("body")[..], &bytes[10..20]);

    let tail = http
        .get(&url)
        .header("range", "bytes=-5")
        .send()
        .await
        .expect("suffix");
    assert_eq!(&tail.bytes().await.expect("body")[..], &bytes[length - 5..]);

    let beyond = http
        .get(&url)
        .header("range", format!("bytes={length}-"))
        .send()
        .await
        .expect("beyond");
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{length}").as_str()
    );

    let ignored = http
        .get(&url)
        .header("range", "SK3")
        .send()
        .await
        .expect("malformed range");
    assert_eq!(
        ignored.status(),
        StatusCode::OK,
        "a malformed Range is ignored"
    );
    assert_eq!(ignored.bytes().await.expect("body").len(), length);

    for missing in [
        "/images/img_0000.jpg",
        "/images/..%2F..%2Fetc%2Fpasswd",
        "/videos/x.jpg",
        "/images/a.b.jpg",
    ] {
        let response = reqwest::get(format!("{}{missing}", t.server.base_url))
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn data_uris_are_accepted_as_inputs() {
    let t = TestServer::start().await;
    let client = t.client();
    let png = make_png(40, 30);
    let uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    let edited = client
        .edit_image()
        .body(image_filter(&uri, types::ImageFilter::Invert))
        .send()
        .await
        .expect("edit a data: URI")
        .into_inner()
        .edited_image_url;
    assert_eq!(fetch_image(&client, &edited).await.dimensions(), (40, 30));

    let response = t
        .raw(Method::POST, "/v1/edit-image")
        .json(&serde_json::json!({
            "image_url": "data:image/png;base64,***not base64***",
            "edit_type": "add-filter",
            "filter": "sepia"
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn remote_urls_are_fetched_only_when_allowed() {
    let remote = MockServer::start().await;
    Mock::given(path("/pic.png"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(make_png(30, 20), "image/png"))
        .mount(&remote)
        .await;
    let remote_url = format!("{}/pic.png", remote.uri());

    // By default, a loopback URL is refused without any connection.
    let guarded = TestServer::start().await;
    let err = guarded
        .client()
        .edit_image()
        .body(image_filter(&remote_url, types::ImageFilter::Sepia))
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("loopback refused");
    assert_eq!(err.code(), Some("media_unreachable"));
    assert_eq!(err.param(), Some("image_url"));
    assert_eq!(remote.received_requests().await.map(|r| r.len()), Some(0));

    // With the operator's flag, the image is fetched and edited.
    let open = TestServer::start_with(|c| c.allow_private_fetch = true).await;
    let client = open.client();
    let edited = client
        .edit_image()
        .body(types::EditImageRequest::resize(&remote_url).height(10))
        .send()
        .await
        .expect("fetched and edited")
        .into_inner()
        .edited_image_url;
    assert_eq!(fetch_image(&client, &edited).await.dimensions(), (15, 10));
    assert_eq!(remote.received_requests().await.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn only_the_owner_deletes_and_deleted_media_is_gone_everywhere() {
    let t = TestServer::start().await;
    let owner = t.client();
    let other = t.client_with(OTHER_KEY);
    let url = generate_image(&owner, "a kite", types::ImageStyle::Photorealistic, 64, 48).await;

    // Another user, with their own key as token or the owner's: 403.
    for token in [OTHER_KEY, KEY] {
        let err = other
            .delete_media()
            .media_url(url.as_str())
            .auth_token(token)
            .send()
            .await
            .map_err(RunwayError::from)
            .expect_err("not the owner");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    }
    // The owner with a wrong auth_token: 403.
    let err = owner
        .delete_media()
        .media_url(url.as_str())
        .auth_token("wrong")
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("wrong token");
    assert_eq!(err.code(), Some("forbidden"));
    assert_eq!(
        reqwest::get(&url).await.expect("get").status(),
        StatusCode::OK
    );

    let deleted = owner
        .delete_media()
        .media_url(url.as_str())
        .auth_token(KEY)
        .send()
        .await
        .expect("owner deletes")
        .into_inner();
    assert_eq!(deleted.message, "Media successfully deleted");

    assert_eq!(
        reqwest::get(&url).await.expect("get").status(),
        StatusCode::NOT_FOUND
    );
    let err = owner
        .get_image_metadata()
        .image_url(url.as_str())
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("metadata of deleted media");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    let err = owner
        .edit_image()
        .body(image_filter(&url, types::ImageFilter::Sepia))
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("edit of deleted media");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    let err = owner
        .delete_media()
        .media_url(url.as_str())
        .auth_token(KEY)
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("deleted twice");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
}

#[tokio::test]
async fn media_owner_and_creation_time_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || {
        runway_server::ServerConfig::for_data_dir(
            dir.path(),
            vec![KEY.to_owned(), OTHER_KEY.to_owned()],
        )
    };
    let first = runway_server::start(config()).await.expect("start");
    let client = runway_api::Client::builder()
        .base_url(&first.base_url)
        .api_key(KEY)
        .build()
        .expect("client");
    let url = generate_image(&client, "a kite", types::ImageStyle::Photorealistic, 64, 48).await;
    let before = client
        .get_image_metadata()
        .image_url(url.as_str())
        .send()
        .await
        .expect("metadata")
        .into_inner();
    let id = before.image_id.clone();
    first.shutdown().await;

    let second = runway_server::start(config()).await.expect("restart");
    let client = |key: &str| {
        runway_api::Client::builder()
            .base_url(&second.base_url)
            .api_key(key)
            .build()
            .expect("client")
    };
    let url = format!("{}/images/{id}.jpg", second.base_url);
    let after = client(KEY)
        .get_image_metadata()
        .image_url(url.as_str())
        .send()
        .await
        .expect("metadata after restart")
        .into_inner();
    assert_eq!(after, before);
    let err = client(OTHER_KEY)
        .delete_media()
        .media_url(url.as_str())
        .auth_token(OTHER_KEY)
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("ownership survives");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
}

#[tokio::test]
async fn no_remote_fetch_refuses_other_hosts_without_connecting() {
    let remote = MockServer::start().await;
    Mock::given(path("/pic.png"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(make_png(30, 20), "image/png"))
        .mount(&remote)
        .await;
    let t = TestServer::start_with(|c| {
        c.allow_private_fetch = true;
        c.no_remote_fetch = true;
    })
    .await;
    let err = t
        .client()
        .edit_image()
        .body(image_filter(
            format!("{}/pic.png", remote.uri()),
            types::ImageFilter::Sepia,
        ))
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("refused");
    assert_eq!(err.code(), Some("media_unreachable"));
    assert_eq!(remote.received_requests().await.map(|r| r.len()), Some(0));
}

#[tokio::test]
async fn large_media_stream_whole_and_by_range() {
    let t = TestServer::start().await;
    let client = t.client();
    // Noise does not compress: the stored JPEG is well over a megabyte.
    let png = noise_png(1600, 1200, 1);
    let uploaded = client
        .upload_media()
        .body(png)
        .send()
        .await
        .expect("upload")
        .into_inner();
    assert!(
        uploaded.size_bytes > 2 * 1024 * 1024,
        "{} bytes",
        uploaded.size_bytes
    );
    let whole = fetch(&client, &uploaded.media_url).await;
    assert_eq!(whole.len() as i64, uploaded.size_bytes);
    assert_eq!(
        image::load_from_memory(&whole).expect("decodes").width(),
        1600
    );

    let start = whole.len() - 1_500_000;
    let part = reqwest::Client::new()
        .get(&uploaded.media_url)
        .header("range", format!("bytes={start}-"))
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&part.bytes().await.expect("body")[..], &whole[start..]);
}

#[tokio::test]
async fn own_urls_are_recognised_however_they_are_written() {
    let t = TestServer::start().await;
    let client = t.client();
    let url = generate_image(&client, "spelled", types::ImageStyle::Sketch, 40, 30).await;
    let file = url.rsplit('/').next().expect("file name");
    let base = &t.server.base_url;
    for spelling in [
        format!("{base}/images/../images/{file}"),
        format!("{base}/images/{file}?download=1"),
        format!("{base}/images/{file}#frag"),
        format!("{base}/./images/{file}"),
    ] {
        let meta = client
            .get_image_metadata()
            .image_url(spelling.as_str())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{spelling}: {e}"))
            .into_inner();
        assert_eq!(meta.width.get(), 40, "{spelling}");
    }
    let err = client
        .get_image_metadata()
        .image_url(format!("{base}/elsewhere/{file}").as_str())
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("not a media path");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
}
