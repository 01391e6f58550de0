//! The HTTP edge: the router and one handler per operation, grouped by concern.
//! Handlers turn the wire request into a [`crate::ops::MediaOp`] (or a store
//! lookup), run it, and answer in the contract's types; every error becomes the
//! contract's error body here, through [`ApiError`].

mod downloads;
mod images;
mod media;
mod service;
mod tasks;
mod videos;
mod wire;

pub(crate) use media::human_size;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};

use crate::AppState;
use crate::auth::require_key;
use crate::error::ApiError;
use crate::idempotency::idempotency;
use crate::request_id::request_id;

/// Every route of the API.
pub(crate) fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/generate-image", post(images::generate_image))
        .route("/v1/edit-image", post(images::edit_image))
        .route("/v1/add-text-to-image", post(images::add_text_to_image))
        .route("/v1/style-transfer", post(images::style_transfer))
        .route("/v1/generate-video", post(videos::generate_video))
        .route("/v1/image-to-video", post(videos::image_to_video))
        .route("/v1/edit-video", post(videos::edit_video))
        .route("/v1/video-filter", post(videos::apply_video_filter))
        .route("/v1/resize-video", post(videos::resize_video))
        .route("/v1/speed-adjust", post(videos::adjust_video_speed))
        .route("/v1/generate-thumbnail", post(videos::generate_thumbnail))
        .route("/v1/extract-audio", post(videos::extract_audio))
        .route("/v1/image-metadata", get(media::get_image_metadata))
        .route("/v1/video-metadata", get(media::get_video_metadata))
        .route("/v1/delete-media", delete(media::delete_media))
        .route(crate::upload::UPLOAD_PATH, post(media::upload_media))
        .route("/v1/media", get(media::list_media))
        .route("/v1/usage", get(media::get_usage))
        .route("/v1/tasks", post(tasks::create_task).get(tasks::list_tasks))
        .route(
            "/v1/tasks/{task_id}",
            get(tasks::get_task).delete(tasks::delete_task),
        )
        // Layers run bottom up: the key is checked before an idempotent replay.
        .route_layer(middleware::from_fn_with_state(state.clone(), idempotency))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .merge(v1)
        .route("/images/{file}", get(downloads::download_image))
        .route("/videos/{file}", get(downloads::download_video))
        .route("/audios/{file}", get(downloads::download_audio))
        .route("/healthz", get(service::health))
        .route("/readyz", get(service::readiness))
        .route("/openapi.yaml", get(service::openapi_yaml))
        .route("/openapi.json", get(service::openapi_json))
        .route("/metrics", get(crate::telemetry::scrape))
        .route("/docs", get(service::docs))
        .route("/docs/redoc.standalone.js", get(service::docs_script))
        // Counted by route pattern: only routed requests reach this layer.
        .route_layer(middleware::from_fn(crate::telemetry::track))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_body_bytes,
        ))
        // A bug must never take a connection down without an answer: a panic in a
        // handler becomes a 500 in the contract's error format.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("a request handler panicked").into_response()
            },
        ))
        // Outermost: every answer, a panic's included, carries the request's id.
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// The `limit` of a listing: 20 by default, 1 to 100 (422 otherwise).
fn page_limit(limit: Option<i64>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("limit must be between 1 and 100 (got {limit})"),
        ));
    }
    Ok(limit as usize)
}

/// A query string that does not parse: 422 naming the parameter.
fn query_error(err: axum::extract::rejection::QueryRejection) -> ApiError {
    let text = err.body_text();
    let param = text.split('`').nth(1).unwrap_or("query").to_owned();
    ApiError::invalid(&param, text)
}
