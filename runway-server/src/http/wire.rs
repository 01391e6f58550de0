//! Every conversion between the server's own types and the contract's generated
//! wire types (`runway_api::types`) that the handlers answer with, in one place.

use std::num::NonZeroU32;

use runway_api::types;

use crate::domain::media::{MediaKind, MediaRecord, human_size};
use crate::domain::op::{
    ColorAdjust, Filter, ImageEdit, MAX_RENDER_SECONDS, MediaOp, Motion, Position, Style,
    VideoFilter, even_in_range, finite_in_range, in_range,
};
use crate::domain::task::{Operation, TaskOutput, TaskRecord, TaskStatus};
use crate::domain::{Error, Result};
use crate::media::imaging;
use crate::services::App;
use crate::services::lifecycle::Usage;

impl From<MediaKind> for types::StoredMediaKind {
    fn from(kind: MediaKind) -> Self {
        match kind {
            MediaKind::Image => Self::Image,
            MediaKind::Video => Self::Video,
            MediaKind::Audio => Self::Audio,
        }
    }
}

impl From<types::StoredMediaKind> for MediaKind {
    fn from(kind: types::StoredMediaKind) -> Self {
        match kind {
            types::StoredMediaKind::Image => Self::Image,
            types::StoredMediaKind::Video => Self::Video,
            types::StoredMediaKind::Audio => Self::Audio,
        }
    }
}

/// The `media_type` of an upload's answer: an image, or a video (uploads are
/// never stored as audio).
pub(super) fn upload_media_type(kind: MediaKind) -> types::MediaKind {
    match kind {
        MediaKind::Image => types::MediaKind::Image,
        MediaKind::Video | MediaKind::Audio => types::MediaKind::Video,
    }
}

/// A stored media as listed.
pub(super) fn media_item(state: &App, record: &MediaRecord) -> types::MediaItem {
    let positive = |v: Option<u32>| v.and_then(NonZeroU32::new);
    types::MediaItem {
        url: state.media_url(record),
        id: record.id.clone(),
        kind: record.kind.into(),
        size_bytes: record.size_bytes as i64,
        created_at: record.created_at,
        expires_at: state.store.expires_at(record),
        width: positive(record.probed.width),
        height: positive(record.probed.height),
        duration_seconds: record.probed.duration_seconds,
        fps: record.probed.fps,
        has_audio: record.probed.has_audio,
    }
}

/// The answer of `image-metadata` for a stored image.
pub(super) fn image_metadata(
    state: &App,
    record: &MediaRecord,
) -> Result<types::ImageMetadata, Error> {
    let dimension = |v: Option<u32>| {
        v.and_then(NonZeroU32::new)
            .ok_or_else(|| Error::internal(format!("record {} has no dimensions", record.id)))
    };
    Ok(types::ImageMetadata {
        image_id: record.id.clone(),
        size: human_size(record.size_bytes),
        size_bytes: Some(record.size_bytes as i64),
        width: dimension(record.probed.width)?,
        height: dimension(record.probed.height)?,
        content_type: Some(MediaKind::Image.content_type().to_owned()),
        created_at: record.created_at,
        expires_at: state.store.expires_at(record),
    })
}

/// The answer of `video-metadata` for a stored video: the overview's human
/// strings (`"2MB"`, `"30s"`) and the exact figures beside them.
pub(super) fn video_metadata(state: &App, record: &MediaRecord) -> types::VideoMetadata {
    let seconds = record.probed.duration_seconds.unwrap_or(0.0);
    let whole = if seconds > 0.0 {
        seconds.round().max(1.0)
    } else {
        0.0
    };
    types::VideoMetadata {
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
        expires_at: state.store.expires_at(record),
    }
}

impl From<Usage> for types::Usage {
    fn from(usage: Usage) -> Self {
        Self {
            media_count: usage.media_count as i64,
            used_bytes: usage.used_bytes as i64,
            quota_bytes: usage.quota_bytes.map(|q| q as i64),
        }
    }
}

/// The body of `POST /v1/tasks` as read first: the operation, and its input read
/// after as that operation's request, so that an error in the input names its
/// field (`input.duration`): read in one go, serde stops at `input`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct TaskEnvelope {
    operation: types::TaskOperation,
    input: serde_json::Value,
}

