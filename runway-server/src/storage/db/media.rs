//! The media index: one row per stored media, and each owner's counters, changed
//! together in one transaction. A quota holds at the moment a media is added:
//! the counters' row is updated only while the new total stays within it, so
//! concurrent additions on any number of replicas cannot pass it together.

use crate::domain::media::{MediaKind, MediaRecord};

use super::{Database, DbError, with_pool};

/// Where a page of media starts: after the media of this time and id (pages run
/// newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaCursor {
    /// The last media's creation, in milliseconds since the epoch.
    pub created_ms: i64,
    /// The last media's id.
    pub id: String,
}

impl MediaCursor {
    /// The cursor after `record`.
    pub fn after(record: &MediaRecord) -> Self {
        Self {
            created_ms: record.created_at.timestamp_millis(),
            id: record.id.clone(),
        }
    }

    /// Reads the contract's cursor, `{created ms, 12 hex digits}.{id}`.
    pub fn parse(text: &str) -> Option<Self> {
        let (created, id) = text.split_once('.')?;
        if created.len() != 12 || id.is_empty() || id.contains('.') {
            return None;
        }
        Some(Self {
            created_ms: i64::from_str_radix(created, 16).ok()?,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for MediaCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:012x}.{}", self.created_ms.max(0), self.id)
    }
}

/// Which media a page holds.
#[derive(Debug, Clone, Default)]
pub struct MediaQuery {
    /// Only this kind.
    pub kind: Option<MediaKind>,
    /// Only media stored at or after this time (ms).
    pub from_ms: Option<i64>,
    /// Only media stored before this time (ms).
    pub until_ms: Option<i64>,
}

/// What adding a media did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// It is counted and listed.
    Added,
    /// It would take its owner past the quota: nothing changed. The bytes the
    /// owner uses.
    OverQuota(u64),
}

/// An owner's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// How many media.
    pub media_count: u64,
    /// How many bytes.
    pub used_bytes: u64,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    record: String,
}

#[derive(sqlx::FromRow)]
struct CountersRow {
    media_count: i64,
    used_bytes: i64,
}

fn kind_name(kind: MediaKind) -> &'static str {
    kind.folder()
}

fn records(rows: Vec<RecordRow>) -> Result<Vec<MediaRecord>, DbError> {
    rows.into_iter()
        .map(|row| {
            serde_json::from_str(&row.record)
                .map_err(|e| DbError::Corrupt(format!("a media row's record: {e}")))
        })
        .collect()
}

