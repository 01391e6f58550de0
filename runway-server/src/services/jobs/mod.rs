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

pub(crate) mod inputs;
mod pipeline;

pub(crate) use inputs::{FfmpegInput, InputFile};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::domain::{Error, Owner, Result};
use crate::media::engine::Progress;
use crate::services::App;

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