impl TryFrom<TaskEnvelope> for types::CreateTaskRequest {
    type Error = Error;
    fn try_from(envelope: TaskEnvelope) -> Result<Self> {
        use crate::http::json::from_document;
        use types::{CreateTaskRequest as R, TaskOperation as O};
        let input = &envelope.input;
        const IN: &str = "input.";
        Ok(match envelope.operation {
            O::GenerateImage => R::GenerateImage(from_document(input, IN)?),
            O::EditImage => R::EditImage(from_document(input, IN)?),
            O::GenerateVideo => R::GenerateVideo(from_document(input, IN)?),
            O::EditVideo => R::EditVideo(from_document(input, IN)?),
            O::VideoFilter => R::VideoFilter(from_document(input, IN)?),
            O::ImageToVideo => R::ImageToVideo(from_document(input, IN)?),
            O::AddTextToImage => R::AddTextToImage(from_document(input, IN)?),
            O::StyleTransfer => R::StyleTransfer(from_document(input, IN)?),
            O::ResizeVideo => R::ResizeVideo(from_document(input, IN)?),
            O::GenerateThumbnail => R::GenerateThumbnail(from_document(input, IN)?),
            O::ExtractAudio => R::ExtractAudio(from_document(input, IN)?),
            O::SpeedAdjust => R::SpeedAdjust(from_document(input, IN)?),
        })
    }
}

/// The operation a task request names.
pub(super) fn operation_of(request: &types::CreateTaskRequest) -> Operation {
    use types::CreateTaskRequest as R;
    match request {
        R::GenerateImage(_) => Operation::GenerateImage,
        R::EditImage(_) => Operation::EditImage,
        R::GenerateVideo(_) => Operation::GenerateVideo,
        R::EditVideo(_) => Operation::EditVideo,
        R::VideoFilter(_) => Operation::VideoFilter,
        R::ImageToVideo(_) => Operation::ImageToVideo,
        R::AddTextToImage(_) => Operation::AddTextToImage,
        R::StyleTransfer(_) => Operation::StyleTransfer,
        R::ResizeVideo(_) => Operation::ResizeVideo,
        R::GenerateThumbnail(_) => Operation::GenerateThumbnail,
        R::ExtractAudio(_) => Operation::ExtractAudio,
        R::SpeedAdjust(_) => Operation::SpeedAdjust,
    }
}

impl From<Operation> for types::TaskOperation {
    fn from(operation: Operation) -> Self {
        match operation {
            Operation::GenerateImage => Self::GenerateImage,
            Operation::EditImage => Self::EditImage,
            Operation::GenerateVideo => Self::GenerateVideo,
            Operation::EditVideo => Self::EditVideo,
            Operation::VideoFilter => Self::VideoFilter,
            Operation::ImageToVideo => Self::ImageToVideo,
            Operation::AddTextToImage => Self::AddTextToImage,
            Operation::StyleTransfer => Self::StyleTransfer,
            Operation::ResizeVideo => Self::ResizeVideo,
            Operation::GenerateThumbnail => Self::GenerateThumbnail,
            Operation::ExtractAudio => Self::ExtractAudio,
            Operation::SpeedAdjust => Self::SpeedAdjust,
        }
    }
}

impl From<TaskStatus> for types::TaskStatus {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Pending => Self::Pending,
            TaskStatus::Running => Self::Running,
            TaskStatus::Succeeded => Self::Succeeded,
            TaskStatus::Failed => Self::Failed,
            TaskStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// Exactly the response body of `operation` for the media at `url`.
fn task_output(operation: Operation, url: String) -> types::TaskOutput {
    // The stored output is already in the answer's shape: one field, named by
    // `Operation::output_field`, the one place that says which.
    serde_json::to_value(TaskOutput::new(operation, url))
        .and_then(serde_json::from_value)
        .unwrap_or_default()
}

impl From<TaskRecord> for types::Task {
    fn from(record: TaskRecord) -> Self {
        Self {
            output: record
                .output
                .map(|output| task_output(record.operation, output.media_url)),
            error: record.error.map(|error| types::ErrorDetail {
                code: error.code,
                message: error.message,
                param: error.param,
                // The work ran after its request was answered; its log lines carry
                // the task id.
                request_id: None,
            }),
            id: record.id,
            operation: record.operation.into(),
            status: record.status.into(),
            progress: record.progress,
            created_at: record.created_at,
            started_at: record.started_at,
            finished_at: record.finished_at,
        }
    }
}

// ---------------------------------------------------------------- requests
// A wire request becomes a checked `MediaOp` before any media is read. The wire
// types hold their contract bounds already; the domain checks them again (it
// trusts no caller).

/// A bounded wire integer as a count; a negative one (none of these types takes
/// one) becomes 0, which the domain's range check refuses.
fn unsigned<const MIN: i32, const MAX: i32, const STEP: i32>(
    value: runway_api::Int<MIN, MAX, STEP>,
) -> u32 {
    u32::try_from(value.get()).unwrap_or(0)
}

fn fps_of(fps: runway_api::Fps) -> Result<u32> {
    in_range("fps", unsigned(fps), 1, 60)
}

fn render_seconds(duration: runway_api::VideoDuration) -> Result<u32> {
    in_range("duration", unsigned(duration), 1, MAX_RENDER_SECONDS)
}

fn speed_factor(factor: runway_api::SpeedFactor) -> Result<f64> {
    finite_in_range("speed_factor", factor.get(), 0.25, 4.0)
}

impl TryFrom<types::GenerateImageRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::GenerateImageRequest) -> Result<Self> {
        let width = in_range("width", req.width.get(), 16, 2048)?;
        let height = in_range("height", req.height.get(), 16, 2048)?;
        let style = req.style;
        Ok(MediaOp::GenerateImage {
            prompt: req.prompt.to_string(),
            style: style.into(),
            style_name: style.to_string(),
            width: u32::try_from(width).unwrap_or(u32::MAX),
            height: u32::try_from(height).unwrap_or(u32::MAX),
            seed: seed_of(req.seed),
            negative_prompt: req.negative_prompt.map(|n| n.to_string()),
        })
    }
}

