//! Media operations against the bare tools that do the same job, side by side in
//! one run, on the same inputs; then the SDK against raw reqwest; then memory with
//! a large video.
//!
//! ```sh
//! cargo bench -p runway-server --bench ops
//! OPS_RUNS=9 OPS_BIG_MIB=0 cargo bench -p runway-server --bench ops   # more runs, no large video
//! OPS_SERVER_BIN=/path/to/older/runway-server cargo bench -p runway-server --bench ops
//! OPS_SECTIONS=sdk cargo bench -p runway-server --bench ops    # ops, sdk, memory: some of them
//! OPS_SECTIONS=sdk OPS_SDK_ROW=0 valgrind --tool=callgrind target/release/deps/ops-*  # one SDK row
//! ```
//!
//! 1. **Operations.** The release `runway-server` binary runs on loopback with its
//!    default settings. Inputs: a 5 s 1280x720 H.264 video with AAC sound and a
//!    1920x1080 JPEG, uploaded once; the bare tools read the very bytes the server
//!    stored (downloaded back). Each operation is timed through the SDK (request to
//!    stored answer) and the bare command is timed as a process (ffmpeg,
//!    ImageMagick `convert`, libvips `vips`/`vipsthumbnail` when installed),
//!    alternating, `OPS_RUNS` times (default 7) after one warm-up; the table shows
//!    medians and the ratios.
//! 2. **SDK.** Calls per second of `get_video_metadata` through `runway-api`
//!    against the same request made with raw reqwest: bare (`reqwest::Client::new()`),
//!    with the SDK's headers, and with those and the SDK's request timeout. One
//!    connection each, sequential, in rounds of one block per client in rotating
//!    order; the ratio is the median of the per-round ratios (drift in the
//!    machine's speed cancels within a round), and the client CPU each call costs
//!    (all threads of this process).
//! 3. **Memory.** A video of `OPS_BIG_MIB` MiB (default 1024; 0 skips) is made with
//!    ffmpeg (a short lossless clip looped by stream copy), uploaded through the SDK
//!    from the file, thumbnailed, trimmed and downloaded through the SDK to a file.
//!    Reported: the server's peak RSS (`VmHWM`, ffmpeg's processes aside) and this
//!    process's peak RSS during the download (reset just before it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runway_api::{ClientInfo, types};

const KEY: &str = "ops-key";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs a program to success, or panics with its stderr.
fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The program to run for `name`, if installed. For `convert`, the first one on
/// `PATH` that is ImageMagick's.
fn find_program(name: &str) -> Option<String> {
    if name != "convert" {
        let found = Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        return found.then(|| name.to_owned());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| {
            Command::new(path)
                .arg("-version")
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("ImageMagick"))
        })
        .map(|path| path.to_string_lossy().into_owned())
}

/// Resets this process's peak RSS to its current RSS (Linux `clear_refs` 5).
fn reset_own_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time this process has used, in nanoseconds: every thread's, from
/// `/proc/self/task/*/schedstat`.
fn own_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A running server binary, killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data_dir: &Path) -> Server {
    // OPS_SERVER_BIN: another build of the server (an older one, to compare).
    let program = std::env::var("OPS_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_runway-server").to_owned());
    let (child, base) = common::spawn_server(&program, KEY, data_dir);
    Server { child, base }
}

/// One operation: how the server is asked, and the bare commands that do the same.
struct Case {
    name: &'static str,
    request: Request,
    /// (tool, program, arguments); `{in}` and `{out}` are replaced.
    bare: Vec<(&'static str, &'static str, Vec<String>)>,
}

