//! The control plane's state in a database: SQLite in the data directory by
//! default (nothing to set up), PostgreSQL for several replicas
//! (`--database postgres://...`). Media bytes stay in the object store.
//!
//! One [`Database`] holds a pool of either backend. A query is written once when
//! both take the same SQL: numbered placeholders `$1, $2, ...`, each first used in
//! that order (SQLite numbers such parameters by first appearance, PostgreSQL by
//! their number, so the two agree), and per backend where they differ. The
//! `with_pool!` macro runs one body against whichever pool it is. Migrations are
//! embedded, one folder per backend (`migrations/sqlite`, `migrations/postgres`),
//! and run at start (PostgreSQL serialises replicas starting together with an
//! advisory lock) and by `runway-server migrate`.
//!
//! Times are milliseconds since the Unix epoch, UTC, in `BIGINT` columns.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

mod accounts;
#[cfg(test)]
mod conformance;
mod idempotency;
mod media;
mod sessions;
mod tasks;

pub use accounts::{Account, ApiKeyInfo, KeyOwner};
pub use idempotency::{KeyClaim, KeyRequest, StoredAnswer};
pub use media::{Added, Counters, MediaCursor, MediaQuery};
pub use sessions::Session;
pub use tasks::{Claim, Finished, NewTask, QueuedTask};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The file name of the default SQLite database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "runway.db";

/// How long a request waits for a connection before the database counts as down.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the database could not do something.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `--database` is not a URL this server takes.
    #[error(
        "--database `{0}`: give sqlite://PATH (or sqlite::memory:) or postgres://USER@HOST/NAME"
    )]
    InvalidUrl(String),
    /// The database cannot be reached (down, restarting, out of connections).
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A row with the same unique value exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The migrations could not run.
    #[error("the database's migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row holds what cannot be read back.
    #[error("a stored value cannot be read: {0}")]
    Corrupt(String),
    /// Any other failure of a query.
    #[error("a database query failed: {0}")]
    Query(#[source] sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => DbError::Unavailable(err),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DbError::Conflict(db.message().to_owned())
            }
            // PostgreSQL shutting down or restarting (admin_shutdown,
            // crash_shutdown, cannot_connect_now): the next attempt may work.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|code| matches!(code.as_ref(), "57P01" | "57P02" | "57P03")) =>
            {
                DbError::Unavailable(err)
            }
            _ => DbError::Query(err),
        }
    }
}

impl From<DbError> for crate::domain::Error {
    /// An unreachable database is a state (503 with `Retry-After`, retried
    /// later); a duplicate a conflict; any other failure a 500.
    fn from(err: DbError) -> Self {
        use crate::domain::{Error, ErrorCode};
        let mut converted = match &err {
            DbError::Unavailable(_) => Error::new(
                ErrorCode::DatabaseUnavailable,
                "the database is unavailable; retry shortly",
            )
            .with_retry_after(1),
            DbError::Conflict(_) => Error::conflict("it exists already"),
            _ => Error::internal(&err),
        };
        converted.detail = Some(err.to_string());
        converted
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An SQLite file (created when missing), or `None` for one in memory.
    Sqlite(Option<PathBuf>),
    /// A PostgreSQL server, by its URL.
    Postgres(String),
}

impl DatabaseUrl {
    /// The default: `runway.db` in the data directory.
    pub fn default_for(data_dir: &Path) -> Self {
        DatabaseUrl::Sqlite(Some(data_dir.join(DEFAULT_SQLITE_FILE)))
    }

    /// Whether several replicas can share this database.
    pub fn is_shared(&self) -> bool {
        matches!(self, DatabaseUrl::Postgres(_))
    }
}

impl FromStr for DatabaseUrl {
    type Err = DbError;

    fn from_str(url: &str) -> Result<Self, DbError> {
        if url == "sqlite::memory:" {
            return Ok(DatabaseUrl::Sqlite(None));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(DbError::InvalidUrl(url.to_owned()));
            }
            return Ok(DatabaseUrl::Sqlite(Some(PathBuf::from(path))));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(DbError::InvalidUrl(url.to_owned()))
    }
}

impl std::fmt::Display for DatabaseUrl {
    /// The URL without a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(None) => f.write_str("sqlite::memory:"),
            DatabaseUrl::Sqlite(Some(path)) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("postgres://(unparsable URL)"),
            },
        }
    }
}

/// A pool of connections to the server's database.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the pool of whichever backend `$db` has;
/// the body is compiled once per backend, so each arm uses its own driver.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::storage::db::Pool::Sqlite($pool) => $body,
            $crate::storage::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

impl Database {
    /// Connects to `url` and runs the migrations it has not run yet.
    pub async fn open(url: &DatabaseUrl) -> Result<Self, DbError> {
        let db = Self::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Connects to `url` without migrating.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self, DbError> {
        let pool = match url {
            DatabaseUrl::Sqlite(path) => {
                let options = match path {
                    Some(path) => SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(true),
                    // One connection: each connection to `:memory:` is its own database.
                    None => SqliteConnectOptions::from_str("sqlite::memory:")?,
                }
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
                let max = if path.is_some() { 8 } else { 1 };
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_with(options)
                        .await?,
                )
            }
            DatabaseUrl::Postgres(url) => {
                let options = PgConnectOptions::from_str(url).map_err(|_| {
                    DbError::InvalidUrl(DatabaseUrl::Postgres(url.clone()).to_string())
                })?;
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(16)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_with(options)
                        .await?,
                )
            }
        };
        Ok(Self { pool })
    }

    /// Runs the migrations this database has not run yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Whether several servers may share this database (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// One round trip: whether the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Whether the step `name` (an import, say) was done for this database.
    pub async fn done(&self, name: &str) -> Result<bool, DbError> {
        let found = with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT done_ms FROM meta WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }

    /// Notes that the step `name` was done.
    pub async fn mark_done(&self, name: &str) -> Result<(), DbError> {
        let now = now_ms();
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO meta (name, done_ms) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            "sqlite:///var/lib/runway/runway.db"
                .parse::<DatabaseUrl>()
                .ok(),
            Some(DatabaseUrl::Sqlite(Some(
                "/var/lib/runway/runway.db".into()
            )))
        );
        assert_eq!(
            "sqlite::memory:".parse::<DatabaseUrl>().ok(),
            Some(DatabaseUrl::Sqlite(None))
        );
        let pg = "postgres://runway:secret@127.0.0.1:5432/runway"
            .parse::<DatabaseUrl>()
            .expect("a PostgreSQL URL");
        assert!(pg.is_shared());
        assert_eq!(
            pg.to_string(),
            "postgres://runway:***@127.0.0.1:5432/runway"
        );
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
        assert!("sqlite://".parse::<DatabaseUrl>().is_err());
    }
}
