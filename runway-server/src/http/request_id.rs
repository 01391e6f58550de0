//! Request ids: every answer carries `X-Request-Id` (the client's, when well formed,
//! else a new one), every error body its `request_id`, and every log line about a
//! request its id, through the `request` span this middleware opens. The same span
//! ends with one access line: method, path (never the query), status and latency.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::error::report;

/// The header, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request being answered, for error bodies.
    static CURRENT: String;
}

/// The id of the request this code runs for, if any.
pub(crate) fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` as part of the current request (for work spawned off it).
pub(crate) fn scope<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let id = current().unwrap_or_default();
    CURRENT.scope(id, work)
}

/// Whether a client's id can be used as it is: 1 to 128 letters, digits, `.`,
/// `_`, `:` or `-`.
fn well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A new id: `req_` and 64 random bits.
fn new_id() -> String {
    format!("req_{:016x}", fastrand::u64(..))
}

/// The middleware, outermost on every route.
pub async fn request_id(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| well_formed(id))
        .map_or_else(new_id, str::to_owned);
    // The path only: a query can carry secrets (`auth_token`).
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = Instant::now();
    let mut response = CURRENT
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        // Errors are logged and counted here, once, not where they are made.
        report(&mut response);
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1e3,
            "answered"
        );
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_well_formed() {
        assert!(well_formed("req_1234"));
        assert!(well_formed("2b0c7a62-0d43-4f39-b1b7-3f5b7b3c2a10"));
        assert!(well_formed("trace:abc.def_1"));
        assert!(!well_formed(""));
        assert!(!well_formed("has space"));
        assert!(!well_formed("new\nline"));
        assert!(!well_formed(&"x".repeat(129)));
        assert!(well_formed(&new_id()));
    }
}
