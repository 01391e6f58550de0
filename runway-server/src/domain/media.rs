//! Media as the server keeps them: kinds, ids, the properties read from a file,
//! the stored record (the server's own struct, versioned, tolerant of fields it
//! does not know).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a stored media is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// A JPEG image.
    Image,
    /// An H.264 MP4 video.
    Video,
    /// An MP3 audio file.
    Audio,
}

impl MediaKind {
    /// The folder of the kind, as in its URLs.
    pub fn folder(self) -> &'static str {
        match self {
            MediaKind::Image => "images",
            MediaKind::Video => "videos",
            MediaKind::Audio => "audios",
        }
    }

    /// The file extension of the kind.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Image => "jpg",
            MediaKind::Video => "mp4",
            MediaKind::Audio => "mp3",
        }
    }

    /// The media type served for the kind.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Image => "image/jpeg",
            MediaKind::Video => "video/mp4",
            MediaKind::Audio => "audio/mpeg",
        }
    }

    /// The prefix of the kind's ids (`img`, `vid`, `aud`).
    pub fn id_prefix(self) -> &'static str {
        match self {
            MediaKind::Image => "img",
            MediaKind::Video => "vid",
            MediaKind::Audio => "aud",
        }
    }

    /// The kind of a media id (by its prefix).
    pub fn of_id(id: &str) -> Option<Self> {
        let prefix = id.split('_').next()?;
        [MediaKind::Image, MediaKind::Video, MediaKind::Audio]
            .into_iter()
            .find(|k| k.id_prefix() == prefix)
    }

    /// The kind whose folder is `folder`.
    pub fn from_folder(folder: &str) -> Option<Self> {
        [MediaKind::Image, MediaKind::Video, MediaKind::Audio]
            .into_iter()
            .find(|k| k.folder() == folder)
    }
}

/// Properties read from a stored video or audio file when it was stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Probed {
    /// Width in pixels (images and videos).
    pub width: Option<u32>,
    /// Height in pixels (images and videos).
    pub height: Option<u32>,
    /// Duration in seconds (videos and audio).
    pub duration_seconds: Option<f64>,
    /// Frames per second (videos).
    pub fps: Option<f64>,
    /// Whether there is an audio stream (videos).
    pub has_audio: Option<bool>,
}

impl Probed {
    /// The properties of an image of `width` x `height`.
    pub fn image(width: u32, height: u32) -> Self {
        Self {
            width: Some(width),
            height: Some(height),
            ..Self::default()
        }
    }
}

/// The format this server writes media records in (1: contract 1.1.x; the
/// number was added later, so a record without it is 1).
pub const MEDIA_FORMAT: u32 = 1;

/// The record of a stored media: the server's own struct, tolerant of fields it
/// does not know (a later server's), never shaped by the wire contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaRecord {
    /// The record's format ([`MEDIA_FORMAT`]).
    #[serde(default = "format_1")]
    pub format: u32,
    /// The id, as in the URL.
    pub id: String,
    /// What it is.
    pub kind: MediaKind,
    /// SHA-256 of the API key that created it, hex.
    pub owner: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Properties read from it.
    pub probed: Probed,
}

/// The format of a record written before formats were numbered.
pub(crate) fn format_1() -> u32 {
    1
}

impl MediaRecord {
    /// The file name in URLs and in the store, `{id}.{ext}`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.id, self.kind.extension())
    }
}

/// Whether `id` has the shape of an id this store hands out.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Splits a media file name `{id}.{ext}` for `kind`; `None` if it is not one.
pub fn parse_file_name(kind: MediaKind, file: &str) -> Option<&str> {
    let id = file.strip_suffix(kind.extension())?.strip_suffix('.')?;
    is_valid_id(id).then_some(id)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_records_of_contract_1_1_are_read() {
        let text = crate::domain::stored_fixture("media-record");
        let record: MediaRecord = serde_json::from_str(&text).expect("reads");
        assert_eq!(record.format, 1);
        assert_eq!(record.kind, MediaKind::Image);
        assert_eq!(record.size_bytes, 1476);
        assert_eq!(record.probed, Probed::image(64, 48));
        let mut json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        json["checksum"] = serde_json::json!("a field of a later server");
        let read: MediaRecord = serde_json::from_value(json).expect("reads");
        assert_eq!(read, record);
    }

    #[test]
    fn file_names_are_checked() {
        assert_eq!(
            parse_file_name(MediaKind::Image, "img_ab.jpg"),
            Some("img_ab")
        );
        assert_eq!(parse_file_name(MediaKind::Image, "img_ab.mp4"), None);
        assert_eq!(parse_file_name(MediaKind::Image, "../x.jpg"), None);
        assert_eq!(parse_file_name(MediaKind::Image, ".jpg"), None);
        assert_eq!(parse_file_name(MediaKind::Video, "a%2F.mp4"), None);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(1023), "1023B");
        assert_eq!(human_size(2 * 1024 * 1024), "2MB");
        assert_eq!(human_size(1536), "1.5KB");
        assert_eq!(human_size(50 * 1024 * 1024), "50MB");
    }
}
