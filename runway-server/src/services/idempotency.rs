//! `Idempotency-Key` on `POST`: the first answer for a key is kept and replayed.
//!
//! - A record per caller and key lives in the store at
//!   `idempotency/{owner}/{sha256(key)}.json`. The first request claims it with a
//!   create-only write (so two requests with one key cannot both run), runs, and
//!   writes its answer there.
//! - A repeat with the same method, path and body within [`KEEP_FOR`] gets the kept
//!   answer; with another body, 422 `idempotency_key_reused`; while the first
//!   still runs, 409 `idempotency_key_in_use` with `Retry-After: 1` (the SDK
//!   waits and retries).
//! - Answers of 5xx and 429 are not kept: the claim is released, so a retry runs
//!   the request again (nothing was stored by a failed one).
//!
//! This is the bookkeeping only; `http::idempotency` reads the header, runs the
//! request in its own task (a client that goes away does not stop it) and
//! replays answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::App;
use super::background::Sweep;
use crate::domain::media::format_1;
use crate::domain::{Error, ErrorCode, Owner, Result};
use crate::storage::{DocVersion, Versioned};

/// How long an answer is kept.
pub(crate) const KEEP_FOR: chrono::Duration = chrono::Duration::hours(24);

/// The format this server writes idempotency records in (1: contract 1.1.x; a
/// record without the number is 1).
const KEY_FORMAT: u32 = 1;

/// What is kept for one key: the server's own record, tolerant of fields it does
/// not know.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    /// The record's format ([`KEY_FORMAT`]).
    #[serde(default = "format_1")]
    format: u32,
    /// SHA-256 of method, path, query and body (an upload's: of its digest).
    fingerprint: String,
    /// When the first request claimed the key.
    created_at: DateTime<Utc>,
    /// The answer, once there is one.
    answer: Option<KeptAnswer>,
}

/// An answer kept for replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeptAnswer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// Its `Content-Type`.
    pub(crate) content_type: Option<String>,
    /// Its `Location`.
    pub(crate) location: Option<String>,
    /// The body (JSON).
    pub(crate) body: String,
}

/// What a request with a key does.
#[derive(Debug)]
pub(crate) enum Claim {
    /// It runs: the key is claimed for it.
    Run(Claimed),
    /// It is a repeat: answer this.
    Replay(KeptAnswer),
}

/// A key claimed by a running request.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    path: String,
    fingerprint: String,
    created_at: DateTime<Utc>,
    version: DocVersion,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn record_path(owner: &Owner, key: &str) -> String {
    format!(
        "idempotency/{}/{}.json",
        owner.0,
        hex(&Sha256::digest(key.as_bytes()))
    )
}

/// The fingerprint of a request: SHA-256 of its method, path with query, and body
/// (or, for an upload, the body's digest).
pub(crate) fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method);
    hash.update([0]);
    hash.update(path_and_query);
    hash.update([0]);
    hash.update(body);
    hex(&hash.finalize())
}

