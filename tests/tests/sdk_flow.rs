//! The SDK as a program would use it, against the reference server: upload, edit,
//! text, a video made as a typed task with its progress, a thumbnail and the
//! audio of it, listings as streams (narrowed by time), a download, and errors: one refused before
//! sending (naming its field) and one the server answers, matched by its code on
//! the error of `.send()` as it is.

mod common;

use common::{TestServer, fetch_image, fetch_probe, make_png};
use futures_util::TryStreamExt;
use runway_api::prelude::*;

#[tokio::test]
async fn a_program_uses_the_whole_api_with_the_sdk_shapes() -> Result<(), RunwayError> {
    let t = TestServer::start().await;
    let client = t.client();
    let dir = tempfile::tempdir().map_err(|e| RunwayError::Config(e.to_string()))?;

    // Upload a 320x200 image from a file.
    let source = dir.path().join("source.png");
    std::fs::write(&source, make_png(320, 200)).map_err(|e| RunwayError::Config(e.to_string()))?;
    let uploaded = client.upload_file(&source).await?;
    assert_eq!(uploaded.media_type, types::MediaKind::Image);

    // Each answer's URL goes into the next request as it is (`&String`).
    let resized = client
        .edit_image()
        .body(types::EditImageRequest::resize(&uploaded.media_url).width(160))
        .send()
        .await?;
    assert_eq!(
        fetch_image(&client, &resized.edited_image_url)
            .await
            .dimensions(),
        (160, 100),
        "one side given, the other follows the aspect ratio"
    );
    let captioned = client
        .add_text_to_image()
        .body_map(|b| {
            b.image_url(&resized.edited_image_url)
                .text("runway")
                .position(types::TextPosition::Center)
                .font_size(28)
        })
        .send()
        .await?;
    let before = fetch_image(&client, &resized.edited_image_url).await;
    let after = fetch_image(&client, &captioned.text_image_url).await;
    assert_eq!(after.dimensions(), (160, 100));
    assert_ne!(before, after, "the text changed pixels");

    // A video as a task: numbers given as numbers, the wait gives the operation's
    // own response, progress reported on the way.
    let task = client
        .start_task(
            types::GenerateVideoRequest::builder()
                .prompt("waves rolling in")
                .duration(2)
                .fps(12)
                .width(320)
                .height(180),
        )
        .await?;
    let mut seen = Vec::new();
    let video: types::GenerateVideoResponse = task
        .wait()
        .on_progress(|task| seen.push((task.status, task.progress)))
        .await?;
    assert_eq!(seen.last().map(|s| s.0), Some(types::TaskStatus::Succeeded));
    let probe = fetch_probe(&client, &video.video_url).await;
    assert!((probe.duration() - 2.0).abs() < 0.2, "{}", probe.duration());
    assert_eq!(probe.size(), (320, 180));

    let thumbnail = client
        .generate_thumbnail()
        .body_map(|b| b.video_url(&video.video_url).time_position(1))
        .send()
        .await?;
    assert_eq!(
        fetch_image(&client, &thumbnail.thumbnail_url)
            .await
            .dimensions(),
        (320, 180)
    );

    // The video's soundtrack as an MP3.
    let audio = client
        .extract_audio()
        .body_map(|b| b.video_url(&video.video_url))
        .send()
        .await?;
    let sound = fetch_probe(&client, &audio.audio_url).await;
    assert_eq!(sound.audio_codec(), Some("mp3"));
    assert!((sound.duration() - 2.0).abs() < 0.2, "{}", sound.duration());

    // The task is in the task listing, by its id; a listing narrowed to a time
    // to come has none.
    let tasks: Vec<types::Task> = client.task_stream(None).try_collect().await?;
    assert!(tasks.iter().any(|listed| listed.id == task.id()));
    let hour = chrono::Duration::hours(1);
    let later = TaskFilter::default().created_after(chrono::Utc::now() + hour);
    let none: Vec<types::Task> = client.task_stream(later).try_collect().await?;
    assert!(none.is_empty(), "{none:?}");
    let earlier = TaskFilter::default().created_before(chrono::Utc::now() - hour);
    let none: Vec<types::Task> = client.task_stream(earlier).try_collect().await?;
    assert!(none.is_empty(), "{none:?}");
    let this_hour = TaskFilter::default()
        .created_after(chrono::Utc::now() - hour)
        .created_before(chrono::Utc::now() + hour);
    let recent: Vec<types::Task> = client.task_stream(this_hour).try_collect().await?;
    assert!(recent.iter().any(|listed| listed.id == task.id()));
    let read = client.get_task().task_id(&tasks[0].id).send().await?;
    assert_eq!(read.id, tasks[0].id);

    // Listings as streams, narrowed like the listing operation.
    let images: Vec<types::MediaItem> = client
        .media_stream(MediaFilter::default().kind(types::StoredMediaKind::Image))
        .try_collect()
        .await?;
    assert_eq!(images.len(), 4, "upload, resize, text, thumbnail");
    let in_the_future: Vec<types::MediaItem> = client
        .media_stream(
            MediaFilter::default().created_after(chrono::Utc::now() + chrono::Duration::hours(1)),
        )
        .try_collect()
        .await?;
    assert!(in_the_future.is_empty());

    // A download, atomically to a file.
    let saved = dir.path().join("captioned.jpg");
    let bytes = client
        .download_to_file(&captioned.text_image_url, &saved)
        .await?;
    assert!(bytes > 0);
    let saved_image = image::open(&saved).map_err(|e| RunwayError::Config(e.to_string()))?;
    assert_eq!((saved_image.width(), saved_image.height()), (160, 100));

    // A value out of bounds fails before anything is sent, naming its field...
    let refused = client
        .generate_video()
        .body_map(|b| b.prompt("too long").duration(20))
        .send()
        .await;
    match refused {
        Err(err) => {
            assert_eq!(err.param(), Some("duration"), "{err}");
            assert!(err.status().is_none(), "nothing was sent: {err}");
        }
        Ok(_) => panic!("a 20 s video must be refused"),
    }
    let refused = types::EditImageRequest::resize(&uploaded.media_url)
        .width(0)
        .into_task_request()
        .expect_err("width 0");
    assert_eq!(refused.param(), Some("resize_width"));
    assert!(matches!(refused, RunwayError::InvalidRequest { .. }));

    // ...and an error the server answers is matched by its code, no conversion.
    let missing = client
        .get_image_metadata()
        .image_url(format!("{}/images/img_missing.jpg", t.server.base_url))
        .send()
        .await;
    match missing {
        Err(err) if err.error_code() == Some(ErrorCode::NotFound) => {
            assert!(err.request_id().is_some(), "{err}");
        }
        other => panic!("expected not_found, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_refused_value_is_never_sent() {
    // Nothing listens on this port: a request that went out would fail to connect.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}"))
        .api_key("key")
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let cases = vec![
        (
            "resize_width",
            client
                .edit_image()
                .body(types::EditImageRequest::resize("https://example.com/a.jpg").width(9000))
                .send()
                .await,
        ),
        (
            "image_url",
            client
                .edit_image()
                .body(types::EditImageRequest::add_filter(
                    "not a url",
                    types::ImageFilter::Sepia,
                ))
                .send()
                .await,
        ),
        (
            "hue_rotate",
            client
                .edit_image()
                .body(
                    types::EditImageRequest::color_adjust("https://example.com/a.jpg")
                        .hue_rotate(181),
                )
                .send()
                .await,
        ),
    ];
    for (param, result) in cases {
        let err = result.expect_err(param);
        assert_eq!(err.param(), Some(param), "{err}");
        let err = RunwayError::from(err);
        assert!(matches!(err, RunwayError::InvalidRequest { .. }), "{err}");
    }
    let err = client
        .resize_video()
        .body_map(|b| {
            b.video_url("https://example.com/v.mp4")
                .new_width(641)
                .new_height(360)
        })
        .send()
        .await
        .expect_err("an odd width");
    assert_eq!(err.param(), Some("new_width"));
    assert!(err.to_string().contains("a multiple of 2"), "{err}");
    let err = client
        .list_media()
        .limit(0)
        .send()
        .await
        .expect_err("limit 0");
    assert_eq!(err.param(), Some("limit"));
    assert!(err.to_string().contains("from 1 to 100"), "{err}");
}
