//! The job pipeline: every media operation, synchronous or a task, runs here.
//!
//! 1. Inputs are read (own media from the store, `data:` URIs, guarded fetches).
//!    A synchronous request reads them before it takes a slot, so a slow fetch never
//!    holds one; a task takes its slot first, so tasks waiting in the queue hold no
//!    media in memory. ffmpeg reads files: stored media where they are (the local
//!    store's file, described by its record, so neither copied nor probed), other
//!    videos streamed to a scratch file (and probed once the job has its slot).
//! 2. A job slot: at most `--max-jobs` jobs run at once, one slot per job however
//!    many steps it has. A synchronous request waits up to `--queue-timeout-secs`,
//!    then gets 503; a task waits in a bounded queue (`--max-queued-tasks`), which
//!    answers 503 when full.
//! 3. A scratch directory under `<data-dir>/work` (the input's, when it was copied
//!    there), removed when the job ends.
//! 4. The engine: image work on the blocking pool, or one ffmpeg run that reports
//!    progress.
//! 5. The store: the output is described from its headers ([`crate::media::describe`];
//!    ffprobe only when they do not say), moved into the store (never read into
//!    memory), and its record written.
//!
//! A job's [`JobContext`] carries its owner, its progress and its cancellation:
//! cancelling stops the wait for inputs or a slot and kills a running ffmpeg (the
//! child is dropped), and the scratch directory goes with it. Storing is never
//! interrupted; the task runner deletes what a cancelled job stored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::domain::Owner;
use crate::domain::media::{MediaKind, MediaRecord, Probed};
use crate::domain::{Error, ErrorCode, Result};
use crate::media::describe::describe;
use crate::media::engine::{EngineError, ProbeInfo, Progress};
use crate::media::imaging::{self, decode, encode_jpeg};
use crate::media::video::{self, MAX_INPUT_SECONDS, sniff_video};
use crate::services::App;
use crate::services::input::{Resolved, Source, stored_media_error};
use crate::services::scratch::Scratch;
use crate::services::upload::Spooled;

/// The job slots and the queue of tasks waiting for one.
#[derive(Debug)]
pub(crate) struct JobQueue {
    slots: Arc<Semaphore>,
    max_jobs: usize,
    queued_tasks: Arc<AtomicUsize>,
    /// Synchronous requests waiting for a slot.
    waiting_requests: Arc<AtomicUsize>,
    max_queued_tasks: usize,
    sync_wait: Duration,
}

impl JobQueue {
    /// `max_jobs` slots; at most `max_queued_tasks` tasks wait; a synchronous job
    /// waits at most `sync_wait`.
    pub(crate) fn new(max_jobs: usize, max_queued_tasks: usize, sync_wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_jobs.max(1))),
            max_jobs: max_jobs.max(1),
            queued_tasks: Arc::default(),
            waiting_requests: Arc::default(),
            max_queued_tasks,
            sync_wait,
        }
    }

    /// How many jobs hold a slot.
    pub(crate) fn running(&self) -> usize {
        self.max_jobs - self.slots.available_permits()
    }

    /// How many synchronous requests wait for a slot.
    pub(crate) fn waiting_requests(&self) -> usize {
        self.waiting_requests.load(Ordering::SeqCst)
    }

    /// How many tasks wait for a slot.
    pub(crate) fn queued_tasks(&self) -> usize {
        self.queued_tasks.load(Ordering::SeqCst)
    }

    /// A place in the task queue, or 503 `overloaded` when it is full.
    pub(crate) fn enqueue_task(&self) -> Result<QueueTicket> {
        let taken = self
            .queued_tasks
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max_queued_tasks).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(QueueTicket(self.queued_tasks.clone())),
            Err(_) => Err(Error::overloaded(5).with_message(format!(
                "{} tasks already wait for a job slot; retry after 5 s",
                self.max_queued_tasks
            ))),
        }
    }
}

/// A task's place in the queue, given back when it gets a slot or ends.
#[derive(Debug)]
pub(crate) struct QueueTicket(Arc<AtomicUsize>);

impl Drop for QueueTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One job's owner, progress and cancellation.
#[derive(Debug)]
pub(crate) struct JobContext {
    /// Who asked: the media it makes are theirs.
    pub(crate) owner: Owner,
    /// How far it has got.
    pub(crate) progress: Progress,
    /// Cancelled when the task is cancelled.
    pub(crate) cancel: CancellationToken,
    /// A task waits for a slot as long as it takes (it holds a place in the bounded
    /// queue); a synchronous job only up to the queue timeout.
    is_task: bool,
    started: AtomicBool,
    /// A task's place in the queue, until it gets a slot.
    ticket: Mutex<Option<QueueTicket>>,
    /// The job's slot, once it has one; given back when the job ends (or, for
    /// image work, when its thread does).
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

impl JobContext {
    /// A synchronous job: the handler awaits it, nothing cancels it.
    pub(crate) fn sync(owner: Owner) -> Self {
        Self {
            owner,
            progress: Progress::default(),
            cancel: CancellationToken::new(),
            is_task: false,
            started: AtomicBool::new(false),
            ticket: Mutex::new(None),
            permit: Mutex::new(None),
        }
    }

    /// A task's job, holding its place in the queue.
    pub(crate) fn task(owner: Owner, ticket: QueueTicket) -> Self {
        Self {
            is_task: true,
            ticket: Mutex::new(Some(ticket)),
            ..Self::sync(owner)
        }
    }

    /// Whether the job got its slot (a task is `running` from then on).
    pub(crate) fn has_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// Runs `work` unless the job is cancelled first.
    async fn unless_cancelled<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Error::cancelled()),
            result = work => result,
        }
    }
}

