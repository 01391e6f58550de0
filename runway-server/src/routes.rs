//! The HTTP routes: one handler per operation of the contract.

use std::num::NonZeroU32;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json};
use bytes::Bytes;
use futures_util::TryStreamExt;
use image::RgbImage;
use runway_api::types;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Owner, owner_of, require_key};
use crate::error::{ApiError, ApiResult};
use crate::imaging::edit::{ColorAdjust, Filter};
use crate::imaging::generate::Style;
use crate::imaging::text::Position;
use crate::imaging::{self, decode, encode_jpeg};
use crate::json::ApiJson;
use crate::store::{MediaKind, MediaRecord, Probed, parse_file_name};
use crate::video::{self, Job, Motion, VideoFilter};

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/generate-image", post(generate_image))
        .route("/v1/edit-image", post(edit_image))
        .route("/v1/add-text-to-image", post(add_text_to_image))
        .route("/v1/style-transfer", post(style_transfer))
        .route("/v1/generate-video", post(generate_video))
        .route("/v1/image-to-video", post(image_to_video))
        .route("/v1/edit-video", post(edit_video))
        .route("/v1/video-filter", post(apply_video_filter))
        .route("/v1/resize-video", post(resize_video))
        .route("/v1/speed-adjust", post(adjust_video_speed))
        .route("/v1/generate-thumbnail", post(generate_thumbnail))
        .route("/v1/extract-audio", post(extract_audio))
        .route("/v1/image-metadata", get(get_image_metadata))
        .route("/v1/video-metadata", get(get_video_metadata))
        .route("/v1/delete-media", delete(delete_media))
        .route("/v1/upload-media", post(upload_media))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    Router::new()
        .merge(v1)
        .route("/images/{file}", get(download_image))
        .route("/videos/{file}", get(download_video))
        .route("/audios/{file}", get(download_audio))
        .route("/healthz", get(health))
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
        .with_state(state)
}

// ---------------------------------------------------------------- validation

fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    param: &str,
    value: T,
    min: T,
    max: T,
) -> ApiResult<T> {
    if value < min || value > max {
        return Err(ApiError::invalid(
            param,
            format!("{param} must be between {min} and {max} (got {value})"),
        ));
    }
    Ok(value)
}

fn finite_in_range(param: &str, value: f64, min: f64, max: f64) -> ApiResult<f64> {
    if !value.is_finite() {
        return Err(ApiError::invalid(
            param,
            format!("{param} must be a number"),
        ));
    }
    in_range(param, value, min, max)
}

