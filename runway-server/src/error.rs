//! The contract's error body, `{"error": {"code", "message", "param"}}`, with its
//! status, and the one place where the errors of the layers below the HTTP edge
//! (imaging, fetch, engine, store) become it.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::fetch::FetchError;
use crate::imaging::ImagingError;

/// An error answered to a client: status, stable code, message and optional parameter.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The contract's machine-readable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The request parameter at fault.
    pub param: Option<String>,
    /// Seconds for `Retry-After`, on 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with no parameter and no `Retry-After`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            param: None,
            retry_after: None,
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

    /// 400 `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown API key: send Authorization: Bearer <API key>",
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 403 `quota_exceeded`: storing more would take the key past its quota.
    pub fn quota_exceeded(used: u64, quota: u64) -> Self {
        use crate::routes::human_size;
        Self::new(
            StatusCode::FORBIDDEN,
            "quota_exceeded",
            format!(
                "this key's storage quota would be exceeded: {} of {} used ({used} of {quota} bytes); delete media (GET /v1/media lists them) to make room",
                human_size(used),
                human_size(quota)
            ),
        )
    }

    /// 507 `storage_full`, with `Retry-After`: the disk is full, nothing was stored.
    pub fn storage_full() -> Self {
        let mut err = Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage_full",
            "the server's storage is full; nothing was stored; retry later",
        );
        err.retry_after = Some(30);
        err
    }

    /// A failed write of the server's own files: 507 when the disk is full, else 500.
    pub fn io(err: std::io::Error) -> Self {
        if matches!(
            err.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        ) {
            tracing::warn!(%err, "out of disk space");
            Self::storage_full()
        } else {
            Self::internal(err)
        }
    }

    /// 404 `not_found` for the media named by `param`.
    pub fn media_not_found(param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no media at the URL given in {param}"),
        )
        .with_param(param)
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413 `payload_too_large`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 416 `range_not_satisfiable`.
    pub fn range_not_satisfiable(size: u64) -> Self {
        Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            format!("the range lies outside the file ({size} bytes)"),
        )
        .with_param("Range")
    }

    /// 422 `invalid_parameter` for `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_parameter",
            message,
        )
        .with_param(param)
    }

    /// 422 `media_unreachable` for `param`.
    pub fn unreachable(param: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "media_unreachable",
            message,
        )
        .with_param(param)
    }

    /// 500 `internal_error`. The detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to process the request; nothing was stored",
        )
    }

    /// The job was cancelled (a task's `DELETE`); never answered to a request.
    pub fn cancelled() -> Self {
        Self::new(StatusCode::CONFLICT, "cancelled", "the task was cancelled")
    }

    /// 503 `media_engine_unavailable`.
    pub fn engine_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "media_engine_unavailable",
            "video and audio work needs ffmpeg and ffprobe, which this server does not have: \
             install ffmpeg (e.g. `apt-get install ffmpeg`) and restart the server",
        )
    }

    /// 503 `overloaded`, retry after `seconds`.
    pub fn overloaded(seconds: u64) -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!("too many media jobs at once; retry after {seconds} s"),
        );
        err.retry_after = Some(seconds);
        err
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("runway_errors_total", "code" => self.code).increment(1);
        let mut detail = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(param) = &self.param {
            detail["param"] = serde_json::Value::String(param.clone());
        }
        if let Some(id) = crate::request_id::current() {
            detail["request_id"] = serde_json::Value::String(id);
        }
        let mut response =
            (self.status, Json(serde_json::json!({ "error": detail }))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

// ---------------------------------------------------------------- domain errors
// Every error of the layers below the HTTP edge becomes an `ApiError` here.

impl ApiError {
    /// A media input in `param` that is not a usable image.
    pub(crate) fn image_input(err: ImagingError, param: &str) -> Self {
        match err {
            ImagingError::NotAnImage => ApiError::unsupported_media(format!(
                "the bytes at {param} are not a supported image (JPEG, PNG, GIF, WebP)"
            )),
            ImagingError::Undecodable(reason) => ApiError::unsupported_media(format!(
                "the image at {param} could not be decoded: {reason}"
            )),
            ImagingError::TooLarge => ApiError::too_large(format!("the image at {param} is {err}")),
            ImagingError::Internal(_) => return ApiError::internal(err),
        }
        .with_param(param)
    }

    /// A remote media URL in `param` that gave no media.
    pub(crate) fn fetch(err: FetchError, param: &str) -> Self {
        match err {
            FetchError::TooLarge(_) => {
                ApiError::too_large(format!("the media at {param} {err}")).with_param(param)
            }
            FetchError::Write(err) => ApiError::io(err),
            _ => ApiError::unreachable(param, format!("{param} {err}")),
        }
    }
}

impl From<ImagingError> for ApiError {
    /// Image work on the server's own data (renders, encodes): its failure is ours.
    fn from(err: ImagingError) -> Self {
        ApiError::internal(err)
    }
}

impl From<crate::store::StoreError> for ApiError {
    /// A full disk is a state (507, retried later); any other store failure a 500.
    fn from(err: crate::store::StoreError) -> Self {
        if err.is_storage_full() {
            tracing::warn!(%err, "the store is out of space");
            return ApiError::storage_full();
        }
        ApiError::internal(err)
    }
}

impl From<crate::engine::EngineError> for ApiError {
    /// An engine failure on the server's own work (a render, our own media): 500.
    fn from(err: crate::engine::EngineError) -> Self {
        ApiError::internal(err)
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
