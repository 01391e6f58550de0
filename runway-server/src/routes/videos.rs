//! Video and audio operations: generate, image to video, edits, filters, resize,
//! speed, thumbnails, audio extraction.

use axum::extract::State;
use axum::{Extension, Json};
use runway_api::types;

use crate::AppState;
use crate::auth::Owner;
use crate::error::ApiResult;
use crate::json::ApiJson;
use crate::ops::MediaOp;

pub(super) async fn generate_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateVideoRequest>,
) -> ApiResult<Json<types::GenerateVideoResponse>> {
    let video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::GenerateVideoResponse { video_url }))
}

pub(super) async fn image_to_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ImageToVideoRequest>,
) -> ApiResult<Json<types::ImageToVideoResponse>> {
    let video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::ImageToVideoResponse { video_url }))
}

pub(super) async fn edit_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::EditVideoRequest>,
) -> ApiResult<Json<types::EditVideoResponse>> {
    let edited_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::EditVideoResponse { edited_video_url }))
}

pub(super) async fn apply_video_filter(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::VideoFilterRequest>,
) -> ApiResult<Json<types::VideoFilterResponse>> {
    let filtered_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::VideoFilterResponse { filtered_video_url }))
}

pub(super) async fn resize_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ResizeVideoRequest>,
) -> ApiResult<Json<types::ResizeVideoResponse>> {
    let resized_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::ResizeVideoResponse { resized_video_url }))
}

pub(super) async fn adjust_video_speed(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::SpeedAdjustRequest>,
) -> ApiResult<Json<types::SpeedAdjustResponse>> {
    let adjusted_speed_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::SpeedAdjustResponse {
        adjusted_speed_video_url,
    }))
}

pub(super) async fn generate_thumbnail(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateThumbnailRequest>,
) -> ApiResult<Json<types::GenerateThumbnailResponse>> {
    let thumbnail_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::GenerateThumbnailResponse { thumbnail_url }))
}

pub(super) async fn extract_audio(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ExtractAudioRequest>,
) -> ApiResult<Json<types::ExtractAudioResponse>> {
    let audio_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::ExtractAudioResponse { audio_url }))
}
