//! Sending a request with retries and tracing: the `exec` hook of every operation,
//! and the downloads.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Request, Response, StatusCode};
use tracing::Instrument;

use crate::config::{Config, RetryPolicy};

/// Whether a response status is worth another attempt.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// The header that names a request, in both directions.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The header that makes a `POST` safe to repeat.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A new idempotency key: a random UUID (version 4).
pub(crate) fn new_idempotency_key() -> String {
    let mut bytes: [u8; 16] = fastrand::u128(..).to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The wait a `Retry-After` header asks for: delay seconds, or the time until an
/// HTTP date (zero once that date has passed). `None` when absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The request's URL without its query, which may carry secrets (`auth_token`).
fn redacted_url(request: &Request) -> String {
    let url = request.url();
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path()
    )
}

/// What to do after one attempt.
enum Next {
    Done,
    RetryAfter(Duration),
    /// The first attempt of this idempotent request still runs on the server: wait
    /// and ask again (not counted as a retry; bounded by `max_in_progress_wait`).
    AwaitFirst(Duration),
}

/// Whether another attempt may follow: the request can be replayed, and either it
/// is safe to repeat by nature or it carries an idempotency key (then the server
/// answers a repeat with the first answer instead of doing the work twice).
fn decide(
    policy: &RetryPolicy,
    retry: u32,
    result: &reqwest::Result<Response>,
    replayable: bool,
    idempotent: bool,
) -> Next {
    if !replayable {
        return Next::Done;
    }
    // The first request with this key is still running: wait for its answer.
    if let Ok(response) = result
        && idempotent
        && response.status() == StatusCode::CONFLICT
        && let Some(wait) = retry_after(response.headers())
    {
        return Next::AwaitFirst(wait.min(policy.max_retry_after));
    }
    if retry >= policy.max_retries {
        return Next::Done;
    }
    let after = |response: &Response| match retry_after(response.headers()) {
        Some(wait) if wait > policy.max_retry_after => Next::Done,
        Some(wait) => Next::RetryAfter(wait),
        None => Next::RetryAfter(policy.backoff(retry)),
    };
    match result {
        Ok(response) if answered_by_the_model_server(response) => Next::Done,
        Ok(response) if is_retryable_status(response.status()) => after(response),
        Ok(_) => Next::Done,
        Err(err) if err.is_connect() => Next::RetryAfter(policy.backoff(retry)),
        // The answer did not come: the server may have done the work, and with a
        // key the repeat gets its answer.
        Err(err) if idempotent && answer_did_not_come(err) => {
            Next::RetryAfter(policy.backoff(retry))
        }
        Err(_) => Next::Done,
    }
}

/// Whether a 502 or 504 is the API's own answer (the contract's JSON error body:
/// `upstream_error`, `upstream_timeout`) that the image model the server
/// delegates to failed or was too slow. A repeat would start the model's work
/// again (a minute or more of a GPU), so it is left to the caller; a gateway's
/// own 502 or 504 (not JSON) is retried as any.
fn answered_by_the_model_server(response: &Response) -> bool {
    matches!(response.status().as_u16(), 502 | 504)
        && response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
}

/// Whether an attempt failed because its answer did not come: a timeout, a
/// connection closed or reset before the answer, an HTTP/2 stream refused.
/// Not when the request itself was at fault, which a repeat would meet again: its
/// body could not be read or ended short of its length, hyper would not send it
/// (`is_user`), or the answer was not HTTP (`is_parse`).
fn answer_did_not_come(err: &reqwest::Error) -> bool {
    if !err.is_request() {
        return false;
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<hyper::Error>() {
            return !(http.is_user() || http.is_parse());
        }
        source = cause.source();
    }
    true
}

/// Sends `request`, adding the API key when `config` has one and the request
/// carries no `Authorization` yet, and retrying as `config`'s policy says.
///
/// Returns the last attempt's result: the response (whatever its status) or the
/// transport error.
pub(crate) fn execute<'a>(
    http: &'a reqwest::Client,
    config: &'a Config,
    request: Request,
    operation_id: &'static str,
    send_key: bool,
) -> impl Future<Output = reqwest::Result<Response>> + 'a {
    execute_with(http, config, request, operation_id, send_key, copy_request)
}

/// A copy of `request` for another attempt; `None` when its body is a stream.
///
/// A request without a body is copied part by part (method, URL, headers,
/// version, timeout), which is all that such a request is.
fn copy_request(request: &Request) -> Option<Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

