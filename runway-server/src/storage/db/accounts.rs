//! Accounts and their API keys. A key is stored as its SHA-256 digest (keys are
//! 128 random bits, so a fast digest is enough), with the first characters kept
//! to tell keys apart in a list.

use super::{Database, DbError, now_ms, with_pool};

/// An account: it owns media, tasks and a quota.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Account {
    /// Its id (`acc_...`, or the key digest of an owner from before accounts).
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// When it was made.
    pub created_ms: i64,
}

/// What a list shows of a key: never the key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyInfo {
    /// Its id (`key_...`), to revoke it by.
    pub id: String,
    /// The account it belongs to.
    pub account_id: String,
    /// The account's name.
    pub account_name: String,
    /// The label given when it was made.
    pub label: Option<String>,
    /// Its first characters (`rwk_1a2b3c4d`).
    pub prefix: String,
    /// When it was made.
    pub created_ms: i64,
    /// When it was last used (to the minute).
    pub last_used_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
}

/// Whose a key is: found by its digest, if it is not revoked.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyOwner {
    /// The key's id.
    pub key_id: String,
    /// The account it belongs to.
    pub account_id: String,
}

/// The query of [`ApiKeyInfo`]s whose `api_keys k` row matches `filter`.
fn keys_where(filter: &str) -> String {
    format!(
        "SELECT k.id, k.account_id, a.name AS account_name, k.label, k.prefix, \
         k.created_ms, k.last_used_ms, k.revoked_ms \
         FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE {filter}"
    )
}

/// How stale `last_used_ms` may get: a key's use is written at most this often.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl Database {
    /// The account named `name`, made with `id` when there is none.
    pub async fn ensure_account(&self, id: &str, name: &str) -> Result<Account, DbError> {
        let now = now_ms();
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO accounts (id, name, created_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(sqlx::query_as::<_, Account>(
                "SELECT id, name, created_ms FROM accounts WHERE name = $1",
            )
            .bind(name)
            .fetch_one(pool)
            .await?)
        })
    }

    /// The key with digest `key_hash`, revoked or not.
    pub async fn key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyInfo>, DbError> {
        let sql = keys_where("k.key_hash = $1");
        with_pool!(self, pool => Ok(sqlx::query_as::<_, ApiKeyInfo>(&sql)
            .bind(key_hash)
            .fetch_optional(pool)
            .await?))
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> Result<Vec<Account>, DbError> {
        with_pool!(self, pool => Ok(sqlx::query_as::<_, Account>(
            "SELECT id, name, created_ms FROM accounts ORDER BY name",
        )
        .fetch_all(pool)
        .await?))
    }

    /// Stores a key of `account_id` by its digest; `Conflict` when that digest is
    /// stored already.
    pub async fn insert_key(
        &self,
        id: &str,
        account_id: &str,
        label: Option<&str>,
        prefix: &str,
        key_hash: &str,
    ) -> Result<ApiKeyInfo, DbError> {
        let now = now_ms();
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO api_keys (id, account_id, label, prefix, key_hash, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(account_id)
            .bind(label)
            .bind(prefix)
            .bind(key_hash)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(sqlx::query_as::<_, ApiKeyInfo>(&keys_where("k.id = $1"))
            .bind(id)
            .fetch_one(pool)
            .await?)
        })
    }

    /// The keys of the account named `account`, or of every account, oldest first.
    pub async fn keys(&self, account: Option<&str>) -> Result<Vec<ApiKeyInfo>, DbError> {
        let sql = keys_where("($1 IS NULL OR a.name = $1) ORDER BY a.name, k.created_ms, k.id");
        with_pool!(self, pool => Ok(sqlx::query_as::<_, ApiKeyInfo>(&sql)
            .bind(account)
            .fetch_all(pool)
            .await?))
    }

    /// Revokes the key whose id is `id` or whose digest is `key_hash`; the key as
    /// it is afterwards, or `None` when there is no such key.
    pub async fn revoke_key(
        &self,
        id: &str,
        key_hash: &str,
    ) -> Result<Option<ApiKeyInfo>, DbError> {
        let now = now_ms();
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE api_keys SET revoked_ms = $1 \
                 WHERE (id = $2 OR key_hash = $3) AND revoked_ms IS NULL",
            )
            .bind(now)
            .bind(id)
            .bind(key_hash)
            .execute(pool)
            .await?;
            Ok(sqlx::query_as::<_, ApiKeyInfo>(&keys_where("k.id = $1 OR k.key_hash = $2"))
            .bind(id)
            .bind(key_hash)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Whose the key with digest `key_hash` is, unless it is revoked.
    pub async fn key_owner(&self, key_hash: &str) -> Result<Option<KeyOwner>, DbError> {
        with_pool!(self, pool => Ok(sqlx::query_as::<_, KeyOwner>(
            "SELECT id AS key_id, account_id FROM api_keys \
             WHERE key_hash = $1 AND revoked_ms IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(pool)
        .await?))
    }

    /// Notes that key `key_id` was used now (written at most once a minute).
    pub async fn touch_key(&self, key_id: &str) -> Result<(), DbError> {
        let now = now_ms();
        with_pool!(self, pool => sqlx::query(
            "UPDATE api_keys SET last_used_ms = $1 \
             WHERE id = $2 AND (last_used_ms IS NULL OR last_used_ms < $3)",
        )
        .bind(now)
        .bind(key_id)
        .bind(now - LAST_USED_RESOLUTION_MS)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }
}