enum Request {
    Filter,
    Resize,
    Trim,
    Speed,
    ImageToVideo,
    Thumbnail,
    ExtractAudio,
    Sepia,
    ImageResize,
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The encoder settings of the server's MP4 outputs (`runway-server/src/video.rs`).
const H264_AAC: &[&str] = &[
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-crf",
    "23",
    "-pix_fmt",
    "yuv420p",
    "-movflags",
    "+faststart",
    "-c:a",
    "aac",
    "-b:a",
    "128k",
];

fn ffmpeg_case(before_in: &[&str], after_in: &[&str], out: &str) -> Vec<String> {
    let mut list = args(&["-hide_banner", "-loglevel", "error", "-y"]);
    list.extend(args(before_in));
    list.extend(args(&["-i", "{in}"]));
    list.extend(args(after_in));
    list.push(out.to_owned());
    list
}

fn cases() -> Vec<Case> {
    let with = |extra: &[&str]| -> Vec<String> {
        let mut all = args(extra);
        all.extend(args(H264_AAC));
        all
    };
    let video = |before: &[&str], after: Vec<String>, out: &str| {
        let after: Vec<&str> = after.iter().map(String::as_str).collect();
        vec![("ffmpeg", "ffmpeg", ffmpeg_case(before, &after, out))]
    };
    let zoom = "scale=2560:1440,zoompan=z='1+0.25*on/71':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=1:s=1280x720:fps=24,format=yuv420p";
    let sepia_matrix = "{dir}/sepia.mat";
    vec![
        Case {
            name: "video-filter black_and_white",
            request: Request::Filter,
            bare: video(&[], with(&["-vf", "hue=s=0"]), "{out}.mp4"),
        },
        Case {
            name: "resize-video 1280x720 -> 480x270",
            request: Request::Resize,
            bare: video(&[], with(&["-vf", "scale=480:270"]), "{out}.mp4"),
        },
        Case {
            name: "edit-video trim 1 s .. 4 s",
            request: Request::Trim,
            bare: video(&["-ss", "1"], with(&["-t", "3"]), "{out}.mp4"),
        },
        Case {
            name: "speed-adjust 2x",
            request: Request::Speed,
            bare: video(
                &[],
                with(&[
                    "-filter_complex",
                    "[0:v]setpts=PTS/2[v];[0:a]atempo=2[a]",
                    "-map",
                    "[v]",
                    "-map",
                    "[a]",
                ]),
                "{out}.mp4",
            ),
        },
        Case {
            name: "image-to-video 3 s zoom_in",
            request: Request::ImageToVideo,
            bare: vec![(
                "ffmpeg",
                "ffmpeg",
                ffmpeg_case(
                    &["-loop", "1", "-framerate", "24"],
                    &[
                        "-vf",
                        zoom,
                        "-frames:v",
                        "72",
                        "-c:v",
                        "libx264",
                        "-preset",
                        "veryfast",
                        "-crf",
                        "23",
                        "-pix_fmt",
                        "yuv420p",
                        "-movflags",
                        "+faststart",
                    ],
                    "{out}.mp4",
                ),
            )],
        },
        Case {
            name: "generate-thumbnail at 2 s",
            request: Request::Thumbnail,
            bare: video(
                &["-ss", "2"],
                args(&["-frames:v", "1", "-q:v", "2"]),
                "{out}.jpg",
            ),
        },
        Case {
            name: "extract-audio",
            request: Request::ExtractAudio,
            bare: video(
                &[],
                args(&["-vn", "-map", "0:a:0", "-c:a", "libmp3lame", "-q:a", "4"]),
                "{out}.mp3",
            ),
        },
        Case {
            name: "edit-image sepia",
            request: Request::Sepia,
            bare: vec![
                (
                    "ImageMagick",
                    "convert",
                    args(&["{in}", "-sepia-tone", "80%", "{out}.jpg"]),
                ),
                (
                    "libvips",
                    "vips",
                    args(&["recomb", "{in}", "{out}.jpg", sepia_matrix]),
                ),
            ],
        },
        Case {
            name: "edit-image resize 1920x1080 -> 960x540",
            request: Request::ImageResize,
            bare: vec![
                (
                    "ImageMagick",
                    "convert",
                    args(&["{in}", "-resize", "960x540", "{out}.jpg"]),
                ),
                (
                    "libvips",
                    "vipsthumbnail",
                    args(&["{in}", "-s", "960x540", "-o", "{out}.jpg"]),
                ),
            ],
        },
    ]
}

/// Inputs made with ffmpeg: a 5 s 1280x720 video with sound and a 1920x1080 JPEG.
fn make_inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let video = dir.join("input.mp4");
    let image = dir.join("input.jpg");
    let v = video.to_str().expect("utf-8 path");
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=1280x720:r=24:d=5",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:d=5",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            v,
        ],
    );
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=1920x1080",
            "-vf",
            "noise=alls=20",
            "-frames:v",
            "1",
            "-q:v",
            "3",
            image.to_str().expect("utf-8 path"),
        ],
    );
    std::fs::write(
        dir.join("sepia.mat"),
        "3 3\n0.393 0.769 0.189\n0.349 0.686 0.168\n0.272 0.534 0.131\n",
    )
    .expect("matrix");
    (video, image)
}

