//! Every conversion between the server's own types and the contract's generated
//! wire types (`runway_api::types`) that the handlers answer with, in one place.

use std::num::NonZeroU32;

use runway_api::types;

use super::human_size;
use crate::AppState;
use crate::domain::task::{Operation, TaskRecord, TaskStatus};
use crate::error::ApiError;
use crate::lifecycle::Usage;
use crate::store::{MediaKind, MediaRecord};

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
pub(super) fn media_item(state: &AppState, record: &MediaRecord) -> types::MediaItem {
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
    state: &AppState,
    record: &MediaRecord,
) -> Result<types::ImageMetadata, ApiError> {
    let dimension = |v: Option<u32>| {
        v.and_then(NonZeroU32::new)
            .ok_or_else(|| ApiError::internal(format!("record {} has no dimensions", record.id)))
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
pub(super) fn video_metadata(state: &AppState, record: &MediaRecord) -> types::VideoMetadata {
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
    let mut output = types::TaskOutput::default();
    let field = match operation {
        Operation::GenerateImage => &mut output.image_url,
        Operation::EditImage => &mut output.edited_image_url,
        Operation::AddTextToImage => &mut output.text_image_url,
        Operation::StyleTransfer => &mut output.styled_image_url,
        Operation::GenerateVideo | Operation::ImageToVideo => &mut output.video_url,
        Operation::EditVideo => &mut output.edited_video_url,
        Operation::VideoFilter => &mut output.filtered_video_url,
        Operation::ResizeVideo => &mut output.resized_video_url,
        Operation::SpeedAdjust => &mut output.adjusted_speed_video_url,
        Operation::GenerateThumbnail => &mut output.thumbnail_url,
        Operation::ExtractAudio => &mut output.audio_url,
    };
    *field = Some(url);
    output
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::task::TaskOutput;

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
