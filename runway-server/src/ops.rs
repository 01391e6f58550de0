//! The media operations: a wire request (the SDK's generated type) becomes a
//! checked [`MediaOp`] before any media is read, and a `MediaOp` runs through the
//! job pipeline ([`crate::jobs`]) to one stored media.
//!
//! A synchronous request and a task are the same `MediaOp`: the handler awaits it,
//! the task runner runs it in the background.

use std::num::NonZeroU32;

use axum::http::StatusCode;
use runway_api::types;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::imaging::edit::{ColorAdjust, Filter};
use crate::imaging::generate::Style;
use crate::imaging::text::Position;
use crate::imaging::{self, decode, encode_jpeg};
use crate::jobs::{FfmpegInput, JobContext};
use crate::store::{MediaKind, MediaRecord};
use crate::video::{self, Motion, VideoFilter};

/// The longest video `generate-video` and `image-to-video` render, in seconds.
pub(crate) const MAX_RENDER_SECONDS: u32 = 10;

/// An image edit of `edit-image`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ImageEdit {
    /// `color-adjust`.
    Adjust(ColorAdjust),
    /// `add-filter`.
    Filter(Filter),
    /// `resize` to the given sides (the missing one follows the aspect ratio).
    Resize(Option<u32>, Option<u32>),
}

/// A checked media operation, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MediaOp {
    /// `generate-image`.
    GenerateImage {
        prompt: String,
        style: Style,
        style_name: String,
        width: u32,
        height: u32,
    },
    /// `edit-image`.
    EditImage { image_url: String, edit: ImageEdit },
    /// `add-text-to-image`.
    AddText {
        image_url: String,
        text: String,
        position: Position,
        font_size: Option<f32>,
    },
    /// `style-transfer`.
    StyleTransfer {
        image_url: String,
        style_reference: String,
        strength: f32,
    },
    /// `generate-video`.
    GenerateVideo {
        prompt: String,
        duration: u32,
        fps: u32,
        width: u32,
        height: u32,
    },
    /// `image-to-video`.
    ImageToVideo {
        image_url: String,
        duration: u32,
        fps: u32,
        motion: Motion,
    },
    /// `edit-video` `trim`: `start`..`end` seconds (the end of the video by default).
    Trim {
        video_url: String,
        start: u32,
        end: Option<u32>,
    },
    /// `video-filter` and `edit-video` `add-filter`.
    FilterVideo {
        video_url: String,
        filter: VideoFilter,
    },
    /// `resize-video`.
    ResizeVideo {
        video_url: String,
        width: u32,
        height: u32,
    },
    /// `speed-adjust` and `edit-video` `adjust-speed`.
    Speed { video_url: String, factor: f64 },
    /// `generate-thumbnail` at `position` seconds.
    Thumbnail { video_url: String, position: u32 },
    /// `extract-audio`.
    ExtractAudio { video_url: String },
}

// ---------------------------------------------------------------- checks

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

fn even_in_range(param: &str, value: i64, min: i64, max: i64) -> ApiResult<u32> {
    let value = in_range(param, value, min, max)?;
    if value % 2 != 0 {
        return Err(ApiError::invalid(
            param,
            format!("{param} must be even (got {value})"),
        ));
    }
    Ok(u32::try_from(value).unwrap_or(u32::MAX))
}

fn fps_or_default(fps: Option<types::Fps>) -> ApiResult<u32> {
    in_range("fps", fps.map_or(24, |f| f.0.get()), 1, 60)
}

fn render_seconds(duration: types::VideoDuration) -> ApiResult<u32> {
    in_range("duration", duration.0.get(), 1, MAX_RENDER_SECONDS)
}

fn speed_factor(factor: &types::SpeedFactor) -> ApiResult<f64> {
    finite_in_range("speed_factor", factor.0, 0.25, 4.0)
}

// ---------------------------------------------------------------- wire -> op

impl TryFrom<types::GenerateImageRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::GenerateImageRequest) -> ApiResult<Self> {
        let width = in_range("width", i64::from(req.width), 16, 2048)?;
        let height = in_range("height", i64::from(req.height), 16, 2048)?;
        let style = req.style;
        Ok(MediaOp::GenerateImage {
            prompt: req.prompt.to_string(),
            style: style.into(),
            style_name: style.to_string(),
            width: u32::try_from(width).unwrap_or(u32::MAX),
            height: u32::try_from(height).unwrap_or(u32::MAX),
        })
    }
}