fn even(param: &str, value: i64) -> ApiResult<i64> {
    if value % 2 != 0 {
        return Err(ApiError::invalid(
            param,
            format!("{param} must be even (got {value})"),
        ));
    }
    Ok(value)
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------- helpers

/// Stores an encoded image of `width` x `height` for `owner`.
async fn save_image(
    state: &AppState,
    owner: &Owner,
    jpeg: Vec<u8>,
    (width, height): (u32, u32),
) -> ApiResult<MediaRecord> {
    Ok(state
        .store
        .put(
            MediaKind::Image,
            &owner.0,
            Bytes::from(jpeg),
            Probed::image(width, height),
        )
        .await?)
}

/// Decodes an image (with limits) on the blocking pool and re-encodes it as JPEG;
/// returns the JPEG and its size.
async fn reencode_jpeg(
    state: &AppState,
    input: Bytes,
    param: &'static str,
) -> ApiResult<(Vec<u8>, (u32, u32))> {
    state
        .blocking(move || {
            let image = decode(&input, param)?;
            Ok((encode_jpeg(&image)?, image.dimensions()))
        })
        .await
}

/// Runs `edit` on the decoded image input on the blocking pool, encodes the result
/// and stores it; returns its URL.
async fn process_image<F>(
    state: &AppState,
    owner: &Owner,
    input: Bytes,
    param: &'static str,
    edit: F,
) -> ApiResult<String>
where
    F: FnOnce(RgbImage) -> ApiResult<RgbImage> + Send + 'static,
{
    let (jpeg, size) = state
        .blocking(move || {
            let out = edit(decode(&input, param)?)?;
            Ok((encode_jpeg(&out)?, out.dimensions()))
        })
        .await?;
    let record = save_image(state, owner, jpeg, size).await?;
    Ok(state.media_url(&record))
}

/// The bytes of an image input: 415 when it is stored media of another kind.
async fn image_input(state: &AppState, url: &str, param: &'static str) -> ApiResult<Bytes> {
    let (bytes, kind) = state.read_input(url, param).await?;
    match kind {
        Some(MediaKind::Image) | None => Ok(bytes),
        Some(_) => Err(ApiError::unsupported_media(format!(
            "{param} points at a video or audio file; an image is needed"
        ))
        .with_param(param)),
    }
}

/// The bytes of a video input: 415 when it is stored media of another kind.
async fn video_bytes(state: &AppState, url: &str, param: &'static str) -> ApiResult<Bytes> {
    state.engine()?;
    let (bytes, kind) = state.read_input(url, param).await?;
    match kind {
        Some(MediaKind::Video) | None => Ok(bytes),
        Some(_) => Err(ApiError::unsupported_media(format!(
            "{param} points at an image or audio file; a video is needed"
        ))
        .with_param(param)),
    }
}

/// Runs one ffmpeg job on a video input and stores the output as `kind`.
async fn video_job<F>(
    state: &AppState,
    owner: &Owner,
    url: &str,
    kind: MediaKind,
    make_args: F,
) -> ApiResult<MediaRecord>
where
    F: FnOnce(
        &std::path::Path,
        &crate::engine::ProbeInfo,
        &std::path::Path,
    ) -> ApiResult<Vec<std::ffi::OsString>>,
{
    let bytes = video_bytes(state, url, "video_url").await?;
    let _slot = state.job_slot().await?;
    let job = Job::new(state)?;
    let (input, info) = video::video_input(state, &job, &bytes, "video_url").await?;
    drop(bytes);
    let out = job.path(match kind {
        MediaKind::Image => "out.jpg",
        MediaKind::Video => "out.mp4",
        MediaKind::Audio => "out.mp3",
    });
    let args = make_args(&input, &info, &out)?;
    state.engine()?.ffmpeg(args).await?;
    video::store_output(state, &owner.0, kind, &out).await
}

fn duration_of(info: &crate::engine::ProbeInfo) -> f64 {
    info.duration.unwrap_or(0.0)
}

// ---------------------------------------------------------------- images

async fn generate_image(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateImageRequest>,
) -> ApiResult<Json<types::GenerateImageResponse>> {
    let width = to_u32(in_range("width", i64::from(req.width), 16, 2048)?);
    let height = to_u32(in_range("height", i64::from(req.height), 16, 2048)?);
    let style_kind = req.style.unwrap_or(types::ImageStyle::Photorealistic);
    let style = match style_kind {
        types::ImageStyle::Photorealistic => Style::Photorealistic,
        types::ImageStyle::Sketch => Style::Sketch,
        types::ImageStyle::Abstract => Style::Abstract,
    };
    let prompt = req.prompt.to_string();
    let jpeg = state
        .blocking(move || {
            let image =
                imaging::generate::render(&prompt, style, &style_kind.to_string(), width, height);
            encode_jpeg(&image)
        })
        .await?;
    let record = save_image(&state, &owner, jpeg, (width, height)).await?;
    let image_url = state.media_url(&record);
    Ok(Json(types::GenerateImageResponse { image_url }))
}

async fn edit_image(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::EditImageRequest>,
) -> ApiResult<Json<types::EditImageResponse>> {
    enum Edit {
        Adjust(ColorAdjust),
        Filter(Filter),
        Resize(Option<u32>, Option<u32>),
    }
    use types::EditImageRequest as R;
    let (image_url, edit) = match req {
        R::ColorAdjust {
            image_url,
            brightness,
            contrast,
            saturation,
            hue_rotate,
        } => {
            let adjust = ColorAdjust {
                brightness: finite_in_range("brightness", brightness, -1.0, 1.0)? as f32,
                contrast: finite_in_range("contrast", contrast, -1.0, 1.0)? as f32,
                saturation: finite_in_range("saturation", saturation, -1.0, 1.0)? as f32,
                hue_rotate: in_range("hue_rotate", hue_rotate, -180, 180)?,
            };
            (image_url, Edit::Adjust(adjust))
        }
        R::AddFilter { image_url, filter } => {
            let filter = match filter {
                types::ImageFilter::Sepia => Filter::Sepia,
                types::ImageFilter::BlackAndWhite => Filter::BlackAndWhite,
                types::ImageFilter::Invert => Filter::Invert,
                types::ImageFilter::Blur => Filter::Blur,
                types::ImageFilter::Sharpen => Filter::Sharpen,
            };
            (image_url, Edit::Filter(filter))
        }
        R::Resize {
            image_url,
            resize_width,
            resize_height,
        } => {
            let check = |param: &str, v: Option<NonZeroU32>| -> ApiResult<Option<u32>> {
                v.map(|v| in_range(param, v.get(), 1, imaging::MAX_DIMENSION))
                    .transpose()
            };
            let size = (
                check("resize_width", resize_width)?,
                check("resize_height", resize_height)?,
            );
            (image_url, Edit::Resize(size.0, size.1))
        }
    };
    let input = image_input(&state, &image_url, "image_url").await?;
    let edited_image_url = process_image(&state, &owner, input, "image_url", move |mut image| {
        Ok(match edit {
            Edit::Adjust(adjust) => {
                imaging::edit::color_adjust(&mut image, adjust);
                image
            }
            Edit::Filter(filter) => imaging::edit::apply_filter(image, filter),
            Edit::Resize(w, h) => {
                let (tw, th) = imaging::edit::target_size(image.dimensions(), w, h);
                if (tw, th) == image.dimensions() {
                    image
                } else {
                    imaging::edit::resize(&image, tw, th)?
                }
            }
        })
    })
    .await?;
    Ok(Json(types::EditImageResponse { edited_image_url }))
}

async fn add_text_to_image(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::AddTextToImageRequest>,
) -> ApiResult<Json<types::AddTextToImageResponse>> {
    let font_size = req
        .font_size
        .map(|s| in_range("font_size", s, 6, 512))
        .transpose()?;
    use types::TextPosition as P;
    let position = match req.position {
        P::TopLeft => Position::Grid(0, 0),
        P::TopCenter => Position::Grid(1, 0),
        P::TopRight => Position::Grid(2, 0),
        P::CenterLeft => Position::Grid(0, 1),
        P::Center => Position::Grid(1, 1),
        P::CenterRight => Position::Grid(2, 1),
        P::BottomLeft => Position::Grid(0, 2),
        P::BottomCenter => Position::Grid(1, 2),
        P::BottomRight => Position::Grid(2, 2),
    };
    let text = req.text.to_string();
    let input = image_input(&state, &req.image_url, "image_url").await?;
    let text_image_url = process_image(&state, &owner, input, "image_url", move |mut image| {
        let size = font_size
            .map(|s| s as f32)
            .unwrap_or_else(|| imaging::text::default_font_size(image.height()));
        imaging::text::draw(&mut image, &text, position, size)?;
        Ok(image)
    })
    .await?;
    Ok(Json(types::AddTextToImageResponse { text_image_url }))
}

async fn style_transfer(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::StyleTransferRequest>,
) -> ApiResult<Json<types::StyleTransferResponse>> {
    let strength = finite_in_range("strength", req.strength, 0.0, 1.0)? as f32;
    let input = image_input(&state, &req.image_url, "image_url").await?;
    let reference = image_input(&state, &req.style_reference, "style_reference").await?;
    let styled_image_url = process_image(&state, &owner, input, "image_url", move |image| {
        let reference = decode(&reference, "style_reference")?;
        Ok(imaging::style::transfer(&image, &reference, strength))
    })
    .await?;
    Ok(Json(types::StyleTransferResponse { styled_image_url }))
}

// ---------------------------------------------------------------- videos

/// The longest video `generate-video` and `image-to-video` render, in seconds.
const MAX_RENDER_SECONDS: u32 = 10;

fn fps_or_default(fps: Option<types::Fps>) -> ApiResult<u32> {
    let fps = fps.map(|f| f.0.get()).unwrap_or(24);
    in_range("fps", fps, 1, 60)
}

async fn generate_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateVideoRequest>,
) -> ApiResult<Json<types::GenerateVideoResponse>> {
    let duration = in_range("duration", req.duration.0.get(), 1, MAX_RENDER_SECONDS)?;
    let fps = fps_or_default(req.fps)?;
    let width = to_u32(even("width", in_range("width", req.width, 16, 1280)?)?);
    let height = to_u32(even("height", in_range("height", req.height, 16, 720)?)?);
    let engine = state.engine()?;
    let _slot = state.job_slot().await?;
    let job = Job::new(&state)?;
    let out = job.path("out.mp4");
    engine
        .ffmpeg(video::generate_args(
            &req.prompt,
            duration,
            fps,
            width,
            height,
            &out,
        ))
        .await?;
    let record = video::store_output(&state, &owner.0, MediaKind::Video, &out).await?;
    Ok(Json(types::GenerateVideoResponse {
        video_url: state.media_url(&record),
    }))
}

