//! API keys: `Authorization: Bearer <key>` on every `/v1/` route.
//!
//! A key names an account (see `accounts`); the database keeps keys as SHA-256
//! digests. Each replica keeps what it learnt of a key for a few seconds
//! ([`KEY_CACHE_TTL`]), so a request costs no database read and a revoked key is
//! refused by every replica within that time.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::domain::{Owner, Result};
use crate::storage::db::{Database, KeyOwner};

/// How long a replica trusts what it read of a key.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// The most keys a replica remembers at once (a flood of new keys empties it).
const KEY_CACHE_MAX: usize = 10_000;

/// The SHA-256 of a key, hex: how the database knows it.
pub fn digest_of(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Finds the account of a key, through a short-lived cache.
#[derive(Debug)]
pub struct KeyCheck {
    db: Database,
    known: Mutex<HashMap<String, (KeyOwner, Instant)>>,
}

impl KeyCheck {
    /// Checks keys against `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            known: Mutex::default(),
        }
    }

    /// The account `key` belongs to, or `None` for an unknown or revoked key;
    /// 503 `database_unavailable` when the database cannot say.
    pub async fn owner(&self, key: &str) -> Result<Option<Owner>> {
        let digest = digest_of(key);
        let now = Instant::now();
        if let Some((owner, _)) = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .filter(|(_, at)| now.duration_since(*at) < KEY_CACHE_TTL)
        {
            return Ok(Some(Owner(owner.account_id.clone())));
        }
        let Some(found) = self.db.key_owner(&digest).await? else {
            self.forget(&digest);
            return Ok(None);
        };
        // A key's last use is noted once per cache period, off the request's path.
        let db = self.db.clone();
        let key_id = found.key_id.clone();
        tokio::spawn(async move {
            if let Err(err) = db.touch_key(&key_id).await {
                tracing::debug!(error = %err, "could not note a key's use");
            }
        });
        let owner = Owner(found.account_id.clone());
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= KEY_CACHE_MAX {
            known.clear();
        }
        known.insert(digest, (found, now));
        Ok(Some(owner))
    }

    /// Forgets what this replica knew of the key with `digest` (revoked here).
    pub fn forget(&self, digest: &str) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(digest);
    }
}

/// A new random API key, `rwk_` and 32 hex digits.
pub fn generate_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!(
        "rwk_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Per-key request limits (GCRA, from `governor`).
pub struct RateLimits(DefaultKeyedRateLimiter<String>);

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimits")
    }
}

impl RateLimits {
    /// `per_minute` requests a minute per key, in bursts of up to `burst`; `None`
    /// when `per_minute` is 0 (no limit).
    pub fn new(per_minute: u32, burst: Option<u32>) -> Option<Self> {
        let rate = NonZeroU32::new(per_minute)?;
        let burst = burst.and_then(NonZeroU32::new).unwrap_or(rate);
        Some(Self::per_minute(rate, burst))
    }

    /// `rate` a minute per key, in bursts of up to `burst`.
    pub fn per_minute(rate: NonZeroU32, burst: NonZeroU32) -> Self {
        Self(RateLimiter::keyed(
            Quota::per_minute(rate).allow_burst(burst),
        ))
    }

    /// `Ok` when `owner` may make a request now, else the seconds to wait (at least 1).
    pub fn check(&self, owner: &Owner) -> Result<(), u64> {
        self.check_key(&owner.0)
    }

    /// Forgets the keys whose budget is full again (so the table does not grow).
    pub fn forget_idle(&self) {
        self.0.retain_recent();
    }

    /// `Ok` when `key` may make a request now, else the seconds to wait (at least 1).
    pub fn check_key(&self, key: &str) -> Result<(), u64> {
        self.0.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_is_hex_sha256() {
        assert_eq!(
            digest_of("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn rate_limits_are_per_key() {
        assert!(RateLimits::new(0, None).is_none(), "0 turns limiting off");
        let limits = RateLimits::new(60, Some(2)).expect("limits");
        let (a, b) = (Owner("a".into()), Owner("b".into()));
        assert!(limits.check(&a).is_ok());
        assert!(limits.check(&a).is_ok());
        assert_eq!(
            limits.check(&a),
            Err(1),
            "the third in a burst of two waits a second"
        );
        assert!(limits.check(&b).is_ok(), "another key has its own budget");
    }

    #[test]
    fn generated_keys_differ() {
        let a = generate_key().expect("key");
        let b = generate_key().expect("key");
        assert_ne!(a, b);
        assert!(a.starts_with("rwk_") && a.len() == 36);
    }
}
