//! The `Idempotency-Key` middleware of the JSON `POST` routes (after
//! authentication), and [`run_once`], which the upload handler uses the same
//! way with its body's digest. The bookkeeping is `services::idempotency`.

use axum::Extension;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::domain::{Error, Owner, Result};
use crate::services::App;
use crate::services::idempotency::{Claim, KeptAnswer, fingerprint};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed answer.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The largest answer kept (JSON bodies are far smaller).
const MAX_KEPT_BODY: usize = 1024 * 1024;

/// The checked key of a request, if it has one.
pub(crate) fn key_of(headers: &HeaderMap) -> Result<Option<String>> {
    headers
        .get(IDEMPOTENCY_KEY)
        .map(|value| crate::services::idempotency::check_key(value.as_bytes()))
        .transpose()
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

/// Middleware on the JSON `POST` routes.
pub async fn idempotency(
    State(app): State<App>,
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
    let (parts, body) = request.into_parts();
    let limit = app.config.max_body_bytes;
    let Ok(body) = to_bytes(body, limit).await else {
        return Error::too_large(format!(
            "the request body is over the limit of {limit} bytes"
        ))
        .into_response();
    };
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let print = fingerprint(parts.method.as_str(), path, &body);
    let request = Request::from_parts(parts, Body::from(body));
    run_once(app, owner, key, print, next.run(request)).await
}

/// Runs `work` once for `key`: claims the key (or answers the kept answer, or
/// the error of a reused or busy key), runs the work in its own task so that a
/// client that goes away does not stop it, and keeps its answer (not a 5xx or a
/// 429: their retries run again).
pub(crate) async fn run_once(
    app: App,
    owner: Owner,
    key: String,
    print: String,
    work: impl Future<Output = Response> + Send + 'static,
) -> Response {
    let claimed = match app.claim_key(&owner, &key, print).await {
        Ok(Claim::Run(claimed)) => claimed,
        Ok(Claim::Replay(answer)) => return replay(&answer),
        Err(err) => return err.into_response(),
    };
    let (keeper, kept) = (app.clone(), claimed.clone());
    // In the request's span, so that its lines keep the request id.
    let span = tracing::Span::current();
    let running = tokio::spawn(super::request_id::scope(
        async move {
            let mut response = work.await;
            // The client may be gone by now: the error is logged here, not by the
            // request-id middleware.
            super::error::report(&mut response);
            let status = response.status();
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                keeper.release_key(&claimed).await;
                return response;
            }
            let (parts, body) = response.into_parts();
            let Ok(body) = to_bytes(body, MAX_KEPT_BODY).await else {
                keeper.release_key(&claimed).await;
                return Error::internal("an answer too large to keep").into_response();
            };
            let header = |name| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v: &HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let answer = KeptAnswer {
                status: status.as_u16(),
                content_type: header(header::CONTENT_TYPE),
                location: header(header::LOCATION),
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            keeper.keep_answer(&claimed, answer).await;
            Response::from_parts(parts, Body::from(body))
        }
        .instrument(span),
    ));
    match running.await {
        Ok(response) => response,
        Err(err) => {
            // The request failed before it answered: free its key for a retry.
            app.release_key(&kept).await;
            Error::internal(format!("request task: {err}")).into_response()
        }
    }
}
