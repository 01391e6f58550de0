//! Media storage behind `object_store`: the local filesystem under the data dir by
//! default, or an S3-compatible bucket shared by any number of replicas.
//!
//! Layout: `images/{id}.jpg`, `videos/{id}.mp4`, `audios/{id}.mp3`, and a record per
//! media at `records/{id}.json` (owner, creation time, size, probed properties).
//! Media are written first and their record second, both atomically (object_store
//! stages each write and renames it into place; an S3 PUT is atomic); a media exists
//! only once its record does. On the local store, staged leftovers and media without
//! a record (a crash between the two writes) are removed at start.
//!
//! Small JSON documents (task and idempotency records) live beside the media. They
//! change by compare-and-swap on their version ([`MediaStore::replace_doc`]): S3's
//! conditional PUT (`If-Match`), emulated on the local store (one server owns a
//! data directory) with a lock per document.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SubsecRound, Utc};
use futures_util::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::buffered::BufWriter;
use object_store::client::HttpErrorKind;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{
    BackoffConfig, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload, RetryConfig, UpdateVersion,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

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

/// One media in its owner's index, `index/{owner}/{created ms, hex}.{id}.{size}`:
/// listing and usage read names only, never records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// When the media was stored, in milliseconds since the epoch.
    pub created_ms: i64,
    /// The media's id.
    pub id: String,
    /// Its size in bytes.
    pub size_bytes: u64,
}

impl IndexEntry {
    fn of(record: &MediaRecord) -> Self {
        Self {
            created_ms: record.created_at.timestamp_millis(),
            id: record.id.clone(),
            size_bytes: record.size_bytes,
        }
    }

    fn path(&self, owner: &str) -> Path {
        Path::from(format!(
            "index/{owner}/{}.{}",
            self.cursor(),
            self.size_bytes
        ))
    }

    /// Reads an entry's file name; `None` for anything else.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        let mut parts = name.split('.');
        let (created, id, size) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || created.len() != 12 || !is_valid_id(id) {
            return None;
        }
        Some(Self {
            created_ms: i64::from_str_radix(created, 16).ok()?,
            id: id.to_owned(),
            size_bytes: size.parse().ok()?,
        })
    }

    /// Where a listing resumes after this entry: `{created ms, hex}.{id}`, which
    /// sorts as the entries do (newest last).
    pub fn cursor(&self) -> String {
        format!("{:012x}.{}", self.created_ms.max(0), self.id)
    }

    /// What the media is.
    pub fn kind(&self) -> Option<MediaKind> {
        MediaKind::of_id(&self.id)
    }

    /// When the media was stored.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.created_ms)
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
    /// A media file could not be read or written.
    #[error("media file: {0}")]
    File(#[source] std::io::Error),
    /// The data directory could not be prepared.
    #[error("data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `--storage` is not a directory or an `s3://` URL.
    #[error("--storage {0}: expected a directory or s3://bucket[/prefix]")]
    Location(String),
    /// The bucket cannot be used: what is wrong, in words an operator can act on.
    #[error("{location}: {reason}")]
    Unusable {
        /// The storage URL.
        location: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// Whether the object is not there (deleted meanwhile, for one).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StoreError::ObjectStore(object_store::Error::NotFound { .. })
        )
    }

    /// Whether the write failed because the disk (or the user's disk quota) is full.
    pub fn is_storage_full(&self) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(err) = source {
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && (io.kind() == std::io::ErrorKind::StorageFull
                    || io.kind() == std::io::ErrorKind::QuotaExceeded)
            {
                return true;
            }
            source = err.source();
        }
        false
    }
}

/// Where media and records are kept: `--storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    /// A directory on this machine (one server owns it).
    Local(PathBuf),
    /// A bucket of an S3-compatible store, shared by every replica.
    S3 {
        /// The bucket name.
        bucket: String,
        /// A folder inside the bucket, without slashes at its ends.
        prefix: Option<String>,
    },
}

impl StorageLocation {
    /// Reads `--storage`: `s3://bucket[/prefix]`, or anything else as a directory.
    pub fn parse(value: &str) -> Result<Self, StoreError> {
        let Some(rest) = value.strip_prefix("s3://") else {
            if value.contains("://") || value.is_empty() {
                return Err(StoreError::Location(value.to_owned()));
            }
            return Ok(Self::Local(PathBuf::from(value)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(StoreError::Location(value.to_owned()));
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
        })
    }

    /// Whether several servers may share it.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::S3 { .. })
    }
}

