//! Video and audio operations through the SDK against a real server: the outputs
//! are probed with ffprobe and their frames decoded.

mod common;

use common::*;
use runway_api::{Client, RunwayError, types};

/// The length of one frame at `fps`, the tolerance of every duration check.
fn frame(fps: f64) -> f64 {
    1.0 / fps
}

async fn generate_video(client: &Client, prompt: &str, seconds: u32, fps: u32) -> String {
    client
        .generate_video()
        .body_map(|b| {
            b.prompt(prompt)
                .duration(seconds)
                .fps(fps)
                .width(320)
                .height(240)
        })
        .send()
        .await
        .expect("generate-video")
        .into_inner()
        .video_url
}

/// The frame at `seconds` of `video`, taken with `generate-thumbnail` and decoded.
async fn frame_at(client: &Client, video: &str, seconds: i32) -> image::RgbImage {
    let thumb = client
        .generate_thumbnail()
        .body_map(|b| b.video_url(video).time_position(seconds))
        .send()
        .await
        .expect("generate-thumbnail")
        .into_inner()
        .thumbnail_url;
    fetch_image(client, &thumb).await
}

#[tokio::test]
async fn generated_videos_have_exactly_the_requested_shape() {
    let t = TestServer::start().await;
    let client = t.client();
    let url = generate_video(&client, "waves at sunset", 3, 12).await;
    let probe = fetch_probe(&client, &url).await;
    assert_eq!(probe.video_codec(), Some("h264"));
    assert_eq!(probe.pixel_format(), Some("yuv420p"));
    assert_eq!(probe.size(), (320, 240));
    assert!((probe.fps() - 12.0).abs() < 1e-6, "fps {}", probe.fps());
    assert!(
        (probe.duration() - 3.0).abs() <= frame(12.0),
        "duration {}",
        probe.duration()
    );
    assert_eq!(
        probe.audio_codec(),
        Some("aac"),
        "generated videos carry a soundtrack"
    );

    // The default frame rate is 24.
    let default_fps = client
        .generate_video()
        .body_map(|b| b.prompt("rain").duration(1).width(64).height(48))
        .send()
        .await
        .expect("generate-video")
        .into_inner()
        .video_url;
    let probe = fetch_probe(&client, &default_fps).await;
    assert!((probe.fps() - 24.0).abs() < 1e-6);
    assert_eq!(probe.size(), (64, 48));

    // Metadata reads the stored file.
    let meta = client
        .get_video_metadata()
        .video_url(url.as_str())
        .send()
        .await
        .expect("video-metadata")
        .into_inner();
    assert_eq!(meta.duration, "3s");
    assert!((meta.duration_seconds.expect("seconds") - 3.0).abs() <= frame(12.0));
    assert_eq!(meta.has_audio, Some(true));
    assert_eq!(
        meta.size_bytes,
        Some(fetch(&client, &url).await.len() as i64)
    );
    assert_eq!(meta.width.map(|w| w.get()), Some(320));
}

#[tokio::test]
async fn image_to_video_moves_over_the_image_and_is_silent() {
    let t = TestServer::start().await;
    let client = t.client();
    let image_url = generate_image(
        &client,
        "mountains",
        types::ImageStyle::Photorealistic,
        400,
        300,
    )
    .await;
    let url = client
        .image_to_video()
        .body_map(|b| b.image_url(image_url.as_str()).duration(2).fps(10))
        .send()
        .await
        .expect("image-to-video")
        .into_inner()
        .video_url;
    let probe = fetch_probe(&client, &url).await;
    assert_eq!(probe.video_codec(), Some("h264"));
    assert_eq!(probe.size(), (400, 300));
    assert!(
        (probe.duration() - 2.0).abs() <= frame(10.0),
        "duration {}",
        probe.duration()
    );
    assert_eq!(probe.audio_codec(), None);

    // The first and last frames differ: the camera moves.
    let (first, last) = (
        frame_at(&client, &url, 0).await,
        frame_at(&client, &url, 1).await,
    );
    assert_eq!(first.dimensions(), (400, 300));
    let moved = first
        .pixels()
        .zip(last.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0.iter()).any(|(x, y)| x.abs_diff(*y) > 20))
        .count();
    assert!(
        moved > 400 * 300 / 20,
        "only {moved} pixels changed between frames"
    );

    // extract-audio on a silent video is a clear 422.
    let err = client
        .extract_audio()
        .body_map(|b| b.video_url(url.as_str()))
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("no audio");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
    assert_eq!(err.code(), Some("no_audio_stream"));
}

