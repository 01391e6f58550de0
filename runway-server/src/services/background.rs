//! Background upkeep, once a minute (or every half media lifetime, when that is
//! shorter, down to a second): each sweep removes a bounded amount of expired
//! state per pass, and every replica may run each at any time (each step is
//! idempotent). One trait, one implementation per sweep.

use std::time::Duration;

use super::App;
use crate::domain::Result;

/// The most a sweep removes in one pass.
const BUDGET: usize = 1000;

/// A periodic clean-up.
trait Sweep {
    /// What it removes, for the log.
    const REMOVES: &'static str;
    /// Runs one pass, removing at most `budget`; how many it removed.
    async fn pass(app: &App, budget: usize) -> Result<usize>;
}

/// Media past `--media-ttl-secs`.
struct ExpiredMedia;

impl Sweep for ExpiredMedia {
    const REMOVES: &'static str = "expired media";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        Ok(app.store.sweep_expired_media(budget).await?)
    }
}

/// Finished task records past `--task-ttl-secs` (and tasks whose runner died).
struct ExpiredTasks;

impl Sweep for ExpiredTasks {
    const REMOVES: &'static str = "expired task records";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        app.sweep_expired_tasks(budget).await
    }
}

/// Idempotency records past their 24 h.
struct ExpiredKeys;

impl Sweep for ExpiredKeys {
    const REMOVES: &'static str = "expired idempotency keys";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        app.sweep_expired_keys(budget).await
    }
}

/// Runs one pass of `S`, logging what it did.
async fn sweep<S: Sweep>(app: &App) {
    match S::pass(app, BUDGET).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed {}", S::REMOVES),
        Err(err) => {
            tracing::warn!(%err, detail = err.detail.as_deref(), "sweep of {} failed", S::REMOVES)
        }
    }
}

/// Sweeps until the server stops.
pub(crate) async fn run(app: App) {
    let every = app
        .config
        .media_ttl_secs
        .map_or(60, |ttl| (ttl / 2).clamp(1, 60));
    let mut tick = tokio::time::interval(Duration::from_secs(every));
    loop {
        tokio::select! {
            () = app.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        sweep::<ExpiredMedia>(&app).await;
        sweep::<ExpiredTasks>(&app).await;
        sweep::<ExpiredKeys>(&app).await;
    }
}