impl std::fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local(dir) => write!(f, "{}", dir.display()),
            Self::S3 {
                bucket,
                prefix: None,
            } => write!(f, "s3://{bucket}"),
            Self::S3 {
                bucket,
                prefix: Some(prefix),
            } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// The version a document was read or written at, for [`MediaStore::replace_doc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocVersion(UpdateVersion);

impl DocVersion {
    fn of(e_tag: Option<String>, version: Option<String>) -> Self {
        Self(UpdateVersion { e_tag, version })
    }
}

/// A document with the version it was read at.
#[derive(Debug)]
pub struct Versioned<T> {
    /// The document.
    pub doc: T,
    /// Its version.
    pub version: DocVersion,
}

/// How the backend changes documents conditionally.
#[derive(Debug)]
enum Backend {
    /// The local filesystem: no conditional update, so one lock per document
    /// stripe serializes every document write of this (the only) server.
    Local {
        root: PathBuf,
        doc_locks: Box<[tokio::sync::Mutex<()>]>,
    },
    /// S3: conditional PUTs; presigned URLs for downloads.
    S3 {
        s3: Arc<AmazonS3>,
        prefix: Option<Path>,
    },
}

/// The media store.
#[derive(Debug, Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    backend: Arc<Backend>,
    location: Arc<StorageLocation>,
    /// How long media are kept (`--media-ttl-secs`); `None`: until deleted.
    media_ttl: Option<chrono::Duration>,
    /// After a media write failed for lack of space: its size (0: no such failure
    /// since the last write that succeeded). Readiness probes with that much.
    space_needed: Arc<AtomicU64>,
}

/// A random id with the kind's prefix: 128 bits from the OS, unguessable.
fn new_id(kind: MediaKind) -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}_{hex}", kind.id_prefix()))
}

/// Requests to the bucket are retried a few times within this long, then fail
/// (a client's retry, or the SDK's, takes over from there).
const S3_RETRY: RetryConfig = RetryConfig {
    backoff: BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
    },
    max_retries: 3,
    retry_timeout: Duration::from_secs(30),
};

impl MediaStore {
    /// Opens the store at `location`: a local directory (created, leftovers of
    /// interrupted writes removed) or an S3 bucket (configured from the standard
    /// `AWS_*` environment variables, and checked: it must exist and take writes).
    pub async fn open(location: &StorageLocation) -> Result<Self, StoreError> {
        match location {
            StorageLocation::Local(dir) => {
                let store = Self::open_local(dir)?;
                store.reindex().await?;
                Ok(store)
            }
            StorageLocation::S3 { bucket, prefix } => {
                let store = Self::open_s3(location, bucket, prefix.as_deref())?;
                store.check_bucket().await?;
                Ok(store)
            }
        }
    }

