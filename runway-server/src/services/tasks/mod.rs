//! Tasks: a media operation run in the background through the same job pipeline as
//! a synchronous request, with its record in the store.
//!
//! - **Records** live at `tasks/{owner}/{id}.json`: the contract's `Task` plus the
//!   owner and a heartbeat. Keyed by owner, so another key's task is simply not
//!   there (404), and a caller's list is one prefix.
//! - **One writer at a time**: the server that accepted a task runs it and writes
//!   its record while it runs: `pending`, then `running` when it gets a job slot,
//!   progress at most every [`PERSIST_EVERY`], a heartbeat, the end. Every write is
//!   a compare-and-swap on the record's version, so two servers never both win.
//! - **Cancellation**, on any server: `DELETE` writes `cancelled` (a swap on the
//!   version it read) and answers it. The runner sees its record change (its next
//!   write fails, or its check every [`PERSIST_EVERY`] does), kills the job (ffmpeg,
//!   the scratch directory) and deletes any media the job had stored.
//! - **Interruption**: a task whose runner stopped (crash, restart) reads `failed`
//!   with code `interrupted`: at start-up for the local store (one server owns its
//!   data directory), and, on any store, when a read or the sweep finds a heartbeat
//!   older than the lease (`--task-lease-secs`). That write is a swap too: a runner
//!   that was only slow loses its record and stops.
//! - **Expiry**: finished tasks are removed after `--task-ttl-secs` by a sweep, and
//!   read as gone as soon as they are due.

mod runner;
pub(crate) mod sweep;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::watch;

use crate::domain::Owner;
use crate::domain::media::is_valid_id;
use crate::domain::op::MediaOp;
use crate::domain::task::{Operation, TASK_FORMAT, TaskError, TaskRecord, TaskStatus};
use crate::domain::{Error, ErrorCode, Result};
use crate::services::App;
use crate::services::jobs::JobContext;
use crate::storage::Versioned;

/// How often a running task's record is brought up to date, at most.
pub(crate) const PERSIST_EVERY: Duration = Duration::from_millis(500);

fn task_path(owner: &str, id: &str) -> String {
    format!("tasks/{owner}/{id}.json")
}

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

/// The tasks this replica runs right now.
#[derive(Debug, Default)]
pub(crate) struct TaskRegistry(Mutex<HashMap<String, Running>>);

impl TaskRegistry {
    fn insert(&self, id: &str, running: Running) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(id.to_owned(), running);
        }
    }

    /// How many tasks run here (pending or running).
    pub(crate) fn len(&self) -> usize {
        self.0.lock().map_or(0, |map| map.len())
    }

    fn contains(&self, id: &str) -> bool {
        self.0.lock().is_ok_and(|map| map.contains_key(id))
    }

    /// Whether no task runs here.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.lock().map_or(true, |map| map.is_empty())
    }

    fn remove(&self, id: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(id);
        }
    }

    /// Cancels task `id` if it runs here; the receiver says when it is done.
    fn cancel(&self, id: &str) -> Option<watch::Receiver<bool>> {
        let map = self.0.lock().ok()?;
        let running = map.get(id)?;
        running.cancel.cancel();
        Some(running.done.clone())
    }
}

impl App {
    fn task_ttl(&self) -> chrono::Duration {
        seconds(self.config.task_ttl_secs)
    }

    fn task_lease(&self) -> chrono::Duration {
        seconds(self.config.task_lease_secs)
    }

    /// Checks `request`, creates its task and starts it in the background.
    pub(crate) async fn create_task(
        &self,
        owner: &Owner,
        operation: Operation,
        op: MediaOp,
    ) -> Result<TaskRecord> {
        self.check_quota(owner, 0).await?;
        let ticket = self.jobs.enqueue_task()?;
        let now = Utc::now().trunc_subsecs(3);
        let record = TaskRecord {
            format: TASK_FORMAT,
            id: new_task_id(now)?,
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
        };
        let version = self
            .store
            .put_doc(&task_path(&owner.0, &record.id), &record)
            .await?;
        let ctx = JobContext::task(owner.clone(), ticket);
        let (done_tx, done_rx) = watch::channel(false);
        self.tasks.insert(
            &record.id,
            Running {
                cancel: ctx.cancel.clone(),
                done: done_rx,
            },
        );
        tracing::info!(task = %record.id, operation = operation.as_str(), "task created");
        metrics::counter!("runway_tasks_created_total").increment(1);
        let task = record.clone();
        let state = self.clone();
        tokio::spawn(async move {
            let id = record.id.clone();
            state.run_task(record, version, op, ctx).await;
            state.tasks.remove(&id);
            let _ = done_tx.send(true);
        });
        Ok(task)
    }

