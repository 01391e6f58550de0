//! A job's inputs: media URLs read as bytes (images, decoded in process) or as
//! files for ffmpeg (stored media where they are, other videos streamed to a
//! scratch file and probed once the job has its slot).

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::JobContext;
use crate::domain::media::{MediaKind, MediaRecord, Probed};
use crate::domain::{Error, Result};
use crate::media::engine::ProbeInfo;
use crate::media::imaging::{decode, encode_jpeg};
use crate::media::video::{MAX_INPUT_SECONDS, sniff_video};
use crate::services::App;
use crate::services::input::{Resolved, Source, stored_media_error};
use crate::services::scratch::Scratch;

/// A file an ffmpeg job reads.
pub(crate) struct InputFile {
    pub(crate) path: PathBuf,
    /// What it holds: the record's properties for stored media, the decoded size
    /// for a re-encoded image, ffprobe's for a video from elsewhere (`None` until
    /// the job has its slot: probes run within the job slots).
    pub(crate) probed: Option<Probed>,
    /// The stored media it is, if any: ffmpeg failing on it is the server's fault,
    /// or the media was deleted meanwhile.
    pub(crate) stored: Option<MediaRecord>,
    /// The request parameter it came from.
    pub(crate) param: &'static str,
    /// The scratch directory that holds it when it is a copy.
    pub(crate) scratch: Option<Scratch>,
}

impl InputFile {
    /// A client's video at `path` in `scratch`, to be probed once the job has its
    /// slot.
    pub(crate) fn to_probe(scratch: Scratch, path: PathBuf, param: &'static str) -> Self {
        Self {
            path,
            probed: None,
            stored: None,
            param,
            scratch: Some(scratch),
        }
    }
}

/// What an ffmpeg job reads.
pub(crate) enum FfmpegInput {
    /// Nothing: the job renders.
    None,
    /// A JPEG: one the server stored, or a checked re-encode of another image.
    Image(InputFile),
    /// A video.
    Video(InputFile),
}

impl App {
    /// The bytes of an image input: 415 when it is stored media of another kind
    /// (refused before a byte of it is read).
    pub(crate) async fn image_input(
        &self,
        ctx: &JobContext,
        url: &str,
        param: &'static str,
    ) -> Result<Bytes> {
        ctx.unless_cancelled(async {
            match self.resolve_input(url, param).await? {
                Resolved::Stored(record) if record.kind != MediaKind::Image => {
                    Err(Error::unsupported_media(format!(
                        "{param} points at a video or audio file; an image is needed"
                    ))
                    .with_param(param))
                }
                input => self.read_input(input, param).await,
            }
        })
        .await
    }

    /// The video at `url` (`video_url`) as a file for ffmpeg: 415 when it is
    /// stored media of another kind or not a video, 413 when it is too long, 503
    /// without ffmpeg.
    pub(crate) async fn video_input(&self, ctx: &JobContext, url: &str) -> Result<FfmpegInput> {
        self.engine()?;
        let param = "video_url";
        let input = ctx
            .unless_cancelled(async {
                match self.resolve_input(url, param).await? {
                    Resolved::Stored(record) if record.kind == MediaKind::Video => {
                        check_length(record.probed.duration_seconds, param)?;
                        self.stored_file(record, param).await
                    }
                    Resolved::Stored(_) => Err(Error::unsupported_media(
                        "video_url points at an image or audio file; a video is needed",
                    )
                    .with_param(param)),
                    Resolved::Data(bytes) => {
                        let scratch = self.work.scratch()?;
                        let path = scratch.write("input", &bytes).await?;
                        Ok(InputFile::to_probe(scratch, path, param))
                    }
                    Resolved::Remote(remote) => {
                        let scratch = self.work.scratch()?;
                        let (path, mut file) = scratch.create("input").await?;
                        self.fetcher
                            .fetch_into(&remote, &mut file)
                            .await
                            .map_err(|err| err.for_input(param))?;
                        drop(file);
                        Ok(InputFile::to_probe(scratch, path, param))
                    }
                }
            })
            .await?;
        Ok(FfmpegInput::Video(input))
    }