async fn image_to_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ImageToVideoRequest>,
) -> ApiResult<Json<types::ImageToVideoResponse>> {
    let duration = in_range("duration", req.duration.0.get(), 1, MAX_RENDER_SECONDS)?;
    let fps = fps_or_default(req.fps)?;
    let motion = match req.motion.unwrap_or(types::CameraMotion::ZoomIn) {
        types::CameraMotion::ZoomIn => Motion::ZoomIn,
        types::CameraMotion::ZoomOut => Motion::ZoomOut,
        types::CameraMotion::PanLeft => Motion::PanLeft,
        types::CameraMotion::PanRight => Motion::PanRight,
    };
    let engine = state.engine()?.clone();
    let input = image_input(&state, &req.image_url, "image_url").await?;
    // Decode with limits and re-encode, so ffmpeg only ever sees a checked JPEG.
    let (jpeg, size) = reencode_jpeg(&state, input, "image_url").await?;
    let _slot = state.job_slot().await?;
    let job = Job::new(&state)?;
    let image_path = job.write("input.jpg", &jpeg).await?;
    let out = job.path("out.mp4");
    let video_size = video::fit_video_size(size.0, size.1);
    engine
        .ffmpeg(video::image_to_video_args(
            &image_path,
            video_size,
            duration,
            fps,
            motion,
            &out,
        ))
        .await?;
    let record = video::store_output(&state, &owner.0, MediaKind::Video, &out).await?;
    Ok(Json(types::ImageToVideoResponse {
        video_url: state.media_url(&record),
    }))
}

