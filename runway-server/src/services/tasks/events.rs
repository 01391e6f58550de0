//! Following a task live: however many clients follow one task on a replica,
//! one watcher reads it from the database (every [`WATCH_EVERY`]) and hands each
//! change to all of them; it stops when the task ends or nobody follows it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::task::TaskRecord;
use crate::domain::{Owner, Result};
use crate::services::App;

/// How often a followed task is read while it runs.
pub(crate) const WATCH_EVERY: Duration = Duration::from_millis(250);

/// The tasks followed on this replica, each with its one watcher's channel.
#[derive(Debug, Default)]
pub(crate) struct TaskFeeds(Mutex<HashMap<String, watch::Sender<TaskRecord>>>);

impl TaskFeeds {
    /// A new follower of task `id`, if a watcher runs for it.
    fn subscribe(&self, id: &str) -> Option<watch::Receiver<TaskRecord>> {
        let feeds = self.0.lock().ok()?;
        feeds.get(id).map(watch::Sender::subscribe)
    }

    /// Registers the watcher of task `id`; `None` when another was registered
    /// meanwhile (follow that one).
    fn register(&self, id: &str, sender: watch::Sender<TaskRecord>) -> Option<()> {
        let mut feeds = self.0.lock().ok()?;
        if feeds.contains_key(id) {
            return None;
        }
        feeds.insert(id.to_owned(), sender);
        Some(())
    }

    fn remove(&self, id: &str) {
        if let Ok(mut feeds) = self.0.lock() {
            feeds.remove(id);
        }
    }
}

/// Whether two states of a task differ as a follower sees them.
fn changed(a: &TaskRecord, b: &TaskRecord) -> bool {
    a.status != b.status || a.progress != b.progress
}

impl App {
    /// `owner`'s task `id` as it changes (404 when it is not theirs): the current
    /// state at once, then each change, the last one final.
    pub(crate) async fn follow_task(
        &self,
        owner: &Owner,
        id: &str,
    ) -> Result<watch::Receiver<TaskRecord>> {
        let current = self.get_task(owner, id).await?;
        if let Some(feed) = self.feeds.subscribe(id) {
            return Ok(feed);
        }
        let (sender, receiver) = watch::channel(current.clone());
        if current.is_finished() {
            return Ok(receiver); // nothing to watch
        }
        if self.feeds.register(id, sender.clone()).is_none() {
            return Ok(self.feeds.subscribe(id).unwrap_or(receiver));
        }
        let app = self.clone();
        let owner = owner.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            app.watch_task(&owner, &id, sender).await;
            app.feeds.remove(&id);
        });
        Ok(receiver)
    }

    /// Reads the task until it ends, nobody follows it, or the server stops,
    /// sending each change.
    async fn watch_task(&self, owner: &Owner, id: &str, sender: watch::Sender<TaskRecord>) {
        let mut tick = tokio::time::interval(WATCH_EVERY);
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => return,
                () = sender.closed() => return,
                _ = tick.tick() => {}
            }
            let read = match self.task_record(owner, id).await {
                Ok(Some(read)) => read,
                // Deleted (it had finished) or expired: the followers have its end.
                Ok(None) => return,
                Err(err) => {
                    tracing::debug!(task = %id, %err.message, "a followed task cannot be read now");
                    continue;
                }
            };
            let finished = read.is_finished();
            sender.send_if_modified(|current| {
                let differs = changed(current, &read);
                if differs {
                    *current = read;
                }
                differs
            });
            if finished {
                return;
            }
        }
    }
}