pub(super) fn bytes(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Adds media `$record` to its owner's index and counters within `$quota`
/// bytes, in transaction `$tx` (of either backend); evaluates to [`Added`]. Over
/// the quota nothing is written, and the caller rolls back.
macro_rules! add_media_in {
    ($tx:ident, $record:expr, $quota:expr) => {{
        let record: &$crate::domain::media::MediaRecord = $record;
        let json = serde_json::to_string(record)
            .map_err(|e| $crate::storage::db::DbError::Corrupt(format!("a media record: {e}")))?;
        let size = $crate::storage::db::media::bytes(record.size_bytes);
        let quota = $quota.map($crate::storage::db::media::bytes);
        sqlx::query(
            "INSERT INTO usage (owner, media_count, used_bytes) VALUES ($1, 0, 0) \
             ON CONFLICT (owner) DO NOTHING",
        )
        .bind(&record.owner)
        .execute(&mut *$tx)
        .await?;
        let counted = sqlx::query(
            "UPDATE usage SET media_count = media_count + 1, used_bytes = used_bytes + $1 \
             WHERE owner = $2 AND ($3 IS NULL OR used_bytes + $1 <= $3)",
        )
        .bind(size)
        .bind(&record.owner)
        .bind(quota)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if counted == 0 {
            let used =
                sqlx::query_scalar::<_, i64>("SELECT used_bytes FROM usage WHERE owner = $1")
                    .bind(&record.owner)
                    .fetch_one(&mut *$tx)
                    .await?;
            $crate::storage::db::Added::OverQuota(u64::try_from(used).unwrap_or(0))
        } else {
            sqlx::query(
                "INSERT INTO media (id, owner, kind, size_bytes, created_ms, record) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&record.id)
            .bind(&record.owner)
            .bind(record.kind.folder())
            .bind(size)
            .bind(record.created_at.timestamp_millis())
            .bind(&json)
            .execute(&mut *$tx)
            .await?;
            $crate::storage::db::Added::Added
        }
    }};
}
pub(super) use add_media_in;

impl Database {
    /// Adds `record` to its owner's media and counters, unless that would take the
    /// owner past `quota` bytes.
    pub async fn add_media(
        &self,
        record: &MediaRecord,
        quota: Option<u64>,
    ) -> Result<Added, DbError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let added = add_media_in!(tx, record, quota);
            if added == Added::Added {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(added)
        })
    }

    /// Removes media `id` from the index and its owner's counters; whether it was
    /// there.
    pub async fn remove_media(&self, id: &str) -> Result<bool, DbError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query_as::<_, (String, i64)>(
                "DELETE FROM media WHERE id = $1 RETURNING owner, size_bytes",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((owner, size)) = removed else {
                tx.rollback().await?;
                return Ok(false);
            };
            sqlx::query(
                "UPDATE usage SET media_count = media_count - 1, used_bytes = used_bytes - $1 \
                 WHERE owner = $2",
            )
            .bind(size)
            .bind(&owner)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// `owner`'s counters without the media stored before `expired_before_ms`
    /// (expired, not yet swept: a range of the owner's index, which the sweep
    /// keeps short).
    pub async fn live_counters(
        &self,
        owner: &str,
        expired_before_ms: Option<i64>,
    ) -> Result<Counters, DbError> {
        let all = self.counters(owner).await?;
        let Some(before) = expired_before_ms else {
            return Ok(all);
        };
        let expired = with_pool!(self, pool => sqlx::query_as::<_, CountersRow>(
            "SELECT COUNT(*) AS media_count, CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS used_bytes \
             FROM media WHERE owner = $1 AND created_ms < $2",
        )
        .bind(owner)
        .bind(before)
        .fetch_one(pool)
        .await)?;
        Ok(Counters {
            media_count: all
                .media_count
                .saturating_sub(u64::try_from(expired.media_count).unwrap_or(0)),
            used_bytes: all
                .used_bytes
                .saturating_sub(u64::try_from(expired.used_bytes).unwrap_or(0)),
        })
    }

    /// `owner`'s counters.
    pub async fn counters(&self, owner: &str) -> Result<Counters, DbError> {
        let row = with_pool!(self, pool => sqlx::query_as::<_, CountersRow>(
            "SELECT media_count, used_bytes FROM usage WHERE owner = $1",
        )
        .bind(owner)
        .fetch_optional(pool)
        .await)?;
        Ok(row.map_or_else(Counters::default, |row| Counters {
            media_count: u64::try_from(row.media_count).unwrap_or(0),
            used_bytes: u64::try_from(row.used_bytes).unwrap_or(0),
        }))
    }

    /// Up to `limit` of `owner`'s media matching `query`, newest first, after
    /// `cursor`.
    pub async fn media_page(
        &self,
        owner: &str,
        query: &MediaQuery,
        cursor: Option<&MediaCursor>,
        limit: u32,
    ) -> Result<Vec<MediaRecord>, DbError> {
        let (before_ms, before_id) =
            cursor.map_or((i64::MAX, String::new()), |c| (c.created_ms, c.id.clone()));
        let rows = with_pool!(self, pool => sqlx::query_as::<_, RecordRow>(
            "SELECT record FROM media \
             WHERE owner = $1 AND ($2 IS NULL OR kind = $2) \
             AND created_ms >= $3 AND created_ms < $4 \
             AND (created_ms < $5 OR (created_ms = $5 AND id < $6)) \
             ORDER BY created_ms DESC, id DESC LIMIT $7",
        )
        .bind(owner)
        .bind(query.kind.map(kind_name))
        .bind(query.from_ms.unwrap_or(i64::MIN))
        .bind(query.until_ms.unwrap_or(i64::MAX))
        .bind(before_ms)
        .bind(&before_id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        records(rows)
    }

    /// The record of media `id`, if it is in the index.
    pub async fn media_record(&self, id: &str) -> Result<Option<MediaRecord>, DbError> {
        let row = with_pool!(self, pool => sqlx::query_as::<_, RecordRow>(
            "SELECT record FROM media WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?;
        Ok(records(row.into_iter().collect())?.pop())
    }

    /// Up to `limit` media stored before `before_ms`, oldest first.
    pub async fn media_older_than(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> Result<Vec<MediaRecord>, DbError> {
        let rows = with_pool!(self, pool => sqlx::query_as::<_, RecordRow>(
            "SELECT record FROM media WHERE created_ms < $1 ORDER BY created_ms LIMIT $2",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        records(rows)
    }

    /// Adds the media of a store written before the database (those already here
    /// are kept), then counts every owner's media anew.
    pub async fn import_media(&self, found: &[MediaRecord]) -> Result<(), DbError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for record in found {
                let json = serde_json::to_string(record)
                    .map_err(|e| DbError::Corrupt(format!("a media record: {e}")))?;
                sqlx::query(
                    "INSERT INTO media (id, owner, kind, size_bytes, created_ms, record) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&record.id)
                .bind(&record.owner)
                .bind(kind_name(record.kind))
                .bind(bytes(record.size_bytes))
                .bind(record.created_at.timestamp_millis())
                .bind(&json)
                .execute(&mut *tx)
                .await?;
            }
            // (`WHERE true` tells SQLite's parser that ON begins the upsert.)
            sqlx::query(
                "INSERT INTO usage (owner, media_count, used_bytes) \
                 SELECT owner, COUNT(*), CAST(SUM(size_bytes) AS BIGINT) FROM media \
                 WHERE true GROUP BY owner \
                 ON CONFLICT (owner) DO UPDATE SET media_count = excluded.media_count, \
                 used_bytes = excluded.used_bytes",
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
