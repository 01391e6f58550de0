//! `Idempotency-Key` on `POST`: the first answer for a key is kept and replayed.
//!
//! - A record per caller and key lives in the store at
//!   `idempotency/{owner}/{sha256(key)}.json`. The first request claims it with a
//!   create-only write (so two requests with one key cannot both run), runs, and
//!   writes its answer there.
//! - A repeat with the same method, path and body within [`KEEP_FOR`] gets the kept
//!   answer with `Idempotent-Replayed: true`; with another body, 422
//!   `idempotency_key_reused`; while the first still runs, 409
//!   `idempotency_key_in_use` with `Retry-After: 1` (the SDK waits and retries).
//! - Answers of 5xx and 429 are not kept: the claim is released, so a retry runs the
//!   request again (nothing was stored by a failed one).
//! - The request runs in its own task, so a client that goes away (a timeout) does
//!   not stop it: the answer is kept for the retry.

use axum::Extension;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::Owner;
use crate::error::{ApiError, ApiResult};
use crate::store::Versioned;
use crate::upload::{SpooledBody, UPLOAD_PATH};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// How long an answer is kept.
pub const KEEP_FOR: chrono::Duration = chrono::Duration::hours(24);
/// The largest answer kept (JSON bodies are far smaller).
const MAX_KEPT_BODY: usize = 1024 * 1024;

/// The format this server writes idempotency records in (1: contract 1.1.x; a
/// record without the number is 1).
const KEY_FORMAT: u32 = 1;

/// What is kept for one key: the server's own record, tolerant of fields it does
/// not know.
#[derive(Debug, Serialize, Deserialize)]
struct KeyRecord {
    /// The record's format ([`KEY_FORMAT`]).
    #[serde(default = "crate::store::format_1")]
    format: u32,
    /// SHA-256 of method, path, query and body (an upload's: of its digest).
    fingerprint: String,
    /// When the first request claimed the key.
    created_at: DateTime<Utc>,
    /// The answer, once there is one.
    answer: Option<KeptAnswer>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeptAnswer {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    body: String,
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

fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_str());
    hash.update([0]);
    hash.update(uri.path_and_query().map_or("", |p| p.as_str()));
    hash.update([0]);
    hash.update(body);
    hex(&hash.finalize())
}

/// The key of a request, checked: 1 to 255 visible ASCII characters.
fn key_of(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().ok().filter(|k| {
        (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    });
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
        .with_param("Idempotency-Key")),
    }
}

fn in_use() -> ApiError {
    let mut err = ApiError::new(
        StatusCode::CONFLICT,
        "idempotency_key_in_use",
        "a request with this Idempotency-Key is still running; retry after 1 s",
    )
    .with_param("Idempotency-Key");
    err.retry_after = Some(1);
    err
}