/// A file an ffmpeg job reads.
pub(crate) struct InputFile {
    path: PathBuf,
    /// What it holds: the record's properties for stored media, the decoded size
    /// for a re-encoded image, ffprobe's for a video from elsewhere (`None` until
    /// the job has its slot: probes run within the job slots).
    pub(crate) probed: Option<Probed>,
    /// The stored media it is, if any: ffmpeg failing on it is the server's fault,
    /// or the media was deleted meanwhile.
    stored: Option<MediaRecord>,
    /// The request parameter it came from.
    param: &'static str,
    /// The scratch directory that holds it when it is a copy.
    scratch: Option<Scratch>,
}

impl InputFile {
    /// A client's video at `path` in `scratch`, to be probed once the job has its
    /// slot.
    fn to_probe(scratch: Scratch, path: PathBuf, param: &'static str) -> Self {
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
    /// Waits for the job's slot as `ctx` allows; a job that has one keeps it.
    pub(crate) async fn slot(&self, ctx: &JobContext) -> Result<()> {
        if ctx.permit.lock().is_ok_and(|permit| permit.is_some()) {
            return Ok(());
        }
        // A key at its quota starts nothing.
        self.check_quota(&ctx.owner, 0).await?;
        let acquire = self.jobs.slots.clone().acquire_owned();
        let permit = if ctx.is_task {
            ctx.unless_cancelled(async { acquire.await.map_err(Error::internal) })
                .await?
        } else {
            // Counted while it waits (the ticket gives the place back on any exit).
            self.jobs.waiting_requests.fetch_add(1, Ordering::SeqCst);
            let _waiting = QueueTicket(self.jobs.waiting_requests.clone());
            match tokio::time::timeout(self.jobs.sync_wait, acquire).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(Error::overloaded(5)),
            }
        };
        if let Ok(mut ticket) = ctx.ticket.lock() {
            ticket.take();
        }
        if let Ok(mut slot) = ctx.permit.lock() {
            *slot = Some(permit);
        }
        ctx.started.store(true, Ordering::SeqCst);
        Ok(())
    }

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
                    self.store
                        .record(MediaKind::Image, &id)
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
    async fn stored_file(&self, record: MediaRecord, param: &'static str) -> Result<InputFile> {
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

    /// Runs CPU-bound image work on the blocking pool, within a job slot.
    async fn blocking<T, F>(&self, ctx: &JobContext, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        self.slot(ctx).await?;
        // The slot goes with the thread: a cancelled job stops waiting for it, and
        // the slot is free only once the thread is done.
        let permit = ctx.permit.lock().ok().and_then(|mut p| p.take());
        ctx.unless_cancelled(async {
            let (result, permit) = tokio::task::spawn_blocking(move || (work(), permit))
                .await
                .map_err(Error::internal)?;
            if let Ok(mut slot) = ctx.permit.lock() {
                *slot = permit;
            }
            result
        })
        .await
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

    /// Runs image work that returns a JPEG and its size, and stores it.
    pub(crate) async fn image_job<F>(&self, ctx: &JobContext, work: F) -> Result<MediaRecord>
    where
        F: FnOnce() -> Result<(Vec<u8>, (u32, u32))> + Send + 'static,
    {
        let (jpeg, (width, height)) = self.blocking(ctx, work).await?;
        self.save_image(&ctx.owner, jpeg, (width, height)).await
    }

    /// Stores a JPEG of `width` x `height` for `owner`.
    async fn save_image(
        &self,
        owner: &Owner,
        jpeg: Vec<u8>,
        (width, height): (u32, u32),
    ) -> Result<MediaRecord> {
        self.check_quota(owner, jpeg.len() as u64).await?;
        Ok(self
            .store
            .put(
                MediaKind::Image,
                &owner.0,
                Bytes::from(jpeg),
                Probed::image(width, height),
            )
            .await?)
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
            Ok(()) => return self.store_output(&ctx.owner, kind, &out).await,
            Err(err) => err,
        };
        // ffmpeg stops when its output cannot be written: say why.
        if failed.code != ErrorCode::Cancelled && scratch.is_full().await {
            return Err(Error::storage_full());
        }
        // Stored media deleted while ffmpeg opened it: as if it had never been there.
        if let Some(InputFile {
            stored: Some(record),
            param,
            ..
        }) = &input
            && self.store.record(record.kind, &record.id).await?.is_none()
        {
            return Err(Error::media_not_found(param));
        }
        Err(failed)
    }

    /// Probes a video a client sent: 415 when it is not a video, 413 when it is
    /// too long.
    async fn probe_video(&self, path: &Path, param: &str) -> Result<ProbeInfo> {
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

    /// Describes an output ffmpeg wrote and moves it into the store as `kind` for
    /// `owner`.
    async fn store_output(
        &self,
        owner: &Owner,
        kind: MediaKind,
        path: &Path,
    ) -> Result<MediaRecord> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(Error::internal)?
            .len();
        self.check_quota(owner, size).await?;
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
        Ok(self.store.put_file(kind, &owner.0, path, probed).await?)
    }

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
            return self.save_image(&ctx.owner, jpeg, size).await;
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

/// 413 when a video at `param` is longer than the server edits.
fn check_length(seconds: Option<f64>, param: &str) -> Result<()> {
    if seconds.is_some_and(|d| d > MAX_INPUT_SECONDS) {
        return Err(Error::too_large(format!(
            "the video at {param} is longer than {MAX_INPUT_SECONDS} s"
        ))
        .with_param(param));
    }
    Ok(())
}

/// The first bytes of a file, enough to tell its format.
async fn file_head(path: &Path) -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await.map_err(Error::io)?;
    let mut head = Vec::with_capacity(64);
    file.take(64)
        .read_to_end(&mut head)
        .await
        .map_err(Error::io)?;
    Ok(head)
}
