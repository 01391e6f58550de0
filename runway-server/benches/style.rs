//! Neural style transfer, end to end: a `POST /v1/style-transfer` of a
//! 1024x768 and of a 1920x1080 picture (uploaded first, so the request reads
//! stored media) against a 512x512 style picture, on the release build in
//! process. Prints each size's p50 and slowest of five runs (the first run,
//! which loads the networks, is timed apart) and the process's peak memory.
//!
//! ```sh
//! cargo bench -p runway-server --bench style
//! ```

// The server runs in process here: only the peak-memory reader is used.
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

const KEY: &str = "bench-style";

/// A picture with some structure (gradients and rings), as a PNG.
fn picture(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let (dx, dy) = (
            x as f32 - width as f32 / 2.0,
            y as f32 - height as f32 / 2.0,
        );
        let ring = ((dx * dx + dy * dy).sqrt() / 40.0).sin() * 0.5 + 0.5;
        image::Rgb([
            (x * 255 / width) as u8,
            (ring * 255.0) as u8,
            (y * 255 / height) as u8,
        ])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode");
    png.into_inner()
}

/// A strongly textured style: diagonal stripes.
fn style() -> Vec<u8> {
    let image = image::RgbImage::from_fn(512, 512, |x, y| {
        if ((x + y) / 12) % 2 == 0 {
            image::Rgb([30, 30, 110])
        } else {
            image::Rgb([235, 190, 50])
        }
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode");
    png.into_inner()
}

async fn upload(http: &reqwest::Client, base: &str, bytes: Vec<u8>) -> String {
    let answer: serde_json::Value = http
        .post(format!("{base}/v1/upload-media"))
        .bearer_auth(KEY)
        .header("Content-Type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("uploaded")
        .json()
        .await
        .expect("JSON");
    answer["media_url"].as_str().expect("a URL").to_owned()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = runway_server::start(runway_server::ServerConfig::for_data_dir(
        dir.path(),
        vec![KEY.to_owned()],
    ))
    .await
    .expect("server starts");
    let base = server.base_url.clone();
    let http = reqwest::Client::new();
    let style = upload(&http, &base, style()).await;
    println!("| content | first run (loads the networks) ms | p50 ms | slowest ms |");
    println!("|---|---|---|---|");
    for (width, height) in [(1024, 768), (1920, 1080)] {
        let content = upload(&http, &base, picture(width, height)).await;
        let mut took: Vec<Duration> = Vec::new();
        for _ in 0..6 {
            let started = Instant::now();
            let response = http
                .post(format!("{base}/v1/style-transfer"))
                .bearer_auth(KEY)
                .json(&serde_json::json!({"image_url": content, "style_reference": style}))
                .send()
                .await
                .expect("answered");
            assert_eq!(response.status().as_u16(), 200, "style-transfer");
            took.push(started.elapsed());
        }
        let first = took.remove(0);
        took.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {width}x{height} | {:.0} | {:.0} | {:.0} |",
            ms(first),
            ms(took[took.len() / 2]),
            ms(took[took.len() - 1])
        );
    }
    println!(
        "peak memory of the process (server and client): {:.1} MiB",
        common::peak_rss_kib("self").map_or(0.0, |kib| kib as f64 / 1024.0)
    );
    server.shutdown().await;
}
