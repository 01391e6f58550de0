//! The one place where the server's [`Error`] becomes an HTTP answer: each
//! [`ErrorCode`] its status, the contract's body
//! `{"error": {"code", "message", "param", "request_id"}}`, and `Retry-After`.
//!
//! Making an answer has no side effects: the error travels in the answer's
//! extensions as an [`Answered`], and the request-id middleware logs it (an
//! internal error with its detail) and counts it, once per request.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::{Error, ErrorCode};

/// The status of each code.
pub(crate) fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::QuotaExceeded => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::Conflict | ErrorCode::IdempotencyKeyInUse | ErrorCode::Cancelled => {
            StatusCode::CONFLICT
        }
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorCode::InvalidParameter
        | ErrorCode::MediaUnreachable
        | ErrorCode::NoAudioStream
        | ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::InternalError | ErrorCode::Interrupted => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        ErrorCode::MediaEngineUnavailable
        | ErrorCode::Overloaded
        | ErrorCode::NotReady
        | ErrorCode::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::UpstreamError => StatusCode::BAD_GATEWAY,
        ErrorCode::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// An error that was answered, for the request-id middleware to log and count.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    /// Its code.
    pub(crate) code: ErrorCode,
    /// What really failed, when the error says (never sent to the client).
    pub(crate) detail: Option<String>,
}

/// Logs and counts the error an answer carries, once: takes it out of the
/// answer, so a second call does nothing. The request-id middleware calls it
/// for every answer; work that outlives its client (an idempotent request runs
/// in its own task) calls it itself.
pub(crate) fn report(response: &mut Response) {
    let Some(answered) = response.extensions_mut().remove::<Answered>() else {
        return;
    };
    metrics::counter!("runway_errors_total", "code" => answered.code.as_str()).increment(1);
    let detail = answered.detail.as_deref().unwrap_or_default();
    match answered.code {
        ErrorCode::InternalError => tracing::error!(%detail, "internal error"),
        ErrorCode::StorageFull => tracing::warn!(%detail, "out of storage space"),
        ErrorCode::UpstreamError | ErrorCode::UpstreamTimeout => {
            tracing::warn!(%detail, "the image generator failed");
        }
        _ => {}
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut detail = serde_json::json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(param) = &self.param {
            detail["param"] = serde_json::Value::String(param.clone());
        }
        if let Some(id) = crate::http::request_id::current() {
            detail["request_id"] = serde_json::Value::String(id);
        }
        let mut response = (
            status_of(self.code),
            Json(serde_json::json!({ "error": detail })),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Answered {
            code: self.code,
            detail: self.detail,
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_the_server_sends_is_one_the_sdk_knows() {
        for code in ErrorCode::ALL {
            if code == ErrorCode::Cancelled {
                continue; // a job's state, never answered nor kept
            }
            let known = runway_api::ErrorCode::from(code.as_str());
            assert!(
                !matches!(known, runway_api::ErrorCode::Other(_)),
                "the SDK does not know `{code}`: add it to runway_api::ErrorCode"
            );
            assert_eq!(known.as_str(), code.as_str());
        }
    }

    #[test]
    fn answering_an_error_logs_nothing_and_carries_it_for_the_log() {
        let response = Error::internal("disk on fire").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let answered = response.extensions().get::<Answered>().expect("carried");
        assert_eq!(answered.code, ErrorCode::InternalError);
        assert_eq!(answered.detail.as_deref(), Some("disk on fire"));
        let full = Error::storage_full().into_response();
        assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(full.headers()["retry-after"], "30");
    }
}
