//! A task as the server keeps it: its own record, versioned and tolerant of
//! fields it does not know, so that a change of the wire contract never makes a
//! stored task unreadable. The HTTP edge converts it to the contract's `Task`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::media::MediaKind;

/// The format this server writes task records in: 1, the shape contract 1.1.x
/// servers wrote (the number was added later: a record without it is 1), so
/// replicas of either version read each other's records during a rolling
/// upgrade. A later format is read as far as its fields are known.
pub(crate) const TASK_FORMAT: u32 = 1;

/// A media operation a task runs, named by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Operation {
    /// `generate-image`.
    GenerateImage,
    /// `edit-image`.
    EditImage,
    /// `generate-video`.
    GenerateVideo,
    /// `edit-video`.
    EditVideo,
    /// `video-filter`.
    VideoFilter,
    /// `image-to-video`.
    ImageToVideo,
    /// `add-text-to-image`.
    AddTextToImage,
    /// `style-transfer`.
    StyleTransfer,
    /// `resize-video`.
    ResizeVideo,
    /// `generate-thumbnail`.
    GenerateThumbnail,
    /// `extract-audio`.
    ExtractAudio,
    /// `speed-adjust`.
    SpeedAdjust,
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TaskStatus {
    /// Waiting for a job slot.
    Pending,
    /// Its job runs.
    Running,
    /// Done; its media is stored.
    Succeeded,
    /// Done, with an error.
    Failed,
    /// Cancelled by its owner.
    Cancelled,
}

impl Operation {
    /// Every operation a task runs.
    pub(crate) const ALL: [Operation; 12] = [
        Self::GenerateImage,
        Self::EditImage,
        Self::GenerateVideo,
        Self::EditVideo,
        Self::VideoFilter,
        Self::ImageToVideo,
        Self::AddTextToImage,
        Self::StyleTransfer,
        Self::ResizeVideo,
        Self::GenerateThumbnail,
        Self::ExtractAudio,
        Self::SpeedAdjust,
    ];

    /// The operation named `name` ([`Self::as_str`]).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The operation's name: its path, as on the wire and in logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::GenerateImage => "generate-image",
            Self::EditImage => "edit-image",
            Self::GenerateVideo => "generate-video",
            Self::EditVideo => "edit-video",
            Self::VideoFilter => "video-filter",
            Self::ImageToVideo => "image-to-video",
            Self::AddTextToImage => "add-text-to-image",
            Self::StyleTransfer => "style-transfer",
            Self::ResizeVideo => "resize-video",
            Self::GenerateThumbnail => "generate-thumbnail",
            Self::ExtractAudio => "extract-audio",
            Self::SpeedAdjust => "speed-adjust",
        }
    }

    /// The kind of media the operation makes.
    pub(crate) fn output_kind(self) -> MediaKind {
        match self {
            Self::GenerateImage
            | Self::EditImage
            | Self::AddTextToImage
            | Self::StyleTransfer
            | Self::GenerateThumbnail => MediaKind::Image,
            Self::ExtractAudio => MediaKind::Audio,
            Self::GenerateVideo
            | Self::EditVideo
            | Self::VideoFilter
            | Self::ImageToVideo
            | Self::ResizeVideo
            | Self::SpeedAdjust => MediaKind::Video,
        }
    }

    /// The field of the operation's response that holds its media URL
    /// (`image_url`, `edited_video_url`, ...): a task's output is kept under it.
    pub(crate) fn output_field(self) -> &'static str {
        match self {
            Self::GenerateImage => "image_url",
            Self::EditImage => "edited_image_url",
            Self::AddTextToImage => "text_image_url",
            Self::StyleTransfer => "styled_image_url",
            Self::GenerateVideo | Self::ImageToVideo => "video_url",
            Self::EditVideo => "edited_video_url",
            Self::VideoFilter => "filtered_video_url",
            Self::ResizeVideo => "resized_video_url",
            Self::SpeedAdjust => "adjusted_speed_video_url",
            Self::GenerateThumbnail => "thumbnail_url",
            Self::ExtractAudio => "audio_url",
        }
    }
}

impl TaskStatus {
    /// The status named `name` ([`Self::as_str`]).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Running,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
    }

    /// Whether the task has ended.
    pub(crate) fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }

    /// The status's name, as on the wire and in metrics.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Why a task failed: the error body its request would have had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TaskError {
    /// The error code.
    pub(crate) code: String,
    /// A sentence for people.
    pub(crate) message: String,
    /// The input field at fault (`input.image_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) param: Option<String>,
}

/// What a task made: the URL of its media, kept under the field of the
/// operation's response (`{"image_url": ...}`), as format 1 has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskOutput {
    /// The response field it is kept under ([`Operation::output_field`]).
    pub(crate) field: String,
    /// The media's URL, as answered when the task ended.
    pub(crate) media_url: String,
}

