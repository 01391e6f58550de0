//! A bounded load test of the `runway-server` binary on loopback at a fixed
//! concurrency for a fixed time. Two profiles:
//!
//! - `images` (default): metadata reads, downloads, image edits and uploads;
//! - `video`: video metadata reads, video downloads, video filters (ffmpeg) and
//!   thumbnails, on short seed videos;
//! - `tasks`: the `video` mix, with the filters and thumbnails run as tasks:
//!   created, then read every 200 ms until done (the reads are timed on their own,
//!   while both cores run ffmpeg).
//!
//! It stops by itself, checks that every returned URL can be fetched afterwards, and
//! reports throughput, p50/p99 latency and the server's peak RSS.
//!
//! ```sh
//! cargo bench -p runway-server --bench load                # images, 30 s at concurrency 32
//! LOAD_PROFILE=video cargo bench -p runway-server --bench load
//! LOAD_PROFILE=tasks cargo bench -p runway-server --bench load
//! LOAD_SECONDS=60 LOAD_CONCURRENCY=48 cargo bench -p runway-server --bench load
//! ```
//!
//! Against a deployment already running (`scripts/scale-out.sh test` does this with
//! two replicas on S3 behind HAProxy): `LOAD_TARGET` is its base URL, `LOAD_API_KEY`
//! a key it accepts, `LOAD_REPLICAS` the replicas' own URLs (every returned URL is
//! then fetched through each of them) and `LOAD_PIDS` their process ids (for RSS).
//!
//! Allowed answers under load are successes and the documented backpressure (429,
//! 503); anything else fails the run.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LOCAL_KEY: &str = "load-key";

/// The API key the run sends (set once at start).
static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn key() -> &'static str {
    KEY.get().map_or(LOCAL_KEY, String::as_str)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Metadata,
    Download,
    Edit,
    Upload,
    Thumbnail,
    /// `POST /v1/tasks` (the answer, not the work).
    TaskCreate,
    /// One `GET /v1/tasks/{id}`.
    TaskRead,
}

/// Which mix of operations to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    Images,
    Video,
    Tasks,
}

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<Op, Vec<Duration>>,
    backpressure: usize,
    errors: Vec<String>,
    created: Vec<String>,
}

fn env_u64(name: &str, default: u64, max: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

fn png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3 + seed) as u8, (y * 5) as u8, (x ^ y) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Creates a task, reads it every 200 ms until it is done, and tallies the
/// creation, each read, and the whole task (under `op`).
async fn run_task(
    http: &reqwest::Client,
    base: &str,
    op: Op,
    operation: &str,
    input: serde_json::Value,
    tally: &Mutex<Tally>,
) {
    let record = |op: Op, elapsed: Duration| {
        tally
            .lock()
            .expect("tally")
            .latencies
            .entry(op)
            .or_default()
            .push(elapsed);
    };
    let error = |message: String| tally.lock().expect("tally").errors.push(message);
    let started = Instant::now();
    let created = http
        .post(format!("{base}/v1/tasks"))
        .bearer_auth(key())
        .json(&serde_json::json!({"operation": operation, "input": input}))
        .send()
        .await;
    let task: serde_json::Value = match created {
        Ok(response) if response.status() == 202 => {
            record(Op::TaskCreate, started.elapsed());
            response.json().await.unwrap_or_default()
        }
        Ok(response) if matches!(response.status().as_u16(), 429 | 503) => {
            tally.lock().expect("tally").backpressure += 1;
            return;
        }
        Ok(response) => return error(format!("task create: {}", response.status())),
        Err(err) => return error(format!("task create: {err}")),
    };
    let Some(id) = task["id"].as_str() else {
        return error(format!("task create: no id in {task}"));
    };
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent = Instant::now();
        let read = http
            .get(format!("{base}/v1/tasks/{id}"))
            .bearer_auth(key())
            .send()
            .await;
        let task: serde_json::Value = match read {
            Ok(response) if response.status() == 200 => {
                record(Op::TaskRead, sent.elapsed());
                response.json().await.unwrap_or_default()
            }
            Ok(response) => return error(format!("task read: {}", response.status())),
            Err(err) => return error(format!("task read: {err}")),
        };
        match task["status"].as_str() {
            Some("pending" | "running") => continue,
            Some("succeeded") => {
                record(op, started.elapsed());
                let url = task["output"]
                    .as_object()
                    .and_then(|output| output.values().find_map(|v| v.as_str()));
                if let Some(url) = url {
                    tally.lock().expect("tally").created.push(url.to_owned());
                }
                return;
            }
            _ => return error(format!("task ended: {task}")),
        }
    }
}