impl TryFrom<types::EditImageRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::EditImageRequest) -> ApiResult<Self> {
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
                (image_url, ImageEdit::Adjust(adjust))
            }
            R::AddFilter { image_url, filter } => (image_url, ImageEdit::Filter(filter.into())),
            R::Resize {
                image_url,
                resize_width,
                resize_height,
            } => {
                let side = |param: &str, v: Option<NonZeroU32>| {
                    v.map(|v| in_range(param, v.get(), 1, imaging::MAX_DIMENSION))
                        .transpose()
                };
                let width = side("resize_width", resize_width)?;
                let height = side("resize_height", resize_height)?;
                (image_url, ImageEdit::Resize(width, height))
            }
        };
        Ok(MediaOp::EditImage {
            image_url: image_url.to_string(),
            edit,
        })
    }
}

impl TryFrom<types::AddTextToImageRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::AddTextToImageRequest) -> ApiResult<Self> {
        let font_size = req
            .font_size
            .map(|s| in_range("font_size", s, 6, 512))
            .transpose()?;
        Ok(MediaOp::AddText {
            image_url: req.image_url.to_string(),
            text: req.text.to_string(),
            position: req.position.into(),
            font_size: font_size.map(|s| s as f32),
        })
    }
}

impl TryFrom<types::StyleTransferRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::StyleTransferRequest) -> ApiResult<Self> {
        Ok(MediaOp::StyleTransfer {
            strength: finite_in_range("strength", req.strength, 0.0, 1.0)? as f32,
            image_url: req.image_url.to_string(),
            style_reference: req.style_reference.to_string(),
        })
    }
}

impl TryFrom<types::GenerateVideoRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::GenerateVideoRequest) -> ApiResult<Self> {
        Ok(MediaOp::GenerateVideo {
            duration: render_seconds(req.duration)?,
            fps: fps_or_default(req.fps)?,
            width: even_in_range("width", req.width, 16, 1280)?,
            height: even_in_range("height", req.height, 16, 720)?,
            prompt: req.prompt.to_string(),
        })
    }
}

impl TryFrom<types::ImageToVideoRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::ImageToVideoRequest) -> ApiResult<Self> {
        Ok(MediaOp::ImageToVideo {
            duration: render_seconds(req.duration)?,
            fps: fps_or_default(req.fps)?,
            motion: req.motion.into(),
            image_url: req.image_url.to_string(),
        })
    }
}

impl TryFrom<types::EditVideoRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::EditVideoRequest) -> ApiResult<Self> {
        use types::EditVideoRequest as R;
        Ok(match req {
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
                MediaOp::Trim {
                    video_url: video_url.to_string(),
                    start: u32::try_from(start).unwrap_or(0),
                    end,
                }
            }
            R::AddFilter { video_url, filter } => MediaOp::FilterVideo {
                video_url: video_url.to_string(),
                filter: filter.into(),
            },
            R::AdjustSpeed {
                video_url,
                speed_factor: factor,
            } => MediaOp::Speed {
                factor: speed_factor(&factor)?,
                video_url: video_url.to_string(),
            },
        })
    }
}

impl TryFrom<types::VideoFilterRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::VideoFilterRequest) -> ApiResult<Self> {
        Ok(MediaOp::FilterVideo {
            video_url: req.video_url.to_string(),
            filter: req.filter.into(),
        })
    }
}

