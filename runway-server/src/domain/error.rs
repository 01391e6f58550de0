//! The one error of the server's operations: a code from one list, a sentence
//! for people, the parameter at fault. It knows nothing of HTTP: the edge
//! (`http::error`) gives each code its status and writes the contract's body,
//! and logs and counts errors there, never when one is made.

use std::fmt;

/// Every error code the server answers with (the contract's table), in one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request cannot be read (malformed JSON, a bad header).
    InvalidRequest,
    /// No API key, or an unknown one.
    Unauthorized,
    /// The key may not do this (delete another owner's media).
    Forbidden,
    /// Storing more would take the owner past their quota.
    QuotaExceeded,
    /// No such media, task or route.
    NotFound,
    /// The route does not take that method.
    MethodNotAllowed,
    /// The thing is busy (being deleted, its record changing).
    Conflict,
    /// A request with the same `Idempotency-Key` is still running.
    IdempotencyKeyInUse,
    /// The body or a media input is over a limit.
    PayloadTooLarge,
    /// A media input is not a supported image or video.
    UnsupportedMediaType,
    /// A download's range lies outside the file.
    RangeNotSatisfiable,
    /// A parameter is out of its bounds or of the wrong type.
    InvalidParameter,
    /// A media URL gave no media.
    MediaUnreachable,
    /// `extract-audio` on a video without sound.
    NoAudioStream,
    /// An `Idempotency-Key` was used with another request.
    IdempotencyKeyReused,
    /// Too many requests for the key.
    RateLimited,
    /// The server failed; nothing was stored.
    InternalError,
    /// The disk is full; nothing was stored.
    StorageFull,
    /// Video and audio work needs ffmpeg, which the server does not have.
    MediaEngineUnavailable,
    /// Too many media jobs at once.
    Overloaded,
    /// The server is not ready (readiness).
    NotReady,
    /// The database cannot be reached; retry shortly.
    DatabaseUnavailable,
    /// The model server that generates images failed or gave no image.
    UpstreamError,
    /// The model server that generates images did not answer in time.
    UpstreamTimeout,
    /// A task's server stopped while it ran (a task's error, never answered).
    Interrupted,
    /// The job was cancelled (a task's `DELETE`; never answered to a request).
    Cancelled,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 26] = [
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::QuotaExceeded,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::IdempotencyKeyInUse,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RangeNotSatisfiable,
        Self::InvalidParameter,
        Self::MediaUnreachable,
        Self::NoAudioStream,
        Self::IdempotencyKeyReused,
        Self::RateLimited,
        Self::InternalError,
        Self::StorageFull,
        Self::MediaEngineUnavailable,
        Self::Overloaded,
        Self::NotReady,
        Self::DatabaseUnavailable,
        Self::UpstreamError,
        Self::UpstreamTimeout,
        Self::Interrupted,
        Self::Cancelled,
    ];

    /// The code as the contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::QuotaExceeded => "quota_exceeded",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::IdempotencyKeyInUse => "idempotency_key_in_use",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::InvalidParameter => "invalid_parameter",
            Self::MediaUnreachable => "media_unreachable",
            Self::NoAudioStream => "no_audio_stream",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::RateLimited => "rate_limited",
            Self::InternalError => "internal_error",
            Self::StorageFull => "storage_full",
            Self::MediaEngineUnavailable => "media_engine_unavailable",
            Self::Overloaded => "overloaded",
            Self::NotReady => "not_ready",
            Self::DatabaseUnavailable => "database_unavailable",
            Self::UpstreamError => "upstream_error",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::Interrupted => "interrupted",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of an operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// What went wrong, from the one list.
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// The request parameter at fault.
    pub param: Option<String>,
    /// Seconds after which a retry may succeed (rate limits, overload, full disk).
    pub retry_after: Option<u64>,
    /// What really failed, for the log only (an internal error's cause).
    pub detail: Option<String>,
}

