//! The error type of the client.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;

use crate::ErrorCode;
use crate::types;

/// Everything that can go wrong when calling the API.
///
/// A generated operation's error (`.send()`) converts with `?` or [`From`], and
/// answers the same questions as it is, through [`SendErrorExt`] (in the
/// [`prelude`](crate::prelude)): `code()`, `error_code()`, `param()`,
/// `request_id()`. New variants may come: match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunwayError {
    /// The server answered with the contract's error body.
    #[error("{status}: {message} (code `{code}`{}{})", param.as_deref().map(|p| format!(", parameter `{p}`")).unwrap_or_default(), request_id.as_deref().map(|id| format!(", request {id}")).unwrap_or_default())]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The contract's machine-readable code, such as `invalid_parameter`.
        code: String,
        /// The server's explanation.
        message: String,
        /// The request parameter at fault, when the server names one.
        param: Option<String>,
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
        /// The request's id (`X-Request-Id`), to quote when reporting a problem.
        request_id: Option<String>,
    },
    /// The server answered with a body the client could not parse; the body is kept.
    #[error("{}the response body could not be parsed: {source}", status.map(|s| format!("{s}: ")).unwrap_or_default())]
    InvalidBody {
        /// The HTTP status, when known.
        status: Option<StatusCode>,
        /// The raw body.
        body: Bytes,
        /// Why it did not parse.
        source: serde_json::Error,
    },
    /// The server answered with a status the contract does not list. The response is
    /// kept whole, body unread: read it with `response.text().await`.
    #[error("unexpected response status {}", response.status())]
    UnexpectedResponse {
        /// The response, body unread.
        response: Box<reqwest::Response>,
    },
    /// The request could not be sent or its answer not received (connection,
    /// timeout, TLS, body read).
    #[error("request failed: {}", with_causes(.0))]
    Transport(#[source] reqwest::Error),
    /// The request was not sent because it breaks the contract (a missing required
    /// field, a value out of bounds, a malformed media URL).
    #[error("invalid request: {}{message}", param.as_deref().map(|p| format!("`{p}` ")).unwrap_or_default())]
    InvalidRequest {
        /// The field or parameter at fault, when one is.
        param: Option<String>,
        /// What is wrong with it.
        message: String,
    },
    /// The client is misconfigured.
    #[error("configuration error: {0}")]
    Config(String),
    /// A task ended `failed`; the task, with its `error` body, is kept.
    #[error("task {} failed: {}", task.id, task.error.as_ref().map_or("no reason given", |e| e.message.as_str()))]
    TaskFailed {
        /// The task as it ended.
        task: Box<types::Task>,
    },
    /// A task was cancelled before it finished.
    #[error("task {} was cancelled", task.id)]
    TaskCancelled {
        /// The task as it ended.
        task: Box<types::Task>,
    },
    /// A task was still pending or running when the wait's timeout ran out.
    #[error("task {task_id} did not finish within {waited:.0?}")]
    TaskTimedOut {
        /// The task's id.
        task_id: String,
        /// The task as last read (none when not even one read came back in time).
        task: Option<Box<types::Task>>,
        /// How long the wait lasted.
        waited: Duration,
    },
    /// A download could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// Where the download was going.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl RunwayError {
    /// The HTTP status, when the error comes from a response.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            RunwayError::Api { status, .. } => Some(*status),
            RunwayError::InvalidBody { status, .. } => *status,
            RunwayError::UnexpectedResponse { response } => Some(response.status()),
            RunwayError::Transport(err) => err.status(),
            _ => None,
        }
    }

    /// The contract's error code (`invalid_parameter`, `not_found`, ...), when the
    /// server sent one; for a failed task, the code of the task's error.
    pub fn code(&self) -> Option<&str> {
        match self {
            RunwayError::Api { code, .. } => Some(code),
            RunwayError::TaskFailed { task } => task.error.as_ref().map(|e| e.code.as_str()),
            _ => None,
        }
    }

    /// The id the server gave the request (its `X-Request-Id`), when the error
    /// comes from an answer: quote it when you report a problem.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            RunwayError::Api { request_id, .. } => request_id.as_deref(),
            RunwayError::UnexpectedResponse { response } => response
                .headers()
                .get(crate::retry::REQUEST_ID)
                .and_then(|v| v.to_str().ok()),
            RunwayError::TaskFailed { task } => task.error.as_ref()?.request_id.as_deref(),
            _ => None,
        }
    }

    /// The task, when the error is about one (failed, cancelled, timed out).
    pub fn task(&self) -> Option<&types::Task> {
        match self {
            RunwayError::TaskFailed { task } | RunwayError::TaskCancelled { task } => Some(task),
            RunwayError::TaskTimedOut { task, .. } => task.as_deref(),
            _ => None,
        }
    }

    /// The contract's error code as a type to match on (see [`Self::code`]).
    pub fn error_code(&self) -> Option<ErrorCode> {
        self.code().map(ErrorCode::from)
    }

    /// The request parameter at fault, if any: the one the server named, or the
    /// field of a request refused before sending.
    pub fn param(&self) -> Option<&str> {
        match self {
            RunwayError::Api { param, .. } | RunwayError::InvalidRequest { param, .. } => {
                param.as_deref()
            }
            RunwayError::TaskFailed { task } => task.error.as_ref()?.param.as_deref(),
            _ => None,
        }
    }

    /// Builds the error for a non-success response whose body has been read.
    pub(crate) fn from_error_body(
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: Bytes,
    ) -> Self {
        match serde_json::from_slice::<types::ErrorResponse>(&body) {
            Ok(parsed) => Self::api(status, headers, parsed),
            Err(source) => RunwayError::InvalidBody {
                status: Some(status),
                body,
                source,
            },
        }
    }

    fn api(
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: types::ErrorResponse,
    ) -> Self {
        let request_id = headers
            .get(crate::retry::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or(body.error.request_id);
        RunwayError::Api {
            status,
            code: body.error.code,
            message: body.error.message,
            param: body.error.param,
            retry_after: crate::retry::retry_after(headers),
            request_id,
        }
    }
}