#[tokio::main]
async fn main() {
    let seconds = env_u64("LOAD_SECONDS", 30, 60);
    let concurrency = env_u64("LOAD_CONCURRENCY", 32, 256) as usize;
    let profile = match std::env::var("LOAD_PROFILE").as_deref() {
        Ok("video") => Profile::Video,
        Ok("tasks") => Profile::Tasks,
        Ok("images") | Err(_) => Profile::Images,
        Ok(other) => panic!("LOAD_PROFILE is images, video or tasks, not {other}"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let list = |name: &str| -> Vec<String> {
        std::env::var(name)
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (base, mut child, pids) = match std::env::var("LOAD_TARGET") {
        Ok(target) => {
            KEY.set(std::env::var("LOAD_API_KEY").expect("LOAD_API_KEY with LOAD_TARGET"))
                .expect("key set once");
            let pids = list("LOAD_PIDS")
                .iter()
                .filter_map(|pid| pid.parse().ok())
                .collect();
            (target.trim_end_matches('/').to_owned(), None, pids)
        }
        Err(_) => {
            let (child, base) =
                common::spawn_server(env!("CARGO_BIN_EXE_runway-server"), LOCAL_KEY, dir.path());
            let pid = child.id();
            (base, Some(child), vec![pid])
        }
    };
    // Every returned URL is fetched afterwards through each of these.
    let replicas = match list("LOAD_REPLICAS") {
        replicas if replicas.is_empty() => vec![base.clone()],
        replicas => replicas,
    };

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    // Seed media to read, download and edit: 640x480 images, or 2 s 320x240 videos.
    let mut seeds = Vec::new();
    for i in 0..4 {
        let (path, body, field) = match profile {
            Profile::Images => (
                "generate-image",
                serde_json::json!({"prompt": format!("seed {i}"), "width": 640, "height": 480}),
                "image_url",
            ),
            Profile::Video | Profile::Tasks => (
                "generate-video",
                serde_json::json!({"prompt": format!("seed {i}"), "duration": 2, "width": 320, "height": 240}),
                "video_url",
            ),
        };
        let body: serde_json::Value = http
            .post(format!("{base}/v1/{path}"))
            .bearer_auth(key())
            .json(&body)
            .send()
            .await
            .expect("seed")
            .json()
            .await
            .expect("seed json");
        seeds.push(body[field].as_str().expect("url").to_owned());
    }
    let seeds = Arc::new(seeds);
    let upload = Arc::new(png(200, 150, 7));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();

    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let (http, base, seeds, upload, tally) = (
            http.clone(),
            base.clone(),
            seeds.clone(),
            upload.clone(),
            tally.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i = worker;
            while Instant::now() < deadline {
                i += 1;
                let seed = &seeds[i % seeds.len()];
                // 40% metadata, 30% downloads, 15% edits, 15% uploads (images) or
                // thumbnails (video).
                let op = match (i % 20, profile) {
                    (0..=7, _) => Op::Metadata,
                    (8..=13, _) => Op::Download,
                    (14..=16, _) => Op::Edit,
                    (_, Profile::Images) => Op::Upload,
                    (_, Profile::Video | Profile::Tasks) => Op::Thumbnail,
                };
                if profile == Profile::Tasks && matches!(op, Op::Edit | Op::Thumbnail) {
                    let (operation, input) = match op {
                        Op::Edit => ("video-filter", serde_json::json!({"video_url": seed, "filter": "sepia"})),
                        _ => ("generate-thumbnail", serde_json::json!({"video_url": seed, "time_position": 1})),
                    };
                    run_task(&http, &base, op, operation, input, &tally).await;
                    continue;
                }
                let request = match (op, profile) {
                    (Op::Metadata, Profile::Video | Profile::Tasks) => http
                        .get(format!("{base}/v1/video-metadata"))
                        .bearer_auth(key())
                        .query(&[("video_url", seed.as_str())]),
                    (Op::Edit, Profile::Video | Profile::Tasks) => http
                        .post(format!("{base}/v1/video-filter"))
                        .bearer_auth(key())
                        .json(&serde_json::json!({"video_url": seed, "filter": "sepia"})),
                    (Op::Thumbnail, _) => http
                        .post(format!("{base}/v1/generate-thumbnail"))
                        .bearer_auth(key())
                        .json(&serde_json::json!({"video_url": seed, "time_position": 1})),
                    (Op::Metadata, _) => http
                        .get(format!("{base}/v1/image-metadata"))
                        .bearer_auth(key())
                        .query(&[("image_url", seed.as_str())]),
                    (Op::Download, _) => http.get(seed.as_str()),
                    (Op::Edit, _) => http
                        .post(format!("{base}/v1/edit-image"))
                        .bearer_auth(key())
                        .json(&serde_json::json!({"image_url": seed, "edit_type": "resize", "resize_width": 320})),
                    (Op::Upload, _) => http
                        .post(format!("{base}/v1/upload-media"))
                        .bearer_auth(key())
                        .body(upload.as_ref().clone()),
                    (Op::TaskCreate | Op::TaskRead, _) => unreachable!("tasks run in run_task"),
                };
                let sent = Instant::now();
                let outcome = match request.send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.bytes().await;
                        (status, body.ok())
                    }
                    Err(err) => (0, Some(bytes::Bytes::from(err.to_string()))),
                };
                let elapsed = sent.elapsed();
                let mut t = tally.lock().expect("tally");
                match outcome {
                    (200 | 201, Some(body)) => {
                        t.latencies.entry(op).or_default().push(elapsed);
                        let created = ["edited_image_url", "media_url", "filtered_video_url", "thumbnail_url"];
                        if matches!(op, Op::Edit | Op::Upload | Op::Thumbnail)
                            && let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body)
                            && let Some(url) = created.iter().find_map(|field| json[field].as_str())
                        {
                            t.created.push(url.to_owned());
                        }
                    }
                    (429 | 503, _) => t.backpressure += 1,
                    (status, body) => t.errors.push(format!(
                        "{op:?}: {status} {}",
                        body.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
                    )),
                }
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    let wall = started.elapsed();
    let rss: Vec<Option<u64>> = pids.iter().map(|pid| common::peak_rss_kib(*pid)).collect();

    // Every URL the server returned must be retrievable afterwards, through each
    // replica when there are several.
    let tally = Arc::try_unwrap(tally)
        .ok()
        .expect("workers done")
        .into_inner()
        .expect("tally");
    let mut missing = 0;
    for url in &tally.created {
        for replica in &replicas {
            let url = match url.strip_prefix(base.as_str()) {
                Some(path) => format!("{replica}{path}"),
                None => url.clone(),
            };
            match http.get(&url).send().await {
                Ok(r) if r.status().is_success() => {}
                _ => missing += 1,
            }
        }
    }
    if let Some(child) = child.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }

    let total: usize = tally.latencies.values().map(Vec::len).sum();
    println!(
        "load ({profile:?}): {seconds} s at concurrency {concurrency} on loopback against {base}, {:.1} s wall",
        wall.as_secs_f64()
    );
    println!(
        "{:<10} {:>8} {:>10} {:>10} {:>10}",
        "operation", "ok", "req/s", "p50 ms", "p99 ms"
    );
    for (op, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort();
        println!(
            "{:<10} {:>8} {:>10.1} {:>10.1} {:>10.1}",
            format!("{op:?}").to_lowercase(),
            sorted.len(),
            sorted.len() as f64 / wall.as_secs_f64(),
            percentile(&sorted, 0.5).as_secs_f64() * 1e3,
            percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        );
    }
    println!(
        "total      {total:>8} {:>10.1}   backpressure (429/503): {}   errors: {}",
        total as f64 / wall.as_secs_f64(),
        tally.backpressure,
        tally.errors.len()
    );
    let rss: Vec<String> = rss
        .iter()
        .map(|kib| {
            kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "unknown".into())
        })
        .collect();
    println!(
        "created media {} (missing afterwards through {} replica(s): {missing}); server peak RSS {}",
        tally.created.len(),
        replicas.len(),
        if rss.is_empty() {
            "unknown".to_owned()
        } else {
            rss.join(", ")
        }
    );
    for error in tally.errors.iter().take(10) {
        println!("error: {error}");
    }
    if !tally.errors.is_empty() || missing > 0 {
        std::process::exit(1);
    }
}
