//! The SDK's hand-written behaviour against a local stub server: auth, retries,
//! timeouts, typed errors and downloads.

use std::time::{Duration, Instant};

use runway_api::{Client, RetryPolicy, RunwayError, types};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "test-key-5d41402abc4b2a76";

fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(max_retries)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
        .with_max_retry_after(Duration::from_secs(5))
        .with_max_in_progress_wait(Duration::from_secs(5))
}

fn client_for(server: &MockServer, retries: u32) -> Client {
    Client::builder()
        .base_url(server.uri())
        .api_key(KEY)
        .retry_policy(fast_retries(retries))
        .build()
        .expect("client")
}

fn error_body(code: &str, message: &str, param: Option<&str>) -> serde_json::Value {
    let mut detail = serde_json::json!({"code": code, "message": message});
    if let Some(param) = param {
        detail["param"] = param.into();
    }
    serde_json::json!({ "error": detail })
}

async fn generate(client: &Client) -> Result<types::GenerateImageResponse, RunwayError> {
    let response = client
        .generate_image()
        .body_map(|b| b.prompt("a red fox"))
        .send()
        .await?;
    Ok(response.into_inner())
}

fn image_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(serde_json::json!({"image_url": "http://x/images/a.jpg"}))
}

#[tokio::test]
async fn the_key_and_user_agent_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/generate-image"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header(
            "user-agent",
            format!("runway-api-rust/{}", env!("CARGO_PKG_VERSION")).as_str(),
        ))
        .respond_with(image_ok())
        .expect(1)
        .mount(&server)
        .await;
    let image = generate(&client_for(&server, 0)).await.expect("success");
    assert_eq!(image.image_url, "http://x/images/a.jpg");
}

/// Answers `status` with `Retry-After: retry_after` once, then succeeds; the client
/// must wait at least `wait` before its second, successful attempt.
async fn assert_retry_after_is_waited_out(status: u16, retry_after: &str, wait: Duration) {
    let server = MockServer::start().await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("retry-after", retry_after)
                .set_body_json(error_body("rate_limited", "slow down", None)),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(image_ok())
        .with_priority(2)
        .mount(&server)
        .await;
    let started = Instant::now();
    generate(&client_for(&server, 3))
        .await
        .expect("success after one retry");
    assert!(
        started.elapsed() >= wait,
        "Retry-After: {retry_after} was not honoured ({:?})",
        started.elapsed()
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2));
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_retried() {
    assert_retry_after_is_waited_out(429, "1", Duration::from_millis(950)).await;
}

#[tokio::test]
async fn a_retry_after_http_date_is_waited_out_too() {
    // Two seconds ahead, written to the second: a wait of more than one second.
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    assert_retry_after_is_waited_out(503, &date, Duration::from_millis(950)).await;
}

#[tokio::test]
async fn retries_end_after_the_limit_with_the_last_error() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(ResponseTemplate::new(503).set_body_json(error_body(
            "overloaded",
            "too many media jobs",
            None,
        )))
        .mount(&server)
        .await;
    let err = generate(&client_for(&server, 2))
        .await
        .expect_err("gives up");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.code(), Some("overloaded"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(3));
}

#[tokio::test]
async fn the_apis_own_502_and_504_are_not_retried_a_gateways_are() {
    for (status, code) in [(502, "upstream_error"), (504, "upstream_timeout")] {
        let server = MockServer::start().await;
        Mock::given(path("/v1/generate-image"))
            .respond_with(ResponseTemplate::new(status).set_body_json(error_body(
                code,
                "the image generator failed",
                None,
            )))
            .mount(&server)
            .await;
        let err = generate(&client_for(&server, 2))
            .await
            .expect_err("the model failed");
        assert_eq!(err.code(), Some(code));
        assert_eq!(
            server.received_requests().await.map(|r| r.len()),
            Some(1),
            "{code}: the model's work is not started again"
        );

        // A gateway's own page in front of the API is retried.
        let gateway = MockServer::start().await;
        Mock::given(path("/v1/generate-image"))
            .respond_with(
                ResponseTemplate::new(status).set_body_raw("<html>Bad Gateway</html>", "text/html"),
            )
            .mount(&gateway)
            .await;
        generate(&client_for(&gateway, 2))
            .await
            .expect_err("still failing");
        assert_eq!(gateway.received_requests().await.map(|r| r.len()), Some(3));
    }
}

