//! What a listing page, a usage read and a quota-checked upload cost for an
//! account with many media against one with few: the media index and counters
//! live in the database, so the two should cost the same.
//!
//! ```sh
//! cargo bench -p runway-server --bench lifecycle                 # 20,000 media against 20
//! LIFECYCLE_MEDIA=2000 cargo bench -p runway-server --bench lifecycle
//! ```
//!
//! It starts the release build in-process on loopback (SQLite in a temporary
//! data directory, `--quota-bytes` set), seeds the big account with uploads of a
//! tiny JPEG (8 at a time), then times each request 200 times per account and
//! prints p50 and p99. Bounded: the seeding stops at `LIFECYCLE_MEDIA` (at most
//! 50,000) and the whole run at ten minutes.

use std::time::{Duration, Instant};

const BIG: &str = "bench-big";
const SMALL: &str = "bench-small";
const SAMPLES: usize = 200;

/// A 16x16 JPEG, made once.
fn tiny_jpeg() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

async fn seed(base: &str, key: &str, count: usize, jpeg: &[u8], deadline: Instant) {
    let http = reqwest::Client::new();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (http, next, base, key, jpeg) = (
            http.clone(),
            next.clone(),
            base.to_owned(),
            key.to_owned(),
            jpeg.to_vec(),
        );
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < count {
                assert!(Instant::now() < deadline, "seeding took too long");
                let response = http
                    .post(format!("{base}/v1/upload-media"))
                    .bearer_auth(&key)
                    .header("Content-Type", "application/octet-stream")
                    .body(jpeg.clone())
                    .send()
                    .await
                    .expect("upload answered");
                assert_eq!(response.status().as_u16(), 201, "upload");
            }
        }));
    }
    for worker in workers {
        worker.await.expect("seeding worker");
    }
}

/// p50 and p99 of `SAMPLES` runs of `request`, in milliseconds.
async fn time<F, Fut>(mut request: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let mut took = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        let status = request().await;
        took.push(started.elapsed());
        assert!((200..300).contains(&status), "status {status}");
    }
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(took[SAMPLES / 2]), ms(took[SAMPLES * 99 / 100]))
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("LIFECYCLE_MEDIA")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
        .min(50_000);
    let deadline = Instant::now() + Duration::from_secs(600);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = runway_server::ServerConfig::for_data_dir(
        dir.path(),
        vec![BIG.to_owned(), SMALL.to_owned()],
    );
    config.quota_bytes = Some(1 << 40);
    config.rate_limit_per_minute = 0;
    let server = runway_server::start(config).await.expect("server starts");
    let base = server.base_url.clone();
    let jpeg = tiny_jpeg();

    let started = Instant::now();
    seed(&base, BIG, count, &jpeg, deadline).await;
    seed(&base, SMALL, 20, &jpeg, deadline).await;
    println!(
        "seeded {count} media (and 20) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::new();
    println!("| request | account | p50 ms | p99 ms |");
    println!("|---|---|---|---|");
    for (label, key, media) in [("big", BIG, count), ("small", SMALL, 20)] {
        let account = format!("{media} media ({label})");
        let page = time(|| {
            let request = http
                .get(format!("{base}/v1/media?limit=20"))
                .bearer_auth(key);
            async move { request.send().await.expect("answered").status().as_u16() }
        })
        .await;
        println!(
            "| listing page (20) | {account} | {:.2} | {:.2} |",
            page.0, page.1
        );
        let usage = time(|| {
            let request = http.get(format!("{base}/v1/usage")).bearer_auth(key);
            async move { request.send().await.expect("answered").status().as_u16() }
        })
        .await;
        println!("| usage | {account} | {:.2} | {:.2} |", usage.0, usage.1);
        let upload = time(|| {
            let request = http
                .post(format!("{base}/v1/upload-media"))
                .bearer_auth(key)
                .header("Content-Type", "application/octet-stream")
                .body(jpeg.clone());
            async move { request.send().await.expect("answered").status().as_u16() }
        })
        .await;
        println!(
            "| upload, quota checked | {account} | {:.2} | {:.2} |",
            upload.0, upload.1
        );
    }
    server.shutdown().await;
}
