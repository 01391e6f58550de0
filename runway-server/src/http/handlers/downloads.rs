//! Media downloads: `/images/{file}`, `/videos/{file}`, `/audios/{file}`, with one
//! byte range, no key (ids are unguessable), immutable. With S3 storage and
//! `--download-redirect-secs`, a download is a 307 to a presigned URL of the bucket
//! instead (the client sends its `Range` there), so media bytes skip the server.

use crate::domain::media::MediaKind;
use crate::domain::{Error, Result};
use crate::http::range::{RangeRequest, parse_range};
use crate::services::App;
use crate::services::downloads::MediaBytes;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

async fn download(
    state: App,
    kind: MediaKind,
    file: String,
    headers: HeaderMap,
) -> Result<Response> {
    let record = state.media_to_download(kind, &file).await?;
    if let Some(url) = state.download_redirect(&record).await? {
        return Ok(redirect(&url));
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
    let body = match state.media_bytes(&record, range.clone()).await? {
        MediaBytes::Read(bytes) => Body::from(bytes),
        MediaBytes::Stream(stream) => Body::from_stream(stream),
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