    /// The record of `owner`'s task `id`, as it stands: a task whose runner stopped
    /// is `failed`/`interrupted`, a finished one past its time is gone.
    async fn task_record(&self, owner: &Owner, id: &str) -> Result<Option<TaskRecord>> {
        Ok(self.versioned_task(owner, id).await?.map(|found| found.doc))
    }

    /// [`Self::task_record`] with the version it was read at.
    async fn versioned_task(
        &self,
        owner: &Owner,
        id: &str,
    ) -> Result<Option<Versioned<TaskRecord>>> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let path = task_path(&owner.0, id);
        // Twice at most: a record that changed while it was taken for dead is
        // read again as its runner wrote it.
        for _ in 0..2 {
            let Some(mut found) = self.store.get_doc_versioned::<TaskRecord>(&path).await? else {
                return Ok(None);
            };
            let now = Utc::now();
            if found.doc.is_finished() {
                let finished = found.doc.finished_at.unwrap_or(found.doc.heartbeat_at);
                return Ok((now - finished < self.task_ttl()).then_some(found));
            }
            if !self.is_lapsed(&found.doc, now) {
                return Ok(Some(found));
            }
            interrupt(&mut found.doc, now);
            if let Some(version) = self
                .store
                .replace_doc(&path, &found.doc, &found.version)
                .await?
            {
                found.version = version;
                return Ok(Some(found));
            }
        }
        Err(Error::conflict(
            "this task's record is changing right now; retry in a moment",
        ))
    }

    /// Whether an unfinished task's runner is taken for dead: its heartbeat is older
    /// than the lease, and it does not run on this server.
    fn is_lapsed(&self, record: &TaskRecord, now: DateTime<Utc>) -> bool {
        now - record.heartbeat_at > self.task_lease() && !self.tasks.contains(&record.id)
    }

    /// `owner`'s task `id`, or 404.
    pub(crate) async fn get_task(&self, owner: &Owner, id: &str) -> Result<TaskRecord> {
        self.task_record(owner, id)
            .await?
            .ok_or_else(task_not_found)
    }

    /// Cancels `owner`'s task `id` when it is pending or running (and answers it
    /// `cancelled`), or deletes it when it is finished (and answers it as it was).
    /// Works on any server: the one running the task sees its record change.
    pub(crate) async fn delete_task(&self, owner: &Owner, id: &str) -> Result<TaskRecord> {
        let path = task_path(&owner.0, id);
        for _ in 0..3 {
            let Versioned {
                doc: mut record,
                version,
            } = self
                .versioned_task(owner, id)
                .await?
                .ok_or_else(task_not_found)?;
            if record.is_finished() {
                self.store.delete_doc(&path).await?;
                return Ok(record);
            }
            let now = Utc::now().trunc_subsecs(3);
            record.status = TaskStatus::Cancelled;
            record.finished_at = Some(now);
            record.heartbeat_at = now;
            if self
                .store
                .replace_doc(&path, &record, &version)
                .await?
                .is_none()
            {
                continue; // its runner wrote meanwhile: look again
            }
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
            return Ok(record);
        }
        Err(Error::conflict(
            "this task's record is changing right now; retry in a moment",
        ))
    }

    /// A page of `owner`'s tasks, newest first, after `cursor`.
    pub(crate) async fn list_tasks(
        &self,
        owner: &Owner,
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
        let prefix = format!("tasks/{}", owner.0);
        let mut ids: Vec<String> = self
            .store
            .list_docs(&prefix)
            .await?
            .into_iter()
            .filter_map(|path| {
                let name = path.rsplit('/').next()?;
                Some(name.strip_suffix(".json")?.to_owned())
            })
            .filter(|id| cursor.is_none_or(|cursor| id.as_str() < cursor))
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut data: Vec<TaskRecord> = Vec::with_capacity(limit.min(ids.len()));
        let mut next_cursor = None;
        for id in ids {
            let Some(record) = self.task_record(owner, &id).await? else {
                continue; // expired since it was listed
            };
            if data.len() == limit {
                // There is at least one more: the page ends at its last task.
                next_cursor = data.last().map(|task| task.id.clone());
                break;
            }
            data.push(record);
        }
        Ok(TaskPage {
            tasks: data,
            next_cursor,
        })
    }

    /// Cancels every task this server runs, as the server stops: each is recorded
    /// `failed` / `interrupted`. Waits up to `within` for their records.
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

/// Marks a task whose runner stopped as failed.
fn interrupt(record: &mut TaskRecord, now: DateTime<Utc>) {
    record.status = TaskStatus::Failed;
    record.finished_at = Some(now.trunc_subsecs(3));
    record.error = Some(TaskError {
        code: ErrorCode::Interrupted.as_str().to_owned(),
        message: "the server stopped while the task ran; nothing was stored: create it again"
            .to_owned(),
        param: None,
    });
    record.heartbeat_at = now.trunc_subsecs(3);
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
