//! Tasks: a media operation run in the background through the same job pipeline
//! as a synchronous request, queued in the database so that any replica runs it.
//!
//! - **Creating** a task writes its row: the operation's checked input (the
//!   [`MediaOp`], as JSON), `pending`, and the media id its output will have. A
//!   replica's workers are woken at once (a PostgreSQL notification reaches the
//!   others); `--max-queued-tasks` bounds the pending rows (503 past it).
//! - **Workers** ([`worker`]): a replica whose role runs tasks claims the oldest
//!   runnable row whenever it has a free job slot, so no replica idles while
//!   another has work waiting.
//! - **Running** ([`runner`]): the runner renews its lease in the database (with
//!   the progress) every [`PERSIST_EVERY`], and stops as soon as a renewal finds
//!   the row no longer its own (cancelled, or taken over after its lease lapsed).
//!   A task whose worker died is claimed again by another once the lease
//!   (`--task-lease-secs`) lapses, up to `--task-max-attempts` times; only after
//!   the last reads it `failed` / `interrupted`. Every attempt stores its output
//!   under the same media id, and the one that finishes adds it to the owner's
//!   media with the task's end in one transaction: a re-run never leaves two.
//! - **Cancellation**, on any replica: `DELETE` marks the row `cancelled`; the
//!   runner sees it at its next renewal (at once when it runs on the same
//!   replica), kills the job and deletes what it stored.
//! - **Stopping**: a replica that stops gives its running tasks back to the
//!   queue, uncounted; an embedded database's one server takes back, at start,
//!   what its last run held.
//! - **Expiry**: finished tasks are removed after `--task-ttl-secs` by a sweep,
//!   and read as gone as soon as they are due.

pub(crate) mod events;
mod runner;
pub(crate) mod sweep;
pub(crate) mod worker;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::{Notify, watch};

use crate::domain::Owner;
use crate::domain::media::is_valid_id;
use crate::domain::op::MediaOp;
use crate::domain::task::{Operation, TASK_FORMAT, TaskError, TaskRecord, TaskStatus};
use crate::domain::{Error, ErrorCode, Result};
use crate::services::App;
use crate::storage::MediaStore;
use crate::storage::db::NewTask;

/// How often a running task's lease and progress are written, and so how soon
/// its runner sees a cancellation made on another replica.
pub(crate) const PERSIST_EVERY: Duration = Duration::from_millis(500);

/// A new task id: the creation time in milliseconds (hex, so ids sort by age) and
/// 64 random bits.
fn new_task_id(now: DateTime<Utc>) -> Result<String> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| Error::internal(format!("no random bytes: {e}")))?;
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("task_{:012x}_{random}", now.timestamp_millis()))
}

/// What a failed task keeps of its error: the error body its request would have had.
fn task_error(err: &Error) -> TaskError {
    TaskError {
        code: err.code.as_str().to_owned(),
        message: err.message.clone(),
        param: err.param.clone(),
    }
}

/// The error of a task whose every attempt was cut short.
pub(crate) fn interrupted() -> TaskError {
    TaskError {
        code: ErrorCode::Interrupted.as_str().to_owned(),
        message: "the task was cut short as often as it may run (its server stopped or \
                  died each time); nothing was stored: create it again"
            .to_owned(),
        param: None,
    }
}

/// What a page of tasks is filtered by.
#[derive(Debug, Default)]
pub(crate) struct TaskFilter {
    /// Only tasks created at or after this time.
    pub(crate) created_after: Option<DateTime<Utc>>,
    /// Only tasks created before this time.
    pub(crate) created_before: Option<DateTime<Utc>>,
}

/// A page of tasks, newest first.
#[derive(Debug)]
pub(crate) struct TaskPage {
    /// The tasks.
    pub(crate) tasks: Vec<TaskRecord>,
    /// Where the next page starts, when there is one.
    pub(crate) next_cursor: Option<String>,
}

/// A task this replica runs: how to cancel it and when it is done.
#[derive(Debug)]
struct Running {
    cancel: tokio_util::sync::CancellationToken,
    done: watch::Receiver<bool>,
}

/// This replica's task workers: its name in claims, how to wake them, and the
/// tasks they run right now.
#[derive(Debug)]
pub(crate) struct TaskRegistry {
    /// The name this replica's claims carry.
    worker: String,
    /// Woken when a task may be claimed.
    wake: std::sync::Arc<Notify>,
    running: Mutex<HashMap<String, Running>>,
}

