//! Signing in to the cabinet: an account's password (set on the server's
//! machine with `runway-server accounts set-password`), stored as an argon2id
//! PHC string, and sessions, kept in the database as the SHA-256 of their
//! token (so valid on every replica), each with a token of its own that its
//! forms carry against cross-site requests. Sign-in attempts are limited per
//! account and per address (per replica).

use std::num::NonZeroU32;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::App;
use super::accounts::Accounts;
use super::auth::{RateLimits, digest_of};
use super::background::Sweep;
use crate::domain::{Error, ErrorCode, Owner, Result};
use crate::storage::db::{Database, Session};

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// The shortest password accepted.
const MIN_PASSWORD_CHARS: usize = 10;

/// Sign-in attempts allowed per account, a minute (in a burst of as many).
const ATTEMPTS_PER_ACCOUNT: NonZeroU32 = NonZeroU32::MIN.saturating_add(4);
/// Sign-in attempts allowed per client address, a minute (in a burst of as many).
const ATTEMPTS_PER_ADDRESS: NonZeroU32 = NonZeroU32::MIN.saturating_add(19);

/// Password verifications (argon2, 19 MiB and tens of milliseconds each) that
/// may run at once on a replica; more wait their turn.
const VERIFICATIONS_AT_ONCE: usize = 2;

/// The limits on sign-in attempts of one replica.
#[derive(Debug)]
pub(crate) struct SignInLimits {
    accounts: RateLimits,
    addresses: RateLimits,
    verifying: tokio::sync::Semaphore,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            accounts: RateLimits::per_minute(ATTEMPTS_PER_ACCOUNT, ATTEMPTS_PER_ACCOUNT),
            addresses: RateLimits::per_minute(ATTEMPTS_PER_ADDRESS, ATTEMPTS_PER_ADDRESS),
            verifying: tokio::sync::Semaphore::new(VERIFICATIONS_AT_ONCE),
        }
    }
}

/// A session just started: the cookie's token (never stored) and the session.
#[derive(Debug, Clone)]
pub(crate) struct NewSession {
    /// The session's token, for the cookie.
    pub(crate) token: String,
    /// How long it lasts.
    pub(crate) ttl: Duration,
}

/// `n` random bytes from the OS, as hex.
fn random_hex(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no random bytes: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Hashes `password` with argon2id and a random salt (a PHC string).
fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash`.
fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Sets the password of the account `name` (made if it does not exist) and ends
/// its sessions: for `runway-server accounts set-password`.
pub async fn set_password(db: &Database, name: &str, password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Error::invalid(
            "password",
            format!("a password has at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    let account = Accounts::new(db.clone()).ensure(name).await?;
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(Error::internal)??;
    db.set_password(&account.id, &hash).await?;
    db.delete_sessions_of(&account.id).await?;
    Ok(())
}

fn wrong_credentials() -> Error {
    Error::new(ErrorCode::Unauthorized, "wrong account name or password")
}

impl App {
    /// Signs the account `name` in with `password`, for a client at `address`:
    /// a new session, or 401 for a wrong name or password, 429 (with
    /// `Retry-After`) past the attempts allowed.
    pub(crate) async fn sign_in(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<NewSession> {
        let limits = &self.sign_in_limits;
        // The address first, so that a client over its limit adds no account to
        // the table; a name no account can have costs nothing more.
        let address_key = format!("address:{address}");
        let account_key = format!("account:{name}");
        let checks = [
            (&limits.addresses, &address_key),
            (&limits.accounts, &account_key),
        ];
        for (i, (limiter, key)) in checks.into_iter().enumerate() {
            if i == 1 && super::accounts::check_name("account", name).is_err() {
                return Err(wrong_credentials());
            }
            if let Err(wait) = limiter.check_key(key) {
                return Err(Error::new(
                    ErrorCode::RateLimited,
                    format!("too many sign-in attempts; try again in {wait} s"),
                )
                .with_retry_after(wait));
            }
        }
        let _turn = limits.verifying.acquire().await.map_err(Error::internal)?;
        let Some((account_id, hash)) = self.db.password_of(name).await? else {
            // The same work as a wrong password, so that names cannot be told
            // apart by time.
            let password = password.to_owned();
            let _ =
                tokio::task::spawn_blocking(move || password_matches(&password, DUMMY_HASH)).await;
            return Err(wrong_credentials());
        };
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
            .await
            .map_err(Error::internal)?;
        if !matches {
            tracing::info!(account = %name, %address, "a sign-in with a wrong password");
            return Err(wrong_credentials());
        }
        let token = random_hex(32)?;
        let csrf = random_hex(16)?;
        let expires = chrono::Utc::now()
            + chrono::Duration::from_std(SESSION_TTL).map_err(Error::internal)?;
        self.db
            .insert_session(
                &digest_of(&token),
                &account_id,
                &csrf,
                expires.timestamp_millis(),
            )
            .await?;
        tracing::info!(account = %name, "signed in to the cabinet");
        Ok(NewSession {
            token,
            ttl: SESSION_TTL,
        })
    }

    /// The session of the cookie's `token`, if it is valid.
    pub(crate) async fn session(&self, token: &str) -> Result<Option<Session>> {
        Ok(self.db.session(&digest_of(token)).await?)
    }

    /// Ends the session of `token`.
    pub(crate) async fn sign_out(&self, token: &str) -> Result<()> {
        Ok(self.db.delete_session(&digest_of(token)).await?)
    }
}

/// The owner a session acts for.
pub(crate) fn owner_of(session: &Session) -> Owner {
    Owner(session.account_id.clone())
}

/// A PHC string of the default parameters, verified when the account has no
/// password, so that such a sign-in costs what a wrong password costs.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0rdFhHzxPAyCdzULqn9fM3SMRa6k0h9aZDfVjuFV5Sg";

/// Sessions past their time.
pub(crate) struct ExpiredSessions;

impl Sweep for ExpiredSessions {
    const REMOVES: &'static str = "expired cabinet sessions";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        app.sign_in_limits.accounts.forget_idle();
        app.sign_in_limits.addresses.forget_idle();
        let budget = u32::try_from(budget).unwrap_or(u32::MAX);
        let removed = app.db.remove_expired_sessions(budget).await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_a_salt_and_verified() {
        let a = hash_password("correct horse battery").expect("hash");
        let b = hash_password("correct horse battery").expect("hash");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a random salt each time");
        assert!(password_matches("correct horse battery", &a));
        assert!(!password_matches("correct horse battery!", &a));
        assert!(!password_matches("anything", "not a hash"));
        assert!(
            PasswordHash::new(DUMMY_HASH).is_ok(),
            "the stand-in hash parses, so it costs a real verification"
        );
    }
}
