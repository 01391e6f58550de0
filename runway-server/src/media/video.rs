//! The ffmpeg command lines of every video and audio operation: pure functions from
//! parameters and paths to arguments. Running them is the job pipeline's work
//! (the job pipeline of `services`).

use std::ffi::OsString;
use std::path::Path;

use crate::domain::op::{Motion, VideoFilter};
use crate::media::palette::{hsv, seed};

/// The longest input video the server edits, in seconds.
pub const MAX_INPUT_SECONDS: f64 = 600.0;
/// The longest video the server produces, in seconds.
pub const MAX_OUTPUT_SECONDS: f64 = 1200.0;

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// H.264 (yuv420p, faststart) video settings.
fn h264() -> Vec<OsString> {
    os(&[
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
    ])
}

/// AAC audio settings for MP4 outputs.
fn aac() -> Vec<OsString> {
    os(&["-c:a", "aac", "-b:a", "128k"])
}

/// `atempo` filters whose product is `factor` (each stage within 0.5..2).
pub fn atempo_chain(mut factor: f64) -> String {
    let mut stages = Vec::new();
    while factor > 2.0 {
        stages.push("atempo=2".to_owned());
        factor /= 2.0;
    }
    while factor < 0.5 {
        stages.push("atempo=0.5".to_owned());
        factor /= 0.5;
    }
    stages.push(format!("atempo={factor:.6}"));
    stages.join(",")
}

/// Whether the bytes look like a video container (ISO BMFF / QuickTime, or EBML for
/// WebM and Matroska).
pub fn sniff_video(bytes: &[u8]) -> bool {
    let iso = bytes.len() >= 12 && &bytes[4..8] == b"ftyp";
    let ebml = bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]);
    iso || ebml
}

/// Arguments that render the procedural video for `prompt`: moving colour gradients
/// (colours, direction and speed from the prompt) with a slow hue cycle, and a soft
/// two-tone chord (pitched from the prompt) as its AAC soundtrack.
pub fn generate_args(
    prompt: &str,
    request_seed: Option<u32>,
    duration: u32,
    fps: u32,
    width: u32,
    height: u32,
    out: &Path,
) -> Vec<OsString> {
    let seed = seed(prompt, "video", request_seed);
    let mut rng = fastrand::Rng::with_seed(seed);
    let base = rng.f32() * 360.0;
    let colors: Vec<String> = (0..4)
        .map(|i| {
            let image::Rgb([r, g, b]) = hsv(base + i as f32 * 90.0, 0.75, 0.95);
            format!("0x{r:02x}{g:02x}{b:02x}")
        })
        .collect();
    let speed = 0.01 + rng.f32() * 0.03;
    let period = 4 + rng.u32(0..8);
    let source = format!(
        "gradients=s={width}x{height}:r={fps}:d={duration}:c0={}:c1={}:c2={}:c3={}:nb_colors=4:speed={speed:.4}:seed={}",
        colors[0],
        colors[1],
        colors[2],
        colors[3],
        seed % u64::from(u32::MAX)
    );
    // A soft two-tone chord, pitched from the prompt, as the soundtrack.
    let root = 196.0 + f64::from(rng.u32(0..12)) * 16.5;
    let fifth = root * 1.5;
    let sound = format!(
        "aevalsrc=0.12*sin(2*PI*{root:.2}*t)+0.08*sin(2*PI*{fifth:.2}*t):s=44100:d={duration}"
    );
    let mut args = os(&["-f", "lavfi", "-i"]);
    args.push(source.into());
    args.extend(os(&["-f", "lavfi", "-i"]));
    args.push(sound.into());
    args.extend(os(&["-map", "0:v", "-map", "1:a", "-vf"]));
    args.push(format!("hue=H=2*PI*t/{period},format=yuv420p").into());
    // Both sources last exactly `duration`; `-frames:v` would cut the audio short.
    args.extend(os(&["-r"]));
    args.push(fps.to_string().into());
    args.extend(h264());
    args.extend(aac());
    args.push("-t".into());
    args.push(duration.to_string().into());
    args.push(out.as_os_str().to_owned());
    args
}

