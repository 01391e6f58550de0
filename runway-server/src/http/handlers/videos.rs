//! Video and audio operations: generate, image to video, edits, filters, resize,
//! speed, thumbnails, audio extraction.

use axum::extract::State;
use axum::{Extension, Json};
use runway_api::types;

use crate::domain::Owner;
use crate::domain::Result;
use crate::domain::op::MediaOp;
use crate::http::json::ApiJson;
use crate::services::App;

pub(crate) async fn generate_video(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateVideoRequest>,
) -> Result<Json<types::GenerateVideoResponse>> {
    let video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::GenerateVideoResponse { video_url }))
}

pub(crate) async fn image_to_video(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ImageToVideoRequest>,
) -> Result<Json<types::ImageToVideoResponse>> {
    let video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::ImageToVideoResponse { video_url }))
}

pub(crate) async fn edit_video(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::EditVideoRequest>,
) -> Result<Json<types::EditVideoResponse>> {
    let edited_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::EditVideoResponse { edited_video_url }))
}

pub(crate) async fn apply_video_filter(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::VideoFilterRequest>,
) -> Result<Json<types::VideoFilterResponse>> {
    let filtered_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::VideoFilterResponse { filtered_video_url }))
}

pub(crate) async fn resize_video(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ResizeVideoRequest>,
) -> Result<Json<types::ResizeVideoResponse>> {
    let resized_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::ResizeVideoResponse { resized_video_url }))
}

pub(crate) async fn adjust_video_speed(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::SpeedAdjustRequest>,
) -> Result<Json<types::SpeedAdjustResponse>> {
    let adjusted_speed_video_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::SpeedAdjustResponse {
        adjusted_speed_video_url,
    }))
}

pub(crate) async fn generate_thumbnail(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateThumbnailRequest>,
) -> Result<Json<types::GenerateThumbnailResponse>> {
    let thumbnail_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::GenerateThumbnailResponse { thumbnail_url }))
}

pub(crate) async fn extract_audio(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ExtractAudioRequest>,
) -> Result<Json<types::ExtractAudioResponse>> {
    let audio_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::ExtractAudioResponse { audio_url }))
}
