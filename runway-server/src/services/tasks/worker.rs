//! A replica's task worker: while tasks wait to be claimed, it takes a free job
//! slot, claims the oldest runnable task with it and starts its runner; with
//! nothing to claim it waits for a wake-up (a task created here, a PostgreSQL
//! notification from another replica) or [`POLL_EVERY`], whichever comes first.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Running, interrupted};
use crate::domain::Owner;
use crate::services::App;
use crate::services::jobs::JobContext;
use crate::storage::db::{Claim, QueuedTask};

/// How often an idle worker looks for work without being woken (a lost
/// notification, a lease that lapsed).
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(1);

/// At most this many tasks are failed at once for lack of attempts.
const FAIL_BATCH: u32 = 100;

impl App {
    /// Claims and starts tasks until the server stops.
    pub(crate) async fn work_tasks(self) {
        let wake = self.tasks.wake.clone();
        let listener = self
            .db
            .listen_for_tasks(wake.clone(), self.shutdown.clone())
            .await;
        let mut last_upkeep: Option<Instant> = None;
        loop {
            if last_upkeep.is_none_or(|at| at.elapsed() >= POLL_EVERY) {
                self.fail_exhausted_tasks().await;
                last_upkeep = Some(Instant::now());
            }
            // A job slot is taken only when there is work to claim with it, so
            // that looking for work never keeps a synchronous request waiting.
            while self.has_runnable_task().await {
                let slot = tokio::select! {
                    () = self.shutdown.cancelled() => break,
                    slot = self.jobs.free_slot() => match slot {
                        Some(slot) => slot,
                        None => break,
                    },
                };
                match self
                    .db
                    .claim_task(&self.tasks.worker, self.lease_ms())
                    .await
                {
                    Ok(Some((claim, task))) => self.start_claimed(claim, task, slot),
                    // Another worker was first.
                    Ok(None) => break,
                    Err(err) => {
                        tracing::warn!(%err, "cannot claim tasks; trying again shortly");
                        break;
                    }
                }
            }
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
        if let Some(listener) = listener {
            listener.abort();
        }
    }

    /// Whether a task waits to be claimed (a database that cannot say is taken
    /// for "no": the next poll asks again).
    async fn has_runnable_task(&self) -> bool {
        match self.db.has_runnable_task().await {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(%err, "cannot look for tasks to run; trying again shortly");
                false
            }
        }
    }

    /// Fails the tasks whose last attempt was cut short, and removes what such
    /// an attempt may have stored.
    pub(crate) async fn fail_exhausted_tasks(&self) {
        let failed = match self.db.fail_exhausted(&interrupted(), FAIL_BATCH).await {
            Ok(failed) => failed,
            Err(err) => {
                tracing::warn!(%err, "cannot look for tasks out of attempts");
                return;
            }
        };
        for output_id in failed {
            tracing::warn!(media = %output_id, "a task ran out of attempts and reads failed");
            self.discard_output(&output_id).await;
        }
    }

    /// Runs a claimed task in the background, in `slot`.
    fn start_claimed(
        &self,
        claim: Claim,
        task: QueuedTask,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) {
        let owner = Owner(task.record.owner.clone());
        let ctx = JobContext::task(owner, slot, task.output_id.clone());
        let (done_tx, done_rx) = watch::channel(false);
        self.tasks.insert(
            &claim.task_id,
            Running {
                cancel: ctx.cancel.clone(),
                done: done_rx,
            },
        );
        tracing::info!(
            task = %claim.task_id,
            attempt = claim.attempt,
            operation = task.record.operation.as_str(),
            "task claimed"
        );
        let app = self.clone();
        tokio::spawn(async move {
            let id = claim.task_id.clone();
            app.run_claimed(claim, task, ctx).await;
            app.tasks.remove(&id);
            let _ = done_tx.send(true);
        });
    }
}
