//! ffmpeg and ffprobe, run as child processes with a timeout and `kill_on_drop`, so a
//! job that overruns, or whose future is dropped (a cancelled task), leaves no
//! process behind. Their stderr goes to the server log, never into a client's message.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

use crate::domain::media::Probed;

/// Why a run of ffmpeg or ffprobe failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The program could not be started or waited for.
    #[error("{program}: {source}")]
    Io {
        /// The program.
        program: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The program ran past the job timeout and was killed.
    #[error("{program} did not finish within {seconds} s and was killed")]
    Timeout {
        /// The program.
        program: String,
        /// The timeout.
        seconds: u64,
    },
    /// The program exited with a failure.
    #[error("{program} exited with {status}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status.
        status: ExitStatus,
    },
}

impl From<EngineError> for crate::domain::Error {
    /// An engine failure on the server's own work (a render, our own media): 500.
    fn from(err: EngineError) -> Self {
        crate::domain::Error::internal(err)
    }
}

/// How far a job has got, from 0 to 1; shared between the job and whoever reports it.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    /// Records `fraction` (clamped to 0..=1).
    pub fn set(&self, fraction: f64) {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.0.store(fraction.to_bits(), Ordering::Relaxed);
    }

    /// The fraction done.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

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
    /// The first audio stream's codec, e.g. `aac`.
    pub audio_codec: Option<String>,
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

/// The output position in seconds in a line of ffmpeg's `-progress` report
/// (`out_time_us=1500000`; `out_time_ms` is microseconds too, despite its name).
fn progress_seconds(line: &str) -> Option<f64> {
    let (key, value) = line.split_once('=')?;
    match key {
        "out_time_us" | "out_time_ms" => value
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|us| *us >= 0)
            .map(|us| us as f64 / 1e6),
        _ => None,
    }
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

    /// Runs a program with `args`, killing it after the timeout. Each line of its
    /// stdout goes to `on_line`; stderr is kept for the log. Returns the exit status.
    async fn run(
        &self,
        program: &Path,
        args: Vec<OsString>,
        mut on_line: impl FnMut(&str),
    ) -> Result<(ExitStatus, String), EngineError> {
        let name = program.display().to_string();
        let io = |source| EngineError::Io {
            program: name.clone(),
            source,
        };
        let mut child = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(io)?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(io(std::io::Error::other("no pipes to the child")));
        };
        let read_stdout = async {
            // Read to the end whatever it holds, so the child never blocks on a full pipe.
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            while reader
                .read_until(b'\n', &mut line)
                .await
                .is_ok_and(|n| n > 0)
            {
                on_line(String::from_utf8_lossy(&line).trim_end());
                line.clear();
            }
            let _ = tokio::io::copy(&mut reader, &mut tokio::io::sink()).await;
        };
        let read_stderr = async {
            // Enough of stderr to say what went wrong; the rest is drained unread.
            let mut text = Vec::new();
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut text).await;
            let _ = tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await;
            String::from_utf8_lossy(&text).into_owned()
        };
        let work = async {
            let ((), stderr, status) = tokio::join!(read_stdout, read_stderr, child.wait());
            status.map(|status| (status, stderr))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result.map_err(io),
            // Dropping `child` on return kills the process.
            Err(_) => Err({
                metrics::counter!("runway_ffmpeg_timeouts_total").increment(1);
                EngineError::Timeout {
                    program: name,
                    seconds: self.timeout.as_secs(),
                }
            }),
        }
    }

    /// Runs ffmpeg with `args` (after `-hide_banner -nostdin -loglevel error -y`).
    /// With `expected_seconds`, ffmpeg reports its position through the output
    /// (`-progress`), and `progress` follows it towards 1.
    pub async fn ffmpeg(
        &self,
        args: Vec<OsString>,
        progress: &Progress,
        expected_seconds: Option<f64>,
    ) -> Result<(), EngineError> {
        let mut all: Vec<OsString> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
            .into_iter()
            .map(OsString::from)
            .collect();
        if expected_seconds.is_some() {
            all.extend(["-progress", "pipe:1", "-nostats"].map(OsString::from));
        }
        all.extend(args);
        let expected = expected_seconds.filter(|s| *s > 0.0);
        let (status, stderr) = self
            .run(&self.ffmpeg, all, |line| {
                if let Some(expected) = expected
                    && let Some(done) = progress_seconds(line)
                {
                    // 1 is for the job as a whole, once its output is stored.
                    progress.set((done / expected).min(0.99));
                }
            })
            .await?;
        if !status.success() {
            metrics::counter!("runway_ffmpeg_failures_total").increment(1);
            tracing::warn!(program = %self.ffmpeg.display(), %status, stderr = %stderr.trim(), "ffmpeg failed");
            return Err(EngineError::Failed {
                program: self.ffmpeg.display().to_string(),
                status,
            });
        }
        Ok(())
    }

    /// Probes a file. `None` when ffprobe cannot read it as media.
    pub async fn probe(&self, path: &Path) -> Result<Option<ProbeInfo>, EngineError> {
        let args: Vec<OsString> = vec![
            "-v".into(),
            "error".into(),
            "-print_format".into(),
            "json".into(),
            "-show_streams".into(),
            "-show_format".into(),
            path.as_os_str().to_owned(),
        ];
        let mut stdout = String::new();
        let (status, _) = self
            .run(&self.ffprobe, args, |line| {
                stdout.push_str(line);
                stdout.push('\n');
            })
            .await?;
        if !status.success() {
            return Ok(None);
        }
        let parsed: FfprobeOutput = match serde_json::from_str(&stdout) {
            Ok(parsed) => parsed,
            Err(_) => return Ok(None),
        };
        let video = parsed
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("video"));
        let audio = parsed
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("audio"));
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
            has_audio: audio.is_some(),
            audio_codec: audio.and_then(|a| a.codec_name.clone()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_parse() {
        assert_eq!(progress_seconds("out_time_us=1500000"), Some(1.5));
        assert_eq!(progress_seconds("out_time_ms=2000000"), Some(2.0));
        assert_eq!(progress_seconds("out_time_us=N/A"), None);
        assert_eq!(progress_seconds("out_time_us=-5"), None);
        assert_eq!(progress_seconds("frame=12"), None);
        let progress = Progress::default();
        progress.set(1.7);
        assert_eq!(progress.get(), 1.0);
        progress.set(f64::NAN);
        assert_eq!(progress.get(), 0.0);
    }

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