/// A key as sent, checked: 1 to 255 visible ASCII characters (or spaces).
pub(crate) fn check_key(value: &[u8]) -> Result<String> {
    let key = std::str::from_utf8(value).ok().filter(|k| {
        (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    });
    key.map(str::to_owned).ok_or_else(|| {
        Error::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")
            .with_param("Idempotency-Key")
    })
}

fn in_use() -> Error {
    Error::new(
        ErrorCode::IdempotencyKeyInUse,
        "a request with this Idempotency-Key is still running; retry after 1 s",
    )
    .with_param("Idempotency-Key")
    .with_retry_after(1)
}

impl App {
    /// Claims `key` of `owner` for a request with `fingerprint`, or says what to
    /// answer instead: the kept answer of a repeat; 422 for another request with
    /// the key; 409 while the first runs.
    pub(crate) async fn claim_key(
        &self,
        owner: &Owner,
        key: &str,
        fingerprint: String,
    ) -> Result<Claim> {
        let path = record_path(owner, key);
        let claim = KeyRecord {
            format: KEY_FORMAT,
            fingerprint: fingerprint.clone(),
            created_at: Utc::now(),
            answer: None,
        };
        let claimed = |version| {
            Claim::Run(Claimed {
                path: path.clone(),
                fingerprint: fingerprint.clone(),
                created_at: claim.created_at,
                version,
            })
        };
        if let Some(version) = self.store.create_doc(&path, &claim).await? {
            return Ok(claimed(version));
        }
        let existing: Option<Versioned<KeyRecord>> = self.store.get_doc_versioned(&path).await?;
        let stale = existing.as_ref().is_none_or(|r| {
            // Expired, or a claim whose request died with its server.
            let age = Utc::now() - r.doc.created_at;
            age >= KEEP_FOR || (r.doc.answer.is_none() && age >= self.idempotency_claim_lease())
        });
        let taken = match existing {
            Some(record) if !stale && record.doc.fingerprint != fingerprint => {
                return Err(Error::new(
                    ErrorCode::IdempotencyKeyReused,
                    "this Idempotency-Key was used with another request; use a new key for a new request",
                )
                .with_param("Idempotency-Key"));
            }
            Some(Versioned {
                doc:
                    KeyRecord {
                        answer: Some(answer),
                        ..
                    },
                ..
            }) if !stale => return Ok(Claim::Replay(answer)),
            Some(_) if !stale => return Err(in_use()),
            // Take the expired or abandoned key over, unless another server did
            // so since it was read.
            Some(record) => {
                self.store
                    .replace_doc(&path, &claim, &record.version)
                    .await?
            }
            // Removed since the claim failed: claim it again.
            None => self.store.create_doc(&path, &claim).await?,
        };
        taken.map(claimed).ok_or_else(in_use)
    }

    /// Keeps `answer` for the claimed key.
    pub(crate) async fn keep_answer(&self, claimed: &Claimed, answer: KeptAnswer) {
        let kept = KeyRecord {
            format: KEY_FORMAT,
            fingerprint: claimed.fingerprint.clone(),
            created_at: claimed.created_at,
            answer: Some(answer),
        };
        match self
            .store
            .replace_doc(&claimed.path, &kept, &claimed.version)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => tracing::warn!("an idempotency key was taken over while its request ran"),
            Err(err) => tracing::warn!(%err, "cannot keep an idempotent answer"),
        }
    }

    /// Frees the claimed key (its request failed: a retry runs again).
    pub(crate) async fn release_key(&self, claimed: &Claimed) {
        if let Err(err) = self.store.delete_doc(&claimed.path).await {
            tracing::warn!(%err, "cannot free an idempotency key");
        }
    }

    /// How long an unanswered claim holds a key: longer than any request can run
    /// (a slot wait, two fetches, three engine runs, and a margin).
    fn idempotency_claim_lease(&self) -> chrono::Duration {
        let config = &self.config;
        let seconds = config
            .queue_timeout_secs
            .saturating_add(config.fetch_timeout_secs.saturating_mul(2))
            .saturating_add(config.job_timeout_secs.saturating_mul(3))
            .saturating_add(60);
        super::tasks::seconds(seconds)
    }

    /// At start-up on the local store: keys claimed by requests that the last stop
    /// cut short are freed (no request of this server is running yet).
    pub(crate) async fn release_unanswered_keys(&self) -> Result<usize> {
        let mut released = 0;
        for path in self.store.list_docs("idempotency").await? {
            match self.store.get_doc::<KeyRecord>(&path).await {
                Ok(Some(record)) if record.answer.is_some() => {}
                Ok(None) => {}
                // Unanswered, or unreadable: either way no answer is kept.
                Ok(Some(_)) | Err(_) => {
                    self.store.delete_doc(&path).await?;
                    released += 1;
                }
            }
        }
        Ok(released)
    }

    /// Removes kept answers past [`KEEP_FOR`], at most `budget` of them.
    pub(crate) async fn sweep_expired_keys(&self, budget: usize) -> Result<usize> {
        let now = Utc::now();
        let mut removed = 0;
        for path in self.store.list_docs("idempotency").await? {
            if removed == budget {
                break;
            }
            let record = match self.store.get_doc::<KeyRecord>(&path).await {
                Ok(record) => record,
                Err(err) => {
                    tracing::warn!(%path, %err, "unreadable idempotency record skipped");
                    continue;
                }
            };
            if record.is_some_and(|r| now - r.created_at >= KEEP_FOR) {
                self.store.delete_doc(&path).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Idempotency records past their 24 h.
pub(crate) struct ExpiredKeys;

impl Sweep for ExpiredKeys {
    const REMOVES: &'static str = "expired idempotency keys";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        app.sweep_expired_keys(budget).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> KeyRecord {
        let text = crate::domain::stored_fixture(name);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn idempotency_records_of_contract_1_1_are_read() {
        let claim = fixture("idempotency-claim");
        assert_eq!(claim.format, 1);
        assert!(claim.answer.is_none());
        let answered = fixture("idempotency-answered");
        let answer = answered.answer.expect("an answer");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        assert!(answer.body.contains("image_url"), "{}", answer.body);
        assert_eq!(
            answered.fingerprint,
            fingerprint(
                "POST",
                "/v1/generate-image",
                br#"{"prompt":"a blue fox","width":32,"height":32}"#
            ),
            "the same request is still recognised"
        );
    }

    #[test]
    fn keys_are_checked() {
        assert_eq!(check_key(b"a-b_c 1").expect("ok"), "a-b_c 1");
        assert!(check_key(b"").is_err());
        assert!(check_key("k".repeat(256).as_bytes()).is_err());
        assert!(check_key("caf\u{e9}".as_bytes()).is_err());
    }

    #[test]
    fn fingerprints_cover_path_query_and_body() {
        let a = fingerprint("POST", "/v1/x", b"{}");
        assert_eq!(a, fingerprint("POST", "/v1/x", b"{}"));
        assert_ne!(a, fingerprint("POST", "/v1/y", b"{}"));
        assert_ne!(a, fingerprint("POST", "/v1/x?q=1", b"{}"));
        assert_ne!(a, fingerprint("POST", "/v1/x", b"{ }"));
    }

    proptest::proptest! {
        /// Any header bytes: a checked key or a 400; never a panic.
        #[test]
        fn any_key_is_checked(value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(key) = check_key(&value) {
                proptest::prop_assert!((1..=255).contains(&key.len()));
                proptest::prop_assert!(key.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            }
        }
    }
}
