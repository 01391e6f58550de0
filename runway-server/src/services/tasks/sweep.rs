//! Task records whose time is up: finished ones past `--task-ttl-secs` are
//! removed, unfinished ones whose runner is gone read `failed` / `interrupted`
//! (at start on the local store, or once their lease lapsed).

use chrono::Utc;

use super::interrupt;
use crate::domain::Result;
use crate::domain::task::TaskRecord;
use crate::services::App;
use crate::services::background::Sweep;
use crate::storage::Versioned;

/// Finished task records past `--task-ttl-secs` (and tasks whose runner died).
pub(crate) struct ExpiredTasks;

impl Sweep for ExpiredTasks {
    const REMOVES: &'static str = "expired task records";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        app.sweep_expired_tasks(budget).await
    }
}

impl App {
    /// At start-up on the local store: every task that was pending or running when
    /// the server stopped reads `failed`/`interrupted` (nothing else can run them).
    pub(crate) async fn interrupt_unfinished_tasks(&self) -> Result<usize> {
        let now = Utc::now();
        let mut interrupted = 0;
        for path in self.store.list_docs("tasks").await? {
            let Some(Versioned {
                doc: mut record, ..
            }) = self.readable_task(&path).await
            else {
                continue;
            };
            if !record.is_finished() {
                interrupt(&mut record, now);
                self.store.put_doc(&path, &record).await?;
                interrupted += 1;
            }
        }
        Ok(interrupted)
    }

    /// The task record at `path`; one that cannot be read is logged and skipped, so
    /// that it stops no sweep.
    async fn readable_task(&self, path: &str) -> Option<Versioned<TaskRecord>> {
        match self.store.get_doc_versioned::<TaskRecord>(path).await {
            Ok(record) => record,
            Err(err) => {
                tracing::warn!(%path, %err, "unreadable task record skipped");
                None
            }
        }
    }

    /// Removes finished tasks past their time, at most `budget` of them, and marks
    /// tasks whose runner is gone `failed`/`interrupted` (so that they expire too).
    pub(crate) async fn sweep_expired_tasks(&self, budget: usize) -> Result<usize> {
        let now = Utc::now();
        let mut removed = 0;
        for path in self.store.list_docs("tasks").await? {
            if removed == budget {
                break;
            }
            let Some(found) = self.readable_task(&path).await else {
                continue;
            };
            let record = &found.doc;
            if !record.is_finished() {
                if self.is_lapsed(record, now) {
                    let mut record = found.doc;
                    interrupt(&mut record, now);
                    // Lost to a writer that came first: fine, the next pass looks again.
                    self.store
                        .replace_doc(&path, &record, &found.version)
                        .await?;
                }
                continue;
            }
            let finished = record.finished_at.unwrap_or(record.heartbeat_at);
            if now - finished >= self.task_ttl() {
                self.store.delete_doc(&path).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
