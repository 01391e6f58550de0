//! Client configuration carried inside the generated [`Client`](crate::Client).

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderValue;

/// An API key. Its value is never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    /// `Authorization: Bearer <key>`, made once (every request sends it).
    header: Option<HeaderValue>,
}

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        let header = HeaderValue::from_str(&format!("Bearer {key}"))
            .ok()
            .map(|mut value| {
                value.set_sensitive(true);
                value
            });
        Self { key, header }
    }

    /// The key itself, for the few places that must send it (such as
    /// `delete_media`'s `auth_token`).
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// The `Authorization` header value, marked sensitive so that HTTP layers
    /// redact it. `None` when the key holds characters a header cannot carry.
    pub(crate) fn bearer_header(&self) -> Option<HeaderValue> {
        self.header.clone()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// When and how often a failed request is tried again.
///
/// Retried: connection errors and the statuses 408, 429, 500, 502, 503 and 504.
/// The wait doubles from `initial_backoff` up to `max_backoff`, with full jitter;
/// a `Retry-After` header (seconds or an HTTP date) is honoured up to `max_retry_after`.
/// Every `POST` carries an `Idempotency-Key` (one per call, the same on each of its
/// attempts), so a `POST`, like a `GET`, is also retried when its answer did not
/// come (a timeout, a connection closed or reset before the answer, an HTTP/2
/// stream refused), and after a `409` that says the first attempt still runs: the
/// server answers a repeat with the first answer instead of doing the work twice.
/// Not retried: failures of the request itself (a body that could not be read),
/// answers that are not HTTP, and requests whose body is a stream (which cannot be
/// replayed).
///
/// Built from its default and changed with the `with_` methods (fields may be
/// added):
/// `RetryPolicy::default().with_max_retries(5).with_initial_backoff(Duration::from_millis(100))`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 turns retries off.
    pub max_retries: u32,
    /// The backoff before the first retry (before jitter).
    pub initial_backoff: Duration,
    /// The largest backoff between two attempts (before jitter).
    pub max_backoff: Duration,
    /// The longest `Retry-After` the client waits; a longer one ends the retries.
    pub max_retry_after: Duration,
    /// How long a `POST` waits, in all, for its first attempt that still runs on the
    /// server (answers `409 idempotency_key_in_use`) before it gives up; such waits
    /// are not counted as retries.
    pub max_in_progress_wait: Duration,
}

impl RetryPolicy {
    /// Sets [`Self::max_retries`].
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets [`Self::initial_backoff`].
    pub fn with_initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets [`Self::max_backoff`].
    pub fn with_max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets [`Self::max_retry_after`].
    pub fn with_max_retry_after(mut self, wait: Duration) -> Self {
        self.max_retry_after = wait;
        self
    }

    /// Sets [`Self::max_in_progress_wait`].
    pub fn with_max_in_progress_wait(mut self, wait: Duration) -> Self {
        self.max_in_progress_wait = wait;
        self
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            max_in_progress_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The jittered backoff before retry number `retry` (0 for the first retry).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry);
        let ceiling = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }
}

/// The hand-written configuration inside every [`Client`](crate::Client).
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub(crate) api_key: Option<ApiKey>,
    pub(crate) retry: RetryPolicy,
}

impl Config {
    /// The API key the client sends, if any.
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let config = Config {
            api_key: Some(ApiKey::new("sk-very-secret")),
            retry: RetryPolicy::default(),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn bearer_header_is_sensitive() {
        let header = ApiKey::new("k").bearer_header().expect("valid header");
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().ok(), Some("Bearer k"));
        assert!(!format!("{header:?}").contains('k') || format!("{header:?}") == "Sensitive");
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for retry in 0..20 {
            let ceiling = Duration::from_millis((100u64 << retry.min(10)).min(1000));
            assert!(policy.backoff(retry) <= ceiling);
        }
    }
}
