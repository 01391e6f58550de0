//! `runway` end to end against a real `runway-server`: every operation at least
//! once, downloads, `--wait`, completions, and the exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

const KEY: &str = "cli-test-key";

struct Server {
    server: runway_server::RunningServer,
    dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let config =
        runway_server::ServerConfig::for_data_dir(dir.path().join("data"), vec![KEY.to_owned()]);
    let server = runway_server::start(config).await.expect("server starts");
    assert!(server.has_media_engine, "ffmpeg must be installed");
    Server { server, dir }
}

impl Server {
    /// Runs `runway` with `args` (blocking the test's thread: the server runs on
    /// the runtime's other workers).
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_runway"))
            .args(args)
            .env("RUNWAY_BASE_URL", &self.server.base_url)
            .env("RUNWAY_API_KEY", KEY)
            .current_dir(self.dir.path())
            .output()
            .expect("runway runs")
    }

    /// Runs `runway` and parses its answer; panics (with stderr) on failure.
    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "runway {args:?}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        // Piped, the answer is one line.
        assert_eq!(stdout.trim_end().lines().count(), 1, "{stdout}");
        serde_json::from_str(&stdout).expect("JSON on stdout")
    }

    /// Writes `body` to a file and runs `runway command --json-body FILE`.
    fn with_body(&self, command: &str, body: Value) -> Value {
        let path = self.dir.path().join(format!("{command}.json"));
        std::fs::write(&path, body.to_string()).expect("write body");
        self.json(&[command, "--json-body", path.to_str().expect("utf-8")])
    }

    fn url(&self, answer: &Value, field: &str) -> String {
        answer[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {answer}"))
            .to_owned()
    }

    /// Downloads `url` with `runway download` and answers the file's bytes.
    fn download(&self, url: &str, name: &str) -> Vec<u8> {
        let output = self.run(&["download", url, name]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read(self.dir.path().join(name)).expect("downloaded file")
    }
}

fn dimensions(jpeg: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(jpeg).expect("an image");
    (image.width(), image.height())
}

fn ffprobe_duration(path: &Path) -> f64 {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("a duration")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_works_through_the_cli() {
    let s = server().await;

    // Images: flags for a simple body, --json-body for the rest.
    let image = s.json(&[
        "generate-image",
        "--prompt",
        "a lighthouse",
        "--style",
        "sketch",
        "--width",
        "320",
        "--height",
        "200",
    ]);
    let image = s.url(&image, "image_url");
    assert_eq!(dimensions(&s.download(&image, "generated.jpg")), (320, 200));
    let edited = s.with_body(
        "edit-image",
        json!({"image_url": image, "edit_type": "resize", "resize_width": 160}),
    );
    let edited = s.url(&edited, "edited_image_url");
    assert_eq!(dimensions(&s.download(&edited, "edited.jpg")), (160, 100));
    let text = s.with_body(
        "add-text-to-image",
        json!({"image_url": image, "text": "HELLO", "position": "center"}),
    );
    s.url(&text, "text_image_url");
    let styled = s.with_body(
        "style-transfer",
        json!({"image_url": image, "style_reference": edited}),
    );
    s.url(&styled, "styled_image_url");
    let metadata = s.json(&["get-image-metadata", "--image-url", &image]);
    assert_eq!(
        (metadata["width"].clone(), metadata["height"].clone()),
        (json!(320), json!(200))
    );

    // Video and audio.
    let video = s.with_body(
        "generate-video",
        json!({"prompt": "waves", "duration": 2, "width": 160, "height": 120}),
    );
    let video = s.url(&video, "video_url");
    let trimmed = s.with_body(
        "edit-video",
        json!({"video_url": video, "edit_type": "trim", "start_time": 0, "end_time": 1}),
    );
    let trimmed = s.url(&trimmed, "edited_video_url");
    s.download(&trimmed, "trimmed.mp4");
    let seconds = ffprobe_duration(&s.dir.path().join("trimmed.mp4"));
    assert!((seconds - 1.0).abs() < 0.1, "{seconds}");
    let filtered = s.with_body(
        "apply-video-filter",
        json!({"video_url": video, "filter": "sepia"}),
    );
    s.url(&filtered, "filtered_video_url");
    let resized = s.with_body(
        "resize-video",
        json!({"video_url": video, "new_width": 80, "new_height": 60}),
    );
    s.url(&resized, "resized_video_url");
    let faster = s.with_body(
        "adjust-video-speed",
        json!({"video_url": video, "speed_factor": 2}),
    );
    s.url(&faster, "adjusted_speed_video_url");
    let thumbnail = s.with_body(
        "generate-thumbnail",
        json!({"video_url": video, "time_position": 1}),
    );
    s.url(&thumbnail, "thumbnail_url");
    let audio = s.with_body("extract-audio", json!({"video_url": video}));
    let audio = s.url(&audio, "audio_url");
    assert_eq!(&s.download(&audio, "sound.mp3")[..3], b"ID3");
    let from_image = s.with_body("image-to-video", json!({"image_url": image, "duration": 1}));
    s.url(&from_image, "video_url");
    let metadata = s.json(&["get-video-metadata", "--video-url", &video]);
    assert_eq!(metadata["duration_seconds"], json!(2.0));

    // Uploads, a file or stdin.
    let png = s.dir.path().join("upload.png");
    image::RgbImage::from_pixel(64, 48, image::Rgb([200, 30, 30]))
        .save(&png)
        .expect("png");
    let uploaded = s.json(&["upload-media", png.to_str().expect("utf-8")]);
    let uploaded = s.url(&uploaded, "media_url");
    assert_eq!(dimensions(&s.download(&uploaded, "uploaded.jpg")), (64, 48));
    let piped = Command::new(env!("CARGO_BIN_EXE_runway"))
        .args(["upload-media", "-"])
        .env("RUNWAY_BASE_URL", &s.server.base_url)
        .env("RUNWAY_API_KEY", KEY)
        .stdin(std::fs::File::open(&png).expect("png"))
        .output()
        .expect("runway runs");
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let piped: Value = serde_json::from_slice(&piped.stdout).expect("JSON on stdout");
    let piped = s.url(&piped, "media_url");
    assert_eq!(dimensions(&s.download(&piped, "piped.jpg")), (64, 48));

    // Tasks: created and waited for, read, listed, deleted.
    let task = s.with_body(
        "create-task",
        json!({"operation": "generate-image", "input": {"prompt": "queued", "width": 64, "height": 64}}),
    );
    let id = s.url(&task, "id");
    let body = s.dir.path().join("task.json");
    std::fs::write(
        &body,
        json!({"operation": "generate-thumbnail", "input": {"video_url": video, "time_position": 0}}).to_string(),
    )
    .expect("write");
    let waited = s.run(&[
        "create-task",
        "--wait",
        "--json-body",
        body.to_str().expect("utf-8"),
    ]);
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    // One JSON document: the task as it ended (for `| jq .output...`).
    let last: Value = serde_json::from_slice(&waited.stdout).expect("one JSON document");
    assert_eq!(last["status"], "succeeded", "{last}");
    assert!(last["output"]["thumbnail_url"].is_string(), "{last}");
    let read = s.json(&["get-task", "--task-id", &id]);
    assert_eq!(read["id"], json!(id));
    let listed = s.json(&["list-tasks", "--limit", "10"]);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2));
    let deleted = s.json(&["delete-task", "--task-id", &id]);
    assert_eq!(deleted["id"], json!(id));

    // Listing, usage, deletion.
    let media = s.json(&["list-media", "--kind", "audio"]);
    assert_eq!(media["data"][0]["url"], json!(audio));
    let media = s.json(&["media", "list", "--kind", "audio", "--limit", "1"]);
    assert_eq!(media["data"][0]["url"], json!(audio));
    let usage = s.json(&["get-usage"]);
    assert!(
        usage["media_count"].as_i64().is_some_and(|n| n >= 14),
        "{usage}"
    );
    let gone = s.json(&[
        "delete-media",
        "--media-url",
        &uploaded,
        "--auth-token",
        KEY,
    ]);
    assert!(gone["message"].is_string());

    // The service.
    assert_eq!(s.json(&["get-health"])["status"], "ok");
    assert_eq!(s.json(&["get-readiness"])["status"], "ready");
    assert_eq!(s.json(&["get-openapi-json"])["openapi"], "3.0.3");
    s.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_usage_api_and_network_errors_apart() {
    let s = server().await;
    let code = |output: &Output| output.status.code();

    // Usage: an unknown flag, a missing key.
    assert_eq!(code(&s.run(&["generate-image", "--no-such-flag"])), Some(2));
    let no_key = Command::new(env!("CARGO_BIN_EXE_runway"))
        .args(["get-usage"])
        .env("RUNWAY_BASE_URL", &s.server.base_url)
        .env_remove("RUNWAY_API_KEY")
        .output()
        .expect("runs");
    assert_eq!(code(&no_key), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("RUNWAY_API_KEY"));

    // The server said no: 3, with its code and message on stderr.
    let missing = format!("{}/images/img_0000.jpg", s.server.base_url);
    let refused = s.run(&["get-image-metadata", "--image-url", &missing]);
    assert_eq!(code(&refused), Some(3));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("404 not_found"), "{stderr}");
    assert!(refused.stdout.is_empty());

    // A failed task is an API failure too, and the task is printed.
    let body = s.dir.path().join("bad-task.json");
    std::fs::write(
        &body,
        json!({"operation": "generate-thumbnail", "input": {"video_url": missing.replace("images/img_0000.jpg", "videos/vid_0000.mp4")}}).to_string(),
    )
    .expect("write");
    let failed = s.run(&[
        "create-task",
        "--wait",
        "--json-body",
        body.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        code(&failed),
        Some(3),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    let failed_task: Value = serde_json::from_slice(&failed.stdout).expect("one JSON document");
    assert_eq!(failed_task["status"], "failed", "{failed_task}");

    // Nobody listening: 4.
    let unreachable = Command::new(env!("CARGO_BIN_EXE_runway"))
        .args(["get-health"])
        .env("RUNWAY_BASE_URL", "http://127.0.0.1:9")
        .env("RUNWAY_API_KEY", KEY)
        .output()
        .expect("runs");
    assert_eq!(
        code(&unreachable),
        Some(4),
        "{}",
        String::from_utf8_lossy(&unreachable.stderr)
    );

    // A download of nothing: 3, and no file left behind.
    let nothing = s.run(&["download", &missing, "nothing.jpg"]);
    assert_eq!(code(&nothing), Some(3));
    assert!(!s.dir.path().join("nothing.jpg").exists());
    s.server.shutdown().await;
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(env!("CARGO_BIN_EXE_runway"))
            .args(["completions", shell])
            .env_remove("RUNWAY_API_KEY")
            .output()
            .expect("runs");
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(
            script.contains("generate-image") && script.contains("download"),
            "{shell}"
        );
    }
}
