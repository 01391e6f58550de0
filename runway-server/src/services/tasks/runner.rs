//! The runner of a claimed task: its job, with the lease and progress renewed as
//! it runs, and how it ended, written only while the claim holds.

use super::{PERSIST_EVERY, in_input, task_error};
use crate::domain::media::MediaKind;
use crate::domain::op::MediaOp;
use crate::domain::task::TaskStatus;
use crate::domain::{Error, MediaRecord};
use crate::services::App;
use crate::services::jobs::JobContext;
use std::time::{Duration, Instant};

use crate::storage::db::{Claim, DbError, Finished, QueuedTask};

impl App {
    /// Runs a claimed task's job, renewing the claim, and records how it ended;
    /// stops as soon as the row is no longer the claim's (cancelled, or taken
    /// over after the lease lapsed), and gives the task back when the server
    /// stops.
    pub(super) async fn run_claimed(&self, claim: Claim, task: QueuedTask, ctx: JobContext) {
        let op: MediaOp = match serde_json::from_str(&task.input) {
            Ok(op) => op,
            Err(err) => {
                let err = Error::internal(format!("the task's stored input cannot be read: {err}"));
                self.record_failure(&claim, &err).await;
                return;
            }
        };
        let job = op.run(self, &ctx);
        tokio::pin!(job);
        let mut stopping = false;
        let mut lost = false;
        let mut tick = tokio::time::interval(PERSIST_EVERY);
        let result = loop {
            tokio::select! {
                result = &mut job => break result,
                () = self.shutdown.cancelled(), if !stopping => {
                    // The server stops: the job stops with it; the task goes back.
                    stopping = true;
                    ctx.cancel.cancel();
                }
                () = ctx.cancel.cancelled(), if !lost && !stopping => {
                    // Cancelled through this replica: the row says so already.
                    lost = true;
                }
                _ = tick.tick(), if !lost => {
                    let progress = (ctx.progress.get() * 100.0).round() / 100.0;
                    match self.db.renew_claim(&claim, progress, self.lease_ms()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost = true;
                            ctx.cancel.cancel();
                        }
                        Err(err) => {
                            tracing::warn!(task = %claim.task_id, %err, "cannot renew the task's lease");
                        }
                    }
                }
            }
        };
        match result {
            Ok(media) if !lost => self.record_success(&claim, &task, media).await,
            Ok(_) => self.after_lost(&claim, &task).await,
            Err(_) if lost => self.after_lost(&claim, &task).await,
            Err(_) if stopping => match self.db.release_claim(&claim).await {
                Ok(true) => {
                    tracing::info!(task = %claim.task_id, "task given back to the queue as the server stops")
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(task = %claim.task_id, %err, "cannot give the task back; its lease will lapse")
                }
            },
            Err(err) => {
                crate::services::log_failure(&format!("task {}", claim.task_id), &err);
                if self.record_failure(&claim, &in_input(err)).await {
                    // An earlier attempt may have stored bytes under the id.
                    self.discard_output(&task.output_id).await;
                }
            }
        }
    }

    /// Records a success: the output joins its owner's media with the task's end;
    /// over the quota, the task fails and the output goes.
    async fn record_success(&self, claim: &Claim, task: &QueuedTask, media: MediaRecord) {
        let url = self.media_url(&media);
        let quota = self.config.quota_bytes;
        let finished = self
            .while_unavailable(|| self.db.finish_succeeded(claim, &media, &url, quota))
            .await;
        match finished {
            Ok(Finished::Recorded) => {
                tracing::info!(task = %claim.task_id, "task succeeded");
                metrics::counter!("runway_tasks_finished_total", "status" => "succeeded")
                    .increment(1);
            }
            Ok(Finished::Lost) => self.after_lost(claim, task).await,
            Ok(Finished::OverQuota(used)) => {
                self.discard_output(&media.id).await;
                let quota = self.config.quota_bytes.unwrap_or(0);
                self.record_failure(claim, &Error::quota_exceeded(used, quota))
                    .await;
            }
            Err(err) => {
                // The lease will lapse and another attempt run the task again.
                tracing::error!(task = %claim.task_id, %err, "cannot record the task's end");
            }
        }
    }

    /// Records a failure with `err`; whether the row took it.
    async fn record_failure(&self, claim: &Claim, err: &Error) -> bool {
        let error = task_error(err);
        match self
            .while_unavailable(|| self.db.finish_failed(claim, &error))
            .await
        {
            Ok(Finished::Recorded) => {
                metrics::counter!("runway_tasks_finished_total", "status" => "failed").increment(1);
                tracing::info!(task = %claim.task_id, code = err.code.as_str(), "task failed");
                true
            }
            Ok(_) => false,
            Err(db) => {
                tracing::error!(task = %claim.task_id, err = %db, "cannot record the task's failure");
                false
            }
        }
    }

    /// After the row stopped being the claim's: when the task was cancelled (or
    /// deleted), what this attempt stored goes; when another attempt holds it
    /// (or finished it), the output id is that attempt's, and stays.
    async fn after_lost(&self, claim: &Claim, task: &QueuedTask) {
        let now = self.db.task(&task.record.owner, &claim.task_id).await;
        let cancelled = match &now {
            Ok(Some(now)) => now.record.status == TaskStatus::Cancelled,
            Ok(None) => true,
            Err(_) => false,
        };
        if cancelled {
            self.discard_output(&task.output_id).await;
        }
        tracing::info!(task = %claim.task_id, "task stopped: it was cancelled or taken over");
    }

    /// Runs `write` (a task's end), and again every half second while the
    /// database is unavailable, for as long as the claim's lease would last: an
    /// outage does not lose the end (past the lease, the task runs again).
    async fn while_unavailable<T, F, Fut>(&self, mut write: F) -> Result<T, DbError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DbError>>,
    {
        let lease = Duration::from_millis(u64::try_from(self.lease_ms()).unwrap_or(0));
        let give_up = Instant::now().checked_add(lease);
        loop {
            match write().await {
                Err(DbError::Unavailable(err))
                    if give_up.is_none_or(|at| Instant::now() < at)
                        && !self.shutdown.is_cancelled() =>
                {
                    tracing::warn!(%err, "the database is unavailable; writing the task's end again shortly");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    /// Deletes the bytes stored under a task's output id, if any (never in the
    /// index: only a finished task's output is).
    pub(super) async fn discard_output(&self, output_id: &str) {
        let Some(kind) = MediaKind::of_id(output_id) else {
            return;
        };
        if let Err(err) = self.store.delete_stored(kind, output_id).await {
            tracing::warn!(media = %output_id, %err, "cannot delete a task's unkept output");
        }
    }
}
