//! Uploads streamed to disk: the body goes to a scratch file as it arrives, with
//! the cap (`--max-upload-bytes`) checked before reading (a `Content-Length` over
//! it) and as it streams (at the first byte past it). A refused or broken upload
//! leaves nothing behind: its scratch directory goes with it. Memory does not grow
//! with an upload's size.
//!
//! A refused upload's connection lingers: the rest of the body is read and
//! dropped in the background (at most [`LINGER_BYTES`] for [`LINGER`]) while the
//! 413 goes out, so a client still sending reads the answer instead of a reset
//! connection (what nginx calls a lingering close).

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::domain::Owner;
use crate::domain::media::MediaKind;
use crate::domain::media::MediaRecord;
use crate::domain::{Error, Result};
use crate::media::imaging;
use crate::media::video::{self, sniff_video};
use crate::services::App;
use crate::services::jobs::inputs::file_head;
use crate::services::jobs::{FfmpegInput, InputFile, JobContext};
use crate::services::scratch::Scratch;
use bytes::Bytes;

/// How long a refused upload's remaining body is read and dropped.
pub(crate) const LINGER: Duration = Duration::from_secs(10);
/// How much of a refused upload's remaining body is read and dropped.
pub(crate) const LINGER_BYTES: u64 = 256 * 1024 * 1024;

/// An upload's body as it arrives: what the request declared, and its bytes.
pub(crate) struct UploadBody<S> {
    /// Its `Content-Length`, when it has one.
    pub(crate) declared: Option<u64>,
    /// Whether the client waits for `100 Continue` before it sends the body.
    pub(crate) awaits_continue: bool,
    /// The bytes.
    pub(crate) stream: S,
}

/// An upload's bytes in a scratch file.
#[derive(Debug)]
pub(crate) struct Spooled {
    /// The directory that holds the file, removed when this is dropped.
    pub(crate) scratch: Scratch,
    /// The file.
    pub(crate) path: PathBuf,
    /// Its size in bytes.
    pub(crate) size: u64,
    /// SHA-256 of the bytes, when asked for.
    pub(crate) digest: Option<[u8; 32]>,
}

impl App {
    /// Streams an upload's `body` to a scratch file (hashing it when `hash`): 413
    /// past `--max-upload-bytes`, 403 when `owner` is at their quota (or the
    /// declared length would pass it), 400 when empty or cut short, 507 when the
    /// disk is full.
    pub(crate) async fn spool_upload<S, E>(
        &self,
        owner: &Owner,
        body: UploadBody<S>,
        hash: bool,
    ) -> Result<Spooled>
    where
        S: Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin + Send + 'static,
        E: std::fmt::Display,
    {
        let cap = self.config.max_upload_bytes;
        let UploadBody {
            declared,
            awaits_continue,
            mut stream,
        } = body;
        // Refused before a byte is read: too large, or a key at its quota.
        let early = match declared {
            Some(len) if len > cap => Err(too_large(cap)),
            _ => self.check_quota(owner, declared.unwrap_or(0)).await,
        };
        if let Err(err) = early {
            // A client waiting for `100 Continue` has not sent the body: leave it so.
            if !awaits_continue {
                linger(stream);
            }
            return Err(err);
        }
        match self.spool(&mut stream, cap, hash).await {
            Ok(spooled) => Ok(spooled),
            Err(err) => {
                linger(stream);
                Err(err)
            }
        }
    }

    /// Writes `stream` to a new scratch file, at most `cap` bytes.
    async fn spool<S, E>(&self, stream: &mut S, cap: u64, hash: bool) -> Result<Spooled>
    where
        S: Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let scratch = self.work.scratch()?;
        let (path, file) = scratch.create("upload").await?;
        let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let mut hasher = hash.then(Sha256::new);
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|err| {
                Error::bad_request(format!("the upload was cut short: {err}")).with_param("body")
            })?;
            size += chunk.len() as u64;
            if size > cap {
                return Err(too_large(cap));
            }
            if let Some(hasher) = hasher.as_mut() {
                hasher.update(&chunk);
            }
            file.write_all(&chunk)
                .await
                .map_err(|err| scratch.io_error(err, size))?;
        }
        file.flush()
            .await
            .map_err(|err| scratch.io_error(err, size))?;
        if size == 0 {
            return Err(Error::bad_request(
                "the upload is empty: send the file's bytes as the body",
            )
            .with_param("body"));
        }
        metrics::counter!("runway_upload_bytes_total").increment(size);
        Ok(Spooled {
            scratch,
            path,
            size,
            digest: hasher.map(|hasher| hasher.finalize().into()),
        })
    }
}

impl App {
    /// Stores an upload: an image is decoded with limits and stored as JPEG; a video
    /// is probed and stored as H.264 MP4: remuxed when it already is H.264/yuv420p
    /// (with AAC sound or none), transcoded otherwise.
    pub(crate) async fn store_upload(
        &self,
        ctx: &JobContext,
        upload: Spooled,
    ) -> Result<MediaRecord> {
        let head = file_head(&upload.path).await?;
        if imaging::sniff_image(&head).is_some() {
            let limit = self.config.max_body_bytes as u64;
            if upload.size > limit {
                return Err(Error::too_large(format!(
                    "an image upload is decoded in memory and limited to {limit} bytes; this one has {}",
                    upload.size
                ))
                .with_param("body"));
            }
            let body = tokio::fs::read(&upload.path)
                .await
                .map_err(Error::internal)?;
            drop(upload);
            let (jpeg, size) = self.reencode_jpeg(ctx, Bytes::from(body), "body").await?;
            return self.save_image(ctx, jpeg, size).await;
        }
        if !sniff_video(&head) {
            return Err(Error::unsupported_media(
                "the upload is not a supported image (JPEG, PNG, GIF, WebP) or video (MP4, MOV, WebM, Matroska)",
            )
            .with_param("body"));
        }
        self.engine()?;
        // Probed within the job's slot, like every probe.
        self.slot(ctx).await?;
        let info = self.probe_video(&upload.path, "body").await?;
        let input = InputFile {
            path: upload.path,
            probed: Some(info.probed()),
            stored: None,
            param: "body",
            scratch: Some(upload.scratch),
        };
        // H.264/yuv420p with AAC sound or none is kept as it is, only remuxed.
        let copy = info.video_codec.as_deref() == Some("h264")
            && info.pixel_format.as_deref() == Some("yuv420p")
            && info
                .audio_codec
                .as_deref()
                .is_none_or(|codec| codec == "aac");
        let seconds = info.duration.unwrap_or(0.0);
        let input = FfmpegInput::Video(input);
        self.ffmpeg_job(ctx, input, MediaKind::Video, |input, _, out| {
            Ok((video::normalize_args(input, copy, out), seconds))
        })
        .await
    }
}

/// 413 for an upload over `cap` bytes.
fn too_large(cap: u64) -> Error {
    Error::too_large(format!("the upload is over the limit of {cap} bytes")).with_param("body")
}

/// Reads and drops what is left of a refused body, in the background, within
/// [`LINGER`] and [`LINGER_BYTES`].
fn linger<S, E>(mut rest: S)
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let drain = async {
            let mut drained = 0u64;
            while let Some(Ok(chunk)) = rest.next().await {
                drained += chunk.len() as u64;
                if drained > LINGER_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    });
}
