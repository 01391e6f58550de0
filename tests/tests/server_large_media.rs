//! Media of real sizes: uploads stream to disk under a cap (413 while they stream,
//! nothing left behind), large videos are stored and edited, and every output is
//! described exactly as ffprobe describes it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestServer, fetch_image, fetch_probe, files_under, probe_path};
use reqwest::{Method, StatusCode};
use runway_api::types;

/// A video of about `mib` MiB, made quickly: a 2 s lossless 1280x720 clip with
/// sound, looped by stream copy.
fn make_large_video(dir: &Path, mib: u64) -> PathBuf {
    let clip = dir.join("clip.mp4");
    let ffmpeg = |args: &[&str]| {
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .status()
            .expect("ffmpeg runs");
        assert!(status.success(), "{args:?}");
    };
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=1280x720:r=24:d=2",
        "-f",
        "lavfi",
        "-i",
        "sine=f=330:d=2",
        "-vf",
        "noise=alls=40:allf=t",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        clip.to_str().expect("utf-8"),
    ]);
    let clip_bytes = std::fs::metadata(&clip).expect("clip").len();
    let loops = (mib << 20).div_ceil(clip_bytes) - 1;
    let big = dir.join("big.mp4");
    ffmpeg(&[
        "-stream_loop",
        &loops.to_string(),
        "-i",
        clip.to_str().expect("utf-8"),
        "-c",
        "copy",
        big.to_str().expect("utf-8"),
    ]);
    big
}

/// Media files and records in the server's store (directories aside).
fn stored_files(t: &TestServer) -> Vec<PathBuf> {
    files_under(&t.dir.path().join("media"))
}

/// Files left in the server's scratch space.
fn scratch_files(t: &TestServer) -> Vec<PathBuf> {
    files_under(&t.dir.path().join("work"))
}

#[tokio::test]
async fn a_video_of_hundreds_of_megabytes_is_uploaded_edited_and_downloaded() {
    let t = TestServer::start().await;
    let client = t.client();
    let dir = tempfile::tempdir().expect("tempdir");
    let big = make_large_video(dir.path(), 300);
    let size = std::fs::metadata(&big).expect("big").len();
    assert!(size > 280 << 20, "{size} bytes");
    let original = probe_path(&big);

    // Streamed from the file by the SDK, streamed to disk by the server, kept as
    // it is (H.264/yuv420p with AAC is only remuxed).
    let uploaded = client.upload_file(&big).await.expect("upload").into_inner();
    assert_eq!(uploaded.media_type, types::MediaKind::Video);
    let stored = client
        .get_video_metadata()
        .video_url(uploaded.media_url.as_str())
        .send()
        .await
        .expect("metadata")
        .into_inner();
    assert_eq!(
        (
            stored.width.map(|w| w.get()),
            stored.height.map(|h| h.get())
        ),
        (Some(1280), Some(720))
    );
    assert!((stored.duration_seconds.expect("duration") - original.duration()).abs() < 0.1);
    assert_eq!(stored.has_audio, Some(true));
    let stored_size = u64::try_from(stored.size_bytes.expect("size")).expect("size");
    assert!(
        stored_size > size * 9 / 10,
        "remuxed, not re-encoded: {stored_size}"
    );

    // A frame from the middle of it, and the first two seconds by a trim.
    let thumbnail = client
        .generate_thumbnail()
        .body_map(|b| {
            b.video_url(
                uploaded
                    .media_url
                    .parse::<runway_api::MediaUrl>()
                    .expect("url"),
            )
            .time_position(5)
        })
        .send()
        .await
        .expect("thumbnail")
        .into_inner();
    assert_eq!(
        fetch_image(&client, &thumbnail.thumbnail_url)
            .await
            .dimensions(),
        (1280, 720)
    );
    let trimmed = client
        .edit_video()
        .body(types::EditVideoRequest::trim(&uploaded.media_url).end_time(2))
        .send()
        .await
        .expect("trim")
        .into_inner();
    let probe = fetch_probe(&client, &trimmed.edited_video_url).await;
    assert!((probe.duration() - 2.0).abs() < 0.2, "{}", probe.duration());

    // Downloaded whole through the SDK: the bytes the server described.
    let back = dir.path().join("back.mp4");
    let written = client
        .download_to_file(&uploaded.media_url, &back)
        .await
        .expect("download");
    assert_eq!(written, stored_size);
    assert_eq!(
        probe_path(&back).duration(),
        stored.duration_seconds.expect("duration")
    );
    assert!(scratch_files(&t).is_empty(), "{:?}", scratch_files(&t));
}