fn video_filter(filter: types::VideoFilter) -> VideoFilter {
    match filter {
        types::VideoFilter::Vintage => VideoFilter::Vintage,
        types::VideoFilter::Cinematic => VideoFilter::Cinematic,
        types::VideoFilter::BlackAndWhite => VideoFilter::BlackAndWhite,
        types::VideoFilter::Sepia => VideoFilter::Sepia,
    }
}

fn speed_factor(factor: &types::SpeedFactor) -> ApiResult<f64> {
    finite_in_range("speed_factor", factor.0, 0.25, 4.0)
}

/// Arguments of a speed change, refusing results longer than the output limit.
fn speed_job_args(
    factor: f64,
    input: &std::path::Path,
    info: &crate::engine::ProbeInfo,
    out: &std::path::Path,
) -> ApiResult<Vec<std::ffi::OsString>> {
    if duration_of(info) / factor > video::MAX_OUTPUT_SECONDS {
        return Err(ApiError::invalid(
            "speed_factor",
            format!(
                "the result would be longer than {} s",
                video::MAX_OUTPUT_SECONDS
            ),
        ));
    }
    Ok(video::speed_args(
        input,
        factor,
        info.fps.unwrap_or(24.0),
        info.has_audio,
        out,
    ))
}

async fn edit_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::EditVideoRequest>,
) -> ApiResult<Json<types::EditVideoResponse>> {
    use types::EditVideoRequest as R;
    let record =
        match req {
            R::Trim {
                video_url,
                start_time,
                end_time,
            } => {
                let start = in_range("start_time", start_time, 0, 3600)?;
                let end = end_time
                    .map(|e| in_range("end_time", e.get(), 1, 3600))
                    .transpose()?;
                if let Some(end) = end
                    && i64::from(start) >= i64::from(end)
                {
                    return Err(ApiError::invalid(
                        "end_time",
                        "end_time must be after start_time",
                    ));
                }
                video_job(&state, &owner, &video_url, MediaKind::Video, |input, info, out| {
                let duration = duration_of(info);
                let start = f64::from(start);
                if start >= duration {
                    return Err(ApiError::invalid(
                        "start_time",
                        format!("start_time must be before the end of the video ({duration:.2} s)"),
                    ));
                }
                let end = end.map(f64::from).unwrap_or(duration).min(duration);
                Ok(video::trim_args(input, start, end, out))
            })
            .await?
            }
            R::AddFilter { video_url, filter } => {
                let filter = video_filter(filter);
                video_job(
                    &state,
                    &owner,
                    &video_url,
                    MediaKind::Video,
                    |input, _, out| Ok(video::filter_args(input, filter, out)),
                )
                .await?
            }
            R::AdjustSpeed {
                video_url,
                speed_factor: factor,
            } => {
                let factor = speed_factor(&factor)?;
                video_job(
                    &state,
                    &owner,
                    &video_url,
                    MediaKind::Video,
                    |input, info, out| speed_job_args(factor, input, info, out),
                )
                .await?
            }
        };
    Ok(Json(types::EditVideoResponse {
        edited_video_url: state.media_url(&record),
    }))
}

