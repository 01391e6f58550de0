//! A server started in-process on 127.0.0.1, an SDK client for it, and helpers to
//! check real properties of the media it returns.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use runway_api::{Client, RetryPolicy, types};
use runway_server::{RunningServer, ServerConfig};

/// The key of the server's first user.
pub const KEY: &str = "e2e-key-owner";
/// The key of a second user.
pub const OTHER_KEY: &str = "e2e-key-other";

/// A running server with its data directory.
pub struct TestServer {
    pub server: RunningServer,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with both keys, adjusted by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config =
            ServerConfig::for_data_dir(dir.path(), vec![KEY.to_owned(), OTHER_KEY.to_owned()]);
        configure(&mut config);
        let server = runway_server::start(config).await.expect("server starts");
        assert!(
            server.has_media_engine,
            "ffmpeg and ffprobe must be installed for the end-to-end tests (apt-get install ffmpeg)"
        );
        Self { server, dir }
    }

    /// Starts a server with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// An SDK client with `key`.
    pub fn client_with(&self, key: &str) -> Client {
        Client::builder()
            .base_url(&self.server.base_url)
            .api_key(key)
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("client")
    }

    /// An SDK client of the first user.
    pub fn client(&self) -> Client {
        self.client_with(KEY)
    }

    /// A raw HTTP client request to `path` with the first user's key.
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.server.base_url))
            .bearer_auth(KEY)
    }
}

/// Downloads `url` into memory through the SDK.
pub async fn fetch(client: &Client, url: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    client
        .download_to_writer(url, &mut bytes)
        .await
        .expect("download");
    bytes
}

/// Downloads and decodes an image, checking it is a JPEG.
pub async fn fetch_image(client: &Client, url: &str) -> image::RgbImage {
    let bytes = fetch(client, url).await;
    assert_eq!(
        image::guess_format(&bytes).ok(),
        Some(image::ImageFormat::Jpeg),
        "{url} is not a JPEG"
    );
    image::load_from_memory(&bytes).expect("decodes").to_rgb8()
}

/// What ffprobe says of a media file.
#[derive(Debug)]
pub struct Probe {
    pub json: serde_json::Value,
}

impl Probe {
    fn stream(&self, kind: &str) -> Option<&serde_json::Value> {
        self.json["streams"]
            .as_array()?
            .iter()
            .find(|s| s["codec_type"] == kind)
    }
    pub fn duration(&self) -> f64 {
        self.json["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("duration")
    }
    pub fn video_codec(&self) -> Option<&str> {
        self.stream("video")?["codec_name"].as_str()
    }
    pub fn audio_codec(&self) -> Option<&str> {
        self.stream("audio")?["codec_name"].as_str()
    }
    pub fn pixel_format(&self) -> Option<&str> {
        self.stream("video")?["pix_fmt"].as_str()
    }
    pub fn size(&self) -> (u64, u64) {
        let v = self.stream("video").expect("video stream");
        (
            v["width"].as_u64().expect("width"),
            v["height"].as_u64().expect("height"),
        )
    }
    pub fn fps(&self) -> f64 {
        let rate = self.stream("video").expect("video stream")["avg_frame_rate"]
            .as_str()
            .expect("rate");
        let (n, d) = rate.split_once('/').expect("n/d");
        n.parse::<f64>().expect("n") / d.parse::<f64>().expect("d")
    }
    pub fn format_name(&self) -> &str {
        self.json["format"]["format_name"]
            .as_str()
            .unwrap_or_default()
    }
}

/// Probes bytes with ffprobe.
pub fn probe_bytes(bytes: &[u8]) -> Probe {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("media");
    std::fs::write(&path, bytes).expect("write");
    probe_path(&path)
}

/// Probes a file with ffprobe.
pub fn probe_path(path: &Path) -> Probe {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        output.status.success(),
        "ffprobe failed on {}",
        path.display()
    );
    Probe {
        json: serde_json::from_slice(&output.stdout).expect("ffprobe JSON"),
    }
}

/// Downloads and probes a video or audio file.
pub async fn fetch_probe(client: &Client, url: &str) -> Probe {
    probe_bytes(&fetch(client, url).await)
}

/// Mean of each RGB channel.
pub fn channel_means(image: &image::RgbImage) -> [f64; 3] {
    let mut sums = [0f64; 3];
    for p in image.pixels() {
        for c in 0..3 {
            sums[c] += f64::from(p[c]);
        }
    }
    let n = f64::from(image.width() * image.height());
    sums.map(|s| s / n)
}

/// Mean HSV saturation (0..1).
pub fn mean_saturation(image: &image::RgbImage) -> f64 {
    let total: f64 = image
        .pixels()
        .map(|p| {
            let max = f64::from(*p.0.iter().max().expect("channel"));
            let min = f64::from(*p.0.iter().min().expect("channel"));
            if max == 0.0 { 0.0 } else { (max - min) / max }
        })
        .sum();
    total / f64::from(image.width() * image.height())
}

/// Mean luminance (0..255).
pub fn mean_luma(image: &image::RgbImage) -> f64 {
    let [r, g, b] = channel_means(image);
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

/// Largest difference between channels of a pixel, over the image (0 for grey).
pub fn max_channel_spread(image: &image::RgbImage) -> u8 {
    image
        .pixels()
        .map(|p| p.0.iter().max().expect("c") - p.0.iter().min().expect("c"))
        .max()
        .unwrap_or(0)
}

/// A video with sound made by ffmpeg directly (not by the server): `seconds` long,
/// 320x240 at 25 fps, a 440 Hz tone.
pub fn make_test_video(seconds: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("in.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=s=320x240:r=25:d={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=44100:duration={seconds}"
        ))
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    std::fs::read(out).expect("read")
}

/// A PNG of `width` x `height` with a colour gradient.
pub fn make_png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

/// Generates an image through the SDK and returns its URL.
pub async fn generate_image(
    client: &Client,
    prompt: &str,
    style: types::ImageStyle,
    width: i32,
    height: i32,
) -> String {
    client
        .generate_image()
        .body_map(|b| b.prompt(prompt).style(style).width(width).height(height))
        .send()
        .await
        .expect("generate-image")
        .into_inner()
        .image_url
}

/// Uploads a video with sound made by [`make_test_video`] and returns its URL.
pub async fn upload_test_video(client: &Client, seconds: u32) -> String {
    let uploaded = client
        .upload_media()
        .body(make_test_video(seconds))
        .send()
        .await
        .expect("upload-media")
        .into_inner();
    assert_eq!(uploaded.media_type, types::MediaKind::Video);
    uploaded.media_url
}

/// An `edit-image` request that applies `filter` to the image at `url`.
pub fn image_filter(url: impl AsRef<str>, filter: types::ImageFilter) -> types::EditImageRequest {
    types::EditImageRequest::AddFilter {
        image_url: url.as_ref().parse().expect("a media URL"),
        filter,
    }
}

/// A `tracing` writer that keeps everything written to it in memory.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|log| log.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut log) = self.0.lock() {
            log.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Files under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// A PNG of noise: its JPEG is large (noise does not compress).
pub fn noise_png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    // xorshift64*: deterministic noise without a dependency.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
    };
    let image =
        image::RgbImage::from_fn(width, height, |_, _| image::Rgb([next(), next(), next()]));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}