async fn send(client: &runway_api::Client, request: &Request, video: &str, image: &str) -> String {
    let video: runway_api::MediaUrl = video.parse().expect("url");
    let image: runway_api::MediaUrl = image.parse().expect("url");
    let result = match request {
        Request::Filter => client
            .apply_video_filter()
            .body(types::VideoFilterRequest {
                video_url: video,
                filter: types::VideoFilter::BlackAndWhite,
            })
            .send()
            .await
            .map(|r| r.filtered_video_url.clone()),
        Request::Resize => client
            .resize_video()
            .body_map(|b| b.video_url(video).new_width(480).new_height(270))
            .send()
            .await
            .map(|r| r.resized_video_url.clone()),
        Request::Trim => client
            .edit_video()
            .body(
                types::EditVideoRequest::trim(video)
                    .start_time(1)
                    .end_time(4),
            )
            .send()
            .await
            .map(|r| r.edited_video_url.clone()),
        Request::Speed => client
            .adjust_video_speed()
            .body_map(|b| b.video_url(video).speed_factor(2.0))
            .send()
            .await
            .map(|r| r.adjusted_speed_video_url.clone()),
        Request::ImageToVideo => client
            .image_to_video()
            .body_map(|b| {
                b.image_url(image)
                    .duration(3)
                    .motion(types::CameraMotion::ZoomIn)
            })
            .send()
            .await
            .map(|r| r.video_url.clone()),
        Request::Thumbnail => client
            .generate_thumbnail()
            .body_map(|b| b.video_url(video).time_position(2))
            .send()
            .await
            .map(|r| r.thumbnail_url.clone()),
        Request::ExtractAudio => client
            .extract_audio()
            .body_map(|b| b.video_url(video))
            .send()
            .await
            .map(|r| r.audio_url.clone()),
        Request::Sepia => client
            .edit_image()
            .body(types::EditImageRequest::AddFilter {
                image_url: image,
                filter: types::ImageFilter::Sepia,
            })
            .send()
            .await
            .map(|r| r.edited_image_url.clone()),
        Request::ImageResize => client
            .edit_image()
            .body(
                types::EditImageRequest::resize(image)
                    .width(960)
                    .height(540),
            )
            .send()
            .await
            .map(|r| r.edited_image_url.clone()),
    };
    result.unwrap_or_else(|e| panic!("server: {e}"))
}

fn bare(program: &str, template: &[String], input: &Path, out: &Path, dir: &Path) -> Duration {
    let list: Vec<String> = template
        .iter()
        .map(|a| {
            a.replace("{in}", input.to_str().expect("utf-8"))
                .replace("{out}", out.to_str().expect("utf-8"))
                .replace("{dir}", dir.to_str().expect("utf-8"))
        })
        .collect();
    let refs: Vec<&str> = list.iter().map(String::as_str).collect();
    let started = Instant::now();
    run(program, &refs);
    started.elapsed()
}

async fn upload_file(client: &runway_api::Client, path: &Path) -> String {
    client
        .upload_file(path)
        .await
        .unwrap_or_else(|e| panic!("upload {}: {e}", path.display()))
        .media_url
        .clone()
}

async fn operations(client: &runway_api::Client, dir: &Path, runs: usize) {
    let (video_file, image_file) = make_inputs(dir);
    let video = upload_file(client, &video_file).await;
    let image = upload_file(client, &image_file).await;
    // The bare tools read what the server stored.
    let stored_video = dir.join("stored.mp4");
    let stored_image = dir.join("stored.jpg");
    client
        .download_to_file(&video, &stored_video)
        .await
        .expect("download video");
    client
        .download_to_file(&image, &stored_image)
        .await
        .expect("download image");
    let out = dir.join("bare-out");
    println!("\n## Operations: median of {runs} runs after one warm-up, milliseconds\n");
    println!("| operation | server | bare tool | bare | ratio |");
    println!("|---|---:|---|---:|---:|");
    for case in cases() {
        let input = match case.request {
            Request::ImageToVideo | Request::Sepia | Request::ImageResize => &stored_image,
            _ => &stored_video,
        };
        let tools: Vec<_> = case
            .bare
            .iter()
            .filter_map(|(tool, program, template)| Some((*tool, find_program(program)?, template)))
            .collect();
        let mut server_times = Vec::new();
        let mut bare_times = vec![Vec::new(); tools.len()];
        for round in 0..=runs {
            let started = Instant::now();
            send(client, &case.request, &video, &image).await;
            let took = started.elapsed();
            for (i, (_, program, template)) in tools.iter().enumerate() {
                let took = bare(program, template, input, &out, dir);
                if round > 0 {
                    bare_times[i].push(took);
                }
            }
            if round > 0 {
                server_times.push(took);
            }
        }
        let server = median(&mut server_times);
        if tools.is_empty() {
            println!(
                "| {} | {:.0} | (none installed) | | |",
                case.name,
                ms(server)
            );
        }
        for ((tool, _, _), times) in tools.iter().zip(bare_times.iter_mut()) {
            let bare = median(times);
            println!(
                "| {} | {:.0} | {tool} | {:.0} | {:.2} |",
                case.name,
                ms(server),
                ms(bare),
                server.as_secs_f64() / bare.as_secs_f64()
            );
        }
        for (tool, program, _) in &case.bare {
            if find_program(program).is_none() {
                println!(
                    "| {} | | {tool} (`{program}` not installed) | | |",
                    case.name
                );
            }
        }
    }
}

