//! API keys: `Authorization: Bearer <key>` on every `/v1/` route.
//!
//! Keys are kept only as SHA-256 digests; a media's owner is the digest of the key
//! that created it, so records never hold a key.

use std::collections::HashSet;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::domain::Owner;

/// The owner id of a key: its SHA-256, hex.
pub fn owner_of(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The accepted keys, by digest.
#[derive(Debug, Clone, Default)]
pub struct Keys(HashSet<String>);

impl Keys {
    /// Accepts `keys` (blank ones are ignored).
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            keys.into_iter()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(owner_of)
                .collect(),
        )
    }

    /// The owner id of `key` when it is accepted.
    pub fn check(&self, key: &str) -> Option<Owner> {
        let owner = owner_of(key);
        self.0.contains(&owner).then_some(Owner(owner))
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
        Some(Self(RateLimiter::keyed(
            Quota::per_minute(rate).allow_burst(burst),
        )))
    }

    /// `Ok` when `owner` may make a request now, else the seconds to wait (at least 1).
    pub fn check(&self, owner: &Owner) -> Result<(), u64> {
        self.0.check_key(&owner.0).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_by_digest() {
        let keys = Keys::new(["alpha", " beta ", ""]);
        assert!(keys.check("alpha").is_some());
        assert!(keys.check("beta").is_some());
        assert!(keys.check("gamma").is_none());
        assert!(keys.check("").is_none());
        assert_eq!(keys.check("alpha").map(|o| o.0), Some(owner_of("alpha")));
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
