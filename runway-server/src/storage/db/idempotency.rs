//! Idempotency keys: a row per caller and key. The first request claims it with
//! an insert (or by taking over a row that expired or whose request died), so two
//! requests with one key never both run; it keeps its answer in the row.

use super::{Database, DbError, with_pool};

/// An answer kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// The HTTP status.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Its `Location`.
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

/// A key's row, as a request trying to claim it found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// Claimed for this request.
    Claimed,
    /// Held by a request with this fingerprint, answered or not yet.
    Held {
        /// The holding request's fingerprint.
        fingerprint: String,
        /// Its answer, once it has one.
        answer: Option<StoredAnswer>,
    },
}

/// What claiming a key writes.
#[derive(Debug, Clone)]
pub struct KeyRequest<'a> {
    /// The caller (an account id).
    pub owner: &'a str,
    /// The key's SHA-256.
    pub key_hash: &'a str,
    /// The request's fingerprint.
    pub fingerprint: &'a str,
    /// The claiming request's own token.
    pub claim: &'a str,
    /// Now (ms).
    pub now_ms: i64,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    fingerprint: String,
    answer_status: Option<i32>,
    answer_content_type: Option<String>,
    answer_location: Option<String>,
    answer_body: Option<String>,
}

impl Database {
    /// Claims `request`'s key, taking over a row created before `expired_before_ms`
    /// or an unanswered one created before `abandoned_before_ms`; otherwise says
    /// who holds it.
    pub async fn claim_key(
        &self,
        request: &KeyRequest<'_>,
        expired_before_ms: i64,
        abandoned_before_ms: i64,
    ) -> Result<KeyClaim, DbError> {
        let claimed = with_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "INSERT INTO idempotency_keys (owner, key_hash, fingerprint, created_ms, claim) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (owner, key_hash) DO UPDATE SET fingerprint = excluded.fingerprint, \
             created_ms = excluded.created_ms, claim = excluded.claim, answer_status = NULL, \
             answer_content_type = NULL, answer_location = NULL, answer_body = NULL \
             WHERE idempotency_keys.created_ms < $6 \
             OR (idempotency_keys.answer_status IS NULL AND idempotency_keys.created_ms < $7) \
             RETURNING claim",
        )
        .bind(request.owner)
        .bind(request.key_hash)
        .bind(request.fingerprint)
        .bind(request.now_ms)
        .bind(request.claim)
        .bind(expired_before_ms)
        .bind(abandoned_before_ms)
        .fetch_optional(pool)
        .await)?;
        if claimed.as_deref() == Some(request.claim) {
            return Ok(KeyClaim::Claimed);
        }
        let row = with_pool!(self, pool => sqlx::query_as::<_, KeyRow>(
            "SELECT fingerprint, answer_status, answer_content_type, answer_location, answer_body \
             FROM idempotency_keys WHERE owner = $1 AND key_hash = $2",
        )
        .bind(request.owner)
        .bind(request.key_hash)
        .fetch_optional(pool)
        .await)?;
        // Deleted since (its request failed): the caller may try again.
        let Some(row) = row else {
            return Box::pin(self.claim_key(request, expired_before_ms, abandoned_before_ms)).await;
        };
        let answer = match (row.answer_status, row.answer_body) {
            (Some(status), Some(body)) => Some(StoredAnswer {
                status: u16::try_from(status)
                    .map_err(|_| DbError::Corrupt(format!("an answer's status: {status}")))?,
                content_type: row.answer_content_type,
                location: row.answer_location,
                body,
            }),
            _ => None,
        };
        Ok(KeyClaim::Held {
            fingerprint: row.fingerprint,
            answer,
        })
    }

    /// Keeps `answer` for the key claimed with `claim`; `false` when another
    /// request took the key over meanwhile.
    pub async fn keep_answer(
        &self,
        owner: &str,
        key_hash: &str,
        claim: &str,
        answer: &StoredAnswer,
    ) -> Result<bool, DbError> {
        let updated = with_pool!(self, pool => sqlx::query(
            "UPDATE idempotency_keys SET answer_status = $1, answer_content_type = $2, \
             answer_location = $3, answer_body = $4 \
             WHERE owner = $5 AND key_hash = $6 AND claim = $7",
        )
        .bind(i32::from(answer.status))
        .bind(answer.content_type.as_deref())
        .bind(answer.location.as_deref())
        .bind(&answer.body)
        .bind(owner)
        .bind(key_hash)
        .bind(claim)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Frees the key claimed with `claim` (its request failed).
    pub async fn release_key(
        &self,
        owner: &str,
        key_hash: &str,
        claim: &str,
    ) -> Result<(), DbError> {
        with_pool!(self, pool => sqlx::query(
            "DELETE FROM idempotency_keys WHERE owner = $1 AND key_hash = $2 AND claim = $3",
        )
        .bind(owner)
        .bind(key_hash)
        .bind(claim)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    /// Frees every unanswered key (at the start of an embedded database's one
    /// server: no request of it runs yet); how many.
    pub async fn release_unanswered_keys(&self) -> Result<u64, DbError> {
        Ok(with_pool!(self, pool => sqlx::query(
            "DELETE FROM idempotency_keys WHERE answer_status IS NULL",
        )
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?)
    }

    /// Removes up to `limit` keys created before `before_ms`; how many.
    pub async fn remove_expired_keys(&self, before_ms: i64, limit: u32) -> Result<u64, DbError> {
        Ok(with_pool!(self, pool => sqlx::query(
            "DELETE FROM idempotency_keys WHERE (owner, key_hash) IN \
             (SELECT owner, key_hash FROM idempotency_keys WHERE created_ms < $1 LIMIT $2)",
        )
        .bind(before_ms)
        .bind(i64::from(limit))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?)
    }

    /// Adds the answered keys of a store written before the database (those
    /// already here are kept): `(owner, key hash, fingerprint, created ms, answer)`.
    pub async fn import_keys(
        &self,
        found: &[(String, String, String, i64, StoredAnswer)],
    ) -> Result<(), DbError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (owner, key_hash, fingerprint, created_ms, answer) in found {
                sqlx::query(
                    "INSERT INTO idempotency_keys (owner, key_hash, fingerprint, created_ms, claim, \
                     answer_status, answer_content_type, answer_location, answer_body) \
                     VALUES ($1, $2, $3, $4, 'imported', $5, $6, $7, $8) \
                     ON CONFLICT (owner, key_hash) DO NOTHING",
                )
                .bind(owner)
                .bind(key_hash)
                .bind(fingerprint)
                .bind(created_ms)
                .bind(i32::from(answer.status))
                .bind(answer.content_type.as_deref())
                .bind(answer.location.as_deref())
                .bind(&answer.body)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
