//! Running a job: image work on the blocking pool, or one ffmpeg run with
//! progress; then the output is described from its headers and moved into the
//! store.

use std::ffi::OsString;
use std::path::Path;

use bytes::Bytes;

use super::{FfmpegInput, InputFile, JobContext};
use crate::domain::media::{MediaKind, MediaRecord, Probed};
use crate::domain::{Error, ErrorCode, Result};
use crate::media::describe::describe;
use crate::media::engine::EngineError;
use crate::services::App;

impl App {
    /// Runs image work that returns a JPEG and its size, and stores it.
    pub(crate) async fn image_job<F>(&self, ctx: &JobContext, work: F) -> Result<MediaRecord>
    where
        F: FnOnce() -> Result<(Vec<u8>, (u32, u32))> + Send + 'static,
    {
        let (jpeg, (width, height)) = self.blocking(ctx, work).await?;
        self.save_image(ctx, jpeg, (width, height)).await
    }

    /// Stores a JPEG of `width` x `height` as the job's output ([`Self::keep_output`]).
    pub(crate) async fn save_image(
        &self,
        ctx: &JobContext,
        jpeg: Vec<u8>,
        (width, height): (u32, u32),
    ) -> Result<MediaRecord> {
        self.check_quota(&ctx.owner, jpeg.len() as u64).await?;
        let stored = self
            .store
            .put(
                MediaKind::Image,
                &ctx.owner.0,
                Bytes::from(jpeg),
                Probed::image(width, height),
                ctx.output_id(),
            )
            .await?;
        self.keep_output(ctx, stored).await
    }

    /// A job's stored output: a synchronous job adds it to the owner's index now
    /// (within the quota); a task's runner does, with the task's end.
    async fn keep_output(&self, ctx: &JobContext, stored: MediaRecord) -> Result<MediaRecord> {
        if ctx.output_id().is_some() {
            return Ok(stored);
        }
        self.keep_media(stored).await
    }

    /// Runs one ffmpeg job and stores its output as `kind`. `plan` gets the input
    /// path (with what it holds), and the output path, and answers ffmpeg's
    /// arguments and the output's expected duration (for progress; 0 when unknown).
    pub(crate) async fn ffmpeg_job<F>(
        &self,
        ctx: &JobContext,
        input: FfmpegInput,
        kind: MediaKind,
        plan: F,
    ) -> Result<MediaRecord>
    where
        F: FnOnce(&Path, Option<&Probed>, &Path) -> Result<(Vec<OsString>, f64)>,
    {
        let engine = self.engine()?.clone();
        self.slot(ctx).await?;
        // ffmpeg failing on a video a client sent is the video's fault (415).
        let (mut input, client_video) = match input {
            FfmpegInput::None => (None, false),
            FfmpegInput::Image(file) => (Some(file), false),
            FfmpegInput::Video(file) => {
                let client = file.stored.is_none();
                (Some(file), client)
            }
        };
        if let Some(file) = input.as_mut()
            && file.probed.is_none()
        {
            let info = ctx
                .unless_cancelled(self.probe_video(&file.path, file.param))
                .await?;
            file.probed = Some(info.probed());
        }
        let scratch = match input.as_mut().and_then(|file| file.scratch.take()) {
            Some(scratch) => scratch,
            None => self.work.scratch()?,
        };
        let out = scratch.path(match kind {
            MediaKind::Image => "out.jpg",
            MediaKind::Video => "out.mp4",
            MediaKind::Audio => "out.mp3",
        });
        let input_path = input
            .as_ref()
            .map_or_else(|| scratch.path("input"), |file| file.path.clone());
        let (args, expected_seconds) = plan(
            &input_path,
            input.as_ref().and_then(|file| file.probed.as_ref()),
            &out,
        )?;
        let expected = (expected_seconds > 0.0).then_some(expected_seconds);
        let ran = ctx
            .unless_cancelled(async {
                engine
                    .ffmpeg(args, &ctx.progress, expected)
                    .await
                    .map_err(|err| {
                        let client_param = input.as_ref().filter(|_| client_video).map(|f| f.param);
                        engine_failure(err, client_param)
                    })
            })
            .await;
        let failed = match ran {
            Ok(()) => return self.store_output(ctx, kind, &out).await,
            Err(err) => err,
        };
        // ffmpeg stops when its output cannot be written: say why.
        if failed.code != ErrorCode::Cancelled && scratch.is_full().await {
            super::super::log_failure("ffmpeg, with the scratch disk full", &failed);
            return Err(Error::storage_full());
        }
        // Stored media deleted while ffmpeg opened it: as if it had never been there.
        if let Some(InputFile {
            stored: Some(record),
            param,
            ..
        }) = &input
            && self.stored_media(record.kind, &record.id).await?.is_none()
        {
            super::super::log_failure("ffmpeg, on media deleted meanwhile", &failed);
            return Err(Error::media_not_found(param));
        }
        Err(failed)
    }

    /// Describes an output ffmpeg wrote and moves it into the store as `kind`,
    /// the job's output ([`Self::keep_output`]).
    pub(crate) async fn store_output(
        &self,
        ctx: &JobContext,
        kind: MediaKind,
        path: &Path,
    ) -> Result<MediaRecord> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(Error::internal)?
            .len();
        self.check_quota(&ctx.owner, size).await?;
        let file = path.to_owned();
        let described = tokio::task::spawn_blocking(move || describe(kind, &file))
            .await
            .map_err(Error::internal)?;
        let probed = match described {
            Some(probed) => probed,
            None => self
                .engine()?
                .probe(path)
                .await?
                .ok_or_else(|| Error::internal("ffmpeg wrote an unreadable file"))?
                .probed(),
        };
        let stored = self
            .store
            .put_file(kind, &ctx.owner.0, path, probed, ctx.output_id())
            .await?;
        self.keep_output(ctx, stored).await
    }
}

/// An ffmpeg failure: on a video a client sent (in `client_param`, its parameter),
/// the video is at fault (415); on stored media, a checked image or a render, the
/// server is (500).
fn engine_failure(err: EngineError, client_param: Option<&str>) -> Error {
    match (err, client_param) {
        (err @ EngineError::Failed { .. }, Some(param)) => {
            tracing::info!(error = %err, "ffmpeg could not process a client's video");
            Error::unsupported_media(format!("the video at {param} could not be decoded"))
                .with_param(param)
        }
        (err, _) => Error::from(err),
    }
}