/// One way of making the `get_video_metadata` call.
enum Caller {
    /// Through `runway-api`.
    Sdk(runway_api::Client),
    /// The same request with reqwest alone; `same_headers` adds the headers the
    /// SDK sends (Accept, its user agent and progenitor's api-version), to tell the
    /// cost of the bytes from the code's.
    Raw {
        http: reqwest::Client,
        same_headers: bool,
    },
}

impl Caller {
    async fn call(&self, url: &str, video: &str) {
        let meta: types::VideoMetadata = match self {
            Caller::Sdk(client) => client
                .get_video_metadata()
                .video_url(video)
                .send()
                .await
                .expect("sdk call")
                .into_inner(),
            Caller::Raw { http, same_headers } => {
                let mut request = http
                    .get(url)
                    .query(&[("video_url", video)])
                    .bearer_auth(KEY);
                if *same_headers {
                    request = request
                        .header("accept", "application/json")
                        .header(
                            "api-version",
                            <runway_api::Client as ClientInfo<runway_api::Config>>::api_version(),
                        )
                        .header("user-agent", runway_api::default_user_agent());
                }
                request
                    .send()
                    .await
                    .expect("raw call")
                    .error_for_status()
                    .expect("raw status")
                    .json()
                    .await
                    .expect("raw json")
            }
        };
        assert!(meta.width.is_some());
    }
}

async fn sdk_calls(client: &runway_api::Client, base: &str, dir: &Path) {
    let (video_file, _) = make_inputs(dir);
    let video = upload_file(client, &video_file).await;
    let url = format!("{base}/v1/video-metadata");
    let raw_with_timeout = reqwest::Client::builder()
        .timeout(runway_api::DEFAULT_TIMEOUT)
        .build()
        .expect("http client");
    let callers = [
        ("runway-api", Caller::Sdk(client.clone())),
        (
            "raw reqwest",
            Caller::Raw {
                http: reqwest::Client::new(),
                same_headers: false,
            },
        ),
        (
            "raw reqwest, the SDK's headers",
            Caller::Raw {
                http: reqwest::Client::new(),
                same_headers: true,
            },
        ),
        (
            "raw reqwest, the SDK's headers and request timeout",
            Caller::Raw {
                http: raw_with_timeout,
                same_headers: true,
            },
        ),
    ];
    // `OPS_SDK_ROW=n` keeps row n alone (0 is runway-api), for a profiler.
    let row = std::env::var("OPS_SDK_ROW")
        .ok()
        .and_then(|v| v.parse().ok());
    let callers: Vec<_> = callers
        .into_iter()
        .enumerate()
        .filter(|(i, _)| row.is_none_or(|row: usize| row == *i))
        .map(|(_, caller)| caller)
        .collect();
    const BLOCK: usize = 250;
    const BLOCKS: usize = 40;
    // Warm all of them (connections, caches), then time blocks in rotating order.
    for (_, caller) in &callers {
        for _ in 0..BLOCK {
            caller.call(&url, &video).await;
        }
    }
    let mut rates = vec![Vec::new(); callers.len()];
    let mut cpu_ns = vec![0u64; callers.len()];
    for block in 0..BLOCKS {
        for turn in 0..callers.len() {
            let which = (block + turn) % callers.len();
            let cpu_before = own_cpu_ns();
            let started = Instant::now();
            for _ in 0..BLOCK {
                callers[which].1.call(&url, &video).await;
            }
            rates[which].push(BLOCK as f64 / started.elapsed().as_secs_f64());
            cpu_ns[which] += own_cpu_ns().saturating_sub(cpu_before);
        }
    }
    // Ratios per round (the blocks of one round run back to back, so drift in
    // the machine's speed cancels), then their median.
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let ratios: Vec<f64> = (0..callers.len())
        .map(|i| median((0..BLOCKS).map(|b| rates[0][b] / rates[i][b]).collect()))
        .collect();
    let medians: Vec<f64> = rates.into_iter().map(median).collect();
    println!(
        "\n## SDK: video-metadata calls, sequential on one connection; median of {BLOCKS} rotating blocks of {BLOCK}\n"
    );
    println!("| client | calls/s | runway-api / this | client CPU µs per call |");
    println!("|---|---:|---:|---:|");
    for (i, (name, _)) in callers.iter().enumerate() {
        let cpu_us = cpu_ns[i] as f64 / 1000.0 / (BLOCK * BLOCKS) as f64;
        let ratio = if i == 0 {
            String::new()
        } else {
            format!("{:.3}", ratios[i])
        };
        println!("| {name} | {:.0} | {ratio} | {cpu_us:.1} |", medians[i]);
    }
}