async fn apply_video_filter(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::VideoFilterRequest>,
) -> ApiResult<Json<types::VideoFilterResponse>> {
    let filter = video_filter(req.filter);
    let record = video_job(
        &state,
        &owner,
        &req.video_url,
        MediaKind::Video,
        |input, _, out| Ok(video::filter_args(input, filter, out)),
    )
    .await?;
    Ok(Json(types::VideoFilterResponse {
        filtered_video_url: state.media_url(&record),
    }))
}

async fn resize_video(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ResizeVideoRequest>,
) -> ApiResult<Json<types::ResizeVideoResponse>> {
    let width = to_u32(even(
        "new_width",
        in_range("new_width", req.new_width, 16, 1920)?,
    )?);
    let height = to_u32(even(
        "new_height",
        in_range("new_height", req.new_height, 16, 1920)?,
    )?);
    let record = video_job(
        &state,
        &owner,
        &req.video_url,
        MediaKind::Video,
        |input, _, out| Ok(video::resize_args(input, width, height, out)),
    )
    .await?;
    Ok(Json(types::ResizeVideoResponse {
        resized_video_url: state.media_url(&record),
    }))
}

async fn adjust_video_speed(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::SpeedAdjustRequest>,
) -> ApiResult<Json<types::SpeedAdjustResponse>> {
    let factor = speed_factor(&req.speed_factor)?;
    let record = video_job(
        &state,
        &owner,
        &req.video_url,
        MediaKind::Video,
        |input, info, out| speed_job_args(factor, input, info, out),
    )
    .await?;
    Ok(Json(types::SpeedAdjustResponse {
        adjusted_speed_video_url: state.media_url(&record),
    }))
}

async fn generate_thumbnail(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::GenerateThumbnailRequest>,
) -> ApiResult<Json<types::GenerateThumbnailResponse>> {
    let position = in_range("time_position", req.time_position, 0, 3600)?;
    let record = video_job(
        &state,
        &owner,
        &req.video_url,
        MediaKind::Image,
        |input, info, out| {
            let duration = duration_of(info);
            if f64::from(position) >= duration {
                return Err(ApiError::invalid(
                    "time_position",
                    format!("time_position must be before the end of the video ({duration:.2} s)"),
                ));
            }
            Ok(video::thumbnail_args(input, f64::from(position), out))
        },
    )
    .await?;
    Ok(Json(types::GenerateThumbnailResponse {
        thumbnail_url: state.media_url(&record),
    }))
}

async fn extract_audio(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<types::ExtractAudioRequest>,
) -> ApiResult<Json<types::ExtractAudioResponse>> {
    let record = video_job(
        &state,
        &owner,
        &req.video_url,
        MediaKind::Audio,
        |input, info, out| {
            if !info.has_audio {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "no_audio_stream",
                    "the video has no audio track to extract",
                )
                .with_param("video_url"));
            }
            Ok(video::extract_audio_args(input, out))
        },
    )
    .await?;
    Ok(Json(types::ExtractAudioResponse {
        audio_url: state.media_url(&record),
    }))
}