impl TaskOutput {
    /// The output of `operation`: the media at `media_url`.
    pub(crate) fn new(operation: Operation, media_url: String) -> Self {
        Self {
            field: operation.output_field().to_owned(),
            media_url,
        }
    }
}

impl Serialize for TaskOutput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(&self.field, &self.media_url)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for TaskOutput {
    /// The one URL of the object, whatever field holds it; fields of other
    /// types (a later server's) are ignored.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields =
            std::collections::BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
        fields
            .into_iter()
            .find_map(|(field, value)| match value {
                serde_json::Value::String(media_url) => Some(Self { field, media_url }),
                _ => None,
            })
            .ok_or_else(|| serde::de::Error::custom("a task output without a URL"))
    }
}

/// The stored record of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TaskRecord {
    /// The record's format ([`TASK_FORMAT`]; 1 when absent).
    #[serde(default = "format_1")]
    pub(crate) format: u32,
    /// `task_{created ms, hex}_{64 random bits}`.
    pub(crate) id: String,
    /// What it runs.
    pub(crate) operation: Operation,
    /// Where it is.
    pub(crate) status: TaskStatus,
    /// How far its job has got, 0 to 1.
    #[serde(default)]
    pub(crate) progress: f64,
    /// When it was created.
    pub(crate) created_at: DateTime<Utc>,
    /// When its job got a slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) started_at: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) finished_at: Option<DateTime<Utc>>,
    /// What it made, once succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) output: Option<TaskOutput>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<TaskError>,
    /// The digest of the key that created it.
    pub(crate) owner: String,
    /// When its runner last wrote it.
    pub(crate) heartbeat_at: DateTime<Utc>,
}

fn format_1() -> u32 {
    1
}

impl TaskRecord {
    /// Whether the task has ended.
    pub(crate) fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each record a contract 1.1.x server wrote, and what it must read as.
    fn fixture(name: &str) -> TaskRecord {
        let text = crate::domain::stored_fixture(name);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} does not read: {e}"))
    }

    #[test]
    fn task_records_of_contract_1_1_are_read() {
        let pending = fixture("task-pending");
        assert_eq!(
            (pending.format, pending.status, pending.progress),
            (1, TaskStatus::Pending, 0.0)
        );
        assert_eq!(pending.operation, Operation::GenerateVideo);
        let running = fixture("task-running");
        assert_eq!(running.status, TaskStatus::Running);
        assert_eq!(running.progress, 0.65);
        assert!(running.started_at.is_some() && running.finished_at.is_none());
        let succeeded = fixture("task-succeeded");
        assert_eq!(succeeded.status, TaskStatus::Succeeded);
        assert_eq!(
            succeeded.output.map(|o| o.media_url),
            Some(
                "http://127.0.0.1:18081/images/img_7f660090db2745a03dd3d02b12772506.jpg".to_owned()
            )
        );
        let failed = fixture("task-failed");
        assert_eq!(
            failed.error,
            Some(TaskError {
                code: "not_found".to_owned(),
                message: "no media at the URL given in image_url".to_owned(),
                param: Some("input.image_url".to_owned()),
            })
        );
        let cancelled = fixture("task-cancelled");
        assert_eq!(cancelled.status, TaskStatus::Cancelled);
        assert!(cancelled.finished_at.is_some());
        assert_eq!(
            cancelled.owner,
            "66e7c82b49bb291dd09c8e020448311c4a7bb96aeb5c5db769f66812b13a50b5"
        );
    }

    #[test]
    fn records_are_written_as_contract_1_1_servers_read_them() {
        let record = fixture("task-succeeded");
        let json = serde_json::to_value(&record).expect("json");
        assert_eq!(json["format"], TASK_FORMAT);
        let text = crate::domain::stored_fixture("task-succeeded");
        let mut written: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        written["format"] = TASK_FORMAT.into();
        assert_eq!(json, written, "the same fields, the same values");
        let read: TaskRecord = serde_json::from_value(json).expect("reads");
        assert_eq!(read, record);
    }

    #[test]
    fn fields_a_later_server_adds_are_ignored() {
        let mut json: serde_json::Value =
            serde_json::to_value(fixture("task-failed")).expect("json");
        json["priority"] = serde_json::json!(5);
        json["error"]["retryable"] = serde_json::json!(true);
        let read: TaskRecord = serde_json::from_value(json).expect("reads");
        assert_eq!(read.status, TaskStatus::Failed);
        let mut json: serde_json::Value =
            serde_json::to_value(fixture("task-succeeded")).expect("json");
        json["format"] = serde_json::json!(7);
        json["output"]["bytes"] = serde_json::json!(1077);
        json["output"]["checksum"] = serde_json::json!({"sha256": "..."});
        let read: TaskRecord = serde_json::from_value(json).expect("reads");
        assert_eq!(
            read.output.map(|o| (o.field, o.media_url)),
            Some((
                "image_url".to_owned(),
                "http://127.0.0.1:18081/images/img_7f660090db2745a03dd3d02b12772506.jpg".to_owned()
            ))
        );
    }
}