    /// The image at `url` as a JPEG file for ffmpeg: stored images as they are
    /// (the server wrote them), any other decoded with limits and re-encoded, so
    /// ffmpeg only ever reads a checked JPEG.
    pub(crate) async fn image_file_input(
        &self,
        ctx: &JobContext,
        url: &str,
        param: &'static str,
    ) -> Result<FfmpegInput> {
        if let Source::Stored(MediaKind::Image, id) = self.classify(url, param)? {
            let record = ctx
                .unless_cancelled(async {
                    self.stored_media(MediaKind::Image, &id)
                        .await?
                        .ok_or_else(|| Error::media_not_found(param))
                })
                .await?;
            return Ok(FfmpegInput::Image(self.stored_file(record, param).await?));
        }
        let bytes = self.image_input(ctx, url, param).await?;
        let (jpeg, (width, height)) = self.reencode_jpeg(ctx, bytes, param).await?;
        let scratch = self.work.scratch()?;
        Ok(FfmpegInput::Image(InputFile {
            path: scratch.write("input.jpg", &jpeg).await?,
            probed: Some(Probed::image(width, height)),
            stored: None,
            param,
            scratch: Some(scratch),
        }))
    }

    /// Stored media as a file: the local store's own file, or a copy of the
    /// bucket's object in a scratch directory; described by its record.
    pub(crate) async fn stored_file(
        &self,
        record: MediaRecord,
        param: &'static str,
    ) -> Result<InputFile> {
        let (path, scratch) = match self.store.local_path(&record) {
            Some(path) => (path, None),
            None => {
                let scratch = self.work.scratch()?;
                let path = scratch.path("input");
                self.store
                    .copy_to_file(&record, &path)
                    .await
                    .map_err(|err| stored_media_error(err, param))?;
                (path, Some(scratch))
            }
        };
        Ok(InputFile {
            path,
            probed: Some(record.probed.clone()),
            stored: Some(record),
            param,
            scratch,
        })
    }

    /// Decodes an image (with limits) and re-encodes it as JPEG; returns the JPEG
    /// and its size.
    pub(crate) async fn reencode_jpeg(
        &self,
        ctx: &JobContext,
        input: Bytes,
        param: &'static str,
    ) -> Result<(Vec<u8>, (u32, u32))> {
        self.blocking(ctx, move || {
            let image = decode(&input).map_err(|e| e.for_input(param))?;
            Ok((encode_jpeg(&image)?, image.dimensions()))
        })
        .await
    }

    /// Probes a video a client sent: 415 when it is not a video, 413 when it is
    /// too long.
    pub(crate) async fn probe_video(&self, path: &Path, param: &str) -> Result<ProbeInfo> {
        let engine = self.engine()?;
        let not_video = || {
            Error::unsupported_media(format!(
                "the bytes at {param} are not a supported video (MP4, MOV, WebM, Matroska)"
            ))
            .with_param(param)
        };
        if !sniff_video(&file_head(path).await?) {
            return Err(not_video());
        }
        let info = engine.probe(path).await?.ok_or_else(not_video)?;
        if info.video_codec.is_none() || info.width.is_none() {
            return Err(not_video());
        }
        check_length(info.duration, param)?;
        Ok(info)
    }
}

/// 413 when a video at `param` is longer than the server edits.
pub(crate) fn check_length(seconds: Option<f64>, param: &str) -> Result<()> {
    if seconds.is_some_and(|d| d > MAX_INPUT_SECONDS) {
        return Err(Error::too_large(format!(
            "the video at {param} is longer than {MAX_INPUT_SECONDS} s"
        ))
        .with_param(param));
    }
    Ok(())
}

/// The first bytes of a file, enough to tell its format.
pub(crate) async fn file_head(path: &Path) -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await.map_err(Error::io)?;
    let mut head = Vec::with_capacity(64);
    file.take(64)
        .read_to_end(&mut head)
        .await
        .map_err(Error::io)?;
    Ok(head)
}
