//! The HTTP edge: the router, the middleware, the handlers, the one mapping of
//! domain errors to answers (`error`), and every conversion to and from the
//! contract's generated wire types (`wire`). Handlers are thin: a wire request
//! becomes a checked `MediaOp` (or a lookup), the application runs it, and the
//! answer is converted back. The cabinet (`cabinet`) is the edge for people:
//! HTML pages over the same application.

mod auth;
mod cabinet;
mod error;
mod handlers;
mod idempotency;
mod json;
mod range;
pub(crate) mod request_id;
mod telemetry;
mod wire;

use handlers::{downloads, images, media, service, tasks, videos};

use axum::Router;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};

use crate::domain::{Error, ErrorCode};
use crate::services::App;
use auth::require_key;
use idempotency::idempotency;
use request_id::request_id;

/// Every route of the API (a `--role worker` server serves only health, metrics
/// and the contract).
pub(crate) fn router(state: App) -> Router {
    let api = Router::new()
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
        .route("/v1/media", get(media::list_media))
        .route("/v1/usage", get(media::get_usage))
        .route("/v1/tasks", post(tasks::create_task).get(tasks::list_tasks))
        .route(
            "/v1/tasks/{task_id}",
            get(tasks::get_task).delete(tasks::delete_task),
        )
        .route("/v1/tasks/{task_id}/events", get(tasks::task_events))
        // Layers run bottom up: the key is checked before an idempotent replay.
        .route_layer(middleware::from_fn_with_state(state.clone(), idempotency))
        // An upload's body is a stream, not JSON: its handler spools it and keeps
        // its answer by the body's digest (`idempotency::run_once`).
        .route("/v1/upload-media", post(media::upload_media))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key))
        .route("/images/{file}", get(downloads::download_image))
        .route("/videos/{file}", get(downloads::download_video))
        .route("/audios/{file}", get(downloads::download_audio))
        .merge(cabinet::router(state.clone()));
    let served = if state.config.role.serves_api() {
        api
    } else {
        Router::new()
    };
    served
        .route("/healthz", get(service::health))
        .route("/readyz", get(service::readiness))
        .route("/openapi.yaml", get(service::openapi_yaml))
        .route("/openapi.json", get(service::openapi_json))
        .route("/metrics", get(telemetry::scrape))
        .route("/docs", get(service::docs))
        .route("/docs/redoc.standalone.js", get(service::docs_script))
        // Counted by route pattern: only routed requests reach this layer.
        .route_layer(middleware::from_fn(telemetry::track))
        .fallback(|| async { Error::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            Error::new(
                ErrorCode::MethodNotAllowed,
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
                Error::internal("a request handler panicked").into_response()
            },
        ))
        // Outermost: every answer, a panic's included, carries the request's id.
        .layer(middleware::from_fn(request_id))
        .with_state(state)
}

/// Installs the process's metrics recorder (once per process).
pub(crate) fn install_metrics() {
    telemetry::install();
}