    /// Opens (and creates) the store in directory `root`, removing leftovers of
    /// interrupted writes.
    pub fn open_local(root: &FsPath) -> Result<Self, StoreError> {
        let root = root.to_path_buf();
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
            backend: Arc::new(Backend::Local {
                root: root.clone(),
                doc_locks: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
            }),
            location: Arc::new(StorageLocation::Local(root)),
            media_ttl: None,
            space_needed: Arc::default(),
        })
    }

    fn open_s3(
        location: &StorageLocation,
        bucket: &str,
        prefix: Option<&str>,
    ) -> Result<Self, StoreError> {
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(S3_RETRY)
            .build()
            .map_err(|err| StoreError::Unusable {
                location: location.to_string(),
                reason: format!("the S3 settings are not usable: {err}"),
            })?;
        let s3 = Arc::new(s3);
        let prefix = prefix.map(Path::from);
        let store: Arc<dyn ObjectStore> = match &prefix {
            Some(prefix) => Arc::new(PrefixStore::new(s3.clone(), prefix.clone())),
            None => s3.clone(),
        };
        Ok(Self {
            store,
            backend: Arc::new(Backend::S3 { s3, prefix }),
            location: Arc::new(location.clone()),
            media_ttl: None,
            space_needed: Arc::default(),
        })
    }

    /// Keeps media for `ttl` only: older ones read as gone, and
    /// [`Self::sweep_expired_media`] removes them.
    pub fn with_media_ttl(mut self, ttl: Option<chrono::Duration>) -> Self {
        self.media_ttl = ttl;
        self
    }

    /// When `record` expires, if media expire.
    pub fn expires_at(&self, record: &MediaRecord) -> Option<DateTime<Utc>> {
        self.media_ttl.map(|ttl| record.created_at + ttl)
    }

    fn is_expired(&self, created_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.media_ttl.is_some_and(|ttl| now - created_at >= ttl)
    }

    /// Where the store is, for people: a directory or an `s3://` URL.
    pub fn location(&self) -> &StorageLocation {
        &self.location
    }

    /// Whether other servers may share this store (so nothing may assume that
    /// this server is the only one).
    pub fn is_shared(&self) -> bool {
        self.location.is_shared()
    }

    /// Writes and removes a probe; a failure says what an operator should fix.
    async fn check_bucket(&self) -> Result<(), StoreError> {
        self.check_writable()
            .await
            .map_err(|err| StoreError::Unusable {
                location: self.location.to_string(),
                reason: explain_s3_error(&err),
            })
    }

    /// A URL of the bucket that lets anyone `GET` this media for `expires_in`;
    /// `None` when the store is not a bucket.
    pub async fn presigned_url(
        &self,
        record: &MediaRecord,
        expires_in: Duration,
    ) -> Result<Option<url::Url>, StoreError> {
        let Backend::S3 { s3, prefix } = self.backend.as_ref() else {
            return Ok(None);
        };
        let path = record.media_path();
        let path = match prefix {
            Some(prefix) => prefix.parts().chain(path.parts()).collect(),
            None => path,
        };
        Ok(Some(
            s3.signed_url(reqwest::Method::GET, &path, expires_in)
                .await?,
        ))
    }

    /// A new record for media of `kind`, `size_bytes` long, for `owner`.
    fn new_record(
        kind: MediaKind,
        owner: &str,
        size_bytes: u64,
        probed: Probed,
    ) -> Result<MediaRecord, StoreError> {
        Ok(MediaRecord {
            format: MEDIA_FORMAT,
            id: new_id(kind)?,
            kind,
            owner: owner.to_owned(),
            created_at: Utc::now().trunc_subsecs(3),
            size_bytes,
            probed,
        })
    }

    /// A write failure; one for lack of space makes readiness probe with `needed`
    /// bytes until a write succeeds.
    fn note_failure(&self, err: impl Into<StoreError>, needed: u64) -> StoreError {
        let err = err.into();
        if err.is_storage_full() {
            self.space_needed.store(needed, Ordering::SeqCst);
        }
        err
    }

    /// Stores `bytes` as a new media of `kind` for `owner` and returns its record.
    pub async fn put(
        &self,
        kind: MediaKind,
        owner: &str,
        bytes: Bytes,
        probed: Probed,
    ) -> Result<MediaRecord, StoreError> {
        let record = Self::new_record(kind, owner, bytes.len() as u64, probed)?;
        self.store
            .put(&record.media_path(), PutPayload::from_bytes(bytes))
            .await
            .map_err(|err| self.note_failure(err, record.size_bytes))?;
        self.commit(record).await
    }

    /// Stores the file at `file` (which it takes: moved into the local store, or
    /// streamed into the bucket and removed) as a new media of `kind` for `owner`,
    /// and returns its record. Memory does not grow with the file's size.
    pub async fn put_file(
        &self,
        kind: MediaKind,
        owner: &str,
        file: &FsPath,
        probed: Probed,
    ) -> Result<MediaRecord, StoreError> {
        let size = tokio::fs::metadata(file)
            .await
            .map_err(StoreError::File)?
            .len();
        let record = Self::new_record(kind, owner, size, probed)?;
        let written = match self.backend.as_ref() {
            Backend::Local { root, .. } => {
                move_into(file, &root.join(record.media_path().as_ref())).await
            }
            Backend::S3 { .. } => self.upload_file(file, &record.media_path()).await,
        };
        written.map_err(|err| self.note_failure(err, size))?;
        self.commit(record).await
    }

    /// Streams `file` into the bucket at `path`, in parts. The upload runs in a
    /// task of its own, so that it finishes (or is aborted, parts and all) even if
    /// the request that started it goes away.
    async fn upload_file(&self, file: &FsPath, path: &Path) -> Result<(), StoreError> {
        // Opened here: the scratch directory may go once the caller does.
        let mut reader = tokio::fs::File::open(file)
            .await
            .map_err(StoreError::File)?;
        let mut writer = BufWriter::with_capacity(self.store.clone(), path.clone(), UPLOAD_PART);
        let upload = tokio::spawn(async move {
            let copied = tokio::io::copy(&mut reader, &mut writer).await;
            let finished = match copied {
                Ok(_) => writer.shutdown().await,
                Err(err) => Err(err),
            };
            if finished.is_err() {
                let _ = writer.abort().await;
            }
            finished
        });
        upload
            .await
            .map_err(|err| StoreError::File(std::io::Error::other(err)))?
            .map_err(StoreError::File)
    }

    /// Writes the record and the index entry of media whose bytes are stored; on a
    /// failure, removes what it wrote (and the bytes).
    async fn commit(&self, record: MediaRecord) -> Result<MediaRecord, StoreError> {
        let json = serde_json::to_vec(&record)?;
        let needed = record.size_bytes + json.len() as u64;
        if let Err(err) = self
            .store
            .put(&record_path(&record.id), PutPayload::from(json))
            .await
        {
            let _ = self.store.delete(&record.media_path()).await;
            return Err(self.note_failure(err, needed));
        }
        let index = IndexEntry::of(&record).path(&record.owner);
        if let Err(err) = self.store.put(&index, PutPayload::default()).await {
            let _ = self.store.delete(&record_path(&record.id)).await;
            let _ = self.store.delete(&record.media_path()).await;
            return Err(self.note_failure(err, needed));
        }
        self.space_needed.store(0, Ordering::SeqCst);
        tracing::info!(id = %record.id, kind = ?record.kind, size = record.size_bytes, "stored media");
        Ok(record)
    }

    /// The path of a stored media's file when the store is a local directory (so
    /// ffmpeg reads it where it is); `None` for a bucket.
    pub fn local_path(&self, record: &MediaRecord) -> Option<PathBuf> {
        match self.backend.as_ref() {
            Backend::Local { root, .. } => Some(root.join(record.media_path().as_ref())),
            Backend::S3 { .. } => None,
        }
    }

    /// Copies a stored media into the file `dest`, streaming.
    pub async fn copy_to_file(
        &self,
        record: &MediaRecord,
        dest: &FsPath,
    ) -> Result<(), StoreError> {
        let mut stream = self.stream(record, None).await?;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(StoreError::File)?;
        while let Some(chunk) = stream.try_next().await? {
            file.write_all(&chunk).await.map_err(StoreError::File)?;
        }
        file.flush().await.map_err(StoreError::File)
    }

    /// The index of `owner`'s media that have not expired, in no particular order.
    pub async fn index(&self, owner: &str) -> Result<Vec<IndexEntry>, StoreError> {
        let now = Utc::now();
        Ok(self
            .index_under(&format!("index/{owner}"))
            .await?
            .into_iter()
            .map(|(_, entry)| entry)
            .filter(|entry| {
                entry
                    .created_at()
                    .is_none_or(|created| !self.is_expired(created, now))
            })
            .collect())
    }

    /// Every index entry under `prefix`, with its path.
    async fn index_under(&self, prefix: &str) -> Result<Vec<(Path, IndexEntry)>, StoreError> {
        let prefix = Path::from(prefix);
        let found: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(found
            .into_iter()
            .filter_map(|meta| {
                let entry = IndexEntry::parse(meta.location.filename()?)?;
                Some((meta.location, entry))
            })
            .collect())
    }

    /// The record of media `id`, of whatever kind, if it exists and has not expired.
    pub async fn record_by_id(&self, id: &str) -> Result<Option<MediaRecord>, StoreError> {
        match MediaKind::of_id(id) {
            Some(kind) => self.record(kind, id).await,
            None => Ok(None),
        }
    }

    /// Removes media past the retention time, at most `budget` of them; any
    /// replica may run it at any time (each step is idempotent).
    pub async fn sweep_expired_media(&self, budget: usize) -> Result<usize, StoreError> {
        if self.media_ttl.is_none() {
            return Ok(0);
        }
        let now = Utc::now();
        let mut removed = 0;
        for (path, entry) in self.index_under("index").await? {
            if removed == budget {
                break;
            }
            let expired = entry
                .created_at()
                .is_some_and(|created| self.is_expired(created, now));
            if !expired {
                continue;
            }
            if let Some(kind) = entry.kind() {
                self.remove(kind, &entry.id).await?;
            }
            delete_if_there(self.store.as_ref(), &path).await?;
            removed += 1;
            tracing::info!(id = %entry.id, "removed expired media");
        }
        Ok(removed)
    }

    /// Removes a media's record, then its bytes (either may be gone already).
    async fn remove(&self, kind: MediaKind, id: &str) -> Result<(), StoreError> {
        delete_if_there(self.store.as_ref(), &record_path(id)).await?;
        delete_if_there(self.store.as_ref(), &media_path(kind, id)).await
    }

    /// On the local store at start: every record has its index entry, and every
    /// entry its record (a crash may have come between the writes).
    async fn reindex(&self) -> Result<(), StoreError> {
        let indexed: std::collections::HashMap<String, Path> = self
            .index_under("index")
            .await?
            .into_iter()
            .map(|(path, entry)| (entry.id, path))
            .collect();
        let records: Vec<_> = self
            .store
            .list(Some(&Path::from("records")))
            .try_collect()
            .await?;
        let mut have_records = std::collections::HashSet::new();
        let mut added = 0;
        for meta in records {
            let bytes = self.store.get(&meta.location).await?.bytes().await?;
            let Ok(record) = serde_json::from_slice::<MediaRecord>(&bytes) else {
                continue;
            };
            if !indexed.contains_key(&record.id) {
                self.store
                    .put(
                        &IndexEntry::of(&record).path(&record.owner),
                        PutPayload::default(),
                    )
                    .await?;
                added += 1;
            }
            have_records.insert(record.id);
        }
        let mut removed = 0;
        for (id, path) in &indexed {
            if !have_records.contains(id) {
                delete_if_there(self.store.as_ref(), path).await?;
                removed += 1;
            }
        }
        if added + removed > 0 {
            tracing::info!(added, removed, "brought the media index up to date");
        }
        Ok(())
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
        let live = record.kind == kind && !self.is_expired(record.created_at, Utc::now());
        Ok(live.then_some(record))
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

    /// Deletes a media: its record first (so it disappears at once), then its
    /// bytes and its index entry.
    pub async fn delete(&self, record: &MediaRecord) -> Result<(), StoreError> {
        self.store.delete(&record_path(&record.id)).await?;
        delete_if_there(self.store.as_ref(), &record.media_path()).await?;
        delete_if_there(
            self.store.as_ref(),
            &IndexEntry::of(record).path(&record.owner),
        )
        .await?;
        tracing::info!(id = %record.id, "deleted media");
        Ok(())
    }
}

