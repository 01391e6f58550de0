//! Background upkeep, once a minute (or every half media lifetime, when that is
//! shorter, down to a second): each sweep removes a bounded amount of expired
//! state per pass, and every replica may run each at any time (each step is
//! idempotent). One trait; each sweep is implemented beside what it sweeps:
//! `lifecycle::ExpiredMedia`, `tasks::sweep::ExpiredTasks`,
//! `idempotency::ExpiredKeys`.

use std::time::Duration;

use super::App;
use crate::domain::Result;

/// The most a sweep removes in one pass.
const BUDGET: usize = 1000;

/// A periodic clean-up.
pub(crate) trait Sweep {
    /// What it removes, for the log.
    const REMOVES: &'static str;
    /// Runs one pass, removing at most `budget`; how many it removed.
    async fn pass(app: &App, budget: usize) -> Result<usize>;
}

/// Runs one pass of `S`, logging what it did.
async fn sweep<S: Sweep>(app: &App) {
    match S::pass(app, BUDGET).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed {}", S::REMOVES),
        Err(err) => super::log_failure(&format!("the sweep of {}", S::REMOVES), &err),
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
        sweep::<super::lifecycle::ExpiredMedia>(&app).await;
        sweep::<super::tasks::sweep::ExpiredTasks>(&app).await;
        sweep::<super::idempotency::ExpiredKeys>(&app).await;
        sweep::<super::sessions::ExpiredSessions>(&app).await;
    }
}
