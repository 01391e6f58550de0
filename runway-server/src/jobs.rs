//! The job pipeline: every media operation, synchronous or a task, runs here.
//!
//! 1. Inputs are read (own media from the store, `data:` URIs, guarded fetches).
//!    A synchronous request reads them before it takes a slot, so a slow fetch never
//!    holds one; a task takes its slot first, so tasks waiting in the queue hold no
//!    media in memory.
//! 2. A job slot: at most `--max-jobs` jobs run at once, one slot per job however
//!    many steps it has. A synchronous request waits up to `--queue-timeout-secs`,
//!    then gets 503; a task waits in a bounded queue (`--max-queued-tasks`), which
//!    answers 503 when full.
//! 3. A scratch directory under `<data-dir>/work`, removed when the job ends.
//! 4. The engine: image work on the blocking pool, or one ffmpeg run that reports
//!    progress.
//! 5. The store: the output is described and stored, and its record written.
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
use tempfile::TempDir;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::auth::Owner;
use crate::engine::{EngineError, ProbeInfo, Progress};
use crate::error::{ApiError, ApiResult};
use crate::imaging::{self, decode, encode_jpeg};
use crate::store::{MediaKind, MediaRecord, Probed};
use crate::video::{self, MAX_INPUT_SECONDS, sniff_video};

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
    pub(crate) fn enqueue_task(&self) -> ApiResult<QueueTicket> {
        let taken = self
            .queued_tasks
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.max_queued_tasks).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(QueueTicket(self.queued_tasks.clone())),
            Err(_) => Err(ApiError::overloaded(5).with_message(format!(
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
    async fn unless_cancelled<T>(&self, work: impl Future<Output = ApiResult<T>>) -> ApiResult<T> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(ApiError::cancelled()),
            result = work => result,
        }
    }
}

/// What an ffmpeg job reads.
pub(crate) enum FfmpegInput {
    /// Nothing: the job renders.
    None,
    /// A checked JPEG (an image input, decoded with limits and re-encoded).
    Jpeg(Vec<u8>),
    /// A video's bytes from request parameter `param`; `own` when they are media
    /// this server stored.
    Video {
        bytes: Bytes,
        own: bool,
        param: &'static str,
    },
}

/// A job's scratch directory, removed when dropped.
struct Scratch(TempDir);

impl Scratch {
    fn new(work_dir: &Path) -> ApiResult<Self> {
        tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(work_dir)
            .map(Scratch)
            .map_err(ApiError::io)
    }

