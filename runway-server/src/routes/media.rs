//! Stored media: metadata, deletion, uploads, and the service's health.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use runway_api::types;
use serde::Deserialize;

use super::query_error;
use crate::AppState;
use crate::auth::{Owner, owner_of};
use crate::error::{ApiError, ApiResult};
use crate::jobs::JobContext;
use crate::lifecycle::{MediaFilter, is_valid_cursor};
use crate::store::MediaKind;
use crate::upload::SpooledBody;

/// A file size for people, in powers of 1024 with at most one decimal: `2MB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{}{}", rounded as u64, UNITS[unit])
    } else {
        format!("{rounded:.1}{}", UNITS[unit])
    }
}

#[derive(Deserialize)]
pub(super) struct ImageMetadataQuery {
    image_url: String,
}

pub(super) async fn get_image_metadata(
    State(state): State<AppState>,
    query: Result<Query<ImageMetadataQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<types::ImageMetadata>> {
    let Query(query) = query.map_err(query_error)?;
    let record = state.stored_record(&query.image_url, "image_url").await?;
    if record.kind != MediaKind::Image {
        return Err(ApiError::media_not_found("image_url"));
    }
    Ok(Json(super::wire::image_metadata(&state, &record)?))
}

#[derive(Deserialize)]
pub(super) struct VideoMetadataQuery {
    video_url: String,
}

pub(super) async fn get_video_metadata(
    State(state): State<AppState>,
    query: Result<Query<VideoMetadataQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<types::VideoMetadata>> {
    let Query(query) = query.map_err(query_error)?;
    let record = state.stored_record(&query.video_url, "video_url").await?;
    if record.kind != MediaKind::Video {
        return Err(ApiError::media_not_found("video_url"));
    }
    Ok(Json(super::wire::video_metadata(&state, &record)))
}

/// An id in a set of ids being worked on, taken out again when dropped: when the
/// work ends, fails, or panics.
struct InFlight<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl<'a> InFlight<'a> {
    /// Puts `id` in `set`; `None` when it is there already.
    fn enter(set: &'a Mutex<HashSet<String>>, id: &str) -> Option<Self> {
        let mut ids = set.lock().unwrap_or_else(PoisonError::into_inner);
        ids.insert(id.to_owned()).then(|| Self {
            set,
            id: id.to_owned(),
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut ids = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        ids.remove(&self.id);
    }
}

#[derive(Deserialize)]
pub(super) struct DeleteQuery {
    media_url: String,
    auth_token: String,
}

pub(super) async fn delete_media(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<types::DeleteMediaResponse>> {
    let Query(query) = query.map_err(query_error)?;
    if !(1..=256).contains(&query.auth_token.len()) {
        return Err(ApiError::invalid(
            "auth_token",
            "auth_token must be 1 to 256 characters: the owner's API key",
        ));
    }
    let record = state.stored_record(&query.media_url, "media_url").await?;
    if record.owner != owner.0 || owner_of(&query.auth_token) != record.owner {
        return Err(ApiError::forbidden(
            "only the owner of this media may delete it: send the owner's key as the bearer key and as auth_token",
        )
        .with_param("auth_token"));
    }
    let Some(_deleting) = InFlight::enter(&state.deleting, &record.id) else {
        return Err(
            ApiError::conflict("this media is being deleted by another request")
                .with_param("media_url"),
        );
    };
    state.store.delete(&record).await?;
    Ok(Json(types::DeleteMediaResponse {
        message: "Media successfully deleted".to_owned(),
    }))
}

pub(super) async fn upload_media(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    request: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<types::UploadMediaResponse>)> {
    let (parts, body) = request.into_parts();
    // Spooled already when the request carries an Idempotency-Key.
    let spooled = match parts
        .extensions
        .get::<SpooledBody>()
        .and_then(SpooledBody::take)
    {
        Some(spooled) => spooled,
        None => {
            state
                .spool_upload(&owner, &parts.headers, body, false)
                .await?
        }
    };
    let record = state
        .store_upload(&JobContext::sync(owner), spooled)
        .await?;
    let media_type = super::wire::upload_media_type(record.kind);
    Ok((
        StatusCode::CREATED,
        Json(types::UploadMediaResponse {
            media_url: state.media_url(&record),
            media_type,
            size_bytes: record.size_bytes as i64,
        }),
    ))
}

#[derive(Deserialize)]
pub(super) struct ListMediaQuery {
    kind: Option<types::StoredMediaKind>,
    created_after: Option<chrono::DateTime<chrono::Utc>>,
    created_before: Option<chrono::DateTime<chrono::Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

pub(super) async fn list_media(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    query: Result<Query<ListMediaQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<types::MediaList>> {
    let Query(query) = query.map_err(query_error)?;
    let limit = super::page_limit(query.limit)?;
    if let Some(cursor) = &query.cursor
        && !is_valid_cursor(cursor)
    {
        return Err(ApiError::invalid(
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
            .map(|record| super::wire::media_item(&state, record))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

pub(super) async fn get_usage(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
) -> ApiResult<Json<types::Usage>> {
    Ok(Json(state.usage(&owner).await?.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_leaves_the_set_however_its_work_ends() {
        let set = Mutex::new(HashSet::new());
        let first = InFlight::enter(&set, "img_1").expect("entered");
        assert!(InFlight::enter(&set, "img_1").is_none(), "in flight");
        drop(first);
        let panicked = std::panic::catch_unwind(|| {
            let _held = InFlight::enter(&set, "img_1").expect("entered again");
            panic!("a delete that panics");
        });
        assert!(panicked.is_err());
        assert!(
            InFlight::enter(&set, "img_1").is_some(),
            "freed by the panic"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1023), "1023B");
        assert_eq!(human_size(2 * 1024 * 1024), "2MB");
        assert_eq!(human_size(1536), "1.5KB");
        assert_eq!(human_size(50 * 1024 * 1024), "50MB");
    }
}