/// The size of a video made from a `width` x `height` image: the image fitted into
/// 1280x720, with even sides of at least 16.
pub fn fit_video_size(width: u32, height: u32) -> (u32, u32) {
    let scale = (1280.0 / width.max(1) as f64)
        .min(720.0 / height.max(1) as f64)
        .min(1.0);
    let even = |v: f64| ((v.round() as u32) / 2 * 2).max(16);
    (even(width as f64 * scale), even(height as f64 * scale))
}

/// Arguments that make a video from an image with a camera move.
pub fn image_to_video_args(
    image: &Path,
    size: (u32, u32),
    duration: u32,
    fps: u32,
    motion: Motion,
    out: &Path,
) -> Vec<OsString> {
    let (w, h) = size;
    let frames = duration * fps;
    let last = frames.saturating_sub(1).max(1);
    let (zoom, x) = match motion {
        Motion::ZoomIn => (format!("1+0.25*on/{last}"), "iw/2-(iw/zoom/2)".to_owned()),
        Motion::ZoomOut => (
            format!("1.25-0.25*on/{last}"),
            "iw/2-(iw/zoom/2)".to_owned(),
        ),
        Motion::PanLeft => ("1.25".to_owned(), format!("(iw-iw/zoom)*(1-on/{last})")),
        Motion::PanRight => ("1.25".to_owned(), format!("(iw-iw/zoom)*on/{last}")),
    };
    let filter = format!(
        "scale={}:{},zoompan=z='{zoom}':x='{x}':y='ih/2-(ih/zoom/2)':d=1:s={w}x{h}:fps={fps},format=yuv420p",
        w * 2,
        h * 2
    );
    let mut args = os(&["-loop", "1", "-framerate"]);
    args.push(fps.to_string().into());
    args.push("-i".into());
    args.push(image.as_os_str().to_owned());
    args.push("-vf".into());
    args.push(filter.into());
    args.push("-frames:v".into());
    args.push(frames.to_string().into());
    args.extend(h264());
    args.push(out.as_os_str().to_owned());
    args
}

/// Arguments that keep `start`..`end` seconds of a video.
pub fn trim_args(input: &Path, start: f64, end: f64, out: &Path) -> Vec<OsString> {
    let mut args = os(&["-ss"]);
    args.push(format!("{start:.3}").into());
    args.push("-i".into());
    args.push(input.as_os_str().to_owned());
    args.push("-t".into());
    args.push(format!("{:.3}", end - start).into());
    args.extend(os(&["-map", "0:v:0", "-map", "0:a:0?"]));
    args.extend(h264());
    args.extend(aac());
    args.push(out.as_os_str().to_owned());
    args
}

/// Arguments that apply a video filter; audio is kept.
pub fn filter_args(input: &Path, filter: VideoFilter, out: &Path) -> Vec<OsString> {
    reencode_with(
        input,
        format!("{},format=yuv420p", filter_chain(filter)),
        out,
    )
}

/// Arguments that scale a video to exactly `width` x `height`.
pub fn resize_args(input: &Path, width: u32, height: u32, out: &Path) -> Vec<OsString> {
    reencode_with(
        input,
        format!("scale={width}:{height},setsar=1,format=yuv420p"),
        out,
    )
}

fn reencode_with(input: &Path, video_filter: String, out: &Path) -> Vec<OsString> {
    let mut args = vec!["-i".into(), input.as_os_str().to_owned()];
    args.extend(os(&["-map", "0:v:0", "-map", "0:a:0?", "-vf"]));
    args.push(video_filter.into());
    args.extend(h264());
    args.extend(aac());
    args.push(out.as_os_str().to_owned());
    args
}

/// Arguments that play a video `factor` times as fast, picture and sound together,
/// at the original frame rate.
pub fn speed_args(
    input: &Path,
    factor: f64,
    fps: f64,
    has_audio: bool,
    out: &Path,
) -> Vec<OsString> {
    let video = format!("[0:v:0]setpts=PTS/{factor:.6},fps={fps:.6},format=yuv420p[v]");
    let graph = if has_audio {
        format!("{video};[0:a:0]{}[a]", atempo_chain(factor))
    } else {
        video
    };
    let mut args = vec!["-i".into(), input.as_os_str().to_owned()];
    args.push("-filter_complex".into());
    args.push(graph.into());
    args.extend(os(&["-map", "[v]"]));
    if has_audio {
        args.extend(os(&["-map", "[a]"]));
        args.extend(aac());
    }
    args.extend(h264());
    args.push(out.as_os_str().to_owned());
    args
}

