//! The composition root: binds the address, opens the store, finds ffmpeg, builds
//! the application and its background work, and serves the router. The one
//! place that wires every layer together.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::domain::task::TaskRecord;
use crate::media::engine::MediaEngine;
use crate::net::fetch::{self, Fetcher};
use crate::net::generator::ImageGenerator;
use crate::services::accounts::{Accounts, DEFAULT_ACCOUNT};
use crate::services::jobs::JobQueue;
use crate::services::{App, auth, background, scratch};
use crate::storage::db::{Database, DatabaseUrl, DbError};
use crate::storage::{MediaStore, StorageLocation};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The data directory could not be prepared.
    #[error("{0}")]
    Store(String),
    /// The database cannot be opened or migrated.
    #[error("database: {0}")]
    Database(String),
    /// Anything else at start-up.
    #[error("{0}")]
    Other(String),
}

/// A server bound to its address, ready to serve.
pub struct Prepared {
    /// The bound listener.
    pub listener: TcpListener,
    /// The shared state.
    pub state: App,
    /// The key created at start when none was configured.
    pub generated_key: Option<String>,
}

/// Once per database: the media records of a store written before the database
/// are added to the media index (with every owner's counters).
async fn import_media_index(db: &Database, store: &MediaStore) -> Result<(), StartError> {
    const STEP: &str = "media records of the object store";
    let failed = |e: DbError| StartError::Database(format!("importing media records: {e}"));
    if db.done(STEP).await.map_err(failed)? {
        return Ok(());
    }
    let records = store
        .all_records()
        .await
        .map_err(|e| StartError::Store(e.to_string()))?;
    db.import_media(&records).await.map_err(failed)?;
    db.mark_done(STEP).await.map_err(failed)?;
    if !records.is_empty() {
        tracing::info!(
            media = records.len(),
            "media records imported into the database"
        );
    }
    Ok(())
}

/// Once per database: the task records of a store written before the database
/// are added to the queue's table (an unfinished one, which has no input to run
/// again, reads `failed` / `interrupted`).
async fn import_task_records(db: &Database, store: &MediaStore) -> Result<(), StartError> {
    const STEP: &str = "task records of the object store";
    let failed = |e: DbError| StartError::Database(format!("importing task records: {e}"));
    if db.done(STEP).await.map_err(failed)? {
        return Ok(());
    }
    let store_failed = |e: crate::storage::StoreError| StartError::Store(e.to_string());
    let mut records = Vec::new();
    for path in store.list_docs("tasks").await.map_err(store_failed)? {
        match store.get_doc::<TaskRecord>(&path).await {
            Ok(Some(record)) => records.push(record),
            Ok(None) => {}
            Err(err) => tracing::warn!(%path, %err, "an unreadable task record is left out"),
        }
    }
    db.import_tasks(&records, &crate::services::tasks::interrupted())
        .await
        .map_err(failed)?;
    db.mark_done(STEP).await.map_err(failed)?;
    if !records.is_empty() {
        tracing::info!(
            tasks = records.len(),
            "task records imported into the database"
        );
    }
    Ok(())
}

/// Once per database: the answered idempotency keys of a store written before
/// the database are added (their answers are replayed as before).
async fn import_idempotency_keys(db: &Database, store: &MediaStore) -> Result<(), StartError> {
    const STEP: &str = "idempotency records of the object store";
    let failed = |e: DbError| StartError::Database(format!("importing idempotency keys: {e}"));
    if db.done(STEP).await.map_err(failed)? {
        return Ok(());
    }
    let keys = crate::services::idempotency::keys_in_store(store)
        .await
        .map_err(|e| StartError::Store(e.to_string()))?;
    db.import_keys(&keys).await.map_err(failed)?;
    db.mark_done(STEP).await.map_err(failed)?;
    if !keys.is_empty() {
        tracing::info!(
            keys = keys.len(),
            "idempotency keys imported into the database"
        );
    }
    Ok(())
}

