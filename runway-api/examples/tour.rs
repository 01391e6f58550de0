//! A tour of every operation of the API, saving each output in a folder, and of a
//! task: the same work started in the background and awaited with its progress.
//!
//! Start a server (`cargo run -p runway-server`), then:
//!
//! ```sh
//! RUNWAY_BASE_URL=http://127.0.0.1:8080 RUNWAY_API_KEY=<key it printed> \
//!     cargo run -p runway-api --example tour -- tour-output
//! ```

use std::path::{Path, PathBuf};

use runway_api::prelude::*;

/// Saves the media at `url` as `name` in `dir`, and says so.
async fn save(client: &Client, dir: &Path, name: &str, url: &str) -> Result<PathBuf, RunwayError> {
    let path = dir.join(name);
    let bytes = client.download_to_file(url, &path).await?;
    println!("{:<30} {bytes:>9} bytes  {url}", name);
    Ok(path)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "tour-output".into()),
    );
    match tour(&dir).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunwayError + '_ {
    move |source| RunwayError::Io {
        path: path.to_owned(),
        source,
    }
}

async fn tour(dir: &Path) -> Result<(), RunwayError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let client = Client::from_env()?;
    let health = client.get_health().send().await?;
    println!(
        "server {} (media engine: {})\n",
        health.version, health.media_engine
    );

    // 1. Generate images in each style.
    let mut image_url = String::new();
    for style in [
        types::ImageStyle::Photorealistic,
        types::ImageStyle::Sketch,
        types::ImageStyle::Abstract,
    ] {
        let url = client
            .generate_image()
            .body_map(|b| b.prompt("a lighthouse on a cliff at dusk").style(style))
            .send()
            .await?
            .into_inner()
            .image_url;
        save(&client, dir, &format!("01-generate-{style}.jpg"), &url).await?;
        if style == types::ImageStyle::Photorealistic {
            image_url = url;
        }
    }
    let reference_url = client
        .generate_image()
        .body_map(|b| b.prompt("bold colours").style(types::ImageStyle::Abstract))
        .send()
        .await?
        .into_inner()
        .image_url;

    // 2. Edit it: colour, filter, resize. A URL from an answer goes into the next
    // request as it is; each edit takes only the fields it needs.
    let edits: [(&str, types::EditImageRequest); 3] = [
        (
            "02-edit-color-adjust.jpg",
            types::EditImageRequest::color_adjust(&image_url)
                .saturation(0.6)
                .hue_rotate(40)
                .try_into()?,
        ),
        (
            "02-edit-sepia.jpg",
            types::EditImageRequest::add_filter(&image_url, types::ImageFilter::Sepia)
                .try_into()?,
        ),
        (
            "02-edit-resize.jpg",
            types::EditImageRequest::resize(&image_url)
                .width(320)
                .height(200)
                .try_into()?,
        ),
    ];
    for (name, edit) in edits {
        let url = client
            .edit_image()
            .body(edit)
            .send()
            .await?
            .into_inner()
            .edited_image_url;
        save(&client, dir, name, &url).await?;
    }

    // 9. Text, 10. style transfer, 6. metadata.
    let url = client
        .add_text_to_image()
        .body_map(|b| {
            b.image_url(&image_url)
                .text("Runway")
                .position(types::TextPosition::BottomRight)
        })
        .send()
        .await?
        .into_inner()
        .text_image_url;
    save(&client, dir, "09-add-text.jpg", &url).await?;
    let url = client
        .style_transfer()
        .body_map(|b| b.image_url(&image_url).style_reference(&reference_url))
        .send()
        .await?
        .into_inner()
        .styled_image_url;
    save(&client, dir, "10-style-transfer.jpg", &url).await?;
    let meta = client
        .get_image_metadata()
        .image_url(&image_url)
        .send()
        .await?;
    println!(
        "{:<30} {}x{}, {}, created {}",
        "06-image-metadata", meta.width, meta.height, meta.size, meta.created_at
    );

    // 3. Generate a video, 7. its metadata.
    let video_url = client
        .generate_video()
        .body_map(|b| b.prompt("waves rolling in").duration(3))
        .send()
        .await?
        .into_inner()
        .video_url;
    save(&client, dir, "03-generate-video.mp4", &video_url).await?;
    let meta = client
        .get_video_metadata()
        .video_url(&video_url)
        .send()
        .await?;
    println!(
        "{:<30} {}, {}, audio: {:?}",
        "07-video-metadata", meta.duration, meta.size, meta.has_audio
    );

    // 8. Image to video.
    let url = client
        .image_to_video()
        .body_map(|b| b.image_url(&image_url).duration(3))
        .send()
        .await?
        .into_inner()
        .video_url;
    save(&client, dir, "08-image-to-video.mp4", &url).await?;

    // 4. Edit video, 5. filter, 11. resize, 14. speed.
    let url = client
        .edit_video()
        .body(types::EditVideoRequest::trim(&video_url).start_time(1))
        .send()
        .await?
        .into_inner()
        .edited_video_url;
    save(&client, dir, "04-edit-video-trim.mp4", &url).await?;
    let url = client
        .apply_video_filter()
        .body_map(|b| b.video_url(&video_url).filter(types::VideoFilter::Vintage))
        .send()
        .await?
        .into_inner()
        .filtered_video_url;
    save(&client, dir, "05-video-filter.mp4", &url).await?;
    let url = client
        .resize_video()
        .body_map(|b| b.video_url(&video_url).new_width(320).new_height(180))
        .send()
        .await?
        .into_inner()
        .resized_video_url;
    save(&client, dir, "11-resize-video.mp4", &url).await?;
    let url = client
        .adjust_video_speed()
        .body_map(|b| b.video_url(&video_url).speed_factor(2))
        .send()
        .await?
        .into_inner()
        .adjusted_speed_video_url;
    save(&client, dir, "14-speed-adjust.mp4", &url).await?;

    // 12. Thumbnail, 13. audio.
    let url = client
        .generate_thumbnail()
        .body_map(|b| b.video_url(&video_url).time_position(1))
        .send()
        .await?
        .into_inner()
        .thumbnail_url;
    save(&client, dir, "12-thumbnail.jpg", &url).await?;
    let url = client
        .extract_audio()
        .body_map(|b| b.video_url(&video_url))
        .send()
        .await?
        .into_inner()
        .audio_url;
    save(&client, dir, "13-extract-audio.mp3", &url).await?;

    // Upload a file of our own, then 15. delete it.
    let own_path = dir.join("02-edit-sepia.jpg");
    let own = std::fs::read(&own_path).map_err(io_error(&own_path))?;
    let uploaded = client.upload_media().body(own).send().await?.into_inner();
    println!(
        "{:<30} {} ({} bytes)",
        "upload-media", uploaded.media_url, uploaded.size_bytes
    );
    let deleted = client.delete_own_media(&uploaded.media_url).await?;
    println!("{:<30} {}", "15-delete-media", deleted.message);

    // The same work as a task: started at once, then awaited with its progress;
    // the wait gives the operation's own response.
    let task = client
        .start_task(
            types::GenerateVideoRequest::builder()
                .prompt("a slow sunrise")
                .duration(5)
                .width(1280)
                .height(720),
        )
        .await?;
    println!(
        "{:<30} {} ({})",
        "task started",
        task.id(),
        task.task().status
    );
    let video = task
        .wait()
        .on_progress(|task| {
            println!(
                "{:<30} {} {:>3.0}%",
                "task",
                task.status,
                task.progress * 100.0
            )
        })
        .await?;
    save(&client, dir, "task-generate-video.mp4", &video.video_url).await?;

    // A value out of bounds is refused before anything is sent, naming its field.
    let refused = client
        .generate_video()
        .body_map(|b| b.prompt("too long").duration(20))
        .send()
        .await;
    if let Err(err) = refused {
        println!(
            "{:<30} `{}`: {err}",
            "refused before sending",
            err.param().unwrap_or("?")
        );
    }
    println!("\nall outputs are in {}", dir.display());
    Ok(())
}