/// [`execute`], making each further attempt's request with `replay` from the one
/// about to be sent (`None`: no further attempt): a copy, or for a streamed body
/// a new request that streams it again.
pub(crate) async fn execute_with(
    http: &reqwest::Client,
    config: &Config,
    mut request: Request,
    operation_id: &'static str,
    send_key: bool,
    replay: impl Fn(&Request) -> Option<Request>,
) -> reqwest::Result<Response> {
    if send_key
        && !request.headers().contains_key(AUTHORIZATION)
        && let Some(header) = config.api_key.as_ref().and_then(|k| k.bearer_header())
    {
        request.headers_mut().insert(AUTHORIZATION, header);
    }
    if request.method() == Method::POST
        && !request.headers().contains_key(IDEMPOTENCY_KEY)
        && let Ok(key) = HeaderValue::from_str(&new_idempotency_key())
    {
        request.headers_mut().insert(IDEMPOTENCY_KEY, key);
    }
    // Made only when a subscriber wants it (its fields are not even formatted
    // otherwise, which `tracing`'s `log` compatibility would do); without one the
    // request runs without instrumentation.
    if tracing::enabled!(tracing::Level::INFO) {
        let span = tracing::info_span!(
            "runway.request",
            operation = operation_id,
            method = %request.method(),
            url = %redacted_url(&request),
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        let recorder = span.clone();
        attempts(http, config, request, replay, &recorder)
            .instrument(span)
            .await
    } else {
        attempts(http, config, request, replay, &tracing::Span::none()).await
    }
}

/// The attempts of one request, until one is final; records their count and the
/// last answer's status and request id on `span`.
async fn attempts(
    http: &reqwest::Client,
    config: &Config,
    mut request: Request,
    replay: impl Fn(&Request) -> Option<Request>,
    span: &tracing::Span,
) -> reqwest::Result<Response> {
    let idempotent =
        request.method() == Method::GET || request.headers().contains_key(IDEMPOTENCY_KEY);
    let started = Instant::now();
    let mut retry = 0u32;
    let mut awaited_first = Duration::ZERO;
    loop {
        let spare = replay(&request);
        let attempt_started = Instant::now();
        let result = http.execute(request).await;
        let elapsed_ms = attempt_started.elapsed().as_millis() as u64;
        match &result {
            Ok(response) => tracing::debug!(
                attempt = retry + 1,
                status = response.status().as_u16(),
                elapsed_ms,
                "response"
            ),
            Err(err) => {
                tracing::debug!(attempt = retry + 1, elapsed_ms, error = %err, "request failed")
            }
        }
        let mut next = decide(&config.retry, retry, &result, spare.is_some(), idempotent);
        if let Next::AwaitFirst(wait) = next {
            awaited_first += wait;
            next = if awaited_first > config.retry.max_in_progress_wait {
                Next::Done
            } else {
                Next::AwaitFirst(wait)
            };
        }
        match (next, spare) {
            (Next::AwaitFirst(wait), Some(copy)) => {
                tracing::debug!(
                    wait_ms = wait.as_millis() as u64,
                    "the first attempt still runs"
                );
                tokio::time::sleep(wait).await;
                request = copy;
            }
            (Next::RetryAfter(wait), Some(copy)) => {
                tracing::warn!(
                    attempt = retry + 1,
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
                tokio::time::sleep(wait).await;
                request = copy;
                retry += 1;
            }
            _ => {
                if !span.is_disabled() {
                    span.record("attempts", retry + 1);
                    if let Ok(response) = &result {
                        span.record("status", response.status().as_u16());
                        if let Some(id) = response
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                        {
                            span.record("request_id", id);
                        }
                    }
                }
                tracing::debug!(total_ms = started.elapsed().as_millis() as u64, "finished");
                return result;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses_are_the_documented_ones() {
        let retryable: Vec<u16> = (100..600)
            .filter(|&code| StatusCode::from_u16(code).is_ok_and(is_retryable_status))
            .collect();
        assert_eq!(retryable, vec![408, 429, 500, 502, 503, 504]);
    }

    #[test]
    fn a_request_without_a_body_is_copied_whole() {
        let mut request = Request::new(
            Method::GET,
            "http://127.0.0.1:8080/v1/video-metadata?video_url=x"
                .parse()
                .expect("url"),
        );
        request
            .headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        *request.timeout_mut() = Some(Duration::from_secs(9));
        *request.version_mut() = reqwest::Version::HTTP_11;
        let copy = copy_request(&request).expect("a copy");
        assert_eq!(copy.method(), request.method());
        assert_eq!(copy.url(), request.url());
        assert_eq!(copy.headers(), request.headers());
        assert_eq!(copy.timeout(), request.timeout());
        assert_eq!(copy.version(), request.version());
        assert!(copy.body().is_none());

        let mut post = Request::new(Method::POST, request.url().clone());
        *post.body_mut() = Some(reqwest::Body::from("{}"));
        let copy = copy_request(&post).expect("a bytes body is copied");
        assert_eq!(copy.body().and_then(|b| b.as_bytes()), Some(&b"{}"[..]));
    }

    /// A listener on loopback that takes connections and reads them, never
    /// answering; its URL.
    async fn silent_server() -> String {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    while stream.read(&mut buffer).await.is_ok_and(|n| n > 0) {}
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn a_request_at_fault_is_not_an_answer_that_did_not_come() {
        let url = silent_server().await;
        let http = reqwest::Client::new();
        // The body fails while it is sent (a file that cannot be read).
        let failing = futures_util::stream::iter([
            Ok(bytes::Bytes::from_static(b"first part")),
            Err(std::io::Error::other("the disk failed")),
        ]);
        let err = http
            .post(&url)
            .body(reqwest::Body::wrap_stream(failing))
            .send()
            .await
            .expect_err("the body fails");
        assert!(err.is_request(), "{err:?}");
        assert!(!answer_did_not_come(&err), "{err:?}");

        // The answer does not come in time.
        let err = http
            .get(&url)
            .timeout(Duration::from_millis(50))
            .send()
            .await
            .expect_err("no answer");
        assert!(answer_did_not_come(&err), "{err:?}");
    }

    #[test]
    fn idempotency_keys_are_uuids() {
        let a = new_idempotency_key();
        let b = new_idempotency_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "7".parse().expect("header"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));

        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        let date = httpdate::fmt_http_date(in_a_minute);
        headers.insert(RETRY_AFTER, date.parse().expect("header"));
        let wait = retry_after(&headers).expect("a date is read");
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );

        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");

        headers.insert(RETRY_AFTER, "soon".parse().expect("header"));
        assert_eq!(retry_after(&headers), None);
    }
}