/// A lossless clip looped by stream copy to about `mib` MiB.
fn make_big_video(dir: &Path, mib: u64) -> PathBuf {
    let clip = dir.join("clip.mp4");
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
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
        ],
    );
    let clip_bytes = std::fs::metadata(&clip).expect("clip").len();
    let loops = (mib * 1024 * 1024)
        .div_ceil(clip_bytes.max(1))
        .saturating_sub(1);
    let big = dir.join("big.mp4");
    run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-stream_loop",
            &loops.to_string(),
            "-i",
            clip.to_str().expect("utf-8"),
            "-c",
            "copy",
            big.to_str().expect("utf-8"),
        ],
    );
    let _ = std::fs::remove_file(clip);
    big
}

async fn memory(client: &runway_api::Client, server: &Server, dir: &Path, mib: u64) {
    let big = make_big_video(dir, mib);
    let size = std::fs::metadata(&big).expect("big").len();
    println!(
        "\n## Memory: a {:.0} MiB video uploaded, thumbnailed, trimmed and downloaded\n",
        size as f64 / 1048576.0
    );
    let pid = server.child.id().to_string();
    let step = |name: &str, took: Duration| {
        println!(
            "- {name}: {:.1} s; server peak RSS so far {:.1} MiB",
            took.as_secs_f64(),
            common::peak_rss_kib(&pid).unwrap_or(0) as f64 / 1024.0
        );
    };
    let started = Instant::now();
    let uploaded = match client.upload_file(&big).await {
        Ok(uploaded) => uploaded.media_url.clone(),
        Err(err) => {
            println!("- upload refused: {err}");
            return;
        }
    };
    step("upload", started.elapsed());
    let video: runway_api::MediaUrl = uploaded.parse().expect("url");
    let started = Instant::now();
    client
        .generate_thumbnail()
        .body_map(|b| b.video_url(video.clone()).time_position(10))
        .send()
        .await
        .expect("thumbnail");
    step("thumbnail at 10 s", started.elapsed());
    let started = Instant::now();
    client
        .edit_video()
        .body(types::EditVideoRequest::trim(video).end_time(2))
        .send()
        .await
        .expect("trim");
    step("trim 0 .. 2 s", started.elapsed());
    let downloaded = dir.join("downloaded.mp4");
    reset_own_peak_rss();
    let started = Instant::now();
    let bytes = client
        .download_to_file(&uploaded, &downloaded)
        .await
        .expect("download");
    step("download through the SDK", started.elapsed());
    assert_eq!(bytes, std::fs::metadata(&downloaded).expect("file").len());
    println!(
        "- SDK download of {:.0} MiB: this process's peak RSS {:.1} MiB",
        bytes as f64 / 1048576.0,
        common::peak_rss_kib("self").unwrap_or(0) as f64 / 1024.0
    );
}

#[tokio::main]
async fn main() {
    let runs = env_u64("OPS_RUNS", 7).clamp(1, 51) as usize;
    let big_mib = env_u64("OPS_BIG_MIB", 1024).min(4096);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("server");
    let server = start_server(&data);
    let client = runway_api::Client::builder()
        .base_url(&server.base)
        .api_key(KEY)
        .build()
        .expect("client");
    let sections = std::env::var("OPS_SECTIONS").unwrap_or_else(|_| "ops,sdk,memory".into());
    let section = |name: &str| sections.split(',').any(|s| s.trim() == name);
    println!("# runway-server ops bench ({})", server.base);
    if section("ops") {
        operations(&client, dir.path(), runs).await;
    }
    if section("sdk") {
        sdk_calls(&client, &server.base, dir.path()).await;
    }
    if section("memory") && big_mib > 0 {
        memory(&client, &server, dir.path(), big_mib).await;
    }
}
