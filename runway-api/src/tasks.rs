//! Waiting for a task: [`Client::wait_for_task`].

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::{Client, RunwayError, types};

/// How long [`Client::wait_for_task`] waits by default.
pub const DEFAULT_TASK_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The first wait between two reads of a task; it grows to [`MAX_POLL_INTERVAL`].
const FIRST_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The longest wait between two reads of a task.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3);

type ProgressCallback<'a> = Box<dyn FnMut(&types::Task) + Send + 'a>;

/// A wait for a task to finish, from [`Client::wait_for_task`]; `.await` it.
/// ([`Client::start_task`] waits for a task as its operation's response.)
///
/// ```no_run
/// # use runway_api::{Client, RunwayError, types};
/// # async fn run(client: Client) -> Result<(), RunwayError> {
/// let task = client
///     .create_task()
///     .body(types::GenerateVideoRequest::builder().prompt("waves onto a beach").duration(5))
///     .send()
///     .await?;
/// let done = client
///     .wait_for_task(&task.id)
///     .on_progress(|task| println!("{:.0}%", task.progress * 100.0))
///     .await?;
/// println!("{:?}", done.output.as_ref().and_then(|o| o.media_url()));
/// # Ok(()) }
/// ```
#[must_use = "a task wait does nothing until it is awaited"]
pub struct TaskWait<'a> {
    client: &'a Client,
    task_id: String,
    timeout: Option<Duration>,
    on_progress: Option<ProgressCallback<'a>>,
    /// The status and progress last reported.
    last_seen: Option<(types::TaskStatus, f64)>,
}

impl<'a> TaskWait<'a> {
    /// Gives up after `timeout` with [`RunwayError::TaskTimedOut`] (default 10 min).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Waits as long as the task takes.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Calls `callback` with the task each time its status or progress changes.
    pub fn on_progress(mut self, callback: impl FnMut(&types::Task) + Send + 'a) -> Self {
        self.on_progress = Some(Box::new(callback));
        self
    }

    async fn run(mut self) -> Result<types::Task, RunwayError> {
        let started = Instant::now();
        let deadline = self.timeout.map(|timeout| started + timeout);
        let mut last_read = None;
        if let Some(done) = self.follow_events(started, deadline, &mut last_read).await {
            return done;
        }
        self.poll(started, deadline, last_read).await
    }

    /// Calls the progress callback when `task`'s status or progress changed.
    fn report(&mut self, task: &types::Task) {
        if self.last_seen != Some((task.status, task.progress)) {
            self.last_seen = Some((task.status, task.progress));
            if let Some(callback) = self.on_progress.as_mut() {
                callback(task);
            }
        }
    }

    /// Follows the server's event stream to the task's end: `None` when the
    /// server offers none (an older server), or it ended early: then the caller
    /// polls, from `last_read`.
    async fn follow_events(
        &mut self,
        started: Instant,
        deadline: Option<Instant>,
        last_read: &mut Option<types::Task>,
    ) -> Option<Result<types::Task, RunwayError>> {
        let client = self.client;
        let events = client.task_events(self.task_id.clone());
        let mut events = std::pin::pin!(events);
        loop {
            let next = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, events.next()).await {
                        Ok(next) => next,
                        Err(_) => return Some(Err(self.timed_out(last_read.take(), started))),
                    }
                }
                None => events.next().await,
            };
            let task = match next {
                Some(Ok(task)) => task,
                // No stream here, or it ended early: read the task instead.
                Some(Err(_)) | None => return None,
            };
            self.report(&task);
            if is_final(&task) {
                return Some(outcome(task));
            }
            *last_read = Some(task);
        }
    }

    /// Reads the task with growing, jittered pauses until it ends.
    async fn poll(
        mut self,
        started: Instant,
        deadline: Option<Instant>,
        mut last_read: Option<types::Task>,
    ) -> Result<types::Task, RunwayError> {
        let mut interval = FIRST_POLL_INTERVAL;
        loop {
            let read = self.client.get_task().task_id(self.task_id.as_str()).send();
            // A read never outlasts the wait's deadline.
            let task = match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left.max(Duration::from_secs(1)), read).await {
                        Ok(read) => read?.into_inner(),
                        Err(_) => return Err(self.timed_out(last_read, started)),
                    }
                }
                None => read.await?.into_inner(),
            };
            self.report(&task);
            if is_final(&task) {
                return outcome(task);
            }
            let task = last_read.insert(task);
            // Jitter spreads the polls of many waiting clients; the last pause ends
            // at the deadline, for one last read.
            let mut wait = interval.mul_f64(0.8 + fastrand::f64() * 0.4);
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let task = task.clone();
                    return Err(self.timed_out(Some(task), started));
                }
                wait = wait.min(left);
            }
            tokio::time::sleep(wait).await;
            interval = (interval * 2).min(MAX_POLL_INTERVAL);
        }
    }

    fn timed_out(&self, task: Option<types::Task>, started: Instant) -> RunwayError {
        RunwayError::TaskTimedOut {
            task_id: self.task_id.clone(),
            task: task.map(Box::new),
            waited: started.elapsed(),
        }
    }
}

/// Whether `task` has ended.
pub(crate) fn is_final(task: &types::Task) -> bool {
    !matches!(
        task.status,
        types::TaskStatus::Pending | types::TaskStatus::Running
    )
}

/// How a finished task ended: itself when it succeeded, else the error that
/// carries it.
fn outcome(task: types::Task) -> Result<types::Task, RunwayError> {
    match task.status {
        types::TaskStatus::Failed => Err(RunwayError::TaskFailed {
            task: Box::new(task),
        }),
        types::TaskStatus::Cancelled => Err(RunwayError::TaskCancelled {
            task: Box::new(task),
        }),
        _ => Ok(task),
    }
}

impl<'a> IntoFuture for TaskWait<'a> {
    type Output = Result<types::Task, RunwayError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

impl Client {
    /// Waits until task `task_id` finishes: its final state when it succeeded,
    /// [`RunwayError::TaskFailed`] or [`RunwayError::TaskCancelled`] (both carry the
    /// task and its error body) otherwise, [`RunwayError::TaskTimedOut`] after the
    /// timeout (10 min unless set). Follows the task's events when the server
    /// sends them ([`Client::task_events`]); otherwise (an older server) reads the
    /// task with growing, jittered pauses (250 ms up to 3 s), reads that meet 429
    /// or 503 waiting as `Retry-After` says.
    pub fn wait_for_task(&self, task_id: impl AsRef<str>) -> TaskWait<'_> {
        TaskWait {
            client: self,
            task_id: task_id.as_ref().to_owned(),
            timeout: Some(DEFAULT_TASK_TIMEOUT),
            on_progress: None,
            last_seen: None,
        }
    }
}