/// The database of `config`: `--database`, or SQLite in the data directory.
pub(crate) fn database_url(config: &ServerConfig) -> Result<DatabaseUrl, DbError> {
    match &config.database {
        Some(url) => url.parse(),
        None => Ok(DatabaseUrl::default_for(&config.data_dir)),
    }
}

/// Makes the `--api-key` keys accepted, each for an account of its own; with
/// none, makes the account `default` and a key for it when the database has no
/// account yet (the first start), and answers that key.
async fn accept_keys(
    accounts: &Accounts,
    config: &mut ServerConfig,
) -> Result<Option<String>, StartError> {
    let failed = |e: crate::domain::Error| {
        StartError::Database(format!("accounts: {}", e.detail.unwrap_or(e.message)))
    };
    config.api_keys.retain(|key| !key.trim().is_empty());
    for key in &config.api_keys {
        accounts.adopt_flag_key(key.trim()).await.map_err(failed)?;
    }
    if !config.api_keys.is_empty() || !accounts.accounts().await.map_err(failed)?.is_empty() {
        return Ok(None);
    }
    let made = accounts
        .create_key(DEFAULT_ACCOUNT, Some("made at the first start"))
        .await
        .map_err(failed)?;
    Ok(Some(made.key))
}

/// Binds the listen address and prepares storage, keys and the media engine.
pub async fn prepare(mut config: ServerConfig) -> Result<Prepared, StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let location = match &config.storage {
        Some(storage) => {
            StorageLocation::parse(storage).map_err(|e| StartError::Store(e.to_string()))?
        }
        None => StorageLocation::Local(config.data_dir.join("media")),
    };
    if config.download_redirect_secs.is_some() && !location.is_shared() {
        return Err(StartError::Other(
            "--download-redirect-secs needs S3 storage (--storage s3://bucket)".to_owned(),
        ));
    }
    let database_url = database_url(&config).map_err(|e| StartError::Database(e.to_string()))?;
    if location.is_shared() && !database_url.is_shared() {
        return Err(StartError::Database(format!(
            "shared storage ({location}) needs a database every replica shares: \
             --database postgres://USER@HOST/NAME (SQLite is one server's)"
        )));
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::Other(format!("{}: {e}", config.data_dir.display())))?;
    let db = Database::open(&database_url)
        .await
        .map_err(|e| StartError::Database(format!("{database_url}: {e}")))?;
    let generated_key = accept_keys(&Accounts::new(db.clone()), &mut config).await?;
    let store = MediaStore::open(&location)
        .await
        .map_err(|e| StartError::Store(e.to_string()))?
        .with_media_ttl(config.media_ttl_secs.map(crate::services::tasks::seconds));
    // Both imports read the store only once per database.
    let adopted = Accounts::new(db.clone())
        .adopt_owners(&store)
        .await
        .map_err(|e| StartError::Database(e.detail.unwrap_or(e.message)))?;
    if adopted > 0 {
        tracing::info!(
            adopted,
            "owners of media from before accounts have accounts now"
        );
    }
    import_media_index(&db, &store).await?;
    import_task_records(&db, &store).await?;
    import_idempotency_keys(&db, &store).await?;
    let work_dir = config.data_dir.join("work");
    let _ = std::fs::remove_dir_all(&work_dir);
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| StartError::Other(format!("{}: {e}", work_dir.display())))?;
    let engine = MediaEngine::detect(&config.ffmpeg, &config.ffprobe, config.job_timeout()).await;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    let public_origin = url::Url::parse(&public_url)
        .map_err(|e| StartError::Other(format!("--public-url {public_url}: {e}")))?
        .origin();
    let fetcher = Fetcher::new(
        fetch::system_lookup(),
        fetch::default_policy(config.allow_private_fetch),
        config.max_input_bytes,
        Duration::from_secs(config.fetch_timeout_secs),
    )
    .map_err(|e| StartError::Other(format!("HTTP client: {e}")))?;
    let generator = match &config.image_generator {
        None if config.image_generator_model.is_some() || config.image_generator_key.is_some() => {
            return Err(StartError::Other(
                "--image-generator-model and --image-generator-key need --image-generator".into(),
            ));
        }
        None => None,
        Some(url) => {
            let generator = ImageGenerator::new(
                url,
                config.image_generator_model.clone(),
                config
                    .image_generator_key
                    .as_ref()
                    .map(|key| key.expose().to_owned()),
                Duration::from_secs(config.image_generator_timeout_secs.max(1)),
                config.max_input_bytes,
            )
            .map_err(|e| StartError::Other(format!("--image-generator: {e}")))?;
            tracing::info!(generator = %generator.describe(), "generate-image is delegated");
            Some(generator)
        }
    };
    let rate_limits =
        auth::RateLimits::new(config.rate_limit_per_minute, config.rate_limit_burst).map(Arc::new);
    crate::http::install_metrics();
    let jobs = JobQueue::new(
        config.max_jobs,
        Duration::from_secs(config.queue_timeout_secs),
    );
    let state = App {
        jobs: Arc::new(jobs),
        tasks: Arc::default(),
        config: Arc::new(config),
        store,
        keys: Arc::new(auth::KeyCheck::new(db.clone())),
        db,
        rate_limits,
        engine,
        fetcher,
        generator,
        public_url,
        public_origin,
        deleting: Arc::default(),
        work: scratch::WorkDir::new(work_dir),
        shutdown: tokio_util::sync::CancellationToken::new(),
        draining: tokio_util::sync::CancellationToken::new(),
        feeds: Arc::default(),
        sign_in_limits: Arc::default(),
    };
    // One server owns an embedded database: the tasks its last run held are
    // not running any more (they run again now), and no request still holds an
    // idempotency key. A shared database has other servers at work: there, a
    // lapsed lease tells what was cut short.
    if !state.db.is_shared() {
        let resumed = state
            .db
            .end_all_leases()
            .await
            .map_err(|e| StartError::Database(format!("tasks: {e}")))?;
        if resumed > 0 {
            tracing::warn!(resumed, "tasks cut short by the last stop run again");
        }
        let released = state
            .db
            .release_unanswered_keys()
            .await
            .map_err(|e| StartError::Database(format!("idempotency keys: {e}")))?;
        if released > 0 {
            tracing::warn!(
                released,
                "keys of requests cut short by the last stop are free again"
            );
        }
    }
    tokio::spawn(background::run(state.clone()));
    if state.config.role.runs_tasks() {
        tokio::spawn(state.clone().work_tasks());
    }
    Ok(Prepared {
        listener,
        state,
        generated_key,
    })
}