impl TryFrom<types::EditImageRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::EditImageRequest) -> Result<Self> {
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
                    brightness: finite_in_range("brightness", brightness.get(), -1.0, 1.0)? as f32,
                    contrast: finite_in_range("contrast", contrast.get(), -1.0, 1.0)? as f32,
                    saturation: finite_in_range("saturation", saturation.get(), -1.0, 1.0)? as f32,
                    hue_rotate: in_range("hue_rotate", hue_rotate.get(), -180, 180)?,
                };
                (image_url, ImageEdit::Adjust(adjust))
            }
            R::AddFilter { image_url, filter } => (image_url, ImageEdit::Filter(filter.into())),
            R::Resize {
                image_url,
                resize_width,
                resize_height,
            } => {
                let side = |param: &str, v: Option<runway_api::Int<1, 8192>>| {
                    v.map(|v| in_range(param, unsigned(v), 1, imaging::MAX_DIMENSION))
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
    type Error = Error;
    fn try_from(req: types::AddTextToImageRequest) -> Result<Self> {
        let font_size = req
            .font_size
            .map(|s| in_range("font_size", s.get(), 6, 512))
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
    type Error = Error;
    fn try_from(req: types::StyleTransferRequest) -> Result<Self> {
        Ok(MediaOp::StyleTransfer {
            strength: finite_in_range("strength", req.strength.get(), 0.0, 1.0)? as f32,
            image_url: req.image_url.to_string(),
            style_reference: req.style_reference.to_string(),
        })
    }
}

impl TryFrom<types::GenerateVideoRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::GenerateVideoRequest) -> Result<Self> {
        Ok(MediaOp::GenerateVideo {
            duration: render_seconds(req.duration)?,
            fps: fps_of(req.fps)?,
            width: even_in_range("width", req.width.get().into(), 16, 1280)?,
            height: even_in_range("height", req.height.get().into(), 16, 720)?,
            prompt: req.prompt.to_string(),
            seed: seed_of(req.seed),
        })
    }
}

/// A request's seed (checked by its type: 0 to 2147483647).
fn seed_of(seed: Option<runway_api::Seed>) -> Option<u32> {
    seed.and_then(|seed| u32::try_from(seed.get()).ok())
}

impl TryFrom<types::ImageToVideoRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::ImageToVideoRequest) -> Result<Self> {
        Ok(MediaOp::ImageToVideo {
            duration: render_seconds(req.duration)?,
            fps: fps_of(req.fps)?,
            motion: req.motion.into(),
            image_url: req.image_url.to_string(),
        })
    }
}

impl TryFrom<types::EditVideoRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::EditVideoRequest) -> Result<Self> {
        use types::EditVideoRequest as R;
        Ok(match req {
            R::Trim {
                video_url,
                start_time,
                end_time,
            } => {
                let start = in_range("start_time", start_time.get(), 0, 3600)?;
                let end = end_time
                    .map(|e| in_range("end_time", unsigned(e), 1, 3600))
                    .transpose()?;
                if let Some(end) = end
                    && i64::from(start) >= i64::from(end)
                {
                    return Err(Error::invalid(
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
                factor: speed_factor(factor)?,
                video_url: video_url.to_string(),
            },
        })
    }
}

impl TryFrom<types::VideoFilterRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::VideoFilterRequest) -> Result<Self> {
        Ok(MediaOp::FilterVideo {
            video_url: req.video_url.to_string(),
            filter: req.filter.into(),
        })
    }
}

