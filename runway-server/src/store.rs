//! Media storage behind `object_store`: the local filesystem under the data dir by
//! default.
//!
//! Layout: `images/{id}.jpg`, `videos/{id}.mp4`, `audios/{id}.mp3`, and a record per
//! media at `records/{id}.json` (owner, creation time, size, probed properties).
//! Media are written first and their record second, both atomically (object_store
//! stages each write and renames it into place); a media exists only once its record
//! does. At start, staged leftovers and media without a record (a crash between the
//! two writes) are removed.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, SubsecRound, Utc};
use futures_util::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use serde::de::DeserializeOwned;
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

    fn id_prefix(self) -> &'static str {
        match self {
            MediaKind::Image => "img",
            MediaKind::Video => "vid",
            MediaKind::Audio => "aud",
        }
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

/// The record of a stored media.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaRecord {
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

impl MediaRecord {
    /// The file name in URLs and in the store, `{id}.{ext}`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.id, self.kind.extension())
    }

    fn media_path(&self) -> Path {
        media_path(self.kind, &self.id)
    }
}

fn media_path(kind: MediaKind, id: &str) -> Path {
    Path::from(format!("{}/{id}.{}", kind.folder(), kind.extension()))
}

fn record_path(id: &str) -> Path {
    Path::from(format!("records/{id}.json"))
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

/// Errors of the storage layer, turned into 500s at the edge.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object store failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// A record could not be (de)serialized.
    #[error("media record: {0}")]
    Record(#[from] serde_json::Error),
    /// The operating system gave no random bytes for a new id.
    #[error("no random bytes for a new id: {0}")]
    Random(String),
    /// The data directory could not be prepared.
    #[error("data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The media store.
#[derive(Debug, Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
}

/// A random id with the kind's prefix: 128 bits from the OS, unguessable.
fn new_id(kind: MediaKind) -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}_{hex}", kind.id_prefix()))
}

impl MediaStore {
    /// Opens (and creates) the store under `data_dir/media`, removing leftovers of
    /// interrupted writes.
    pub fn open_local(data_dir: &FsPath) -> Result<Self, StoreError> {
        let root = data_dir.join("media");
        let dir_err = |source| StoreError::DataDir {
            path: root.clone(),
            source,
        };
        for folder in ["images", "videos", "audios", "records"] {
            std::fs::create_dir_all(root.join(folder)).map_err(dir_err)?;
        }
        let removed = clean_leftovers(&root).map_err(dir_err)?;
        if removed > 0 {
            tracing::warn!(removed, "removed leftovers of interrupted writes");
        }
        let store = LocalFileSystem::new_with_prefix(&root)?.with_fsync(true);
        Ok(Self {
            store: Arc::new(store),
        })
    }

    /// Stores `bytes` as a new media of `kind` for `owner` and returns its record.
    pub async fn put(
        &self,
        kind: MediaKind,
        owner: &str,
        bytes: Bytes,
        probed: Probed,
    ) -> Result<MediaRecord, StoreError> {
        let record = MediaRecord {
            id: new_id(kind)?,
            kind,
            owner: owner.to_owned(),
            created_at: Utc::now().trunc_subsecs(0),
            size_bytes: bytes.len() as u64,
            probed,
        };
        self.store
            .put(&record.media_path(), PutPayload::from_bytes(bytes))
            .await?;
        let json = serde_json::to_vec(&record)?;
        if let Err(err) = self
            .store
            .put(&record_path(&record.id), PutPayload::from(json))
            .await
        {
            let _ = self.store.delete(&record.media_path()).await;
            return Err(err.into());
        }
        tracing::info!(id = %record.id, kind = ?kind, size = record.size_bytes, "stored media");
        Ok(record)
    }

    /// The record of media `id` of `kind`, if it exists.
    pub async fn record(
        &self,
        kind: MediaKind,
        id: &str,
    ) -> Result<Option<MediaRecord>, StoreError> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let bytes = match self.store.get(&record_path(id)).await {
            Ok(result) => result.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let record: MediaRecord = serde_json::from_slice(&bytes)?;
        Ok((record.kind == kind).then_some(record))
    }

    /// The whole content of a stored media.
    pub async fn read(&self, record: &MediaRecord) -> Result<Bytes, StoreError> {
        Ok(self.store.get(&record.media_path()).await?.bytes().await?)
    }