    /// Whether the scratch disk is full: a small write fails for lack of space.
    async fn is_full(&self) -> bool {
        let probe = tokio::fs::write(self.path("space-probe"), vec![0u8; 64 * 1024]).await;
        probe.is_err_and(|err| matches!(ApiError::io(err).code, "storage_full"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    async fn write(&self, name: &str, bytes: &[u8]) -> ApiResult<PathBuf> {
        let path = self.path(name);
        tokio::fs::write(&path, bytes).await.map_err(ApiError::io)?;
        Ok(path)
    }
}

/// An ffmpeg failure: on a video a client sent (in `client_input`, its parameter),
/// the video is at fault (415); on our own media or a render, the server is (500).
fn engine_failure(err: EngineError, client_input: Option<&str>) -> ApiError {
    match (err, client_input) {
        (err @ EngineError::Failed { .. }, Some(param)) => {
            tracing::info!(error = %err, "ffmpeg could not process a client's video");
            ApiError::unsupported_media(format!("the video at {param} could not be decoded"))
                .with_param(param)
        }
        (err, _) => ApiError::from(err),
    }
}

impl AppState {
    /// Waits for the job's slot as `ctx` allows; a job that has one keeps it.
    pub(crate) async fn slot(&self, ctx: &JobContext) -> ApiResult<()> {
        if ctx.permit.lock().is_ok_and(|permit| permit.is_some()) {
            return Ok(());
        }
        // A key at its quota starts nothing.
        self.check_quota(&ctx.owner, 0).await?;
        let acquire = self.jobs.slots.clone().acquire_owned();
        let permit = if ctx.is_task {
            ctx.unless_cancelled(async { acquire.await.map_err(ApiError::internal) })
                .await?
        } else {
            // Counted while it waits (the ticket gives the place back on any exit).
            self.jobs.waiting_requests.fetch_add(1, Ordering::SeqCst);
            let _waiting = QueueTicket(self.jobs.waiting_requests.clone());
            match tokio::time::timeout(self.jobs.sync_wait, acquire).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(ApiError::overloaded(5)),
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

    /// The bytes of an image input: 415 when it is stored media of another kind.
    pub(crate) async fn image_input(
        &self,
        ctx: &JobContext,
        url: &str,
        param: &'static str,
    ) -> ApiResult<Bytes> {
        let (bytes, kind) = ctx.unless_cancelled(self.read_input(url, param)).await?;
        match kind {
            Some(MediaKind::Image) | None => Ok(bytes),
            Some(_) => Err(ApiError::unsupported_media(format!(
                "{param} points at a video or audio file; an image is needed"
            ))
            .with_param(param)),
        }
    }

    /// The bytes of a video input (`video_url`): 415 when it is stored media of
    /// another kind, 503 without ffmpeg.
    pub(crate) async fn video_input(&self, ctx: &JobContext, url: &str) -> ApiResult<FfmpegInput> {
        self.engine()?;
        let (bytes, kind) = ctx
            .unless_cancelled(self.read_input(url, "video_url"))
            .await?;
        match kind {
            Some(MediaKind::Video) => Ok(FfmpegInput::Video {
                bytes,
                own: true,
                param: "video_url",
            }),
            None => Ok(FfmpegInput::Video {
                bytes,
                own: false,
                param: "video_url",
            }),
            Some(_) => Err(ApiError::unsupported_media(
                "video_url points at an image or audio file; a video is needed",
            )
            .with_param("video_url")),
        }
    }

    /// Runs CPU-bound image work on the blocking pool, within a job slot.
    async fn blocking<T, F>(&self, ctx: &JobContext, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce() -> ApiResult<T> + Send + 'static,
    {
        self.slot(ctx).await?;
        // The slot goes with the thread: a cancelled job stops waiting for it, and
        // the slot is free only once the thread is done.
        let permit = ctx.permit.lock().ok().and_then(|mut p| p.take());
        ctx.unless_cancelled(async {
            let (result, permit) = tokio::task::spawn_blocking(move || (work(), permit))
                .await
                .map_err(ApiError::internal)?;
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
    ) -> ApiResult<(Vec<u8>, (u32, u32))> {
        self.blocking(ctx, move || {
            let image = decode(&input).map_err(|e| ApiError::image_input(e, param))?;
            Ok((encode_jpeg(&image)?, image.dimensions()))
        })
        .await
    }

    /// Runs image work that returns a JPEG and its size, and stores it.
    pub(crate) async fn image_job<F>(&self, ctx: &JobContext, work: F) -> ApiResult<MediaRecord>
    where
        F: FnOnce() -> ApiResult<(Vec<u8>, (u32, u32))> + Send + 'static,
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
    ) -> ApiResult<MediaRecord> {
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
    /// path (with the input's probe, for a video) and the output path, and answers
    /// ffmpeg's arguments and the output's expected duration (for progress; 0 when
    /// unknown).
    pub(crate) async fn ffmpeg_job<F>(
        &self,
        ctx: &JobContext,
        input: FfmpegInput,
        kind: MediaKind,
        plan: F,
    ) -> ApiResult<MediaRecord>
    where
        F: FnOnce(&Path, Option<&ProbeInfo>, &Path) -> ApiResult<(Vec<OsString>, f64)>,
    {
        let engine = self.engine()?.clone();
        self.slot(ctx).await?;
        let scratch = Scratch::new(&self.work_dir)?;
        let (input_path, info, client_input) = match input {
            FfmpegInput::None => (scratch.path("input"), None, None),
            FfmpegInput::Jpeg(jpeg) => (scratch.write("input.jpg", &jpeg).await?, None, None),
            FfmpegInput::Video { bytes, own, param } => {
                let (path, info) = ctx
                    .unless_cancelled(self.probe_video(&scratch, &bytes, param))
                    .await?;
                (path, Some(info), (!own).then_some(param))
            }
        };
        let out = scratch.path(match kind {
            MediaKind::Image => "out.jpg",
            MediaKind::Video => "out.mp4",
            MediaKind::Audio => "out.mp3",
        });
        let (args, expected_seconds) = plan(&input_path, info.as_ref(), &out)?;
        let expected = (expected_seconds > 0.0).then_some(expected_seconds);
        let ran = ctx
            .unless_cancelled(async {
                engine
                    .ffmpeg(args, &ctx.progress, expected)
                    .await
                    .map_err(|err| engine_failure(err, client_input))
            })
            .await;
        if let Err(err) = ran {
            // ffmpeg stops when its output cannot be written: say why.
            if err.code != "cancelled" && scratch.is_full().await {
                return Err(ApiError::storage_full());
            }
            return Err(err);
        }
        self.store_output(&ctx.owner, kind, &out).await
    }

    /// Writes a video input to the scratch directory and probes it: 415 when it is
    /// not a video, 413 when it is too long.
    async fn probe_video(
        &self,
        scratch: &Scratch,
        bytes: &[u8],
        param: &str,
    ) -> ApiResult<(PathBuf, ProbeInfo)> {
        let engine = self.engine()?;
        let not_video = || {
            ApiError::unsupported_media(format!(
                "the bytes at {param} are not a supported video (MP4, MOV, WebM, Matroska)"
            ))
            .with_param(param)
        };
        if !sniff_video(bytes) {
            return Err(not_video());
        }
        let path = scratch.write("input", bytes).await?;
        let info = engine.probe(&path).await?.ok_or_else(not_video)?;
        if info.video_codec.is_none() || info.width.is_none() {
            return Err(not_video());
        }
        if info.duration.is_some_and(|d| d > MAX_INPUT_SECONDS) {
            return Err(ApiError::too_large(format!(
                "the video at {param} is longer than {MAX_INPUT_SECONDS} s"
            ))
            .with_param(param));
        }
        Ok((path, info))
    }

    /// Describes an output ffmpeg wrote and stores it as `kind` for `owner`.
    async fn store_output(
        &self,
        owner: &Owner,
        kind: MediaKind,
        path: &Path,
    ) -> ApiResult<MediaRecord> {
        let bytes = tokio::fs::read(path).await.map_err(ApiError::internal)?;
        self.check_quota(owner, bytes.len() as u64).await?;
        let probed = match kind {
            MediaKind::Image => {
                let (width, height) = imaging::dimensions(&bytes)
                    .ok_or_else(|| ApiError::internal("ffmpeg wrote an unreadable image"))?;
                Probed::image(width, height)
            }
            _ => self
                .engine()?
                .probe(path)
                .await?
                .ok_or_else(|| ApiError::internal("ffmpeg wrote an unreadable file"))?
                .probed(),
        };
        Ok(self
            .store
            .put(kind, &owner.0, Bytes::from(bytes), probed)
            .await?)
    }

    /// Stores an upload: an image is decoded with limits and stored as JPEG; a video
    /// is probed and stored as H.264 MP4 (remuxed when it already is H.264/yuv420p
    /// without sound, transcoded otherwise).
    pub(crate) async fn store_upload(
        &self,
        ctx: &JobContext,
        body: Bytes,
    ) -> ApiResult<MediaRecord> {
        if imaging::sniff_image(&body).is_some() {
            let (jpeg, size) = self.reencode_jpeg(ctx, body, "body").await?;
            return self.save_image(&ctx.owner, jpeg, size).await;
        }
        if !sniff_video(&body) {
            return Err(ApiError::unsupported_media(
                "the upload is not a supported image (JPEG, PNG, GIF, WebP) or video (MP4, MOV, WebM, Matroska)",
            )
            .with_param("body"));
        }
        let upload = FfmpegInput::Video {
            bytes: body,
            own: false,
            param: "body",
        };
        self.ffmpeg_job(ctx, upload, MediaKind::Video, |input, info, out| {
            // H.264/yuv420p without sound is kept as it is, only remuxed.
            let copy = info.is_some_and(|info| {
                info.video_codec.as_deref() == Some("h264")
                    && info.pixel_format.as_deref() == Some("yuv420p")
                    && !info.has_audio
            });
            Ok((video::normalize_args(input, copy, out), 0.0))
        })
        .await
    }
}