impl TryFrom<types::ResizeVideoRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::ResizeVideoRequest) -> ApiResult<Self> {
        Ok(MediaOp::ResizeVideo {
            width: even_in_range("new_width", req.new_width, 16, 1920)?,
            height: even_in_range("new_height", req.new_height, 16, 1920)?,
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::SpeedAdjustRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::SpeedAdjustRequest) -> ApiResult<Self> {
        Ok(MediaOp::Speed {
            factor: speed_factor(&req.speed_factor)?,
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::GenerateThumbnailRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::GenerateThumbnailRequest) -> ApiResult<Self> {
        Ok(MediaOp::Thumbnail {
            position: u32::try_from(in_range("time_position", req.time_position, 0, 3600)?)
                .unwrap_or(0),
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::ExtractAudioRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::ExtractAudioRequest) -> ApiResult<Self> {
        Ok(MediaOp::ExtractAudio {
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::CreateTaskRequest> for MediaOp {
    type Error = ApiError;
    fn try_from(req: types::CreateTaskRequest) -> ApiResult<Self> {
        use types::CreateTaskRequest as T;
        match req {
            T::GenerateImage(input) => input.try_into(),
            T::EditImage(input) => input.try_into(),
            T::GenerateVideo(input) => input.try_into(),
            T::EditVideo(input) => input.try_into(),
            T::VideoFilter(input) => input.try_into(),
            T::ImageToVideo(input) => input.try_into(),
            T::AddTextToImage(input) => input.try_into(),
            T::StyleTransfer(input) => input.try_into(),
            T::ResizeVideo(input) => input.try_into(),
            T::GenerateThumbnail(input) => input.try_into(),
            T::ExtractAudio(input) => input.try_into(),
            T::SpeedAdjust(input) => input.try_into(),
        }
        .map_err(crate::tasks::in_input)
    }
}

// ---------------------------------------------------------------- running

/// A video's duration, or 0 when it is not known.
fn duration_of(info: &crate::store::Probed) -> f64 {
    info.duration_seconds.unwrap_or(0.0)
}

impl MediaOp {
    /// The operation's name in metrics.
    fn name(&self) -> &'static str {
        match self {
            MediaOp::GenerateImage { .. } => "generate-image",
            MediaOp::EditImage { .. } => "edit-image",
            MediaOp::AddText { .. } => "add-text-to-image",
            MediaOp::StyleTransfer { .. } => "style-transfer",
            MediaOp::GenerateVideo { .. } => "generate-video",
            MediaOp::ImageToVideo { .. } => "image-to-video",
            MediaOp::Trim { .. } => "trim-video",
            MediaOp::FilterVideo { .. } => "video-filter",
            MediaOp::ResizeVideo { .. } => "resize-video",
            MediaOp::Speed { .. } => "speed-adjust",
            MediaOp::Thumbnail { .. } => "generate-thumbnail",
            MediaOp::ExtractAudio { .. } => "extract-audio",
        }
    }

    /// Runs the operation through the job pipeline and returns the stored media;
    /// its duration and failures go to the metrics.
    pub(crate) async fn run(self, state: &AppState, ctx: &JobContext) -> ApiResult<MediaRecord> {
        let operation = self.name();
        let started = std::time::Instant::now();
        let result = self.run_job(state, ctx).await;
        metrics::histogram!("runway_job_duration_seconds", "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        if result.is_err() {
            metrics::counter!("runway_jobs_failed_total", "operation" => operation).increment(1);
        }
        result
    }

    async fn run_job(self, state: &AppState, ctx: &JobContext) -> ApiResult<MediaRecord> {
        match self {
            MediaOp::GenerateImage {
                prompt,
                style,
                style_name,
                width,
                height,
            } => {
                state
                    .image_job(ctx, move || {
                        let image =
                            imaging::generate::render(&prompt, style, &style_name, width, height);
                        Ok((encode_jpeg(&image)?, (width, height)))
                    })
                    .await
            }
            MediaOp::EditImage { image_url, edit } => {
                let input = state.image_input(ctx, &image_url, "image_url").await?;
                state
                    .image_job(ctx, move || {
                        let image =
                            decode(&input).map_err(|e| ApiError::image_input(e, "image_url"))?;
                        let image = match edit {
                            ImageEdit::Adjust(adjust) => {
                                let mut image = image;
                                imaging::edit::color_adjust(&mut image, adjust);
                                image
                            }
                            ImageEdit::Filter(filter) => imaging::edit::apply_filter(image, filter),
                            ImageEdit::Resize(w, h) => {
                                let from = image.dimensions();
                                let size = imaging::edit::target_size(from, w, h);
                                if size.0.max(size.1) > imaging::MAX_DIMENSION {
                                    // One side given: the other follows the aspect ratio.
                                    let param = if w.is_some() { "resize_width" } else { "resize_height" };
                                    return Err(ApiError::invalid(
                                        param,
                                        format!(
                                            "keeping the aspect ratio of the {}x{} image gives {}x{}, over {} pixels a side: give both resize_width and resize_height",
                                            from.0, from.1, size.0, size.1, imaging::MAX_DIMENSION
                                        ),
                                    ));
                                }
                                if size == image.dimensions() {
                                    image
                                } else {
                                    imaging::edit::resize(&image, size.0, size.1)?
                                }
                            }
                        };
                        Ok((encode_jpeg(&image)?, image.dimensions()))
                    })
                    .await
            }
            MediaOp::AddText {
                image_url,
                text,
                position,
                font_size,
            } => {
                let input = state.image_input(ctx, &image_url, "image_url").await?;
                state
                    .image_job(ctx, move || {
                        let mut image =
                            decode(&input).map_err(|e| ApiError::image_input(e, "image_url"))?;
                        let size = font_size
                            .unwrap_or_else(|| imaging::text::default_font_size(image.height()));
                        imaging::text::draw(&mut image, &text, position, size)?;
                        Ok((encode_jpeg(&image)?, image.dimensions()))
                    })
                    .await
            }
            MediaOp::StyleTransfer {
                image_url,
                style_reference,
                strength,
            } => {
                let input = state.image_input(ctx, &image_url, "image_url").await?;
                let reference = state
                    .image_input(ctx, &style_reference, "style_reference")
                    .await?;
                state
                    .image_job(ctx, move || {
                        let image =
                            decode(&input).map_err(|e| ApiError::image_input(e, "image_url"))?;
                        let reference = decode(&reference)
                            .map_err(|e| ApiError::image_input(e, "style_reference"))?;
                        let styled = imaging::style::transfer(&image, &reference, strength);
                        Ok((encode_jpeg(&styled)?, styled.dimensions()))
                    })
                    .await
            }
            MediaOp::GenerateVideo {
                prompt,
                duration,
                fps,
                width,
                height,
            } => {
                state
                    .ffmpeg_job(ctx, FfmpegInput::None, MediaKind::Video, |_, _, out| {
                        let args = video::generate_args(&prompt, duration, fps, width, height, out);
                        Ok((args, f64::from(duration)))
                    })
                    .await
            }
            MediaOp::ImageToVideo {
                image_url,
                duration,
                fps,
                motion,
            } => {
                let input = state.image_file_input(ctx, &image_url, "image_url").await?;
                state
                    .ffmpeg_job(ctx, input, MediaKind::Video, |input, image, out| {
                        let (Some(width), Some(height)) =
                            (image.and_then(|i| i.width), image.and_then(|i| i.height))
                        else {
                            return Err(ApiError::internal("an image input without its size"));
                        };
                        let video_size = video::fit_video_size(width, height);
                        let args = video::image_to_video_args(
                            input, video_size, duration, fps, motion, out,
                        );
                        Ok((args, f64::from(duration)))
                    })
                    .await
            }
            MediaOp::Trim {
                video_url,
                start,
                end,
            } => {
                let input = state.video_input(ctx, &video_url).await?;
                state
                    .ffmpeg_job(ctx, input, MediaKind::Video, |input, info, out| {
                        let duration = info.map_or(0.0, duration_of);
                        let start = f64::from(start);
                        if start >= duration {
                            return Err(ApiError::invalid(
                                "start_time",
                                format!(
                                    "start_time must be before the end of the video ({duration:.2} s)"
                                ),
                            ));
                        }
                        let end = end.map(f64::from).unwrap_or(duration).min(duration);
                        Ok((video::trim_args(input, start, end, out), end - start))
                    })
                    .await
            }
            MediaOp::FilterVideo { video_url, filter } => {
                let input = state.video_input(ctx, &video_url).await?;
                state
                    .ffmpeg_job(ctx, input, MediaKind::Video, |input, info, out| {
                        let seconds = info.map_or(0.0, duration_of);
                        Ok((video::filter_args(input, filter, out), seconds))
                    })
                    .await
            }
            MediaOp::ResizeVideo {
                video_url,
                width,
                height,
            } => {
                let input = state.video_input(ctx, &video_url).await?;
                state
                    .ffmpeg_job(ctx, input, MediaKind::Video, |input, info, out| {
                        let seconds = info.map_or(0.0, duration_of);
                        Ok((video::resize_args(input, width, height, out), seconds))
                    })
                    .await
            }
            MediaOp::Speed { video_url, factor } => {
                let input = state.video_input(ctx, &video_url).await?;
                state
                    .ffmpeg_job(ctx, input, MediaKind::Video, |input, info, out| {
                        let Some(info) = info else {
                            return Err(ApiError::internal("a video input without its probe"));
                        };
                        let result_seconds = duration_of(info) / factor;
                        if result_seconds > video::MAX_OUTPUT_SECONDS {
                            return Err(ApiError::invalid(
                                "speed_factor",
                                format!(
                                    "the result would be longer than {} s",
                                    video::MAX_OUTPUT_SECONDS
                                ),
                            ));
                        }
                        let fps = info.fps.unwrap_or(24.0);
                        let has_audio = info.has_audio.unwrap_or(false);
                        let args = video::speed_args(input, factor, fps, has_audio, out);
                        Ok((args, result_seconds))
                    })
                    .await
            }
            MediaOp::Thumbnail {
                video_url,
                position,
            } => {
                let input = state.video_input(ctx, &video_url).await?;
                state
                    .ffmpeg_job(ctx, input, MediaKind::Image, |input, info, out| {
                        let duration = info.map_or(0.0, duration_of);
                        if f64::from(position) >= duration {
                            return Err(ApiError::invalid(
                                "time_position",
                                format!(
                                    "time_position must be before the end of the video ({duration:.2} s)"
                                ),
                            ));
                        }
                        let args = video::thumbnail_args(input, f64::from(position), out);
                        Ok((args, 0.0))
                    })
                    .await
            }
            MediaOp::ExtractAudio { video_url } => {
                let input = state.video_input(ctx, &video_url).await?;
                state
                    .ffmpeg_job(ctx, input, MediaKind::Audio, |input, info, out| {
                        let Some(info) = info.filter(|info| info.has_audio == Some(true)) else {
                            return Err(ApiError::new(
                                StatusCode::UNPROCESSABLE_ENTITY,
                                "no_audio_stream",
                                "the video has no audio track to extract",
                            )
                            .with_param("video_url"));
                        };
                        Ok((video::extract_audio_args(input, out), duration_of(info)))
                    })
                    .await
            }
        }
    }
}
