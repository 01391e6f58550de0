//! ffmpeg and ffprobe, run as child processes with a timeout and `kill_on_drop`.
//! Their stderr goes to the server log, never into a client's message.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;

use crate::error::ApiError;
use crate::store::Probed;

/// The ffmpeg/ffprobe pair the server found at start.
#[derive(Debug, Clone)]
pub struct MediaEngine {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    timeout: Duration,
}

/// What ffprobe says of a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeInfo {
    /// The container's format names, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format_name: String,
    /// The first video stream's codec, e.g. `h264`.
    pub video_codec: Option<String>,
    /// The first video stream's pixel format, e.g. `yuv420p`.
    pub pixel_format: Option<String>,
    /// Width of the first video stream.
    pub width: Option<u32>,
    /// Height of the first video stream.
    pub height: Option<u32>,
    /// Frames per second of the first video stream.
    pub fps: Option<f64>,
    /// Duration in seconds.
    pub duration: Option<f64>,
    /// Whether there is an audio stream.
    pub has_audio: bool,
}

impl ProbeInfo {
    /// The properties kept in a media record.
    pub fn probed(&self) -> Probed {
        Probed {
            width: self.width,
            height: self.height,
            duration_seconds: self.duration,
            fps: self.fps,
            has_audio: Some(self.has_audio),
        }
    }
}

#[derive(Deserialize)]
struct FfprobeOutput {
    #[serde(default)]
    streams: Vec<FfprobeStream>,
    format: Option<FfprobeFormat>,
}

#[derive(Deserialize)]
struct FfprobeStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    pix_fmt: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    duration: Option<String>,
}

#[derive(Deserialize)]
struct FfprobeFormat {
    format_name: Option<String>,
    duration: Option<String>,
}

fn parse_rate(rate: &str) -> Option<f64> {
    let (num, den) = rate.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    (den > 0.0 && num > 0.0).then(|| num / den)
}

impl MediaEngine {
    /// Finds ffmpeg and ffprobe; `None` when either does not run.
    pub async fn detect(ffmpeg: &Path, ffprobe: &Path, timeout: Duration) -> Option<Self> {
        for program in [ffmpeg, ffprobe] {
            let status = Command::new(program)
                .arg("-version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status();
            match tokio::time::timeout(Duration::from_secs(10), status).await {
                Ok(Ok(status)) if status.success() => {}
                _ => return None,
            }
        }
        Some(Self {
            ffmpeg: ffmpeg.to_owned(),
            ffprobe: ffprobe.to_owned(),
            timeout,
        })
    }

    /// Runs a program with `args`, killing it after the timeout; returns its stdout.
    async fn run(&self, program: &Path, args: Vec<OsString>) -> Result<Vec<u8>, ApiError> {
        let name = program.display().to_string();
        let child = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ApiError::internal(format!("cannot start {name}: {e}")))?;
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return Err(ApiError::internal(format!("{name}: {e}"))),
            Err(_) => {
                // The child was dropped with the future, which kills it.
                return Err(ApiError::internal(format!(
                    "{name} did not finish within {} s and was killed",
                    self.timeout.as_secs()
                )));
            }
        };
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            tracing::warn!(program = %name, status = %output.status, stderr = %stderr.trim(), "media engine failed");
            return Err(ApiError::internal(format!(
                "{name} exited with {}",
                output.status
            )));
        }
        Ok(output.stdout)
    }

    /// Runs ffmpeg with `args` (after `-hide_banner -nostdin -loglevel error -y`).
    pub async fn ffmpeg(&self, args: Vec<OsString>) -> Result<(), ApiError> {
        let mut all: Vec<OsString> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
            .into_iter()
            .map(OsString::from)
            .collect();
        all.extend(args);
        self.run(&self.ffmpeg, all).await.map(drop)
    }

    /// Probes a file. `None` when ffprobe cannot read it as media.
    pub async fn probe(&self, path: &Path) -> Result<Option<ProbeInfo>, ApiError> {
        let args: Vec<OsString> = vec![
            "-v".into(),
            "error".into(),
            "-print_format".into(),
            "json".into(),
            "-show_streams".into(),
            "-show_format".into(),
            path.as_os_str().to_owned(),
        ];
        let stdout = match self.run(&self.ffprobe, args).await {
            Ok(stdout) => stdout,
            Err(err) if err.status.as_u16() == 500 => return Ok(None),
            Err(err) => return Err(err),
        };
        let parsed: FfprobeOutput = match serde_json::from_slice(&stdout) {
            Ok(parsed) => parsed,
            Err(_) => return Ok(None),
        };
        let video = parsed
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("video"));
        let has_audio = parsed
            .streams
            .iter()
            .any(|s| s.codec_type.as_deref() == Some("audio"));
        let format = parsed.format.as_ref();
        let duration = format
            .and_then(|f| f.duration.as_deref())
            .or_else(|| video.and_then(|v| v.duration.as_deref()))
            .and_then(|d| d.parse::<f64>().ok());
        Ok(Some(ProbeInfo {
            format_name: format
                .and_then(|f| f.format_name.clone())
                .unwrap_or_default(),
            video_codec: video.and_then(|v| v.codec_name.clone()),
            pixel_format: video.and_then(|v| v.pix_fmt.clone()),
            width: video.and_then(|v| v.width),
            height: video.and_then(|v| v.height),
            fps: video.and_then(|v| {
                v.avg_frame_rate
                    .as_deref()
                    .and_then(parse_rate)
                    .or_else(|| v.r_frame_rate.as_deref().and_then(parse_rate))
            }),
            duration,
            has_audio,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_parse() {
        assert_eq!(parse_rate("24/1"), Some(24.0));
        assert_eq!(
            parse_rate("30000/1001").map(|r| (r * 100.0).round()),
            Some(2997.0)
        );
        assert_eq!(parse_rate("0/0"), None);
    }

    #[tokio::test]
    async fn a_missing_program_is_not_an_engine() {
        let none = MediaEngine::detect(
            Path::new("/nonexistent/ffmpeg"),
            Path::new("/nonexistent/ffprobe"),
            Duration::from_secs(1),
        )
        .await;
        assert!(none.is_none());
    }
}