#[tokio::test]
async fn client_errors_are_not_retried_and_decode_to_typed_errors() {
    for (status, code, param) in [
        (400, "invalid_request", None),
        (422, "invalid_parameter", Some("prompt")),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/v1/generate-image"))
            .respond_with(ResponseTemplate::new(status).set_body_json(error_body(
                code,
                "bad input",
                param,
            )))
            .mount(&server)
            .await;
        let err = generate(&client_for(&server, 3)).await.expect_err("fails");
        assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
        match &err {
            RunwayError::Api {
                status: s,
                code: c,
                message,
                param: p,
                ..
            } => {
                assert_eq!(s.as_u16(), status);
                assert_eq!(c, code);
                assert_eq!(message, "bad input");
                assert_eq!(p.as_deref(), param);
            }
            other => panic!("expected an API error, got {other:?}"),
        }
        assert!(err.to_string().contains("bad input"), "{err}");
    }
}

#[tokio::test]
async fn an_unparseable_error_body_is_kept() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    let err = generate(&client_for(&server, 0)).await.expect_err("fails");
    match err {
        RunwayError::InvalidBody { body, .. } => assert_eq!(&body[..], b"<html>oops</html>"),
        other => panic!("expected InvalidBody, got {other:?}"),
    }
}

#[tokio::test]
async fn a_timed_out_post_is_retried_with_the_same_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(image_ok().set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let client = Client::builder()
        .base_url(server.uri())
        .api_key(KEY)
        .timeout(Duration::from_millis(200))
        .retry_policy(fast_retries(2))
        .build()
        .expect("client");
    let err = generate(&client).await.expect_err("times out");
    match &err {
        RunwayError::Transport(e) => assert!(e.is_timeout(), "{e}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 3, "the first attempt and two retries");
    let keys: Vec<_> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .cloned()
                .expect("a key on every attempt")
        })
        .collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one key for one call: {keys:?}"
    );

    // The next call is another request: another key.
    let _ = generate(&client).await;
    let requests = server.received_requests().await.expect("recorded");
    assert_ne!(requests[3].headers.get("idempotency-key"), Some(&keys[0]));
}

