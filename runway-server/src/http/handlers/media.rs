//! Stored media: metadata, deletion, uploads, and the service's health.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use runway_api::types;
use serde::Deserialize;

use super::query_error;
use crate::domain::Owner;
use crate::domain::media::MediaKind;
use crate::domain::{Error, Result};
use crate::http::idempotency::{key_of, run_once};
use crate::http::wire;
use crate::services::App;
use crate::services::idempotency::fingerprint;
use crate::services::jobs::JobContext;
use crate::services::lifecycle::{MediaFilter, is_valid_cursor};
use crate::services::upload::{Spooled, UploadBody};

#[derive(Deserialize)]
pub(crate) struct ImageMetadataQuery {
    image_url: String,
}

pub(crate) async fn get_image_metadata(
    State(state): State<App>,
    query: Result<Query<ImageMetadataQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<types::ImageMetadata>> {
    let Query(query) = query.map_err(query_error)?;
    let record = state.stored_record(&query.image_url, "image_url").await?;
    if record.kind != MediaKind::Image {
        return Err(Error::media_not_found("image_url"));
    }
    Ok(Json(wire::image_metadata(&state, &record)?))
}

#[derive(Deserialize)]
pub(crate) struct VideoMetadataQuery {
    video_url: String,
}

pub(crate) async fn get_video_metadata(
    State(state): State<App>,
    query: Result<Query<VideoMetadataQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<types::VideoMetadata>> {
    let Query(query) = query.map_err(query_error)?;
    let record = state.stored_record(&query.video_url, "video_url").await?;
    if record.kind != MediaKind::Video {
        return Err(Error::media_not_found("video_url"));
    }
    Ok(Json(wire::video_metadata(&state, &record)))
}

#[derive(Deserialize)]
pub(crate) struct DeleteQuery {
    media_url: String,
    auth_token: String,
}

pub(crate) async fn delete_media(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<types::DeleteMediaResponse>> {
    let Query(query) = query.map_err(query_error)?;
    if !(1..=256).contains(&query.auth_token.len()) {
        return Err(Error::invalid(
            "auth_token",
            "auth_token must be 1 to 256 characters: the owner's API key",
        ));
    }
    state
        .delete_media(&owner, &query.media_url, &query.auth_token)
        .await?;
    Ok(Json(types::DeleteMediaResponse {
        message: "Media successfully deleted".to_owned(),
    }))
}

pub(crate) async fn upload_media(
    State(app): State<App>,
    Extension(owner): Extension<Owner>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let key = match key_of(&parts.headers) {
        Ok(key) => key,
        Err(err) => return err.into_response(),
    };
    let header = |name| parts.headers.get(name).map(HeaderValue::as_bytes);
    let body = UploadBody {
        declared: header(header::CONTENT_LENGTH)
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok()),
        awaits_continue: header(header::EXPECT)
            .is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue")),
        stream: body.into_data_stream(),
    };
    // With an Idempotency-Key the body is hashed as it is spooled, and the
    // upload is fingerprinted by its digest.
    let spooled = match app.spool_upload(&owner, body, key.is_some()).await {
        Ok(spooled) => spooled,
        Err(err) => return err.into_response(),
    };
    let Some(key) = key else {
        return store_upload(app, owner, spooled).await.into_response();
    };
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let print = fingerprint(
        parts.method.as_str(),
        path,
        &spooled.digest.unwrap_or_default(),
    );
    let work = store_upload(app.clone(), owner.clone(), spooled);
    run_once(
        app,
        owner,
        key,
        print,
        async move { work.await.into_response() },
    )
    .await
}

/// Stores a spooled upload and answers 201 with its URL.
async fn store_upload(
    app: App,
    owner: Owner,
    spooled: Spooled,
) -> Result<(StatusCode, Json<types::UploadMediaResponse>)> {
    let record = app.store_upload(&JobContext::sync(owner), spooled).await?;
    Ok((
        StatusCode::CREATED,
        Json(types::UploadMediaResponse {
            media_url: app.media_url(&record),
            media_type: wire::upload_media_type(record.kind),
            size_bytes: record.size_bytes as i64,
        }),
    ))
}

#[derive(Deserialize)]
pub(crate) struct ListMediaQuery {
    kind: Option<types::StoredMediaKind>,
    created_after: Option<chrono::DateTime<chrono::Utc>>,
    created_before: Option<chrono::DateTime<chrono::Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub(crate) async fn list_media(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    query: Result<Query<ListMediaQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<types::MediaList>> {
    let Query(query) = query.map_err(query_error)?;
    let limit = super::page_limit(query.limit)?;
    if let Some(cursor) = &query.cursor
        && !is_valid_cursor(cursor)
    {
        return Err(Error::invalid(
            "cursor",
            "cursor is not a cursor this server gave",
        ));
    }
    let filter = MediaFilter {
        kind: query.kind.map(MediaKind::from),
        created_after: query.created_after,
        created_before: query.created_before,
    };
    let page = state
        .list_media(&owner, &filter, limit, query.cursor.as_deref())
        .await?;
    Ok(Json(types::MediaList {
        data: page
            .media
            .iter()
            .map(|record| wire::media_item(&state, record))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

pub(crate) async fn get_usage(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
) -> Result<Json<types::Usage>> {
    Ok(Json(state.usage(&owner).await?.into()))
}
