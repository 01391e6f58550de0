//! The runner of a task: its job, with the record kept up to date as it runs
//! (status, progress, heartbeat), and how it ended; it stops as soon as another
//! server changes the record.

use chrono::{SubsecRound, Utc};

use super::{PERSIST_EVERY, in_input, interrupt, task_error, task_path};
use crate::domain::media::MediaRecord;
use crate::domain::op::MediaOp;
use crate::domain::task::{TaskOutput, TaskRecord, TaskStatus};
use crate::services::App;
use crate::services::jobs::JobContext;
use crate::storage::DocVersion;

impl App {
    /// Runs a task's job, keeping its record up to date, and writes how it ended;
    /// stops as soon as another server changed the record (cancelled it, or took
    /// this runner for dead).
    pub(super) async fn run_task(
        &self,
        mut record: TaskRecord,
        mut version: DocVersion,
        op: MediaOp,
        ctx: JobContext,
    ) {
        let path = task_path(&record.owner, &record.id);
        // A task takes its slot before it reads its inputs: waiting tasks hold no media.
        let job = async {
            self.slot(&ctx).await?;
            op.run(self, &ctx).await
        };
        tokio::pin!(job);
        let mut interrupted = false;
        let mut changed_elsewhere = false;
        let mut tick = tokio::time::interval(PERSIST_EVERY);
        let heartbeat = self.task_lease() / 3;
        let result = loop {
            tokio::select! {
                result = &mut job => break result,
                () = self.shutdown.cancelled(), if !interrupted => {
                    // The server stops: the job stops with it, and says so.
                    interrupted = true;
                    ctx.cancel.cancel();
                }
                _ = tick.tick(), if !changed_elsewhere => {
                    let now = Utc::now().trunc_subsecs(3);
                    let mut changed = false;
                    if ctx.has_started() && record.status == TaskStatus::Pending {
                        record.status = TaskStatus::Running;
                        record.started_at = Some(now);
                        changed = true;
                    }
                    let progress = (ctx.progress.get() * 100.0).round() / 100.0;
                    if progress > record.progress {
                        record.progress = progress;
                        changed = true;
                    }
                    let current = if changed || now - record.heartbeat_at >= heartbeat {
                        record.heartbeat_at = now;
                        self.store.replace_doc(&path, &record, &version).await
                    } else {
                        // Nothing to write: has another server written?
                        self.store
                            .doc_version(&path)
                            .await
                            .map(|found| found.filter(|found| *found == version))
                    };
                    match current {
                        Ok(Some(current)) => version = current,
                        Ok(None) => {
                            changed_elsewhere = true;
                            ctx.cancel.cancel();
                        }
                        Err(err) => {
                            tracing::warn!(task = %record.id, %err, "cannot update the task record");
                        }
                    }
                }
            }
        };
        if changed_elsewhere {
            if let Ok(media) = &result {
                self.discard(media).await;
            }
            tracing::info!(task = %record.id, "task stopped: another server cancelled it or took it for dead");
            return;
        }
        let now = Utc::now().trunc_subsecs(3);
        if record.started_at.is_none() && ctx.has_started() {
            record.started_at = Some(now);
        }
        let stored = result.as_ref().ok().cloned();
        if interrupted {
            interrupt(&mut record, now);
        } else {
            match result {
                Ok(media) => {
                    record.status = TaskStatus::Succeeded;
                    record.progress = 1.0;
                    record.output = Some(TaskOutput::new(record.operation, self.media_url(&media)));
                }
                Err(err) => {
                    crate::services::log_failure(&format!("task {}", record.id), &err);
                    record.status = TaskStatus::Failed;
                    record.error = Some(task_error(&in_input(err)));
                }
            }
        }
        record.finished_at = Some(now);
        record.heartbeat_at = now;
        let written = self.store.replace_doc(&path, &record, &version).await;
        let kept = matches!(written, Ok(Some(_)));
        if let Some(media) = stored.filter(|_| !kept || interrupted) {
            // Cancelled or taken over at the last moment, or interrupted: nobody
            // will be given this media.
            self.discard(&media).await;
        }
        match written {
            Ok(Some(_)) => {
                tracing::info!(task = %record.id, status = record.status.as_str(), "task finished");
                metrics::counter!("runway_tasks_finished_total", "status" => record.status.as_str())
                    .increment(1);
            }
            Ok(None) => {
                tracing::info!(task = %record.id, "task stopped: another server cancelled it or took it for dead");
            }
            Err(err) => {
                tracing::error!(task = %record.id, %err, "cannot write the end of a task");
            }
        }
    }

    /// Deletes media a cancelled job stored before it saw the cancellation.
    async fn discard(&self, media: &MediaRecord) {
        if let Err(err) = self.store.delete(media).await {
            tracing::warn!(id = %media.id, %err, "cannot delete the media of a cancelled task");
        }
    }
}