#[tokio::test]
async fn a_conflict_that_says_when_is_waited_out_on_a_post() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(
            ResponseTemplate::new(409)
                .insert_header("retry-after", "0")
                .set_body_json(serde_json::json!({"error": {
                    "code": "idempotency_key_in_use",
                    "message": "a request with this Idempotency-Key is still running"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(image_ok())
        .mount(&server)
        .await;
    let image = generate(&client_for(&server, 1))
        .await
        .expect("the second attempt answers");
    assert!(image.image_url.ends_with(".jpg"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2));
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .api_key(KEY)
        .retry_policy(fast_retries(2))
        .build()
        .expect("client");
    let err = generate(&client).await.expect_err("nothing listens");
    // The message says why, not only "error sending request".
    let message = err.to_string();
    assert!(message.to_lowercase().contains("refused"), "{message}");
    match err {
        RunwayError::Transport(e) => assert!(e.is_connect(), "{e}"),
        other => panic!("expected a connection error, got {other:?}"),
    }
    // The error of `.send()` as it is says why too, in its full message.
    let err = client
        .generate_image()
        .body_map(|b| b.prompt("a red fox"))
        .send()
        .await
        .expect_err("nothing listens");
    let full = runway_api::SendErrorExt::full_message(&err);
    assert!(full.to_lowercase().contains("refused"), "{full}");
    assert!(full.starts_with(&err.to_string()), "{full}");
}

#[tokio::test]
async fn a_send_error_is_matched_by_its_code_as_it_is() {
    use runway_api::prelude::*;
    let server = MockServer::start().await;
    Mock::given(path("/v1/generate-image"))
        .respond_with(
            ResponseTemplate::new(422)
                .insert_header("x-request-id", "req_5f2b")
                .set_body_json(error_body("invalid_parameter", "too small", Some("width"))),
        )
        .mount(&server)
        .await;
    let client = client_for(&server, 0);
    let answer = client
        .generate_image()
        .body_map(|b| b.prompt("a red fox"))
        .send()
        .await;
    // No conversion: the error of `.send()` answers as RunwayError does.
    let (param, request_id) = match answer {
        Err(err) if err.error_code() == Some(ErrorCode::InvalidParameter) => {
            assert_eq!(err.code(), Some("invalid_parameter"));
            assert_eq!(err.message(), Some("too small"));
            (
                err.param().map(str::to_owned),
                err.request_id().map(str::to_owned),
            )
        }
        other => panic!("expected invalid_parameter, got {other:?}"),
    };
    assert_eq!(param.as_deref(), Some("width"));
    assert_eq!(request_id.as_deref(), Some("req_5f2b"));
}

/// Reads one request head (to the blank line) from `stream`.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.expect("read") == 1 {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn a_connection_closed_before_the_answer_is_retried_with_the_same_key() {
    // A server that reads the first request and closes the connection without an
    // answer, then answers the second.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        let mut heads = Vec::new();
        let (mut first, _) = listener.accept().await.expect("accept");
        heads.push(read_head(&mut first).await);
        drop(first);
        let (mut second, _) = listener.accept().await.expect("accept");
        heads.push(read_head(&mut second).await);
        let body = r#"{"image_url": "http://x/images/a.jpg"}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        second.write_all(answer.as_bytes()).await.expect("write");
        heads
    });
    let client = Client::builder()
        .base_url(&base)
        .api_key(KEY)
        .retry_policy(fast_retries(1))
        .build()
        .expect("client");
    let image = generate(&client).await.expect("the second attempt answers");
    assert!(image.image_url.ends_with("a.jpg"));
    let heads = server.await.expect("server");
    let key = |head: &str| {
        head.lines()
            .find_map(|line| line.strip_prefix("idempotency-key: "))
            .map(str::to_owned)
            .expect("a key on every attempt")
    };
    assert_eq!(key(&heads[0]), key(&heads[1]), "{heads:?}");
}

#[tokio::test]
async fn a_streaming_body_is_not_replayed() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/upload-media"))
        .respond_with(ResponseTemplate::new(503).set_body_json(error_body(
            "overloaded",
            "busy",
            None,
        )))
        .mount(&server)
        .await;
    let chunks = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
        bytes::Bytes::from_static(b"\xff\xd8\xff"),
    )]);
    let err = client_for(&server, 3)
        .upload_media()
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("503");
    assert_eq!(err.code(), Some("overloaded"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
}

#[tokio::test]
async fn a_file_upload_declares_its_length_and_is_retried_from_the_file() {
    let server = MockServer::start().await;
    let uploaded = serde_json::json!({
        "media_url": format!("{}/images/img_0123.jpg", server.uri()),
        "media_type": "image",
        "size_bytes": 3
    });
    Mock::given(path("/v1/upload-media"))
        .respond_with(ResponseTemplate::new(503).set_body_json(error_body(
            "overloaded",
            "busy",
            None,
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/upload-media"))
        .respond_with(ResponseTemplate::new(201).set_body_json(&uploaded))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("photo.jpg");
    let bytes = b"\xff\xd8\xff a photo of some length";
    std::fs::write(&file, bytes).expect("write");

    let answer = client_for(&server, 3)
        .upload_file(&file)
        .await
        .expect("uploaded on the second attempt")
        .into_inner();
    assert_eq!(answer.size_bytes, 3);
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.body, bytes, "the whole file each time");
        assert_eq!(
            request
                .headers
                .get("content-length")
                .and_then(|v| v.to_str().ok()),
            Some(bytes.len().to_string().as_str())
        );
        assert_eq!(
            request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
    // One key for both attempts: the server answers a repeat with the first answer.
    let keys: Vec<_> = requests
        .iter()
        .map(|r| r.headers.get("idempotency-key").cloned())
        .collect();
    assert!(keys[0].is_some());
    assert_eq!(keys[0], keys[1]);

    // A missing file is an I/O error naming it, before any request.
    let err = client_for(&server, 3)
        .upload_file(dir.path().join("missing.jpg"))
        .await
        .expect_err("no such file");
    assert!(matches!(err, RunwayError::Io { .. }), "{err:?}");
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2));
}

/// Answers 503 after appending to the file at its path: the file changes between
/// the attempts of an upload.
struct GrowsTheFile(std::path::PathBuf);

impl wiremock::Respond for GrowsTheFile {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .expect("open");
        file.write_all(b" and more").expect("append");
        ResponseTemplate::new(503).set_body_json(error_body("overloaded", "busy", None))
    }
}

#[tokio::test]
async fn an_upload_stops_retrying_once_its_file_changed_length() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("growing.mp4");
    std::fs::write(&file, b"the first bytes").expect("write");
    Mock::given(path("/v1/upload-media"))
        .respond_with(GrowsTheFile(file.clone()))
        .mount(&server)
        .await;
    let err = client_for(&server, 3)
        .upload_file(&file)
        .await
        .expect_err("the server stays busy");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{err:?}");
    // The copy for the next attempt is made as an attempt starts: the second one
    // was made before the file grew; the third would declare a length that no
    // longer holds, and is not sent.
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2));
}