impl TryFrom<types::ResizeVideoRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::ResizeVideoRequest) -> Result<Self> {
        Ok(MediaOp::ResizeVideo {
            width: even_in_range("new_width", req.new_width.get().into(), 16, 1920)?,
            height: even_in_range("new_height", req.new_height.get().into(), 16, 1920)?,
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::SpeedAdjustRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::SpeedAdjustRequest) -> Result<Self> {
        Ok(MediaOp::Speed {
            factor: speed_factor(req.speed_factor)?,
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::GenerateThumbnailRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::GenerateThumbnailRequest) -> Result<Self> {
        Ok(MediaOp::Thumbnail {
            position: u32::try_from(in_range("time_position", req.time_position.get(), 0, 3600)?)
                .unwrap_or(0),
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::ExtractAudioRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::ExtractAudioRequest) -> Result<Self> {
        Ok(MediaOp::ExtractAudio {
            video_url: req.video_url.to_string(),
        })
    }
}

impl TryFrom<types::CreateTaskRequest> for MediaOp {
    type Error = Error;
    fn try_from(req: types::CreateTaskRequest) -> Result<Self> {
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
        .map_err(crate::services::tasks::in_input)
    }
}

impl From<types::ImageStyle> for Style {
    fn from(style: types::ImageStyle) -> Self {
        match style {
            types::ImageStyle::Photorealistic => Style::Photorealistic,
            types::ImageStyle::Sketch => Style::Sketch,
            types::ImageStyle::Abstract => Style::Abstract,
        }
    }
}

impl From<types::ImageFilter> for Filter {
    fn from(filter: types::ImageFilter) -> Self {
        match filter {
            types::ImageFilter::Sepia => Filter::Sepia,
            types::ImageFilter::BlackAndWhite => Filter::BlackAndWhite,
            types::ImageFilter::Invert => Filter::Invert,
            types::ImageFilter::Blur => Filter::Blur,
            types::ImageFilter::Sharpen => Filter::Sharpen,
        }
    }
}

impl From<types::VideoFilter> for VideoFilter {
    fn from(filter: types::VideoFilter) -> Self {
        match filter {
            types::VideoFilter::Vintage => VideoFilter::Vintage,
            types::VideoFilter::Cinematic => VideoFilter::Cinematic,
            types::VideoFilter::BlackAndWhite => VideoFilter::BlackAndWhite,
            types::VideoFilter::Sepia => VideoFilter::Sepia,
        }
    }
}

impl From<types::TextPosition> for Position {
    fn from(position: types::TextPosition) -> Self {
        use types::TextPosition as P;
        match position {
            P::TopLeft => Position::Grid(0, 0),
            P::TopCenter => Position::Grid(1, 0),
            P::TopRight => Position::Grid(2, 0),
            P::CenterLeft => Position::Grid(0, 1),
            P::Center => Position::Grid(1, 1),
            P::CenterRight => Position::Grid(2, 1),
            P::BottomLeft => Position::Grid(0, 2),
            P::BottomCenter => Position::Grid(1, 2),
            P::BottomRight => Position::Grid(2, 2),
        }
    }
}

impl From<types::CameraMotion> for Motion {
    fn from(motion: types::CameraMotion) -> Self {
        match motion {
            types::CameraMotion::ZoomIn => Motion::ZoomIn,
            types::CameraMotion::ZoomOut => Motion::ZoomOut,
            types::CameraMotion::PanLeft => Motion::PanLeft,
            types::CameraMotion::PanRight => Motion::PanRight,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_name_the_operation_field() {
        let output = task_output(Operation::EditVideo, "u".to_owned());
        assert_eq!(
            serde_json::to_value(&output).expect("json"),
            serde_json::json!({"edited_video_url": "u"})
        );
        let output = task_output(Operation::ImageToVideo, "v".to_owned());
        assert_eq!(
            serde_json::to_value(&output).expect("json"),
            serde_json::json!({"video_url": "v"})
        );
    }

    #[test]
    fn every_operation_and_status_has_its_wire_name() {
        for (operation, name) in [
            (Operation::GenerateImage, "generate-image"),
            (Operation::SpeedAdjust, "speed-adjust"),
            (Operation::AddTextToImage, "add-text-to-image"),
        ] {
            assert_eq!(types::TaskOperation::from(operation).to_string(), name);
            assert_eq!(serde_json::to_value(operation).expect("json"), name);
        }
        for status in [TaskStatus::Pending, TaskStatus::Cancelled] {
            assert_eq!(types::TaskStatus::from(status).to_string(), status.as_str());
        }
        for operation in [Operation::EditImage, Operation::ExtractAudio] {
            let stored = TaskOutput::new(operation, "u".to_owned());
            let answered = task_output(operation, "u".to_owned());
            assert_eq!(
                serde_json::to_value(&stored).expect("json"),
                serde_json::to_value(&answered).expect("json"),
                "stored as answered"
            );
        }
    }
}