// ---------------------------------------------------------------- media

/// A file size for people, in powers of 1024 with at most one decimal: `2MB`.
pub fn human_size(bytes: u64) -> String {
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

fn query_error(err: axum::extract::rejection::QueryRejection) -> ApiError {
    let text = err.body_text();
    let param = text.split('`').nth(1).unwrap_or("query").to_owned();
    ApiError::invalid(&param, text)
}

#[derive(Deserialize)]
struct ImageMetadataQuery {
    image_url: String,
}

async fn get_image_metadata(
    State(state): State<AppState>,
    query: Result<Query<ImageMetadataQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<types::ImageMetadata>> {
    let Query(query) = query.map_err(query_error)?;
    let record = state.stored_record(&query.image_url, "image_url").await?;
    if record.kind != MediaKind::Image {
        return Err(ApiError::media_not_found("image_url"));
    }
    let dimension = |v: Option<u32>| {
        v.and_then(NonZeroU32::new)
            .ok_or_else(|| ApiError::internal(format!("record {} has no dimensions", record.id)))
    };
    Ok(Json(types::ImageMetadata {
        image_id: record.id.clone(),
        size: human_size(record.size_bytes),
        size_bytes: Some(record.size_bytes as i64),
        width: dimension(record.probed.width)?,
        height: dimension(record.probed.height)?,
        content_type: Some(MediaKind::Image.content_type().to_owned()),
        created_at: record.created_at,
    }))
}

#[derive(Deserialize)]
struct VideoMetadataQuery {
    video_url: String,
}

async fn get_video_metadata(
    State(state): State<AppState>,
    query: Result<Query<VideoMetadataQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<types::VideoMetadata>> {
    let Query(query) = query.map_err(query_error)?;
    let record = state.stored_record(&query.video_url, "video_url").await?;
    if record.kind != MediaKind::Video {
        return Err(ApiError::media_not_found("video_url"));
    }
    let seconds = record.probed.duration_seconds.unwrap_or(0.0);
    let whole = if seconds > 0.0 {
        seconds.round().max(1.0)
    } else {
        0.0
    };
    Ok(Json(types::VideoMetadata {
        video_id: record.id.clone(),
        size: human_size(record.size_bytes),
        size_bytes: Some(record.size_bytes as i64),
        duration: format!("{}s", whole as u64),
        duration_seconds: Some(seconds),
        width: record.probed.width.and_then(NonZeroU32::new),
        height: record.probed.height.and_then(NonZeroU32::new),
        fps: record.probed.fps,
        has_audio: record.probed.has_audio,
        created_at: record.created_at,
    }))
}

#[derive(Deserialize)]
struct DeleteQuery {
    media_url: String,
    auth_token: String,
}

async fn delete_media(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<types::DeleteMediaResponse>> {
    let Query(query) = query.map_err(query_error)?;
    let record = state.stored_record(&query.media_url, "media_url").await?;
    if record.owner != owner.0 || owner_of(&query.auth_token) != record.owner {
        return Err(ApiError::forbidden(
            "only the owner of this media may delete it: send the owner's key as the bearer key and as auth_token",
        )
        .with_param("auth_token"));
    }
    let fresh = state
        .deleting
        .lock()
        .map(|mut set| set.insert(record.id.clone()))
        .unwrap_or(false);
    if !fresh {
        return Err(
            ApiError::conflict("this media is being deleted by another request")
                .with_param("media_url"),
        );
    }
    let result = state.store.delete(&record).await;
    if let Ok(mut set) = state.deleting.lock() {
        set.remove(&record.id);
    }
    result?;
    Ok(Json(types::DeleteMediaResponse {
        message: "Media successfully deleted".to_owned(),
    }))
}

async fn upload_media(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<types::UploadMediaResponse>)> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "the upload is over the limit of {} bytes",
                state.config.max_body_bytes
            ))
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the upload is empty: send the file's bytes as the body",
        ));
    }
    let record = if imaging::sniff_image(&body).is_some() {
        let (jpeg, size) = reencode_jpeg(&state, body, "body").await?;
        save_image(&state, &owner, jpeg, size).await?
    } else if video::sniff_video(&body) {
        let engine = state.engine()?;
        let _slot = state.job_slot().await?;
        let job = Job::new(&state)?;
        let (input, info) = video::video_input(&state, &job, &body, "body").await?;
        drop(body);
        let copy = info.video_codec.as_deref() == Some("h264")
            && info.pixel_format.as_deref() == Some("yuv420p")
            && !info.has_audio;
        let out = job.path("out.mp4");
        engine
            .ffmpeg(video::normalize_args(&input, copy, &out))
            .await?;
        video::store_output(&state, &owner.0, MediaKind::Video, &out).await?
    } else {
        return Err(ApiError::unsupported_media(
            "the upload is not a supported image (JPEG, PNG, GIF, WebP) or video (MP4, MOV, WebM, Matroska)",
        )
        .with_param("body"));
    };
    let media_type = match record.kind {
        MediaKind::Video => types::MediaKind::Video,
        _ => types::MediaKind::Image,
    };
    Ok((
        StatusCode::CREATED,
        Json(types::UploadMediaResponse {
            media_url: state.media_url(&record),
            media_type,
            size_bytes: record.size_bytes as i64,
        }),
    ))
}