#[tokio::test]
async fn downloads_stream_to_a_file_atomically() {
    let server = MockServer::start().await;
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    Mock::given(method("GET"))
        .and(path("/videos/v.mp4"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(payload.clone(), "video/mp4"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/videos/gone.mp4"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error_body(
            "not_found",
            "no media",
            None,
        )))
        .mount(&server)
        .await;
    let client = client_for(&server, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("v.mp4");
    let written = client
        .download_to_file(&format!("{}/videos/v.mp4", server.uri()), &target)
        .await
        .expect("download");
    assert_eq!(written, payload.len() as u64);
    assert_eq!(std::fs::read(&target).expect("read"), payload);
    // The permissions of any new file here (0644 under the usual umask), not the
    // temporary file's private 0600.
    {
        use std::os::unix::fs::PermissionsExt;
        let ordinary = dir.path().join("ordinary");
        std::fs::write(&ordinary, b"x").expect("write");
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        assert_eq!(mode(&target), mode(&ordinary));
        std::fs::remove_file(&ordinary).expect("remove");
    }

    let missing = dir.path().join("gone.mp4");
    let err = client
        .download_to_file(&format!("{}/videos/gone.mp4", server.uri()), &missing)
        .await
        .expect_err("404");
    assert_eq!(err.code(), Some("not_found"));
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("v.mp4")],
        "nothing else is left"
    );
}

#[tokio::test]
async fn a_download_cut_short_leaves_nothing_behind() {
    // A server that promises 1 MB and closes after 10 bytes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: 1000000\r\n\r\n0123456789")
                .await;
            let _ = socket.shutdown().await;
        }
    });
    let client = Client::builder()
        .base_url(format!("http://{addr}"))
        .without_key()
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("cut.mp4");
    let err = client
        .download_to_file(&format!("http://{addr}/videos/cut.mp4"), &target)
        .await
        .expect_err("the body is incomplete");
    assert!(matches!(err, RunwayError::Transport(_)), "{err:?}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
}

#[tokio::test]
async fn downloads_to_a_writer_stream_in_chunks() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/audios/a.mp3"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![9u8; 100_000], "audio/mpeg"))
        .mount(&server)
        .await;
    let mut sink = Vec::new();
    let n = client_for(&server, 0)
        .download_to_writer(&format!("{}/audios/a.mp3", server.uri()), &mut sink)
        .await
        .expect("download");
    assert_eq!(n, 100_000);
    assert!(sink.iter().all(|&b| b == 9));
}