/// The part size of streamed uploads to a bucket (S3 parts are at least 5 MiB).
const UPLOAD_PART: usize = 8 * 1024 * 1024;

/// Moves `file` to `dest`, synced first and its directory after, so that a crash
/// leaves the whole file or none; across filesystems, copies it under a staged
/// name (removed at start if left over) and renames that.
async fn move_into(file: &FsPath, dest: &FsPath) -> Result<(), StoreError> {
    let (file, dest) = (file.to_owned(), dest.to_owned());
    let moved = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::File::open(&file)?.sync_all()?;
        match std::fs::rename(&file, &dest) {
            Err(err) if err.kind() == std::io::ErrorKind::CrossesDevices => {
                let staged = PathBuf::from(format!("{}#copy", dest.display()));
                let copied = std::fs::copy(&file, &staged)
                    .and_then(|_| std::fs::File::open(&staged)?.sync_all())
                    .and_then(|()| std::fs::rename(&staged, &dest));
                if copied.is_err() {
                    let _ = std::fs::remove_file(&staged);
                }
                copied?;
                // The scratch directory goes with its job; this is only tidier.
                let _ = std::fs::remove_file(&file);
            }
            other => other?,
        }
        match dest.parent() {
            Some(dir) => std::fs::File::open(dir)?.sync_all(),
            None => Ok(()),
        }
    })
    .await
    .map_err(|err| StoreError::File(std::io::Error::other(err)))?;
    moved.map_err(StoreError::File)
}