impl Default for TaskRegistry {
    fn default() -> Self {
        let mut random = [0u8; 6];
        let _ = getrandom::fill(&mut random);
        let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            worker: format!("worker_{}_{random}", std::process::id()),
            wake: std::sync::Arc::default(),
            running: Mutex::default(),
        }
    }
}

impl TaskRegistry {
    fn insert(&self, id: &str, running: Running) {
        if let Ok(mut map) = self.running.lock() {
            map.insert(id.to_owned(), running);
        }
    }

    /// How many tasks run here.
    pub(crate) fn len(&self) -> usize {
        self.running.lock().map_or(0, |map| map.len())
    }

    /// Whether no task runs here.
    pub(crate) fn is_empty(&self) -> bool {
        self.running.lock().map_or(true, |map| map.is_empty())
    }

    fn remove(&self, id: &str) {
        if let Ok(mut map) = self.running.lock() {
            map.remove(id);
        }
    }

    /// Cancels task `id` if it runs here; the receiver says when it is done.
    fn cancel(&self, id: &str) -> Option<watch::Receiver<bool>> {
        let map = self.running.lock().ok()?;
        let running = map.get(id)?;
        running.cancel.cancel();
        Some(running.done.clone())
    }
}

impl App {
    fn task_ttl(&self) -> chrono::Duration {
        seconds(self.config.task_ttl_secs)
    }

    /// The lease a claim holds, in milliseconds (a century at most, so that the
    /// database's clock plus it stays a number).
    fn lease_ms(&self) -> i64 {
        const CENTURY_MS: i64 = 100 * 365 * 24 * 3600 * 1000;
        seconds(self.config.task_lease_secs)
            .num_milliseconds()
            .min(CENTURY_MS)
    }

    /// Queues `op` as a task of `owner`; answers it `pending`.
    pub(crate) async fn create_task(
        &self,
        owner: &Owner,
        operation: Operation,
        op: MediaOp,
    ) -> Result<TaskRecord> {
        self.check_quota(owner, 0).await?;
        let pending = self.pending_tasks().await?;
        let max = self.config.max_queued_tasks;
        if pending >= max {
            return Err(Error::overloaded(5).with_message(format!(
                "{max} tasks already wait for a job slot; retry after 5 s"
            )));
        }
        let now = Utc::now().trunc_subsecs(3);
        let id = new_task_id(now)?;
        let input = serde_json::to_string(&op).map_err(Error::internal)?;
        let output_id = MediaStore::new_id(operation.output_kind())?;
        self.db
            .insert_task(&NewTask {
                id: &id,
                owner: &owner.0,
                operation,
                input: &input,
                output_id: &output_id,
                max_attempts: self.config.task_max_attempts.max(1),
                created_ms: now.timestamp_millis(),
            })
            .await?;
        self.tasks.wake.notify_one();
        tracing::info!(task = %id, operation = operation.as_str(), "task created");
        metrics::counter!("runway_tasks_created_total").increment(1);
        // As created: a worker may have claimed it since, which a read shows.
        Ok(TaskRecord {
            format: TASK_FORMAT,
            id,
            operation,
            status: TaskStatus::Pending,
            progress: 0.0,
            created_at: now,
            started_at: None,
            finished_at: None,
            output: None,
            error: None,
            owner: owner.0.clone(),
            heartbeat_at: now,
        })
    }

    /// How many tasks wait for a worker, on every replica.
    pub(crate) async fn pending_tasks(&self) -> Result<usize> {
        let pending = self.db.pending_tasks().await?;
        Ok(usize::try_from(pending).unwrap_or(usize::MAX))
    }

