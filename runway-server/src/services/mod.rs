//! The application: the operations of the API over the store, the media engine
//! and the fetcher, returning domain errors. Nothing here knows HTTP or the
//! wire contract; `http/` calls in and converts.
//!
//! - `input`: media URLs located and read (own media, `data:`, remote);
//! - `scratch`: per-job scratch directories;
//! - `jobs`: the job pipeline (slots, inputs as files, engine, store);
//! - `ops`: a `MediaOp` run through the pipeline;
//! - `upload`: uploads streamed to disk and stored;
//! - `tasks`: task records, the runner, cancellation, listing, expiry;
//! - `lifecycle`: listing, usage, quota, delete;
//! - `health`: readiness;
//! - `downloads`: stored media found, redirected or read for download;
//! - `auth`: API keys and rate limits;
//! - `sessions`: cabinet passwords, sign-in and sessions;
//! - `background`: the periodic sweeps.

pub(crate) mod accounts;
pub(crate) mod auth;
pub(crate) mod background;
pub(crate) mod downloads;
pub(crate) mod health;
pub(crate) mod idempotency;
pub(crate) mod input;
pub(crate) mod jobs;
pub(crate) mod lifecycle;
pub(crate) mod ops;
pub(crate) mod scratch;
pub(crate) mod sessions;
pub(crate) mod tasks;
pub(crate) mod upload;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::config::ServerConfig;
use crate::domain::op::MediaOp;
use crate::domain::{Error, ErrorCode, MediaRecord, Owner};
use crate::media::engine::MediaEngine;
use crate::net::fetch::Fetcher;
use crate::net::generator::ImageGenerator;
use crate::storage::MediaStore;
use crate::storage::db::Database;
use jobs::{JobContext, JobQueue};
use tasks::TaskRegistry;

/// Logs the failure of work that no answer reports (a task, a sweep, an error
/// replaced by a clearer one): an internal error at `error` with its detail, as
/// an answered one is logged; a full disk and a failing image generator at
/// `warn`; anything else at `info`.
pub(crate) fn log_failure(what: &str, err: &Error) {
    let detail = err.detail.as_deref().unwrap_or_default();
    let code = err.code.as_str();
    match err.code {
        ErrorCode::InternalError => tracing::error!(%what, %detail, "internal error"),
        ErrorCode::StorageFull => tracing::warn!(%what, %detail, "out of storage space"),
        ErrorCode::UpstreamError | ErrorCode::UpstreamTimeout => {
            tracing::warn!(%what, %detail, "the image generator failed");
        }
        _ => tracing::info!(%what, code, message = %err.message, "failed"),
    }
}

/// The application: what the operations need (store, engine, fetcher, job
/// slots, tasks, keys) and, in the files of this folder, the operations
/// themselves. Cloned cheaply; shared by every request of one server.
#[derive(Clone)]
pub struct App {
    /// The configuration the server started with.
    pub(crate) config: Arc<ServerConfig>,
    /// Where media and records live.
    pub(crate) store: MediaStore,
    /// The database: accounts, keys (and, later, the rest of the state).
    pub(crate) db: Database,
    /// Finds the account of a key.
    pub(crate) keys: Arc<auth::KeyCheck>,
    /// Per-key rate limits, when configured (per replica).
    pub(crate) rate_limits: Option<Arc<auth::RateLimits>>,
    /// ffmpeg and ffprobe, when found.
    pub(crate) engine: Option<MediaEngine>,
    /// Fetches media URLs of other hosts.
    pub(crate) fetcher: Fetcher,
    /// The operator's image model server, when `generate-image` is delegated.
    pub(crate) generator: Option<ImageGenerator>,
    /// The job slots and the task queue (per replica).
    pub(crate) jobs: Arc<JobQueue>,
    /// The tasks this replica runs.
    pub(crate) tasks: Arc<TaskRegistry>,
    /// The base of media URLs, without a trailing slash.
    pub(crate) public_url: String,
    /// The origin of `public_url`.
    pub(crate) public_origin: url::Origin,
    /// Ids of media being deleted right now.
    pub(crate) deleting: Arc<Mutex<HashSet<String>>>,
    /// Scratch space for media jobs (emptied at start).
    pub(crate) work: Arc<scratch::WorkDir>,
    /// Cancelled when the server stops: background work ends with it.
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
    /// Cancelled when the server starts to stop: open event streams end, so
    /// that in-flight requests can finish.
    pub(crate) draining: tokio_util::sync::CancellationToken,
    /// The tasks followed live on this replica.
    pub(crate) feeds: Arc<tasks::events::TaskFeeds>,
    /// Limits on sign-in attempts to the cabinet (per replica).
    pub(crate) sign_in_limits: Arc<sessions::SignInLimits>,
}

impl App {
    /// The base of the URLs the server hands out, e.g. `http://127.0.0.1:8080`.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Where media and records are stored: a directory or an `s3://` URL.
    pub fn storage(&self) -> String {
        self.store.location().to_string()
    }

    /// Whether ffmpeg and ffprobe were found, so video and audio work is available.
    pub fn has_media_engine(&self) -> bool {
        self.engine.is_some()
    }

    /// The public URL of a stored media.
    pub(crate) fn media_url(&self, record: &MediaRecord) -> String {
        format!(
            "{}/{}/{}",
            self.public_url,
            record.kind.folder(),
            record.file_name()
        )
    }

    /// The media engine, or 503 `media_engine_unavailable`.
    pub(crate) fn engine(&self) -> Result<&MediaEngine, Error> {
        self.engine.as_ref().ok_or_else(Error::engine_unavailable)
    }

    /// Runs a media operation as a synchronous job for `owner`; answers its URL.
    pub(crate) async fn run_now(&self, owner: Owner, op: MediaOp) -> Result<String, Error> {
        let record = op.run(self, &JobContext::sync(owner)).await?;
        Ok(self.media_url(&record))
    }
}