/// The HTTP routes of the API.
pub fn router(state: App) -> axum::Router {
    crate::http::router(state)
}

/// A server running in the background (for tests and embedding).
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The base of its URLs, e.g. `http://127.0.0.1:41234`.
    pub base_url: String,
    /// The key created at start when none was configured.
    pub generated_key: Option<String>,
    /// Whether ffmpeg was found.
    pub has_media_engine: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// How long a stopping server waits for its tasks to record that they stopped.
pub const TASK_STOP_WAIT: Duration = Duration::from_secs(10);

impl Prepared {
    /// Serves until `signal` resolves, lets in-flight requests finish, then stops
    /// the tasks this server runs (they read `failed` / `interrupted`).
    pub async fn serve(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let draining = state.draining.clone();
        let signal = async move {
            signal.await;
            draining.cancel();
        };
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app)
            .with_graceful_shutdown(signal)
            .await;
        state.stop_tasks(TASK_STOP_WAIT).await;
        served
    }
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, stops the tasks it runs, and
    /// waits for the end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server in the background on the configured address.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    let prepared = prepare(config).await?;
    let addr = prepared
        .listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let base_url = prepared.state.public_url().to_owned();
    let has_media_engine = prepared.state.has_media_engine();
    let generated_key = prepared.generated_key.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let signal = async {
            let _ = rx.await;
        };
        if let Err(err) = prepared.serve(signal).await {
            tracing::error!(%err, "server stopped");
        }
    });
    Ok(RunningServer {
        addr,
        base_url,
        generated_key,
        has_media_engine,
        shutdown: Some(tx),
        task,
    })
}