#[tokio::test]
async fn an_upload_over_the_cap_is_refused_while_it_streams_and_leaves_nothing() {
    let cap = 1u64 << 20;
    let t = TestServer::start_with(|c| c.max_upload_bytes = cap).await;
    // The start of a real video, then more than the cap: the cap decides, not the
    // content.
    let mut body = common::make_test_video(1);
    body.resize(4 << 20, 0);
    let chunks: Vec<Vec<u8>> = body.chunks(64 * 1024).map(<[u8]>::to_vec).collect();

    // Without a length (chunked), with and without an Idempotency-Key (whose layer
    // spools the body too): refused once past the cap.
    for key in [None, Some("over-the-cap")] {
        let mut request = t
            .raw(Method::POST, "/v1/upload-media")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks.clone().into_iter().map(Ok::<_, std::io::Error>),
            )));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.expect("an answer, not a broken pipe");
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let error: serde_json::Value = response.json().await.expect("error body");
        assert_eq!(error["error"]["code"], "payload_too_large");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&cap.to_string())),
            "{error}"
        );
    }
    // A body that never ends: the answer comes while it streams.
    let endless = futures_util::stream::unfold(0u64, |sent| async move {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        Some((Ok::<_, std::io::Error>(vec![0u8; 64 * 1024]), sent + 1))
    });
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        t.raw(Method::POST, "/v1/upload-media")
            .body(reqwest::Body::wrap_stream(endless))
            .send(),
    )
    .await
    .expect("answered before the body ends")
    .expect("an answer");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    drop(response);
    // With a length over the cap: refused before the body is read.
    let response = t
        .raw(Method::POST, "/v1/upload-media")
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Through the SDK, from a file.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big.mp4");
    std::fs::write(&file, &body).expect("write");
    let err = t.client().upload_file(&file).await.expect_err("refused");
    assert_eq!(err.status(), Some(StatusCode::PAYLOAD_TOO_LARGE), "{err}");

    assert!(scratch_files(&t).is_empty(), "{:?}", scratch_files(&t));
    assert!(stored_files(&t).is_empty(), "{:?}", stored_files(&t));
    // Under the cap, the same server takes a video.
    let small = common::make_test_video(1);
    assert!((small.len() as u64) < cap);
    let response = t
        .raw(Method::POST, "/v1/upload-media")
        .body(small)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// The metadata the server records for a video equal ffprobe's reading of its
/// bytes, to the last digit.
async fn assert_described_as_ffprobe_does(client: &runway_api::Client, url: &str) {
    let meta = client
        .get_video_metadata()
        .video_url(url)
        .send()
        .await
        .expect("metadata")
        .into_inner();
    let probe = fetch_probe(client, url).await;
    let (width, height) = probe.size();
    assert_eq!(meta.width.map(|w| u64::from(w.get())), Some(width), "{url}");
    assert_eq!(
        meta.height.map(|h| u64::from(h.get())),
        Some(height),
        "{url}"
    );
    assert_eq!(meta.duration_seconds, Some(probe.duration()), "{url}");
    assert_eq!(meta.fps, Some(probe.fps()), "{url}");
    assert_eq!(meta.has_audio, Some(probe.audio_codec().is_some()), "{url}");
}

#[tokio::test]
async fn every_output_is_described_as_ffprobe_describes_it() {
    let t = TestServer::start().await;
    let client = t.client();
    let source = common::upload_test_video(&client, 3).await;
    let source_url: runway_api::MediaUrl = source.parse().expect("url");
    let image =
        common::generate_image(&client, "a harbour", types::ImageStyle::Sketch, 333, 250).await;

    let mut videos = vec![source.clone()];
    videos.push(
        client
            .generate_video()
            .body_map(|b| b.prompt("waves").duration(2).width(320).height(180))
            .send()
            .await
            .expect("generate-video")
            .into_inner()
            .video_url,
    );
    videos.push(
        client
            .image_to_video()
            .body_map(|b| {
                b.image_url(image.parse::<runway_api::MediaUrl>().expect("url"))
                    .duration(2)
                    .fps(30)
            })
            .send()
            .await
            .expect("image-to-video")
            .into_inner()
            .video_url,
    );
    videos.push(
        client
            .apply_video_filter()
            .body(types::VideoFilterRequest {
                video_url: source_url.clone(),
                filter: types::VideoFilter::Vintage,
            })
            .send()
            .await
            .expect("video-filter")
            .into_inner()
            .filtered_video_url,
    );
    videos.push(
        client
            .resize_video()
            .body_map(|b| {
                b.video_url(source_url.clone())
                    .new_width(176)
                    .new_height(144)
            })
            .send()
            .await
            .expect("resize-video")
            .into_inner()
            .resized_video_url,
    );
    videos.push(
        client
            .edit_video()
            .body(types::EditVideoRequest::trim(&source_url).start_time(1))
            .send()
            .await
            .expect("trim")
            .into_inner()
            .edited_video_url,
    );
    videos.push(
        client
            .adjust_video_speed()
            .body_map(|b| b.video_url(source_url.clone()).speed_factor(1.5))
            .send()
            .await
            .expect("speed-adjust")
            .into_inner()
            .adjusted_speed_video_url,
    );
    for url in &videos {
        assert_described_as_ffprobe_does(&client, url).await;
    }

    // The MP3: its listed duration is ffprobe's.
    let audio = client
        .extract_audio()
        .body_map(|b| b.video_url(source_url.clone()))
        .send()
        .await
        .expect("extract-audio")
        .into_inner()
        .audio_url;
    let listed = client
        .list_media()
        .kind(types::StoredMediaKind::Audio)
        .send()
        .await
        .expect("list")
        .into_inner();
    let item = listed.data.iter().find(|m| m.url == audio).expect("listed");
    assert_eq!(
        item.duration_seconds,
        Some(fetch_probe(&client, &audio).await.duration())
    );

    // The thumbnail: its recorded size is the JPEG's.
    let thumbnail = client
        .generate_thumbnail()
        .body_map(|b| b.video_url(source_url.clone()).time_position(1))
        .send()
        .await
        .expect("thumbnail")
        .into_inner()
        .thumbnail_url;
    let meta = client
        .get_image_metadata()
        .image_url(thumbnail.as_str())
        .send()
        .await
        .expect("image-metadata")
        .into_inner();
    let decoded = fetch_image(&client, &thumbnail).await;
    assert_eq!((meta.width.get(), meta.height.get()), decoded.dimensions());
}
