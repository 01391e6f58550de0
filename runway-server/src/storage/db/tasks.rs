//! The task queue. A task's row holds its operation and checked input (the
//! services' own JSON), so that any replica can run it:
//!
//! - a worker with a free job slot **claims** the oldest runnable row: `pending`,
//!   or `running` with a lapsed lease and attempts left. PostgreSQL skips rows
//!   other workers hold (`FOR UPDATE SKIP LOCKED`); SQLite has one writer. The
//!   claim counts an attempt and sets a lease in the database's time;
//! - the worker **renews** its lease as it runs (with the progress); a renewal
//!   that finds the row no longer its own (cancelled, or claimed again after its
//!   lease lapsed) tells it to stop;
//! - it **finishes** the row only while it holds it: a success adds the output
//!   media to the owner's index and counters in the same transaction (within the
//!   quota), so an output is kept once, by the attempt that finished;
//! - a row whose last attempt's lease lapsed is failed by [`Database::fail_exhausted`].

use crate::domain::media::MediaRecord;
use crate::domain::task::{Operation, TASK_FORMAT, TaskError, TaskOutput, TaskRecord, TaskStatus};

use super::media::add_media_in;
use super::{Database, DbError, Pool, with_pool};

/// The database's clock, in milliseconds since the epoch, as SQL per backend.
const NOW_SQLITE: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT)";
const NOW_POSTGRES: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// The columns a task is read from.
const COLUMNS: &str = "id, owner, operation, input, status, progress, attempts, \
     created_ms, started_ms, finished_ms, output_id, output_url, error_code, error_message, \
     error_param";

/// A task to queue.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its owner (an account id).
    pub owner: &'a str,
    /// What it runs.
    pub operation: Operation,
    /// The operation's checked input, as the services store it (JSON).
    pub input: &'a str,
    /// The media id its output is stored under.
    pub output_id: &'a str,
    /// How many times it may be claimed.
    pub max_attempts: u32,
    /// When it was created (ms).
    pub created_ms: i64,
}

/// A task as queued: its record, and what running it needs.
#[derive(Debug, Clone)]
pub struct QueuedTask {
    /// The task as its owner sees it.
    pub record: TaskRecord,
    /// The operation's checked input (JSON).
    pub input: String,
    /// The media id its output is stored under.
    pub output_id: String,
    /// Claims so far.
    pub attempts: u32,
}

/// A worker's hold on a task: valid while the row names this worker and attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The task.
    pub task_id: String,
    /// The worker holding it.
    pub worker: String,
    /// Which attempt this is (1 for the first).
    pub attempt: u32,
}

/// How finishing a claimed task went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// The row says how the task ended.
    Recorded,
    /// The row is no longer this claim's (cancelled, or claimed again): nothing
    /// changed.
    Lost,
    /// The output would take its owner past the quota: nothing changed. The
    /// bytes the owner uses.
    OverQuota(u64),
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: String,
    owner: String,
    operation: String,
    input: String,
    status: String,
    progress: f64,
    attempts: i32,
    created_ms: i64,
    started_ms: Option<i64>,
    finished_ms: Option<i64>,
    output_id: String,
    output_url: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    error_param: Option<String>,
}

fn time(ms: i64) -> Result<chrono::DateTime<chrono::Utc>, DbError> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| DbError::Corrupt(format!("a task time out of range: {ms}")))
}

impl TryFrom<TaskRow> for QueuedTask {
    type Error = DbError;

