//! Passwords and sign-in sessions of the cabinet. A session is kept as the
//! SHA-256 of its token (the cookie), so the table's contents sign no one in.

use super::{Database, DbError, now_ms, with_pool};

/// A signed-in session, found by its token's digest.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// The account signed in.
    pub account_id: String,
    /// The account's name.
    pub account_name: String,
    /// The token its forms carry against cross-site requests.
    pub csrf_token: String,
    /// When it expires (ms).
    pub expires_ms: i64,
}

impl Database {
    /// Sets the password (`hash`, a PHC string) of account `account_id`;
    /// whether the account exists.
    pub async fn set_password(&self, account_id: &str, hash: &str) -> Result<bool, DbError> {
        let updated = with_pool!(self, pool => sqlx::query(
            "UPDATE accounts SET password_hash = $1 WHERE id = $2",
        )
        .bind(hash)
        .bind(account_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(updated == 1)
    }

    /// The id and password hash of the account named `name`, if it has one.
    pub async fn password_of(&self, name: &str) -> Result<Option<(String, String)>, DbError> {
        Ok(
            with_pool!(self, pool => sqlx::query_as::<_, (String, String)>(
            "SELECT id, password_hash FROM accounts WHERE name = $1 AND password_hash IS NOT NULL",
        )
        .bind(name)
        .fetch_optional(pool)
        .await)?,
        )
    }

    /// Starts a session of `account_id` until `expires_ms`.
    pub async fn insert_session(
        &self,
        token_hash: &str,
        account_id: &str,
        csrf_token: &str,
        expires_ms: i64,
    ) -> Result<(), DbError> {
        let now = now_ms();
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, csrf_token, created_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(account_id)
        .bind(csrf_token)
        .bind(now)
        .bind(expires_ms)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    /// The unexpired session of `token_hash`.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>, DbError> {
        let now = now_ms();
        Ok(with_pool!(self, pool => sqlx::query_as::<_, Session>(
            "SELECT s.account_id, a.name AS account_name, s.csrf_token, s.expires_ms \
             FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.expires_ms > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?)
    }

    /// Ends the session of `token_hash`.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), DbError> {
        with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    /// Ends every session of `account_id` (its password changed).
    pub async fn delete_sessions_of(&self, account_id: &str) -> Result<(), DbError> {
        with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }

    /// Removes up to `limit` expired sessions; how many.
    pub async fn remove_expired_sessions(&self, limit: u32) -> Result<u64, DbError> {
        let now = now_ms();
        Ok(with_pool!(self, pool => sqlx::query(
            "DELETE FROM sessions WHERE token_hash IN \
             (SELECT token_hash FROM sessions WHERE expires_ms <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(i64::from(limit))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?)
    }
}
