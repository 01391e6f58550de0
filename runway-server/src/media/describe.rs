//! Describing media the server wrote from their headers, without running ffprobe:
//! an MP4's `moov` box (read with `mp4-atom`, the media data is skipped), an
//! MP3's Xing/Info tag, a JPEG's frame header.
//!
//! The values are the ones ffprobe reports, by FFmpeg's own formulas:
//! - MP4 duration: the movie header's, rescaled to microseconds rounding half up
//!   (`mov_read_mvhd`); size: the first video sample entry's; frame rate: the
//!   video track's time scale times its sample count over the sum of its sample
//!   durations, reduced (`mov_read_stts`, `av_reduce`).
//! - MP3 duration: the Xing frame count times the samples per frame over the
//!   sample rate, in microseconds rounding half up (`mp3_parse_info_tag`).
//!
//! A file these rules do not cover (no `moov` before the end, no Xing frame
//! count, a reduced rate past `i32::MAX`) answers `None`, and the caller asks
//! ffprobe.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use mp4_atom::{Atom, Codec, FourCC, Header, Moov, ReadAtom, ReadFrom};

use crate::domain::media::{MediaKind, Probed};

/// The properties of a file the server wrote as `kind`, if its headers say.
pub fn describe(kind: MediaKind, path: &Path) -> Option<Probed> {
    match kind {
        MediaKind::Image => {
            let (width, height) = image::ImageReader::open(path)
                .ok()?
                .with_guessed_format()
                .ok()?
                .into_dimensions()
                .ok()?;
            Some(Probed::image(width, height))
        }
        MediaKind::Video => describe_mp4(path),
        MediaKind::Audio => describe_mp3(path),
    }
}