#[tokio::test]
async fn edits_trim_filter_resize_and_change_speed() {
    let t = TestServer::start().await;
    let client = t.client();
    let source = upload_test_video(&client, 4).await;
    let source_probe = fetch_probe(&client, &source).await;
    assert!((source_probe.duration() - 4.0).abs() < 0.1);
    assert_eq!(source_probe.audio_codec(), Some("aac"));

    // trim 1..3 keeps two seconds, with sound; a trim with neither bound keeps all.
    let video_url: runway_api::MediaUrl = source.parse().expect("a media URL");
    for (start_time, end_time, kept) in [(1, Some(3), 2.0), (0, None, 4.0)] {
        let trim = types::EditVideoRequest::trim(&video_url).start_time(start_time);
        let trim = match end_time {
            Some(end) => trim.end_time(end),
            None => trim,
        };
        let trimmed = client
            .edit_video()
            .body(trim)
            .send()
            .await
            .expect("trim")
            .into_inner()
            .edited_video_url;
        let probe = fetch_probe(&client, &trimmed).await;
        assert!(
            (probe.duration() - kept).abs() <= 0.1,
            "trimmed to {}, expected {kept}",
            probe.duration()
        );
        assert_eq!(probe.audio_codec(), Some("aac"));
    }

    // black-and-white through video-filter: a frame has no colour.
    let filtered = client
        .apply_video_filter()
        .body_map(|b| {
            b.video_url(source.as_str())
                .filter(types::VideoFilter::BlackAndWhite)
        })
        .send()
        .await
        .expect("video-filter")
        .into_inner()
        .filtered_video_url;
    let probe = fetch_probe(&client, &filtered).await;
    assert!((probe.duration() - 4.0).abs() < 0.1);
    let grey = frame_at(&client, &filtered, 1).await;
    assert!(
        max_channel_spread(&grey) <= 12,
        "spread {}",
        max_channel_spread(&grey)
    );

    // Every other filter really changes the picture (via edit-video add-filter too).
    let original_frame = frame_at(&client, &source, 1).await;
    for filter in [
        types::VideoFilter::Vintage,
        types::VideoFilter::Cinematic,
        types::VideoFilter::Sepia,
    ] {
        let url = client
            .edit_video()
            .body(types::EditVideoRequest::AddFilter {
                video_url: video_url.clone(),
                filter,
            })
            .send()
            .await
            .expect("edit-video add-filter")
            .into_inner()
            .edited_video_url;
        let frame = frame_at(&client, &url, 1).await;
        let (a, b) = (channel_means(&original_frame), channel_means(&frame));
        let shift: f64 = (0..3).map(|c| (a[c] - b[c]).abs()).sum();
        assert!(
            shift > 6.0,
            "{filter:?} barely changed the colours ({shift})"
        );
    }

    // resize to exactly 160x90.
    let resized = client
        .resize_video()
        .body_map(|b| b.video_url(source.as_str()).new_width(160).new_height(90))
        .send()
        .await
        .expect("resize-video")
        .into_inner()
        .resized_video_url;
    let probe = fetch_probe(&client, &resized).await;
    assert_eq!(probe.size(), (160, 90));
    assert!((probe.duration() - 4.0).abs() < 0.1);

    // speed: 2x halves, 0.5x doubles, across the allowed range; sound follows.
    for (factor, expected) in [(2.0, 2.0), (0.5, 8.0), (4.0, 1.0), (0.25, 16.0)] {
        let url = client
            .adjust_video_speed()
            .body_map(|b| b.video_url(source.as_str()).speed_factor(factor))
            .send()
            .await
            .expect("speed-adjust")
            .into_inner()
            .adjusted_speed_video_url;
        let probe = fetch_probe(&client, &url).await;
        assert!(
            (probe.duration() - expected).abs() <= 0.15,
            "x{factor}: {} s, expected {expected}",
            probe.duration()
        );
        assert_eq!(
            probe.audio_codec(),
            Some("aac"),
            "x{factor} keeps the sound"
        );
        assert!(
            (probe.fps() - 25.0).abs() < 0.5,
            "x{factor} keeps the frame rate"
        );
    }
    let url = client
        .edit_video()
        .body(types::EditVideoRequest::adjust_speed(&source, 2))
        .send()
        .await
        .expect("edit-video adjust-speed")
        .into_inner()
        .edited_video_url;
    assert!((fetch_probe(&client, &url).await.duration() - 2.0).abs() <= 0.15);
}

#[tokio::test]
async fn thumbnails_and_audio_come_from_the_video() {
    let t = TestServer::start().await;
    let client = t.client();
    let video = generate_video(&client, "city lights", 3, 24).await;

    let thumb = client
        .generate_thumbnail()
        .body_map(|b| b.video_url(video.as_str()))
        .send()
        .await
        .expect("thumbnail at the default position")
        .into_inner()
        .thumbnail_url;
    assert!(thumb.contains("/images/") && thumb.ends_with(".jpg"));
    assert_eq!(fetch_image(&client, &thumb).await.dimensions(), (320, 240));

    let err = client
        .generate_thumbnail()
        .body_map(|b| b.video_url(video.as_str()).time_position(3))
        .send()
        .await
        .map_err(RunwayError::from)
        .expect_err("at the end");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
    assert_eq!(err.param(), Some("time_position"));

    let audio = client
        .extract_audio()
        .body_map(|b| b.video_url(video.as_str()))
        .send()
        .await
        .expect("extract-audio")
        .into_inner()
        .audio_url;
    assert!(audio.contains("/audios/") && audio.ends_with(".mp3"));
    let probe = fetch_probe(&client, &audio).await;
    assert_eq!(probe.audio_codec(), Some("mp3"));
    assert_eq!(probe.video_codec(), None);
    assert!(
        (probe.duration() - 3.0).abs() <= 0.1,
        "mp3 lasts {}",
        probe.duration()
    );
}