/// Deletes `path`; deleting nothing is fine.
async fn delete_if_there(store: &dyn ObjectStore, path: &Path) -> Result<(), StoreError> {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Small JSON documents beside the media: task and idempotency records. Each is one
/// object, written whole and atomically.
impl MediaStore {
    /// On the local store, the lock of the document at `path` (held across a
    /// read-compare-write, so that it acts as S3's conditional PUT does).
    async fn doc_lock(&self, path: &Path) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let Backend::Local { doc_locks, .. } = self.backend.as_ref() else {
            return None;
        };
        let mut hash = Sha256::new();
        hash.update(path.as_ref());
        let stripe = usize::from(hash.finalize()[0]) % doc_locks.len();
        Some(doc_locks[stripe].lock().await)
    }

    /// Writes `doc` at `path`, replacing what is there; answers its new version.
    pub async fn put_doc<T: Serialize>(
        &self,
        path: &str,
        doc: &T,
    ) -> Result<DocVersion, StoreError> {
        let path = Path::from(path);
        let json = serde_json::to_vec(doc)?;
        let _lock = self.doc_lock(&path).await;
        let put = self.store.put(&path, PutPayload::from(json)).await?;
        Ok(DocVersion::of(put.e_tag, put.version))
    }

    /// Writes `doc` at `path` only if nothing is there: its version, or `None`
    /// when something is.
    pub async fn create_doc<T: Serialize>(
        &self,
        path: &str,
        doc: &T,
    ) -> Result<Option<DocVersion>, StoreError> {
        let path = Path::from(path);
        let json = serde_json::to_vec(doc)?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let _lock = self.doc_lock(&path).await;
        match self
            .store
            .put_opts(&path, PutPayload::from(json), options)
            .await
        {
            Ok(put) => Ok(Some(DocVersion::of(put.e_tag, put.version))),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Replaces the document at `path` with `doc` only if it is still at `version`:
    /// the new version, or `None` when another writer changed (or removed) it.
    pub async fn replace_doc<T: Serialize>(
        &self,
        path: &str,
        doc: &T,
        version: &DocVersion,
    ) -> Result<Option<DocVersion>, StoreError> {
        let path = Path::from(path);
        let json = PutPayload::from(serde_json::to_vec(doc)?);
        let put = match self.doc_lock(&path).await {
            // The local store has no conditional update: compare under the lock.
            Some(_lock) => {
                if self.doc_version_at(&path).await?.as_ref() != Some(version) {
                    return Ok(None);
                }
                self.store.put(&path, json).await
            }
            None => {
                let options = PutOptions {
                    mode: PutMode::Update(version.0.clone()),
                    ..PutOptions::default()
                };
                self.store.put_opts(&path, json, options).await
            }
        };
        match put {
            Ok(put) => Ok(Some(DocVersion::of(put.e_tag, put.version))),
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The current version of the document at `path`, if there is one.
    pub async fn doc_version(&self, path: &str) -> Result<Option<DocVersion>, StoreError> {
        self.doc_version_at(&Path::from(path)).await
    }

    async fn doc_version_at(&self, path: &Path) -> Result<Option<DocVersion>, StoreError> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(DocVersion::of(meta.e_tag, meta.version))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The document at `path`, if there is one.
    pub async fn get_doc<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, StoreError> {
        Ok(self.get_doc_versioned(path).await?.map(|found| found.doc))
    }

    /// The document at `path` with its version, if there is one.
    pub async fn get_doc_versioned<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        match self.store.get(&Path::from(path)).await {
            Ok(result) => {
                let meta = result.meta.clone();
                let doc = serde_json::from_slice(&result.bytes().await?)?;
                Ok(Some(Versioned {
                    doc,
                    version: DocVersion::of(meta.e_tag, meta.version),
                }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes the document at `path`; deleting nothing is fine.
    pub async fn delete_doc(&self, path: &str) -> Result<(), StoreError> {
        let path = Path::from(path);
        let _lock = self.doc_lock(&path).await;
        delete_if_there(self.store.as_ref(), &path).await
    }

    /// Writes and removes a probe object: the store is reachable and writable. After
    /// a media write failed for lack of space, the probe is that write's size, so
    /// the store reads full until there is room for it again.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        let needed = self.space_needed.load(Ordering::SeqCst);
        let path = Path::from(format!("health/probe-{:016x}", fastrand::u64(..)));
        let payload = match needed {
            0 => PutPayload::from_static(b"{\"probe\":true}"),
            n => PutPayload::from(vec![
                0u8;
                usize::try_from(n.min(1 << 30)).unwrap_or(1 << 30)
            ]),
        };
        let written = self.store.put(&path, payload).await;
        delete_if_there(self.store.as_ref(), &path).await?;
        written?;
        if needed > 0 {
            self.space_needed.store(0, Ordering::SeqCst);
        }
        Ok(())
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

/// What an operator should fix when the bucket cannot be used.
fn explain_s3_error(err: &StoreError) -> String {
    let StoreError::ObjectStore(err) = err else {
        return err.to_string();
    };
    let unreachable = {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        let mut found = false;
        while let Some(e) = source {
            if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
                found |= matches!(
                    http.kind(),
                    HttpErrorKind::Connect | HttpErrorKind::Timeout | HttpErrorKind::Request
                );
            }
            source = e.source();
        }
        found
    };
    match err {
        object_store::Error::NotFound { .. } => {
            "the bucket does not exist: create it, or check the name and AWS_ENDPOINT_URL"
                .to_owned()
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => format!(
            "the credentials were refused: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION ({err})"
        ),
        _ if unreachable => format!(
            "the endpoint cannot be reached: check AWS_ENDPOINT_URL (and AWS_ALLOW_HTTP for http://) ({err})"
        ),
        _ => format!("the bucket refused a test write: {err}"),
    }
}

/// Removes staged files (`name#n`) of interrupted writes and media whose record
/// was never written. Returns how many files were removed.
fn clean_leftovers(root: &FsPath) -> std::io::Result<usize> {
    let mut removed = 0;
    // Documents and index entries: only staged files can be left over.
    for folder in ["tasks", "idempotency", "index"] {
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
    fn media_records_of_contract_1_1_are_read() {
        let path = format!(
            "{}/tests/fixtures/stored-1.1/media-record.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).expect("fixture");
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
    fn storage_locations_are_directories_or_buckets() {
        assert_eq!(
            StorageLocation::parse("/var/lib/runway").expect("dir"),
            StorageLocation::Local(PathBuf::from("/var/lib/runway"))
        );
        assert_eq!(
            StorageLocation::parse("s3://media-bucket").expect("bucket"),
            StorageLocation::S3 {
                bucket: "media-bucket".to_owned(),
                prefix: None
            }
        );
        let prefixed = StorageLocation::parse("s3://media-bucket/prod/runway/").expect("prefix");
        assert_eq!(prefixed.to_string(), "s3://media-bucket/prod/runway");
        assert!(prefixed.is_shared());
        for bad in [
            "",
            "gs://bucket",
            "s3://",
            "s3://UPPER",
            "s3://a",
            "s3://no_underscore",
        ] {
            assert!(StorageLocation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bucket_errors_say_what_to_fix() {
        let source = || -> Box<dyn std::error::Error + Send + Sync> { "HTTP 403".into() };
        let denied = StoreError::ObjectStore(object_store::Error::PermissionDenied {
            path: "health/probe".to_owned(),
            source: source(),
        });
        assert!(explain_s3_error(&denied).contains("credentials were refused"));
        let missing = StoreError::ObjectStore(object_store::Error::NotFound {
            path: "health/probe".to_owned(),
            source: source(),
        });
        assert!(explain_s3_error(&missing).contains("bucket does not exist"));
    }

    #[tokio::test]
    async fn documents_change_only_from_the_version_they_were_read_at() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MediaStore::open_local(dir.path()).expect("open");
        let first = store
            .create_doc("tasks/o/t.json", &1)
            .await
            .expect("create")
            .expect("created");
        assert!(
            store
                .create_doc("tasks/o/t.json", &9)
                .await
                .expect("create")
                .is_none()
        );
        let second = store
            .replace_doc("tasks/o/t.json", &2, &first)
            .await
            .expect("replace")
            .expect("replaced");
        // A writer still at the first version loses, and changes nothing.
        assert!(
            store
                .replace_doc("tasks/o/t.json", &3, &first)
                .await
                .expect("replace")
                .is_none()
        );
        let read = store
            .get_doc_versioned::<u32>("tasks/o/t.json")
            .await
            .expect("get")
            .expect("there");
        assert_eq!((read.doc, &read.version), (2, &second));
        assert_eq!(
            store.doc_version("tasks/o/t.json").await.expect("head"),
            Some(second.clone())
        );
        store.delete_doc("tasks/o/t.json").await.expect("delete");
        assert!(
            store
                .replace_doc("tasks/o/t.json", &4, &second)
                .await
                .expect("replace")
                .is_none()
        );
    }

    #[tokio::test]
    async fn put_read_delete_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("media");
        let store = MediaStore::open_local(&root).expect("open");
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
        let reopened = MediaStore::open_local(&root).expect("reopen");
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