/// The field named by the message of a request the generated code refused before
/// sending, and what is wrong with it. The builders of the generated code say
/// `error converting supplied value for FIELD: WHY` (a body field),
/// `no value supplied for FIELD` (a required body field left out) and
/// `conversion to `TYPE` for PARAM failed: WHY` (a parameter, or the body as a
/// whole, whose WHY is one of the first two).
pub(crate) fn refused_field(message: &str) -> (Option<&str>, &str) {
    if let Some(rest) = message.strip_prefix("conversion to `")
        && let Some((_, rest)) = rest.split_once("` for ")
        && let Some((name, why)) = rest
            .split_once(" failed: ")
            .or_else(|| rest.strip_suffix(" failed").map(|name| (name, "")))
    {
        if name == "body" {
            return refused_field(why);
        }
        let why = if why.is_empty() {
            "the value is not one the contract takes"
        } else {
            why
        };
        return (Some(name), why);
    }
    for prefix in [
        "error converting supplied value for ",
        "no value supplied for ",
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (field, why) = rest
                .split_once(": ")
                .unwrap_or((rest, "a value is required"));
            return (Some(field), why);
        }
    }
    (None, message)
}

/// An error's message followed by its causes (`error sending request: connection
/// refused`): reqwest keeps the reason two `source()`s down.
fn with_causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// What the error of a generated operation's `.send()` says, asked as
/// [`RunwayError`] is asked, with no conversion: in the
/// [`prelude`](crate::prelude).
///
/// ```no_run
/// use runway_api::prelude::*;
///
/// # async fn run(client: Client) {
/// match client.generate_image().body_map(|b| b.prompt("a fox")).send().await {
///     Ok(generated) => println!("{}", generated.image_url),
///     Err(err) if err.error_code() == Some(ErrorCode::RateLimited) => println!("later"),
///     Err(err) => println!("{} at {:?}", err, err.param()),
/// }
/// # }
/// ```
pub trait SendErrorExt {
    /// The contract's error code (`invalid_parameter`), when the server sent one.
    fn code(&self) -> Option<&str>;
    /// The error code as a type to match on.
    fn error_code(&self) -> Option<ErrorCode> {
        self.code().map(ErrorCode::from)
    }
    /// The server's explanation, when it sent one.
    fn message(&self) -> Option<&str>;
    /// The request parameter the server named as at fault.
    fn param(&self) -> Option<&str>;
    /// The id the server gave the request (`X-Request-Id`).
    fn request_id(&self) -> Option<&str>;
    /// The message followed by its causes: for an error that got no answer, why
    /// (`... tcp connect error: Connection refused`), which the message alone
    /// does not say. [`RunwayError`]'s own message already has them.
    fn full_message(&self) -> String;
}

impl SendErrorExt for progenitor_client::Error<types::ErrorResponse> {
    fn code(&self) -> Option<&str> {
        match self {
            progenitor_client::Error::ErrorResponse(value) => Some(&value.error.code),
            _ => None,
        }
    }

    fn message(&self) -> Option<&str> {
        match self {
            progenitor_client::Error::ErrorResponse(value) => Some(&value.error.message),
            _ => None,
        }
    }

    fn param(&self) -> Option<&str> {
        match self {
            progenitor_client::Error::ErrorResponse(value) => value.error.param.as_deref(),
            progenitor_client::Error::InvalidRequest(message) => refused_field(message).0,
            _ => None,
        }
    }

