//! The media operations: a wire request (the SDK's generated type) becomes a
//! checked [`MediaOp`] before any media is read, and a `MediaOp` runs through the
//! job pipeline ([`crate::services::jobs`]) to one stored media.
//!
//! A synchronous request and a task are the same `MediaOp`: the handler awaits it,
//! the task runner runs it in the background.

use crate::domain::media::{MediaKind, MediaRecord, Probed};
use crate::domain::op::{ImageEdit, MediaOp, Style};
use crate::domain::{Error, ErrorCode, Result};
use crate::media::imaging::{self, decode, encode_jpeg};
use crate::media::video;
use crate::net::generator::{ImageGenerator, Prompt};
use crate::services::App;
use crate::services::jobs::{FfmpegInput, JobContext};

// ---------------------------------------------------------------- running

/// The words a style adds to the prompt of a delegated image model.
fn style_words(style: Style) -> &'static str {
    match style {
        Style::Photorealistic => "photorealistic photograph",
        Style::Sketch => "pencil sketch",
        Style::Abstract => "abstract art",
    }
}

impl App {
    /// `generate-image` by the operator's model server: the picture is asked for
    /// within the job's slot (so at most `--max-jobs` at once), then decoded,
    /// checked, brought to the asked size (scaled and centre cropped when the
    /// model drew another) and stored.
    async fn generate_upstream(
        &self,
        ctx: &JobContext,
        generator: &ImageGenerator,
        asked: &Prompt<'_>,
    ) -> Result<MediaRecord> {
        self.slot(ctx).await?;
        let picture = ctx.unless_cancelled(generator.generate(asked)).await?;
        let (width, height) = (asked.width, asked.height);
        self.image_job(ctx, move || {
            let image = decode(&picture).map_err(|e| {
                Error::upstream(
                    format!("the image generator's picture cannot be read: {e}"),
                    None,
                )
            })?;
            let image = if image.dimensions() == (width, height) {
                image
            } else {
                imaging::edit::resize_to_fill(&image, width, height)?
            };
            Ok((encode_jpeg(&image)?, (width, height)))
        })
        .await
    }
}

/// A video's duration, or 0 when it is not known.
fn duration_of(info: &Probed) -> f64 {
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
    pub(crate) async fn run(self, state: &App, ctx: &JobContext) -> Result<MediaRecord> {
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

    async fn run_job(self, state: &App, ctx: &JobContext) -> Result<MediaRecord> {
        match self {
            MediaOp::GenerateImage {
                prompt,
                style,
                style_name,
                width,
                height,
                seed,
                negative_prompt,
            } => {
                if let Some(generator) = &state.generator {
                    let prompt = format!("{prompt}, {}", style_words(style));
                    let asked = Prompt {
                        prompt: &prompt,
                        negative_prompt: negative_prompt.as_deref(),
                        width,
                        height,
                        seed,
                    };
                    return state.generate_upstream(ctx, generator, &asked).await;
                }
                state
                    .image_job(ctx, move || {
                        let image = imaging::generate::render(
                            &prompt,
                            style,
                            &style_name,
                            seed,
                            width,
                            height,
                        );
                        Ok((encode_jpeg(&image)?, (width, height)))
                    })
                    .await
            }
            MediaOp::EditImage { image_url, edit } => {
                let input = state.image_input(ctx, &image_url, "image_url").await?;
                state
                    .image_job(ctx, move || {
                        let image =
                            decode(&input).map_err(|e| e.for_input("image_url"))?;
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
                                    return Err(Error::invalid(
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
                        let mut image = decode(&input).map_err(|e| e.for_input("image_url"))?;
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
                        let image = decode(&input).map_err(|e| e.for_input("image_url"))?;
                        let reference =
                            decode(&reference).map_err(|e| e.for_input("style_reference"))?;
                        let styled = imaging::neural::stylize(&image, &reference, strength)?;
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
                seed,
            } => {
                state
                    .ffmpeg_job(ctx, FfmpegInput::None, MediaKind::Video, |_, _, out| {
                        let args =
                            video::generate_args(&prompt, seed, duration, fps, width, height, out);
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
                            return Err(Error::internal("an image input without its size"));
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
                            return Err(Error::invalid(
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
                            return Err(Error::internal("a video input without its probe"));
                        };
                        let result_seconds = duration_of(info) / factor;
                        if result_seconds > video::MAX_OUTPUT_SECONDS {
                            return Err(Error::invalid(
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
                            return Err(Error::invalid(
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
                            return Err(Error::new(
                                ErrorCode::NoAudioStream,
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