/// Arguments that take the frame at `seconds` as a JPEG.
pub fn thumbnail_args(input: &Path, seconds: f64, out: &Path) -> Vec<OsString> {
    let mut args = os(&["-ss"]);
    args.push(format!("{seconds:.3}").into());
    args.push("-i".into());
    args.push(input.as_os_str().to_owned());
    args.extend(os(&["-frames:v", "1", "-q:v", "2", "-f", "image2"]));
    args.push(out.as_os_str().to_owned());
    args
}

/// Arguments that extract the first audio track as MP3.
pub fn extract_audio_args(input: &Path, out: &Path) -> Vec<OsString> {
    let mut args = vec!["-i".into(), input.as_os_str().to_owned()];
    args.extend(os(&[
        "-vn",
        "-map",
        "0:a:0",
        "-c:a",
        "libmp3lame",
        "-q:a",
        "4",
    ]));
    args.push(out.as_os_str().to_owned());
    args
}

/// Arguments that turn an uploaded video into H.264 MP4 (copying when it already is).
pub fn normalize_args(input: &Path, copy: bool, out: &Path) -> Vec<OsString> {
    let mut args = vec!["-i".into(), input.as_os_str().to_owned()];
    args.extend(os(&["-map", "0:v:0", "-map", "0:a:0?"]));
    if copy {
        args.extend(os(&["-c", "copy", "-movflags", "+faststart"]));
    } else {
        args.extend(os(&["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"]));
        args.extend(h264());
        args.extend(aac());
    }
    args.extend(os(&["-f", "mp4"]));
    args.push(out.as_os_str().to_owned());
    args
}

/// The ffmpeg filter chain of a video filter.
pub fn filter_chain(filter: VideoFilter) -> &'static str {
    match filter {
        VideoFilter::Vintage => "curves=preset=vintage,vignette=angle=PI/4,noise=alls=10:allf=t",
        VideoFilter::Cinematic => {
            "eq=contrast=1.15:saturation=1.1,colorbalance=rs=-0.12:bs=0.12:rh=0.12:bh=-0.12,\
             drawbox=x=0:y=0:w=iw:h=ih/10:color=black:t=fill,\
             drawbox=x=0:y=ih-ih/10:w=iw:h=ih/10:color=black:t=fill"
        }
        VideoFilter::BlackAndWhite => "hue=s=0",
        VideoFilter::Sepia => "colorchannelmixer=.393:.769:.189:0:.349:.686:.168:0:.272:.534:.131",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_picks_another_render_of_the_same_prompt() {
        let out = Path::new("/tmp/out.mp4");
        let args = |seed| generate_args("waves", seed, 2, 24, 320, 240, out);
        assert_eq!(args(Some(3)), args(Some(3)));
        assert_ne!(args(Some(3)), args(Some(4)));
        assert_ne!(args(None), args(Some(3)));
        assert_eq!(args(None), args(None));
    }

    #[test]
    fn atempo_covers_the_whole_range() {
        for factor in [0.25, 0.3, 0.5, 1.0, 1.7, 2.0, 3.0, 4.0] {
            let chain = atempo_chain(factor);
            let product: f64 = chain
                .split(',')
                .map(|s| {
                    s.trim_start_matches("atempo=")
                        .parse::<f64>()
                        .expect("number")
                })
                .inspect(|f| assert!((0.5..=2.0).contains(f), "{chain}"))
                .product();
            assert!((product - factor).abs() < 1e-4, "{factor}: {chain}");
        }
    }

    #[test]
    fn image_videos_fit_720p_with_even_sides() {
        assert_eq!(fit_video_size(1024, 768), (960, 720));
        assert_eq!(fit_video_size(320, 201), (320, 200));
        assert_eq!(fit_video_size(4000, 10), (1280, 16));
        assert_eq!(fit_video_size(8, 8), (16, 16));
    }

    #[test]
    fn videos_are_sniffed_by_magic() {
        assert!(sniff_video(b"\0\0\0\x20ftypisom\0\0\0\0"));
        assert!(sniff_video(&[0x1a, 0x45, 0xdf, 0xa3, 0, 0]));
        assert!(!sniff_video(b"\xff\xd8\xff\xe0 jpeg"));
    }
}
