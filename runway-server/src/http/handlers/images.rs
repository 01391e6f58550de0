//! Image operations: generate, edit, text, style transfer.

use axum::extract::State;
use axum::{Extension, Json};
use runway_api::types;

use crate::domain::Owner;
use crate::domain::Result;
use crate::domain::op::MediaOp;
use crate::http::json::ApiJson;
use crate::services::App;

pub(crate) async fn generate_image(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateImageRequest>,
) -> Result<Json<types::GenerateImageResponse>> {
    let image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::GenerateImageResponse { image_url }))
}

pub(crate) async fn edit_image(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::EditImageRequest>,
) -> Result<Json<types::EditImageResponse>> {
    let edited_image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::EditImageResponse { edited_image_url }))
}

pub(crate) async fn add_text_to_image(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::AddTextToImageRequest>,
) -> Result<Json<types::AddTextToImageResponse>> {
    let text_image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::AddTextToImageResponse { text_image_url }))
}

pub(crate) async fn style_transfer(
    State(state): State<App>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::StyleTransferRequest>,
) -> Result<Json<types::StyleTransferResponse>> {
    let styled_image_url = state.run_now(owner, MediaOp::try_from(req)?).await?;
    Ok(Json(types::StyleTransferResponse { styled_image_url }))
}
