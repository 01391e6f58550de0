//! Long waits, shown: a download with a byte bar, a task with its progress. Bars
//! go to stderr, and only when it is a terminal; stdout stays the answer.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use runway_api::{Client, RunwayError, types};

use crate::output::Failure;

/// A bar on stderr, hidden when stderr is not a terminal.
fn bar(template: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The failure of an SDK error, with its message.
pub fn failure(err: &RunwayError) -> (Failure, String) {
    let kind = match err {
        RunwayError::Transport(err) => Failure::of_transport(err),
        RunwayError::Io { .. } => Failure::Other,
        RunwayError::InvalidRequest { .. } | RunwayError::Config(_) => Failure::Usage,
        _ if err.status().is_some() || err.task().is_some() => Failure::Api,
        _ => Failure::Other,
    };
    (kind, err.to_string())
}

/// Downloads `url` to `path` (default: the URL's file name in this directory),
/// atomically, with a bar; prints where it went.
pub async fn download(
    client: &Client,
    url: &str,
    path: Option<String>,
) -> Result<(), (Failure, String)> {
    let path = match path {
        Some(path) => PathBuf::from(path),
        None => {
            let name = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| u.path_segments()?.next_back().map(str::to_owned))
                .filter(|name| !name.is_empty())
                .ok_or_else(|| (Failure::Usage, format!("{url} names no file: give a PATH")))?;
            PathBuf::from(name)
        }
    };
    let bar = bar("{spinner} {bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} {msg}");
    bar.set_message(path.display().to_string());
    let written = client
        .download_to_file_with_progress(url, &path, |written, total| {
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.set_position(written);
        })
        .await
        .map_err(|err| failure(&err));
    bar.finish_and_clear();
    let written = written?;
    eprintln!("saved {} ({written} bytes)", path.display());
    Ok(())
}

/// Waits for task `id` to end, with its progress on a bar; the task as it ended.
/// A task that failed or was cancelled is an API failure (exit 3), printed first.
pub async fn wait_for_task(client: &Client, id: &str) -> Result<types::Task, (Failure, String)> {
    let bar = bar("{spinner} {msg} [{bar:30}] {percent}% {elapsed}");
    bar.set_length(100);
    bar.set_message(id.to_owned());
    let ended = client
        .wait_for_task(id)
        .on_progress(|task| {
            bar.set_position((task.progress * 100.0).round() as u64);
            bar.set_message(format!("{id} {}", task.status));
        })
        .await;
    bar.finish_and_clear();
    match ended {
        Ok(task) => Ok(task),
        Err(err) => {
            if let Some(task) = err.task()
                && let Ok(json) = serde_json::to_string(task)
            {
                println!("{json}");
            }
            Err(failure(&err))
        }
    }
}