    /// The bytes `range` of a stored media, read in one call.
    pub async fn read_range(
        &self,
        record: &MediaRecord,
        range: std::ops::Range<u64>,
    ) -> Result<Bytes, StoreError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        Ok(self.store.get_range(&record.media_path(), range).await?)
    }

    /// A byte stream of `range` (or everything) of a stored media.
    pub async fn stream(
        &self,
        record: &MediaRecord,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<
        futures_util::stream::BoxStream<'static, Result<Bytes, object_store::Error>>,
        StoreError,
    > {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        Ok(self
            .store
            .get_opts(&record.media_path(), options)
            .await?
            .into_stream())
    }

    /// Deletes a media: its record first (so it disappears at once), then its bytes.
    pub async fn delete(&self, record: &MediaRecord) -> Result<(), StoreError> {
        self.store.delete(&record_path(&record.id)).await?;
        match self.store.delete(&record.media_path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(err) => return Err(err.into()),
        }
        tracing::info!(id = %record.id, "deleted media");
        Ok(())
    }
}

/// Small JSON documents beside the media: task and idempotency records. Each is one
/// object, written whole and atomically.
impl MediaStore {
    /// Writes `doc` at `path`, replacing what is there.
    pub async fn put_doc<T: Serialize>(&self, path: &str, doc: &T) -> Result<(), StoreError> {
        let json = serde_json::to_vec(doc)?;
        self.store
            .put(&Path::from(path), PutPayload::from(json))
            .await?;
        Ok(())
    }

    /// Writes `doc` at `path` only if nothing is there; `false` when something is.
    pub async fn create_doc<T: Serialize>(&self, path: &str, doc: &T) -> Result<bool, StoreError> {
        let json = serde_json::to_vec(doc)?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&Path::from(path), PutPayload::from(json), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// The document at `path`, if there is one.
    pub async fn get_doc<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, StoreError> {
        match self.store.get(&Path::from(path)).await {
            Ok(result) => Ok(Some(serde_json::from_slice(&result.bytes().await?)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes the document at `path`; deleting nothing is fine.
    pub async fn delete_doc(&self, path: &str) -> Result<(), StoreError> {
        match self.store.delete(&Path::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Writes and removes a small probe object: the store is reachable and writable.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let path = format!("health/probe-{:016x}.json", fastrand::u64(..));
        self.put_doc(&path, &serde_json::json!({ "probe": true }))
            .await?;
        self.delete_doc(&path).await
    }

    /// The paths of every document under `prefix` (a folder, without trailing `/`).
    pub async fn list_docs(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let prefix = Path::from(prefix);
        Ok(self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await?)
    }
}

/// Removes staged files (`name#n`) of interrupted writes and media whose record
/// was never written. Returns how many files were removed.
fn clean_leftovers(root: &FsPath) -> std::io::Result<usize> {
    let mut removed = 0;
    // Task and idempotency documents: only staged files can be left over.
    for folder in ["tasks", "idempotency"] {
        for path in staged_files(&root.join(folder))? {
            std::fs::remove_file(path)?;
            removed += 1;
        }
    }
    for folder in ["images", "videos", "audios", "records"] {
        for entry in std::fs::read_dir(root.join(folder))? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let staged = name.contains('#');
            let orphan = !staged
                && folder != "records"
                && name.rsplit_once('.').is_some_and(|(id, _)| {
                    !root.join("records").join(format!("{id}.json")).exists()
                });
            if staged || orphan {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Staged files (`name#n`) anywhere under `dir` (which may not exist).
fn staged_files(dir: &FsPath) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(err) => return Err(err),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(staged_files(&path)?);
        } else if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains('#'))
        {
            found.push(path);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn put_read_delete_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MediaStore::open_local(dir.path()).expect("open");
        let record = store
            .put(
                MediaKind::Image,
                "owner",
                Bytes::from_static(b"jpeg"),
                Probed::default(),
            )
            .await
            .expect("put");
        assert_eq!(&store.read(&record).await.expect("read")[..], b"jpeg");

        // A reopened store sees the same media, and cleans leftovers.
        std::fs::write(dir.path().join("media/images/img_x.jpg#1"), b"partial").expect("write");
        std::fs::write(dir.path().join("media/images/img_orphan.jpg"), b"no record")
            .expect("write");
        let reopened = MediaStore::open_local(dir.path()).expect("reopen");
        let found = reopened
            .record(MediaKind::Image, &record.id)
            .await
            .expect("record")
            .expect("exists");
        assert_eq!(found, record);
        assert!(!dir.path().join("media/images/img_x.jpg#1").exists());
        assert!(!dir.path().join("media/images/img_orphan.jpg").exists());
        assert!(
            reopened
                .record(MediaKind::Video, &record.id)
                .await
                .expect("ok")
                .is_none()
        );

        reopened.delete(&record).await.expect("delete");
        assert!(
            reopened
                .record(MediaKind::Image, &record.id)
                .await
                .expect("ok")
                .is_none()
        );
    }
}
