//! `Idempotency-Key` on `POST`: the first answer for a key is kept and replayed.
//!
//! - A row per caller and key (its SHA-256) lives in the database. The first
//!   request claims it with an insert (so two requests with one key cannot both
//!   run, on any replica), runs, and keeps its answer there.
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
use crate::storage::MediaStore;
use crate::storage::db::{KeyClaim, KeyRequest, StoredAnswer};

/// How long an answer is kept.
pub(crate) const KEEP_FOR: chrono::Duration = chrono::Duration::hours(24);

/// What servers before the database kept for one key in the object store, at
/// `idempotency/{owner}/{sha256(key)}.json` (read once, to import it).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    /// The record's format (1; a record without the number is 1).
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
    owner: String,
    key_hash: String,
    /// The claiming request's token: its writes change the row only while the
    /// row is still its own.
    token: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
        let mut token = [0u8; 16];
        getrandom::fill(&mut token)
            .map_err(|e| Error::internal(format!("no random bytes: {e}")))?;
        let claimed = Claimed {
            owner: owner.0.clone(),
            key_hash: hex(&Sha256::digest(key.as_bytes())),
            token: hex(&token),
        };
        let now = Utc::now();
        let request = KeyRequest {
            owner: &claimed.owner,
            key_hash: &claimed.key_hash,
            fingerprint: &fingerprint,
            claim: &claimed.token,
            now_ms: now.timestamp_millis(),
        };
        // Expired, or a claim whose request died with its server: taken over.
        let expired = (now - KEEP_FOR).timestamp_millis();
        let abandoned = (now - self.idempotency_claim_lease()).timestamp_millis();
        match self.db.claim_key(&request, expired, abandoned).await? {
            KeyClaim::Claimed => Ok(Claim::Run(claimed)),
            KeyClaim::Held {
                fingerprint: held, ..
            } if held != fingerprint => Err(Error::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used with another request; use a new key for a new request",
            )
            .with_param("Idempotency-Key")),
            KeyClaim::Held {
                answer: Some(answer),
                ..
            } => Ok(Claim::Replay(KeptAnswer {
                status: answer.status,
                content_type: answer.content_type,
                location: answer.location,
                body: answer.body,
            })),
            KeyClaim::Held { answer: None, .. } => Err(in_use()),
        }
    }

    /// Keeps `answer` for the claimed key.
    pub(crate) async fn keep_answer(&self, claimed: &Claimed, answer: KeptAnswer) {
        let answer = StoredAnswer {
            status: answer.status,
            content_type: answer.content_type,
            location: answer.location,
            body: answer.body,
        };
        match self
            .db
            .keep_answer(&claimed.owner, &claimed.key_hash, &claimed.token, &answer)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::warn!("an idempotency key was taken over while its request ran"),
            Err(err) => tracing::warn!(%err, "cannot keep an idempotent answer"),
        }
    }

    /// Frees the claimed key (its request failed: a retry runs again).
    pub(crate) async fn release_key(&self, claimed: &Claimed) {
        let released = self
            .db
            .release_key(&claimed.owner, &claimed.key_hash, &claimed.token)
            .await;
        if let Err(err) = released {
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

    /// Removes kept answers past [`KEEP_FOR`], at most `budget` of them.
    pub(crate) async fn sweep_expired_keys(&self, budget: usize) -> Result<usize> {
        let before = (Utc::now() - KEEP_FOR).timestamp_millis();
        let budget = u32::try_from(budget).unwrap_or(u32::MAX);
        let removed = self.db.remove_expired_keys(before, budget).await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}

/// The answered keys a store written before the database holds (unanswered ones
/// belonged to requests that are gone): `(owner, key hash, fingerprint, created
/// ms, answer)`, ready for [`crate::storage::db::Database::import_keys`].
pub(crate) async fn keys_in_store(
    store: &MediaStore,
) -> std::result::Result<Vec<(String, String, String, i64, StoredAnswer)>, crate::storage::StoreError>
{
    let mut found = Vec::new();
    for path in store.list_docs("idempotency").await? {
        let mut parts = path.trim_end_matches(".json").rsplit('/');
        let (Some(key_hash), Some(owner)) = (parts.next(), parts.next()) else {
            continue;
        };
        let record = match store.get_doc::<KeyRecord>(&path).await {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!(%path, %err, "an unreadable idempotency record is left out");
                continue;
            }
        };
        if let Some(answer) = record.answer {
            found.push((
                owner.to_owned(),
                key_hash.to_owned(),
                record.fingerprint,
                record.created_at.timestamp_millis(),
                StoredAnswer {
                    status: answer.status,
                    content_type: answer.content_type,
                    location: answer.location,
                    body: answer.body,
                },
            ));
        }
    }
    Ok(found)
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