// ---------------------------------------------------------------- downloads

/// A parsed single byte range, or why not.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No range, or one to ignore: send everything.
    Whole,
    /// Send `start..end` (end exclusive).
    Part(u64, u64),
    /// The range lies outside the file.
    Unsatisfiable,
}

/// Parses a `Range` header against a file of `size` bytes. A header that is not one
/// well-formed byte range (malformed, another unit, several ranges) is ignored and
/// the whole file is sent, as RFC 9110 allows; a range starting at or beyond the end
/// is unsatisfiable.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return RangeRequest::Whole,
        (true, false) => match number(last) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(suffix) => (size.saturating_sub(suffix), size),
            None => return RangeRequest::Whole,
        },
        (false, true) => match number(first) {
            Some(start) => (start, size),
            None => return RangeRequest::Whole,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a <= b => (a, b.saturating_add(1).min(size)),
            _ => return RangeRequest::Whole,
        },
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(start, end)
}

/// Downloads up to this size are read in one call rather than streamed.
const SMALL_DOWNLOAD_BYTES: u64 = 1024 * 1024;

async fn download(
    state: AppState,
    kind: MediaKind,
    file: String,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "no media at this URL");
    let id = parse_file_name(kind, &file).ok_or_else(not_found)?;
    let record = state.store.record(kind, id).await?.ok_or_else(not_found)?;
    let size = record.size_bytes;
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, range) = match parse_range(range_header, size) {
        RangeRequest::Whole => (StatusCode::OK, None),
        RangeRequest::Part(start, end) => (StatusCode::PARTIAL_CONTENT, Some(start..end)),
        RangeRequest::Unsatisfiable => {
            let mut response = ApiError::range_not_satisfiable(size).into_response();
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

async fn download_image(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    download(state, MediaKind::Image, file, headers).await
}

async fn download_video(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    download(state, MediaKind::Video, file, headers).await
}

async fn download_audio(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    download(state, MediaKind::Audio, file, headers).await
}

async fn health(State(state): State<AppState>) -> Json<types::Health> {
    Json(types::Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        media_engine: state.engine.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1023), "1023B");
        assert_eq!(human_size(2 * 1024 * 1024), "2MB");
        assert_eq!(human_size(1536), "1.5KB");
        assert_eq!(human_size(50 * 1024 * 1024), "50MB");
    }

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(parse_range(None, 10), Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Part(5, 10));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Part(7, 10));
        assert_eq!(parse_range(Some("bytes=2-100"), 10), Part(2, 10));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        for ignored in [
            "bytes=0-1,3-4",
            "bytes=",
            "bytes=a-b",
            "items=0-1",
            "bytes=5-2",
            "bytes=-",
            "SK3",
            ",Z&",
        ] {
            assert_eq!(parse_range(Some(ignored), 10), Whole, "{ignored}");
        }
    }
}
