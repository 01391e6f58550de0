//! The contract's error codes, as a type to match on.

use std::fmt;

/// An error code of the contract (`{"error": {"code": ...}}`), or of a failed
/// task's error. New codes may come: match with a wildcard arm; a code this
/// version does not know is [`ErrorCode::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the body is not valid JSON, a required body is missing, a `data:` URI is malformed.
    InvalidRequest,
    /// 401: the API key is missing or not known.
    Unauthorized,
    /// 403: the key may not do this.
    Forbidden,
    /// 403: storing more would take the key past its storage quota.
    QuotaExceeded,
    /// 404: the media, task or route does not exist.
    NotFound,
    /// 405: the route does not take that method.
    MethodNotAllowed,
    /// 409: the media is being deleted by another request, or a task's record is changing.
    Conflict,
    /// 409: a request with this `Idempotency-Key` is still running.
    IdempotencyKeyInUse,
    /// 413: a body, a `data:` URI, a fetched URL or a result is over the size limit.
    PayloadTooLarge,
    /// 415: the bytes are not a supported image or video, or of the wrong kind.
    UnsupportedMediaType,
    /// 416: a download's `Range` lies outside the file.
    RangeNotSatisfiable,
    /// 422: a parameter breaks a rule; `param` names it.
    InvalidParameter,
    /// 422: a remote media URL could not be fetched.
    MediaUnreachable,
    /// 422: `extract-audio` on a video without sound.
    NoAudioStream,
    /// 422: this `Idempotency-Key` was used with another request.
    IdempotencyKeyReused,
    /// 429: too many requests for this key.
    RateLimited,
    /// 500: the server failed; nothing was stored.
    InternalError,
    /// 507: the server's storage is full; nothing was stored.
    StorageFull,
    /// 503: video and audio work needs ffmpeg, which the server does not have.
    MediaEngineUnavailable,
    /// 503: too many media jobs at once.
    Overloaded,
    /// 503: `/readyz`: the server is not ready.
    NotReady,
    /// 503: the server's database cannot be reached; retry after `Retry-After`.
    DatabaseUnavailable,
    /// 502: the model server that generates images failed or gave no image.
    UpstreamError,
    /// 504: the model server that generates images did not answer in time.
    UpstreamTimeout,
    /// A task's error: its server stopped while it ran.
    Interrupted,
    /// A code this version of the client does not know.
    Other(String),
}

/// Every known code with its spelling on the wire.
const KNOWN: [(ErrorCode, &str); 25] = [
    (ErrorCode::InvalidRequest, "invalid_request"),
    (ErrorCode::Unauthorized, "unauthorized"),
    (ErrorCode::Forbidden, "forbidden"),
    (ErrorCode::QuotaExceeded, "quota_exceeded"),
    (ErrorCode::NotFound, "not_found"),
    (ErrorCode::MethodNotAllowed, "method_not_allowed"),
    (ErrorCode::Conflict, "conflict"),
    (ErrorCode::IdempotencyKeyInUse, "idempotency_key_in_use"),
    (ErrorCode::PayloadTooLarge, "payload_too_large"),
    (ErrorCode::UnsupportedMediaType, "unsupported_media_type"),
    (ErrorCode::RangeNotSatisfiable, "range_not_satisfiable"),
    (ErrorCode::InvalidParameter, "invalid_parameter"),
    (ErrorCode::MediaUnreachable, "media_unreachable"),
    (ErrorCode::NoAudioStream, "no_audio_stream"),
    (ErrorCode::IdempotencyKeyReused, "idempotency_key_reused"),
    (ErrorCode::RateLimited, "rate_limited"),
    (ErrorCode::InternalError, "internal_error"),
    (ErrorCode::StorageFull, "storage_full"),
    (
        ErrorCode::MediaEngineUnavailable,
        "media_engine_unavailable",
    ),
    (ErrorCode::Overloaded, "overloaded"),
    (ErrorCode::NotReady, "not_ready"),
    (ErrorCode::DatabaseUnavailable, "database_unavailable"),
    (ErrorCode::UpstreamError, "upstream_error"),
    (ErrorCode::UpstreamTimeout, "upstream_timeout"),
    (ErrorCode::Interrupted, "interrupted"),
];

impl ErrorCode {
    /// The code as the wire spells it (`invalid_parameter`).
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Other(code) => code,
            known => KNOWN
                .iter()
                .find(|(code, _)| code == known)
                .map_or("", |(_, name)| name),
        }
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        KNOWN.iter().find(|(_, name)| *name == code).map_or_else(
            || ErrorCode::Other(code.to_owned()),
            |(known, _)| known.clone(),
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_and_spell_as_on_the_wire() {
        for (code, name) in &KNOWN {
            assert_eq!(&ErrorCode::from(*name), code);
            assert_eq!(code.as_str(), *name);
        }
        let unknown = ErrorCode::from("teapot");
        assert_eq!(unknown, ErrorCode::Other("teapot".to_owned()));
        assert_eq!(unknown.to_string(), "teapot");
    }
}
