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
//!    then gets 503; a task waits in the database's queue, and a worker claims it
//!    only once it holds a free slot ([`crate::services::tasks`]).
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
//! interrupted; the task runner deletes what a cancelled job stored. A task's
//! output is stored under the media id its row names (a re-run replaces it) and
//! added to the owner's index by the runner, with the task's end, in one
//! transaction.

pub(crate) mod inputs;
mod pipeline;

pub(crate) use inputs::{FfmpegInput, InputFile};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::domain::{Error, Owner, Result};
use crate::media::engine::Progress;
use crate::services::App;

/// The job slots of this replica.
#[derive(Debug)]
pub(crate) struct JobQueue {
    slots: Arc<Semaphore>,
    max_jobs: usize,
    /// Synchronous requests waiting for a slot.
    waiting_requests: Arc<AtomicUsize>,
    sync_wait: Duration,
}

impl JobQueue {
    /// `max_jobs` slots; a synchronous job waits at most `sync_wait` for one.
    pub(crate) fn new(max_jobs: usize, sync_wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max_jobs.max(1))),
            max_jobs: max_jobs.max(1),
            waiting_requests: Arc::default(),
            sync_wait,
        }
    }

    /// A free slot, once there is one (for a task worker, before it claims).
    pub(crate) async fn free_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// How many jobs hold a slot.
    pub(crate) fn running(&self) -> usize {
        self.max_jobs - self.slots.available_permits()
    }

    /// How many synchronous requests wait for a slot.
    pub(crate) fn waiting_requests(&self) -> usize {
        self.waiting_requests.load(Ordering::SeqCst)
    }
}

/// A waiting request's place, given back when it gets a slot or ends.
#[derive(Debug)]
struct QueueTicket(Arc<AtomicUsize>);

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
    /// A task's job: it holds its slot from the start, stores its output under
    /// this media id, and leaves adding it to the index to the runner.
    task_output: Option<String>,
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
            task_output: None,
            permit: Mutex::new(None),
        }
    }

    /// A claimed task's job: it runs in `slot`, and stores its output as media
    /// `output_id`.
    pub(crate) fn task(owner: Owner, slot: OwnedSemaphorePermit, output_id: String) -> Self {
        Self {
            task_output: Some(output_id),
            permit: Mutex::new(Some(slot)),
            ..Self::sync(owner)
        }
    }

    /// The media id a task's output is stored under (`None`: a new one).
    pub(crate) fn output_id(&self) -> Option<&str> {
        self.task_output.as_deref()
    }

    /// Runs `work` unless the job is cancelled first.
    pub(crate) async fn unless_cancelled<T>(
        &self,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Error::cancelled()),
            result = work => result,
        }
    }
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
        // Counted while it waits (the ticket gives the place back on any exit).
        self.jobs.waiting_requests.fetch_add(1, Ordering::SeqCst);
        let waiting = QueueTicket(self.jobs.waiting_requests.clone());
        let permit = match tokio::time::timeout(self.jobs.sync_wait, acquire).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(Error::overloaded(5)),
        };
        drop(waiting);
        if let Ok(mut slot) = ctx.permit.lock() {
            *slot = Some(permit);
        }
        Ok(())
    }

    /// Runs CPU-bound image work on the blocking pool, within a job slot.
    pub(crate) async fn blocking<T, F>(&self, ctx: &JobContext, work: F) -> Result<T>
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
}