/// A result whose error is [`Error`] unless said otherwise.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with no parameter.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            retry_after: None,
            detail: None,
        }
    }

    /// Replaces the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Names the parameter at fault.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Says when to retry.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "missing or unknown API key: send Authorization: Bearer <API key>",
        )
    }

    /// `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// `quota_exceeded`: storing more would take the owner past `quota` bytes.
    pub fn quota_exceeded(used: u64, quota: u64) -> Self {
        use super::media::human_size;
        Self::new(
            ErrorCode::QuotaExceeded,
            format!(
                "this key's storage quota would be exceeded: {} of {} used ({used} of {quota} bytes); delete media (GET /v1/media lists them) to make room",
                human_size(used),
                human_size(quota)
            ),
        )
    }

    /// `storage_full`, retry after 30 s: the disk is full, nothing was stored.
    pub fn storage_full() -> Self {
        Self::new(
            ErrorCode::StorageFull,
            "the server's storage is full; nothing was stored; retry later",
        )
        .with_retry_after(30)
    }

    /// A failed write of the server's own files: `storage_full` when the disk is
    /// full, else `internal_error`.
    pub fn io(err: std::io::Error) -> Self {
        if matches!(
            err.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        ) {
            let mut full = Self::storage_full();
            full.detail = Some(err.to_string());
            full
        } else {
            Self::internal(err)
        }
    }

    /// `not_found` for the media named by `param`.
    pub fn media_not_found(param: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("no media at the URL given in {param}"),
        )
        .with_param(param)
    }

    /// `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// `payload_too_large`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PayloadTooLarge, message)
    }

    /// `unsupported_media_type`.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnsupportedMediaType, message)
    }

    /// `range_not_satisfiable` for a file of `size` bytes.
    pub fn range_not_satisfiable(size: u64) -> Self {
        Self::new(
            ErrorCode::RangeNotSatisfiable,
            format!("the range lies outside the file ({size} bytes)"),
        )
        .with_param("Range")
    }

    /// `invalid_parameter` for `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message).with_param(param)
    }

    /// `media_unreachable` for `param`.
    pub fn unreachable(param: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::MediaUnreachable, message).with_param(param)
    }

    /// `internal_error`. The detail is for the log, never for the client.
    pub fn internal(detail: impl fmt::Display) -> Self {
        let mut err = Self::new(
            ErrorCode::InternalError,
            "the server failed to process the request; nothing was stored",
        );
        err.detail = Some(detail.to_string());
        err
    }

    /// The job was cancelled (a task's `DELETE`); never answered to a request.
    pub fn cancelled() -> Self {
        Self::new(ErrorCode::Cancelled, "the task was cancelled")
    }

    /// `media_engine_unavailable`.
    pub fn engine_unavailable() -> Self {
        Self::new(
            ErrorCode::MediaEngineUnavailable,
            "video and audio work needs ffmpeg and ffprobe, which this server does not have: \
             install ffmpeg (e.g. `apt-get install ffmpeg`) and restart the server",
        )
    }

    /// `upstream_error`: the image generator failed; the log gets `detail` (how,
    /// when the message cannot say), else the message.
    pub fn upstream(message: impl Into<String>, detail: Option<String>) -> Self {
        let mut err = Self::new(ErrorCode::UpstreamError, message);
        err.detail = Some(detail.unwrap_or_else(|| err.message.clone()));
        err
    }

    /// `upstream_timeout`: the image generator gave no answer within `seconds`.
    pub fn upstream_timeout(seconds: u64) -> Self {
        let mut err = Self::new(
            ErrorCode::UpstreamTimeout,
            format!("the image generator gave no picture within {seconds} s; nothing was stored"),
        );
        err.detail = Some(err.message.clone());
        err
    }

    /// `overloaded`, retry after `seconds`.
    pub fn overloaded(seconds: u64) -> Self {
        Self::new(
            ErrorCode::Overloaded,
            format!("too many media jobs at once; retry after {seconds} s"),
        )
        .with_retry_after(seconds)
    }
}
