//! Media downloads: `/images/{file}`, `/videos/{file}`, `/audios/{file}`, with one
//! byte range, no key (ids are unguessable), immutable. With S3 storage and
//! `--download-redirect-secs`, a download is a 307 to a presigned URL of the bucket
//! instead (the client sends its `Range` there), so media bytes skip the server.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use std::time::Duration;

use crate::domain::media::{MediaKind, parse_file_name};
use crate::domain::{Error, ErrorCode, Result};
use crate::http::range::{RangeRequest, parse_range};
use crate::services::App;

/// Downloads up to this size are read in one call rather than streamed.
const SMALL_DOWNLOAD_BYTES: u64 = 1024 * 1024;

async fn download(
    state: App,
    kind: MediaKind,
    file: String,
    headers: HeaderMap,
) -> Result<Response> {
    let not_found = || Error::new(ErrorCode::NotFound, "no media at this URL");
    let id = parse_file_name(kind, &file).ok_or_else(not_found)?;
    let record = state.store.record(kind, id).await?.ok_or_else(not_found)?;
    if let Some(secs) = state.config.download_redirect_secs
        && let Some(url) = state
            .store
            .presigned_url(&record, Duration::from_secs(secs))
            .await?
    {
        return Ok(redirect(url.as_str()));
    }
    let size = record.size_bytes;
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, range) = match parse_range(range_header, size) {
        RangeRequest::Whole => (StatusCode::OK, None),
        RangeRequest::Part(start, end) => (StatusCode::PARTIAL_CONTENT, Some(start..end)),
        RangeRequest::Unsatisfiable => {
            let mut response = Error::range_not_satisfiable(size).into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return Ok(response);
        }
    };
    let length = range.as_ref().map_or(size, |r| r.end - r.start);
    // Small bodies are read in one call; larger ones stream, so memory stays flat.
    let body = if length <= SMALL_DOWNLOAD_BYTES {
        let span = range.clone().unwrap_or(0..size);
        Body::from(state.store.read_range(&record, span).await?)
    } else {
        let stream = state
            .store
            .stream(&record, range.clone())
            .await?
            .map_err(std::io::Error::other);
        Body::from_stream(stream)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    metrics::counter!("runway_served_bytes_total").increment(length);
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", record.id)) {
        h.insert(header::ETAG, etag);
    }
    if let Some(r) = range
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1))
    {
        h.insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

/// A 307 to `location`, not to be cached beyond the life of the presigned URL.
fn redirect(location: &str) -> Response {
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, value);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    metrics::counter!("runway_download_redirects_total").increment(1);
    response
}

pub(crate) async fn download_image(
    State(state): State<App>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    download(state, MediaKind::Image, file, headers).await
}

pub(crate) async fn download_video(
    State(state): State<App>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    download(state, MediaKind::Video, file, headers).await
}

pub(crate) async fn download_audio(
    State(state): State<App>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    download(state, MediaKind::Audio, file, headers).await
}