fn replay(answer: &KeptAnswer) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, &answer.content_type),
        (header::LOCATION, &answer.location),
    ] {
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// Middleware on the `/v1/` routes (after authentication).
pub async fn idempotency(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let key = match key_of(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(request).await,
        Err(err) => return err.into_response(),
    };
    match keep_answer(state, owner, key, request, next).await {
        Ok(response) | Err(response) => response,
    }
}

async fn keep_answer(
    state: AppState,
    owner: Owner,
    key: String,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let reject = |err: ApiError| err.into_response();
    let (mut parts, body) = request.into_parts();
    // An upload is spooled to disk and fingerprinted by its digest; a JSON body is
    // small and read whole.
    let (body, print) = if parts.uri.path() == UPLOAD_PATH {
        let spooled = state
            .spool_upload(&owner, &parts.headers, body, true)
            .await
            .map_err(reject)?;
        let print = fingerprint(
            &parts.method,
            &parts.uri,
            &spooled.digest.unwrap_or_default(),
        );
        parts.extensions.insert(SpooledBody::new(spooled));
        (Body::empty(), print)
    } else {
        let body = to_bytes(body, state.config.max_body_bytes)
            .await
            .map_err(|_| {
                reject(ApiError::too_large(format!(
                    "the request body is over the limit of {} bytes",
                    state.config.max_body_bytes
                )))
            })?;
        let print = fingerprint(&parts.method, &parts.uri, &body);
        (Body::from(body), print)
    };
    let path = record_path(&owner, &key);
    let claim = KeyRecord {
        format: KEY_FORMAT,
        fingerprint: print.clone(),
        created_at: Utc::now(),
        answer: None,
    };
    let store_err = |e: crate::store::StoreError| reject(e.into());
    let claimed = state
        .store
        .create_doc(&path, &claim)
        .await
        .map_err(store_err)?;
    let version = match claimed {
        Some(version) => version,
        None => {
            let existing: Option<Versioned<KeyRecord>> = state
                .store
                .get_doc_versioned(&path)
                .await
                .map_err(store_err)?;
            let stale = existing.as_ref().is_none_or(|r| {
                // Expired, or a claim whose request died with its server.
                let age = Utc::now() - r.doc.created_at;
                age >= KEEP_FOR
                    || (r.doc.answer.is_none() && age >= state.idempotency_claim_lease())
            });
            let taken = match existing {
                Some(record) if !stale && record.doc.fingerprint != print => {
                    return Err(reject(
                        ApiError::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "idempotency_key_reused",
                            "this Idempotency-Key was used with another request; use a new key for a new request",
                        )
                        .with_param("Idempotency-Key"),
                    ));
                }
                Some(Versioned {
                    doc:
                        KeyRecord {
                            answer: Some(answer),
                            ..
                        },
                    ..
                }) if !stale => return Ok(replay(&answer)),
                Some(_) if !stale => return Err(reject(in_use())),
                // Take the expired or abandoned key over, unless another server
                // did so since it was read.
                Some(record) => state
                    .store
                    .replace_doc(&path, &claim, &record.version)
                    .await
                    .map_err(store_err)?,
                // Removed since the claim failed: claim it again.
                None => state
                    .store
                    .create_doc(&path, &claim)
                    .await
                    .map_err(store_err)?,
            };
            taken.ok_or_else(|| reject(in_use()))?
        }
    };
    let request = Request::from_parts(parts, body);
    let release = (state.clone(), path.clone());
    // Runs on even if the client goes away, so the answer is kept for its retry.
    let work = tokio::spawn(crate::request_id::scope(async move {
        let response = next.run(request).await;
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            let _ = state.store.delete_doc(&path).await;
            return response;
        }
        let (parts, body) = response.into_parts();
        let Ok(body) = to_bytes(body, MAX_KEPT_BODY).await else {
            let _ = state.store.delete_doc(&path).await;
            return ApiError::internal("an answer too large to keep").into_response();
        };
        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let kept = KeyRecord {
            format: KEY_FORMAT,
            fingerprint: print,
            created_at: claim.created_at,
            answer: Some(KeptAnswer {
                status: status.as_u16(),
                content_type: header(header::CONTENT_TYPE),
                location: header(header::LOCATION),
                body: String::from_utf8_lossy(&body).into_owned(),
            }),
        };
        match state.store.replace_doc(&path, &kept, &version).await {
            Ok(Some(_)) => {}
            Ok(None) => tracing::warn!("an idempotency key was taken over while its request ran"),
            Err(err) => tracing::warn!(%err, "cannot keep an idempotent answer"),
        }
        Response::from_parts(parts, Body::from(body))
    }));
    match work.await {
        Ok(response) => Ok(response),
        Err(err) => {
            // The request failed before it answered: free its key for a retry.
            let (state, path) = release;
            let _ = state.store.delete_doc(&path).await;
            Err(reject(ApiError::internal(format!("request task: {err}"))))
        }
    }
}

impl AppState {
    /// How long an unanswered claim holds a key: longer than any request can run
    /// (a slot wait, two fetches, three engine runs, and a margin).
    fn idempotency_claim_lease(&self) -> chrono::Duration {
        let config = &self.config;
        let seconds = config
            .queue_timeout_secs
            .saturating_add(config.fetch_timeout_secs.saturating_mul(2))
            .saturating_add(config.job_timeout_secs.saturating_mul(3))
            .saturating_add(60);
        crate::tasks::seconds(seconds)
    }

    /// At start-up on the local store: keys claimed by requests that the last stop
    /// cut short are freed (no request of this server is running yet).
    pub(crate) async fn release_unanswered_keys(&self) -> ApiResult<usize> {
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
    pub(crate) async fn sweep_expired_keys(&self, budget: usize) -> ApiResult<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> KeyRecord {
        let path = format!(
            "{}/tests/fixtures/stored-1.1/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
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
                &Method::POST,
                &"/v1/generate-image".parse().expect("uri"),
                br#"{"prompt":"a blue fox","width":32,"height":32}"#
            ),
            "the same request is still recognised"
        );
    }

    #[test]
    fn keys_are_checked() {
        let mut headers = HeaderMap::new();
        assert!(matches!(key_of(&headers), Ok(None)));
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("a-b_c 1"));
        assert_eq!(key_of(&headers).expect("ok").as_deref(), Some("a-b_c 1"));
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static(""));
        assert!(key_of(&headers).is_err());
        let long = "k".repeat(256);
        headers.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(&long).expect("header"),
        );
        assert!(key_of(&headers).is_err());
    }

    #[test]
    fn fingerprints_cover_path_query_and_body() {
        let uri = |u: &str| u.parse::<axum::http::Uri>().expect("uri");
        let a = fingerprint(&Method::POST, &uri("/v1/x"), b"{}");
        assert_eq!(a, fingerprint(&Method::POST, &uri("/v1/x"), b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, &uri("/v1/y"), b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, &uri("/v1/x?q=1"), b"{}"));
        assert_ne!(a, fingerprint(&Method::POST, &uri("/v1/x"), b"{ }"));
    }

    proptest::proptest! {
        /// Any header bytes: a checked key, a 400, or none; never a panic.
        #[test]
        fn any_key_header_is_checked(value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                headers.insert(IDEMPOTENCY_KEY, value);
            }
            if let Ok(Some(key)) = key_of(&headers) {
                proptest::prop_assert!((1..=255).contains(&key.len()));
                proptest::prop_assert!(key.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
            }
        }
    }
}