/// Microseconds of `ticks` at `per_second`, rounding half up (`av_rescale`).
fn micros(ticks: u128, per_second: u128) -> Option<f64> {
    (per_second > 0).then(|| ((ticks * 1_000_000 + per_second / 2) / per_second) as f64 / 1e6)
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn describe_mp4(path: &Path) -> Option<Probed> {
    let mut file = BufReader::new(File::open(path).ok()?);
    let moov = loop {
        let header = Header::read_from(&mut file).ok()?;
        if header.kind == Moov::KIND {
            break Moov::read_atom(&header, &mut file).ok()?;
        }
        // Skip the box (the media data among them) without reading it.
        file.seek_relative(i64::try_from(header.size?).ok()?).ok()?;
    };
    let handler = |kind: &[u8; 4]| {
        let kind = FourCC::new(kind);
        move |trak: &&mp4_atom::Trak| trak.mdia.hdlr.handler == kind
    };
    let video = moov.trak.iter().find(handler(b"vide"))?;
    let has_audio = moov.trak.iter().any(|t| handler(b"soun")(&t));
    let Some(Codec::Avc1(avc1)) = video.mdia.minf.stbl.stsd.codecs.first() else {
        return None;
    };
    let stts = &video.mdia.minf.stbl.stts.entries;
    let (frames, ticks) = stts.iter().fold((0u128, 0u128), |(frames, ticks), entry| {
        let count = u128::from(entry.sample_count);
        (
            frames + count,
            ticks + count * u128::from(entry.sample_delta),
        )
    });
    // FFmpeg clips deltas past this (negative ones stored unsigned); not ours.
    let max_delta = u32::MAX - 480_000;
    let odd_delta = stts.iter().any(|e| e.sample_delta > max_delta);
    if frames == 0 || ticks == 0 || odd_delta {
        return None;
    }
    let num = u128::from(video.mdia.mdhd.timescale) * frames;
    let divisor = gcd(num, ticks);
    let (num, den) = (num / divisor, ticks / divisor);
    let limit = i32::MAX as u128;
    if num == 0 || num > limit || den > limit {
        return None;
    }
    Some(Probed {
        width: Some(u32::from(avc1.visual.width)),
        height: Some(u32::from(avc1.visual.height)),
        duration_seconds: micros(
            u128::from(moov.mvhd.duration),
            u128::from(moov.mvhd.timescale),
        ),
        fps: Some(num as f64 / den as f64),
        has_audio: Some(has_audio),
    })
}

/// The bytes of an ID3v2 tag at the start of `head`, if there is one.
fn id3v2_len(head: &[u8]) -> usize {
    if head.len() < 10 || &head[..3] != b"ID3" {
        return 0;
    }
    let size = head[6..10]
        .iter()
        .fold(0usize, |size, b| (size << 7) | usize::from(b & 0x7f));
    let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
    10 + size + footer
}

fn describe_mp3(path: &Path) -> Option<Probed> {
    let mut file = File::open(path).ok()?;
    let file_len = file.metadata().ok()?.len();
    let mut head = vec![0u8; 64 * 1024];
    let read = read_up_to(&mut file, &mut head)?;
    head.truncate(read);
    let mut start = 0;
    while let n @ 1.. = id3v2_len(head.get(start..)?) {
        start += n;
    }
    let frame = head.get(start..start + 4)?;
    let header = u32::from_be_bytes(frame.try_into().ok()?);
    let version = (header >> 19) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    let layer = (header >> 17) & 3; // 1: Layer III
    let bitrate = (header >> 12) & 15;
    let rate_index = (header >> 10) & 3;
    if header & 0xffe0_0000 != 0xffe0_0000
        || version == 1
        || layer != 1
        || bitrate == 15
        || rate_index == 3
    {
        return None;
    }
    let lsf = u32::from(version != 3);
    let mpeg25 = u32::from(version == 0);
    let sample_rate = [44_100u32, 48_000, 32_000][rate_index as usize] >> (lsf + mpeg25);
    let mono = (header >> 6) & 3 == 3;
    let samples_per_frame: u128 = if lsf == 1 { 576 } else { 1152 };
    let side_info = match (lsf == 1, mono) {
        (false, false) => 32,
        (false, true) | (true, false) => 17,
        (true, true) => 9,
    };
    let tag = head.get(start + 4 + side_info..)?;
    if !(tag.starts_with(b"Xing") || tag.starts_with(b"Info")) {
        return None;
    }
    let be32 = |at: usize| Some(u32::from_be_bytes(tag.get(at..at + 4)?.try_into().ok()?));
    let flags = be32(4)?;
    if flags & 1 == 0 {
        return None;
    }
    let frames = be32(8)?;
    if frames == 0 {
        return None;
    }
    if flags & 2 != 0 {
        // FFmpeg drops the frame count when the tag's byte count is far below the
        // file's: leave such files to ffprobe.
        let said = u64::from(be32(12)?);
        let actual = file_len.saturating_sub(start as u64 + 4);
        let (min, max) = (said.min(actual), said.max(actual));
        if said > 0 && actual > said && max - min > min >> 4 {
            return None;
        }
    }
    Some(Probed {
        duration_seconds: micros(
            u128::from(frames) * samples_per_frame,
            u128::from(sample_rate),
        ),
        has_audio: Some(true),
        ..Probed::default()
    })
}

/// Fills `buf` as far as the file goes; the number of bytes read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> Option<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(filled)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::media::engine::MediaEngine;

    fn ffmpeg(args: &[&str]) -> bool {
        std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(args)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Every output shape the server writes reads as ffprobe reads it.
    #[tokio::test]
    async fn headers_say_what_ffprobe_says() {
        let Some(engine) = MediaEngine::detect(
            Path::new("ffmpeg"),
            Path::new("ffprobe"),
            Duration::from_secs(60),
        )
        .await
        else {
            eprintln!("no ffmpeg: skipped");
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        let h264 = [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ];
        let mp4 = |name: &str, source: &str, extra: &[&str]| {
            let out = path(name);
            let mut args = vec!["-f", "lavfi", "-i", source];
            args.extend(extra);
            args.extend(h264);
            args.extend(["-movflags", "+faststart", out.as_str()]);
            assert!(ffmpeg(&args), "{name}");
            out
        };
        let sound = "sine=f=300:d=3.3";
        let files = [
            (
                MediaKind::Video,
                mp4(
                    "sound.mp4",
                    "testsrc2=s=320x240:r=30000/1001:d=3.3",
                    &["-f", "lavfi", "-i", sound, "-c:a", "aac", "-shortest"],
                ),
            ),
            (
                MediaKind::Video,
                mp4("silent.mp4", "testsrc2=s=1920x1080:r=25:d=2", &[]),
            ),
            (
                MediaKind::Video,
                mp4("odd.mp4", "testsrc2=s=176x144:r=24:d=1.7", &["-r", "24"]),
            ),
            (MediaKind::Audio, {
                let out = path("mono.mp3");
                assert!(ffmpeg(&[
                    "-f",
                    "lavfi",
                    "-i",
                    sound,
                    "-c:a",
                    "libmp3lame",
                    "-q:a",
                    "4",
                    &out
                ]));
                out
            }),
            (MediaKind::Audio, {
                let out = path("stereo.mp3");
                assert!(ffmpeg(&[
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=f=200:d=5.05:sample_rate=48000",
                    "-ac",
                    "2",
                    "-c:a",
                    "libmp3lame",
                    "-q:a",
                    "4",
                    &out
                ]));
                out
            }),
            (MediaKind::Image, {
                let out = path("frame.jpg");
                assert!(ffmpeg(&[
                    "-f",
                    "lavfi",
                    "-i",
                    "testsrc2=s=642x362",
                    "-frames:v",
                    "1",
                    &out
                ]));
                out
            }),
        ];
        for (kind, file) in files {
            let file = Path::new(&file);
            let read = describe(kind, file).unwrap_or_else(|| panic!("{file:?} described"));
            let probed = engine.probe(file).await.expect("ffprobe").expect("media");
            let expected = match kind {
                MediaKind::Image => {
                    Probed::image(probed.width.expect("width"), probed.height.expect("height"))
                }
                _ => probed.probed(),
            };
            assert_eq!(read, expected, "{file:?}");
        }
        // Not an MP4 or MP3: no answer (the caller asks ffprobe).
        std::fs::write(dir.path().join("junk"), b"not media at all").expect("write");
        assert_eq!(describe(MediaKind::Video, &dir.path().join("junk")), None);
        assert_eq!(describe(MediaKind::Audio, &dir.path().join("junk")), None);
    }

    /// Writes `bytes` to a file and describes it as each kind.
    fn describe_bytes(bytes: &[u8]) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("file");
        std::fs::write(&path, bytes).expect("write");
        for kind in [MediaKind::Image, MediaKind::Video, MediaKind::Audio] {
            let _ = describe(kind, &path);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Any bytes: a description or none, never a panic or a hang.
        #[test]
        fn any_bytes_are_described_or_not(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096)) {
            describe_bytes(&bytes);
        }

        /// An MP4 whose boxes claim any sizes, a `moov` among them.
        #[test]
        fn any_mp4_boxes(
            sizes in proptest::collection::vec(proptest::prelude::any::<u32>(), 1..4),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
        ) {
            let mut bytes = Vec::new();
            for (i, size) in sizes.iter().enumerate() {
                bytes.extend_from_slice(&size.to_be_bytes());
                bytes.extend_from_slice(if i + 1 == sizes.len() { b"moov" } else { b"free" });
            }
            bytes.extend_from_slice(&body);
            describe_bytes(&bytes);
        }

        /// An MP3 frame header of any fields, after any ID3 tags, with a Xing tag of
        /// any values.
        #[test]
        fn any_mp3_headers(
            id3 in proptest::collection::vec(proptest::prelude::any::<[u8; 10]>(), 0..3),
            header in proptest::prelude::any::<u32>(),
            side_info in 0usize..40,
            tag in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
        ) {
            let mut bytes = Vec::new();
            for mut id3 in id3 {
                id3[..3].copy_from_slice(b"ID3");
                bytes.extend_from_slice(&id3);
            }
            bytes.extend_from_slice(&(header | 0xffe0_0000).to_be_bytes());
            bytes.extend(std::iter::repeat_n(0, side_info));
            bytes.extend_from_slice(b"Xing");
            bytes.extend_from_slice(&tag);
            describe_bytes(&bytes);
        }
    }
}
