//! Task rows whose time is up: finished ones past `--task-ttl-secs` are removed,
//! and running ones whose last attempt was cut short read `failed` /
//! `interrupted` (the workers do that too, each second they idle).

use chrono::Utc;

use crate::domain::Result;
use crate::services::App;
use crate::services::background::Sweep;

/// Finished tasks past `--task-ttl-secs` (and tasks out of attempts).
pub(crate) struct ExpiredTasks;

impl Sweep for ExpiredTasks {
    const REMOVES: &'static str = "expired task records";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        app.fail_exhausted_tasks().await;
        let before = (Utc::now() - app.task_ttl()).timestamp_millis();
        let budget = u32::try_from(budget).unwrap_or(u32::MAX);
        let removed = app.db.remove_finished_tasks(before, budget).await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}
