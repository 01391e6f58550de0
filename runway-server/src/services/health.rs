//! Readiness: whether this server can take work now, and if not, why.

use super::App;
use crate::domain::{Error, ErrorCode, Result};

/// A ready server's task queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ready {
    /// Tasks waiting for a worker (on every replica).
    pub(crate) queued_tasks: usize,
    /// How many may wait.
    pub(crate) max_queued_tasks: usize,
}

impl App {
    /// Ready when the store takes a write (of the size that last failed for lack
    /// of space), the database answers, the scratch disk has room, ffmpeg was found and the task queue
    /// has room; else 503 `not_ready` naming every problem, retry after 5 s.
    pub(crate) async fn readiness(&self) -> Result<Ready> {
        let mut problems = Vec::new();
        match self.store.check_writable().await {
            Ok(()) => {}
            Err(err) if err.is_storage_full() => {
                problems.push("the storage is full: delete media or add space".to_owned());
            }
            Err(err) => problems.push(format!("the store is not writable ({err})")),
        }
        if let Err(err) = self.db.ping().await {
            problems.push(format!("the database does not answer ({err})"));
        }
        if let Err(err) = self.work.check_room().await {
            problems.push(format!(
                "the storage is full (the scratch disk: {err}): delete media, cancel work or add space"
            ));
        }
        if self.engine.is_none() {
            problems.push("ffmpeg and ffprobe were not found".to_owned());
        }
        let max = self.config.max_queued_tasks;
        let queued = self.pending_tasks().await.unwrap_or(0);
        if queued >= max {
            problems.push(format!("the task queue is full ({queued} of {max})"));
        }
        if !problems.is_empty() {
            return Err(Error::new(
                ErrorCode::NotReady,
                format!("not ready: {}", problems.join("; ")),
            )
            .with_retry_after(5));
        }
        Ok(Ready {
            queued_tasks: queued,
            max_queued_tasks: max,
        })
    }
}