    fn request_id(&self) -> Option<&str> {
        fn header(headers: &reqwest::header::HeaderMap) -> Option<&str> {
            headers.get(crate::retry::REQUEST_ID)?.to_str().ok()
        }
        match self {
            progenitor_client::Error::ErrorResponse(value) => {
                header(value.headers()).or(value.error.request_id.as_deref())
            }
            progenitor_client::Error::UnexpectedResponse(response) => header(response.headers()),
            _ => None,
        }
    }

    fn full_message(&self) -> String {
        with_causes(self)
    }
}

impl From<progenitor_client::Error<types::ErrorResponse>> for RunwayError {
    fn from(err: progenitor_client::Error<types::ErrorResponse>) -> Self {
        use progenitor_client::Error as E;
        match err {
            E::ErrorResponse(value) => {
                let status = value.status();
                let headers = value.headers().clone();
                RunwayError::api(status, &headers, value.into_inner())
            }
            E::InvalidResponsePayload(body, source) => RunwayError::InvalidBody {
                status: None,
                body,
                source,
            },
            E::UnexpectedResponse(response) => RunwayError::UnexpectedResponse {
                response: Box::new(response),
            },
            E::CommunicationError(e) | E::InvalidUpgrade(e) | E::ResponseBodyError(e) => {
                RunwayError::Transport(e)
            }
            E::InvalidRequest(message) | E::Custom(message) => {
                let (param, why) = refused_field(&message);
                RunwayError::InvalidRequest {
                    param: param.map(str::to_owned),
                    message: why.to_owned(),
                }
            }
        }
    }
}

/// A request body the generated builders refused (`.try_into()` of a builder).
impl From<types::error::ConversionError> for RunwayError {
    fn from(err: types::error::ConversionError) -> Self {
        let message = err.to_string();
        let (param, why) = refused_field(&message);
        RunwayError::InvalidRequest {
            param: param.map(str::to_owned),
            message: why.to_owned(),
        }
    }
}

/// A value that breaks the contract, found while building it
/// (`VideoDuration::new(20)`, `MediaUrl::try_from("not a url")`).
impl From<crate::InvalidValue> for RunwayError {
    fn from(err: crate::InvalidValue) -> Self {
        RunwayError::InvalidRequest {
            param: None,
            message: err.to_string(),
        }
    }
}

impl From<reqwest::Error> for RunwayError {
    fn from(err: reqwest::Error) -> Self {
        RunwayError::Transport(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_status_code_message_and_param() {
        let body = Bytes::from_static(
            br#"{"error":{"code":"invalid_parameter","message":"resize_width must be between 1 and 8192","param":"resize_width"}}"#,
        );
        let err = RunwayError::from_error_body(
            StatusCode::UNPROCESSABLE_ENTITY,
            &Default::default(),
            body,
        );
        assert_eq!(
            err.to_string(),
            "422 Unprocessable Entity: resize_width must be between 1 and 8192 (code `invalid_parameter`, parameter `resize_width`)"
        );
        assert_eq!(err.code(), Some("invalid_parameter"));
        assert_eq!(err.error_code(), Some(ErrorCode::InvalidParameter));
        assert_eq!(err.param(), Some("resize_width"));
    }

    #[test]
    fn a_refused_request_names_its_field() {
        let cases = [
            (
                "error converting supplied value for duration: must be from 1 to 10, got 20",
                Some("duration"),
                "must be from 1 to 10, got 20",
            ),
            (
                "no value supplied for prompt",
                Some("prompt"),
                "a value is required",
            ),
            (
                "conversion to `EditImageRequest` for body failed: error converting supplied value for resize_width: must be from 1 to 8192, got 0",
                Some("resize_width"),
                "must be from 1 to 8192, got 0",
            ),
            (
                "conversion to `Int<1, 100>` for limit failed: must be from 1 to 100, got 0",
                Some("limit"),
                "must be from 1 to 100, got 0",
            ),
            (
                "conversion to `IdempotencyKey` for idempotency_key failed",
                Some("idempotency_key"),
                "the value is not one the contract takes",
            ),
            ("something else", None, "something else"),
        ];
        for (message, param, why) in cases {
            assert_eq!(refused_field(message), (param, why), "{message}");
        }
    }

    #[test]
    fn an_unparseable_body_is_kept() {
        let err = RunwayError::from_error_body(
            StatusCode::BAD_GATEWAY,
            &Default::default(),
            Bytes::from_static(b"<html>bad gateway</html>"),
        );
        match err {
            RunwayError::InvalidBody { status, body, .. } => {
                assert_eq!(status, Some(StatusCode::BAD_GATEWAY));
                assert_eq!(&body[..], b"<html>bad gateway</html>");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