    /// `owner`'s task `id`, as it stands; a finished one past its time is gone.
    pub(crate) async fn task_record(&self, owner: &Owner, id: &str) -> Result<Option<TaskRecord>> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let Some(task) = self.db.task(&owner.0, id).await? else {
            return Ok(None);
        };
        Ok(Some(task.record).filter(|record| !self.is_expired(record, Utc::now())))
    }

    /// Whether a finished task is past `--task-ttl-secs`.
    fn is_expired(&self, record: &TaskRecord, now: DateTime<Utc>) -> bool {
        record
            .finished_at
            .is_some_and(|finished| now - finished >= self.task_ttl())
    }

    /// `owner`'s task `id`, or 404.
    pub(crate) async fn get_task(&self, owner: &Owner, id: &str) -> Result<TaskRecord> {
        self.task_record(owner, id)
            .await?
            .ok_or_else(task_not_found)
    }

    /// Cancels `owner`'s task `id` when it is pending or running (and answers it
    /// `cancelled`), or deletes it when it is finished (and answers it as it was).
    /// Works on any replica: the one running the task sees its row change.
    pub(crate) async fn delete_task(&self, owner: &Owner, id: &str) -> Result<TaskRecord> {
        for _ in 0..3 {
            let record = self
                .task_record(owner, id)
                .await?
                .ok_or_else(task_not_found)?;
            if record.is_finished() {
                match self.db.delete_finished_task(&owner.0, id).await? {
                    Some(deleted) => return Ok(deleted.record),
                    None => return Err(task_not_found()),
                }
            }
            let Some(cancelled) = self.db.cancel_task(&owner.0, id).await? else {
                continue; // it finished meanwhile: look again
            };
            metrics::counter!("runway_tasks_finished_total", "status" => "cancelled").increment(1);
            tracing::info!(task = %id, "task cancelled");
            if let Some(mut done) = self.tasks.cancel(id) {
                // It runs here: answer once its job is gone (ffmpeg, scratch, media).
                let stopped = tokio::time::timeout(Duration::from_secs(30), async {
                    done.wait_for(|done| *done).await.is_ok()
                })
                .await;
                if stopped.is_err() {
                    tracing::warn!(task = %id, "a cancelled task's job did not stop within 30 s");
                }
            }
            return Ok(cancelled.record);
        }
        Err(Error::conflict(
            "this task is changing right now; retry in a moment",
        ))
    }

    /// A page of `owner`'s tasks, newest first, after `cursor`.
    pub(crate) async fn list_tasks(
        &self,
        owner: &Owner,
        filter: &TaskFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<TaskPage> {
        if let Some(cursor) = cursor
            && !is_valid_id(cursor)
        {
            return Err(Error::invalid(
                "cursor",
                "cursor is not a cursor this server gave",
            ));
        }
        let live_since = (Utc::now() - self.task_ttl()).timestamp_millis();
        let wanted = u32::try_from(limit).unwrap_or(u32::MAX).saturating_add(1);
        let mut tasks: Vec<TaskRecord> = self
            .db
            .task_page(
                &owner.0,
                live_since,
                (
                    filter.created_after.map(|t| t.timestamp_millis()),
                    filter.created_before.map(|t| t.timestamp_millis()),
                ),
                cursor,
                wanted,
            )
            .await?
            .into_iter()
            .map(|task| task.record)
            .collect();
        let next_cursor = if tasks.len() > limit {
            tasks.truncate(limit);
            tasks.last().map(|task| task.id.clone())
        } else {
            None
        };
        Ok(TaskPage { tasks, next_cursor })
    }

    /// Stops the workers and every task this replica runs, as the server stops:
    /// each goes back to the queue for another replica (or the next start).
    /// Waits up to `within` for them.
    pub(crate) async fn stop_tasks(&self, within: Duration) {
        self.shutdown.cancel();
        let deadline = tokio::time::Instant::now() + within;
        while !self.tasks.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `secs` as a duration; an absurdly large setting is simply "forever".
pub(crate) fn seconds(secs: u64) -> chrono::Duration {
    i64::try_from(secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .unwrap_or(chrono::Duration::MAX)
}

/// An error of a task's operation, with its parameter named inside `input` (as
/// the 422 at creation names it).
pub(crate) fn in_input(err: Error) -> Error {
    match err.param {
        Some(param) if !param.starts_with("input.") => {
            let param = format!("input.{param}");
            Error {
                param: Some(param),
                ..err
            }
        }
        _ => err,
    }
}

fn task_not_found() -> Error {
    Error::new(ErrorCode::NotFound, "no task with this id for this API key").with_param("task_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_sort_by_creation_and_are_valid_ids() {
        let earlier = new_task_id(DateTime::from_timestamp_millis(1_700_000_000_000).expect("t"))
            .expect("id");
        let later = new_task_id(DateTime::from_timestamp_millis(1_700_000_000_001).expect("t"))
            .expect("id");
        assert!(earlier < later, "{earlier} {later}");
        assert!(is_valid_id(&earlier), "{earlier}");
    }
}
