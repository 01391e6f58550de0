//! Image operations: generate, edit, text, style transfer.

use axum::extract::State;
use axum::{Extension, Json};
use runway_api::types;

use crate::AppState;
use crate::auth::Owner;
use crate::error::ApiResult;
use crate::json::ApiJson;
use crate::ops::MediaOp;

pub(super) async fn generate_image(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateImageRequest>,
) -> ApiResult<Json<types::GenerateImageResponse>> {
    let image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::GenerateImageResponse { image_url }))
}

pub(super) async fn edit_image(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::EditImageRequest>,
) -> ApiResult<Json<types::EditImageResponse>> {
    let edited_image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::EditImageResponse { edited_image_url }))
}

pub(super) async fn add_text_to_image(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::AddTextToImageRequest>,
) -> ApiResult<Json<types::AddTextToImageResponse>> {
    let text_image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::AddTextToImageResponse { text_image_url }))
}

pub(super) async fn style_transfer(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::StyleTransferRequest>,
) -> ApiResult<Json<types::StyleTransferResponse>> {
    let styled_image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::StyleTransferResponse { styled_image_url }))
}