    fn try_from(row: TaskRow) -> Result<Self, DbError> {
        let corrupt =
            |what: &str, value: &str| DbError::Corrupt(format!("a task's {what}: {value}"));
        let operation = Operation::from_name(&row.operation)
            .ok_or_else(|| corrupt("operation", &row.operation))?;
        let status =
            TaskStatus::from_name(&row.status).ok_or_else(|| corrupt("status", &row.status))?;
        let created_at = time(row.created_ms)?;
        let started_at = row.started_ms.map(time).transpose()?;
        let finished_at = row.finished_ms.map(time).transpose()?;
        let error = row.error_code.map(|code| TaskError {
            code,
            message: row.error_message.unwrap_or_default(),
            param: row.error_param,
        });
        Ok(Self {
            record: TaskRecord {
                format: TASK_FORMAT,
                id: row.id,
                operation,
                status,
                progress: row.progress,
                created_at,
                started_at,
                finished_at,
                output: row.output_url.map(|url| TaskOutput::new(operation, url)),
                error,
                owner: row.owner,
                heartbeat_at: finished_at.or(started_at).unwrap_or(created_at),
            },
            input: row.input,
            output_id: row.output_id,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
        })
    }
}

fn tasks(rows: Vec<TaskRow>) -> Result<Vec<QueuedTask>, DbError> {
    rows.into_iter().map(QueuedTask::try_from).collect()
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// How a task ends failed (`{set_failed}` in [`Database::task_sql`]): its
/// error is `$1` (code), `$2` (message), `$3` (param), and it holds no worker.
const SET_FAILED: &str = "status = 'failed', finished_ms = {now}, error_code = $1, \
    error_message = $2, error_param = $3, worker = NULL, lease_until_ms = NULL";

impl Database {
    /// `sql` for this backend: `{now}` becomes the database's clock (ms),
    /// `{skip_locked}` PostgreSQL's row locking of a claim, `{columns}` a task
    /// row's columns and `{set_failed}` [`SET_FAILED`].
    fn task_sql(&self, sql: &str) -> String {
        let (now, skip_locked) = match &self.pool {
            Pool::Sqlite(_) => (NOW_SQLITE, ""),
            Pool::Postgres(_) => (NOW_POSTGRES, " FOR UPDATE SKIP LOCKED"),
        };
        sql.replace("{set_failed}", SET_FAILED)
            .replace("{now}", now)
            .replace("{skip_locked}", skip_locked)
            .replace("{columns}", COLUMNS)
    }

    /// Queues `task` (`pending`), and wakes the workers listening.
    pub async fn insert_task(&self, task: &NewTask<'_>) -> Result<(), DbError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO tasks (id, owner, operation, input, status, max_attempts, created_ms, output_id) \
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)",
        )
        .bind(task.id)
        .bind(task.owner)
        .bind(task.operation.as_str())
        .bind(task.input)
        .bind(count(task.max_attempts))
        .bind(task.created_ms)
        .bind(task.output_id)
        .execute(pool)
        .await
        .map(drop))?;
        self.wake_workers().await;
        Ok(())
    }

    /// How many tasks wait for a worker.
    pub async fn pending_tasks(&self) -> Result<u64, DbError> {
        let n = with_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM tasks WHERE finished_ms IS NULL AND status = 'pending'",
        )
        .fetch_one(pool)
        .await)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether a task can be claimed now (so that a worker takes a job slot only
    /// when there is work for it).
    pub async fn has_runnable_task(&self) -> Result<bool, DbError> {
        let sql = self.task_sql(
            "SELECT COUNT(*) FROM (SELECT 1 FROM tasks WHERE finished_ms IS NULL \
             AND (status = 'pending' OR (lease_until_ms < {now} AND attempts < max_attempts)) \
             LIMIT 1) AS runnable",
        );
        let found = with_pool!(self, pool => sqlx::query_scalar::<_, i64>(&sql)
            .fetch_one(pool)
            .await)?;
        Ok(found > 0)
    }

    /// Claims the oldest runnable task for `worker` with a lease of `lease_ms`:
    /// a pending one, or a running one whose lease lapsed with attempts left.
    pub async fn claim_task(
        &self,
        worker: &str,
        lease_ms: i64,
    ) -> Result<Option<(Claim, QueuedTask)>, DbError> {
        let sql = self.task_sql(
            "UPDATE tasks SET status = 'running', worker = $1, attempts = attempts + 1, \
             lease_until_ms = {now} + $2, started_ms = COALESCE(started_ms, {now}) \
             WHERE id = (SELECT id FROM tasks WHERE finished_ms IS NULL \
               AND (status = 'pending' OR (lease_until_ms < {now} AND attempts < max_attempts)) \
               ORDER BY created_ms, id LIMIT 1{skip_locked}) \
             RETURNING {columns}",
        );
        let row = with_pool!(self, pool => sqlx::query_as::<_, TaskRow>(&sql)
            .bind(worker)
            .bind(lease_ms)
            .fetch_optional(pool)
            .await)?;
        let Some(task) = row.map(QueuedTask::try_from).transpose()? else {
            return Ok(None);
        };
        let claim = Claim {
            task_id: task.record.id.clone(),
            worker: worker.to_owned(),
            attempt: task.attempts,
        };
        Ok(Some((claim, task)))
    }

    /// Renews `claim`'s lease by `lease_ms` and raises the progress to `progress`;
    /// `false` when the row is no longer the claim's (the worker must stop).
    pub async fn renew_claim(
        &self,
        claim: &Claim,
        progress: f64,
        lease_ms: i64,
    ) -> Result<bool, DbError> {
        let sql = self.task_sql(
            "UPDATE tasks SET lease_until_ms = {now} + $1, \
             progress = CASE WHEN $2 > progress THEN $2 ELSE progress END \
             WHERE id = $3 AND worker = $4 AND attempts = $5 AND status = 'running'",
        );
        let updated = with_pool!(self, pool => sqlx::query(&sql)
            .bind(lease_ms)
            .bind(progress)
            .bind(&claim.task_id)
            .bind(&claim.worker)
            .bind(count(claim.attempt))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Gives `claim`'s task back to the queue, the attempt uncounted (its worker
    /// stops without a fault of the task's); `false` when it was not the claim's.
    pub async fn release_claim(&self, claim: &Claim) -> Result<bool, DbError> {
        let released = with_pool!(self, pool => sqlx::query(
            "UPDATE tasks SET status = 'pending', worker = NULL, lease_until_ms = NULL, \
             attempts = attempts - 1 \
             WHERE id = $1 AND worker = $2 AND attempts = $3 AND status = 'running'",
        )
        .bind(&claim.task_id)
        .bind(&claim.worker)
        .bind(count(claim.attempt))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        let released = released == 1;
        if released {
            self.wake_workers().await;
        }
        Ok(released)
    }

    /// Lets every running task be claimed again at once (their leases end now):
    /// at the start of the one server of an embedded database, whose earlier run
    /// held them all.
    pub async fn end_all_leases(&self) -> Result<u64, DbError> {
        let ended = with_pool!(self, pool => sqlx::query(
            "UPDATE tasks SET lease_until_ms = 0 WHERE finished_ms IS NULL AND status = 'running'",
        )
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(ended)
    }

    /// Records `claim`'s task as succeeded with `output` (stored as `output_url`),
    /// adding the media to its owner's index within `quota`, in one transaction.
    pub async fn finish_succeeded(
        &self,
        claim: &Claim,
        output: &MediaRecord,
        output_url: &str,
        quota: Option<u64>,
    ) -> Result<Finished, DbError> {
        let sql = self.task_sql(
            "UPDATE tasks SET status = 'succeeded', progress = 1, finished_ms = {now}, \
             output_url = $1, worker = NULL, lease_until_ms = NULL \
             WHERE id = $2 AND worker = $3 AND attempts = $4 AND status = 'running'",
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(&sql)
                .bind(output_url)
                .bind(&claim.task_id)
                .bind(&claim.worker)
                .bind(count(claim.attempt))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                return Ok(Finished::Lost);
            }
            if let super::Added::OverQuota(used) = add_media_in!(tx, output, quota) {
                tx.rollback().await?;
                return Ok(Finished::OverQuota(used));
            }
            tx.commit().await?;
            Ok(Finished::Recorded)
        })
    }

    /// Records `claim`'s task as failed with `error`.
    pub async fn finish_failed(
        &self,
        claim: &Claim,
        error: &TaskError,
    ) -> Result<Finished, DbError> {
        let sql = self.task_sql(
            "UPDATE tasks SET {set_failed} \
             WHERE id = $4 AND worker = $5 AND attempts = $6 AND status = 'running'",
        );
        let updated = with_pool!(self, pool => sqlx::query(&sql)
            .bind(&error.code)
            .bind(&error.message)
            .bind(error.param.as_deref())
            .bind(&claim.task_id)
            .bind(&claim.worker)
            .bind(count(claim.attempt))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(if updated == 1 {
            Finished::Recorded
        } else {
            Finished::Lost
        })
    }

    /// Fails (with `error`) up to `limit` running tasks whose last attempt's lease
    /// lapsed; answers their output ids (a dead attempt may have stored bytes).
    pub async fn fail_exhausted(
        &self,
        error: &TaskError,
        limit: u32,
    ) -> Result<Vec<String>, DbError> {
        let sql = self.task_sql(
            "UPDATE tasks SET {set_failed} \
             WHERE id IN (SELECT id FROM tasks WHERE finished_ms IS NULL AND status = 'running' \
               AND lease_until_ms < {now} AND attempts >= max_attempts LIMIT $4) \
             RETURNING output_id",
        );
        Ok(
            with_pool!(self, pool => sqlx::query_scalar::<_, String>(&sql)
            .bind(&error.code)
            .bind(&error.message)
            .bind(error.param.as_deref())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?,
        )
    }

    /// `owner`'s task `id`.
    pub async fn task(&self, owner: &str, id: &str) -> Result<Option<QueuedTask>, DbError> {
        let sql = self.task_sql("SELECT {columns} FROM tasks WHERE id = $1 AND owner = $2");
        let row = with_pool!(self, pool => sqlx::query_as::<_, TaskRow>(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(pool)
            .await)?;
        row.map(QueuedTask::try_from).transpose()
    }

    /// Cancels `owner`'s task `id` if it is unfinished; the task as cancelled, or
    /// `None` when it is not there or already finished.
    pub async fn cancel_task(&self, owner: &str, id: &str) -> Result<Option<QueuedTask>, DbError> {
        let sql = self.task_sql(
            "UPDATE tasks SET status = 'cancelled', finished_ms = {now}, worker = NULL, \
             lease_until_ms = NULL \
             WHERE id = $1 AND owner = $2 AND finished_ms IS NULL RETURNING {columns}",
        );
        let row = with_pool!(self, pool => sqlx::query_as::<_, TaskRow>(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(pool)
            .await)?;
        row.map(QueuedTask::try_from).transpose()
    }

    /// Deletes `owner`'s task `id` if it is finished; the task as it was.
    pub async fn delete_finished_task(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Option<QueuedTask>, DbError> {
        let sql = self.task_sql(
            "DELETE FROM tasks WHERE id = $1 AND owner = $2 AND finished_ms IS NOT NULL \
             RETURNING {columns}",
        );
        let row = with_pool!(self, pool => sqlx::query_as::<_, TaskRow>(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(pool)
            .await)?;
        row.map(QueuedTask::try_from).transpose()
    }

    /// Up to `limit` of `owner`'s tasks finished at or after `finished_since_ms`
    /// or unfinished, created within `created_ms` (from, until), newest first
    /// (ids sort by creation), before id `before`.
    pub async fn task_page(
        &self,
        owner: &str,
        finished_since_ms: i64,
        created_ms: (Option<i64>, Option<i64>),
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<QueuedTask>, DbError> {
        let sql = self.task_sql(
            "SELECT {columns} FROM tasks WHERE owner = $1 \
             AND (finished_ms IS NULL OR finished_ms >= $2) AND ($3 IS NULL OR id < $3) \
             AND created_ms >= $5 AND created_ms < $6 \
             ORDER BY id DESC LIMIT $4",
        );
        let rows = with_pool!(self, pool => sqlx::query_as::<_, TaskRow>(&sql)
            .bind(owner)
            .bind(finished_since_ms)
            .bind(before)
            .bind(i64::from(limit))
            .bind(created_ms.0.unwrap_or(i64::MIN))
            .bind(created_ms.1.unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await)?;
        tasks(rows)
    }

    /// Deletes up to `limit` tasks finished before `before_ms`; how many.
    pub async fn remove_finished_tasks(&self, before_ms: i64, limit: u32) -> Result<u64, DbError> {
        let removed = with_pool!(self, pool => sqlx::query(
            "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks \
             WHERE finished_ms IS NOT NULL AND finished_ms < $1 LIMIT $2)",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(removed)
    }

    /// Adds the task records of a store written before the database (those
    /// already here are kept). A task that was unfinished has no input to run
    /// again: it is recorded `failed` with `interrupted`.
    pub async fn import_tasks(
        &self,
        found: &[TaskRecord],
        interrupted: &TaskError,
    ) -> Result<(), DbError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for task in found {
                let (status, finished, error) = if task.is_finished() {
                    (task.status, task.finished_at.unwrap_or(task.heartbeat_at), task.error.as_ref())
                } else {
                    (TaskStatus::Failed, task.heartbeat_at, Some(interrupted))
                };
                sqlx::query(
                    "INSERT INTO tasks (id, owner, operation, input, status, progress, attempts, \
                     max_attempts, created_ms, started_ms, finished_ms, output_id, output_url, \
                     error_code, error_message, error_param) \
                     VALUES ($1, $2, $3, '{}', $4, $5, 1, 1, $6, $7, $8, '', $9, $10, $11, $12) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(&task.id)
                .bind(&task.owner)
                .bind(task.operation.as_str())
                .bind(status.as_str())
                .bind(task.progress)
                .bind(task.created_at.timestamp_millis())
                .bind(task.started_at.map(|t| t.timestamp_millis()))
                .bind(finished.timestamp_millis())
                .bind(task.output.as_ref().map(|o| o.media_url.as_str()))
                .bind(error.map(|e| e.code.as_str()))
                .bind(error.map(|e| e.message.as_str()))
                .bind(error.and_then(|e| e.param.as_deref()))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Tells the workers listening that a task can be claimed: a PostgreSQL
    /// notification on [`TASKS_CHANNEL`] (SQLite's one server wakes its own).
    /// Best effort: workers also poll.
    async fn wake_workers(&self) {
        if let Pool::Postgres(pool) = &self.pool {
            let sent = sqlx::query("SELECT pg_notify($1, '')")
                .bind(TASKS_CHANNEL)
                .execute(pool)
                .await;
            if let Err(err) = sent {
                tracing::debug!(%err, "cannot notify the task workers; they will poll");
            }
        }
    }

    /// Waits for notifications of runnable tasks: `Some` on PostgreSQL, a
    /// listener that calls `wake` at each (reconnecting as needed); `None` on
    /// SQLite.
    pub async fn listen_for_tasks(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let Pool::Postgres(pool) = &self.pool else {
            return None;
        };
        let pool = pool.clone();
        Some(tokio::spawn(async move {
            loop {
                let listened = async {
                    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    listener.listen(TASKS_CHANNEL).await?;
                    loop {
                        listener.recv().await?;
                        wake.notify_one();
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), sqlx::Error>(())
                };
                tokio::select! {
                    () = stop.cancelled() => return,
                    result = listened => if let Err(err) = result {
                        tracing::debug!(%err, "the task listener lost its connection; reconnecting");
                    },
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }))
    }
}

/// The PostgreSQL channel that announces runnable tasks.
pub const TASKS_CHANNEL: &str = "runway_tasks";
