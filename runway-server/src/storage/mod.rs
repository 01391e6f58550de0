//! Media storage behind `object_store`: the local filesystem under the data dir by
//! default, or an S3-compatible bucket shared by any number of replicas.
//!
//! Layout: `images/{id}.jpg`, `videos/{id}.mp4`, `audios/{id}.mp3`, and a record per
//! media at `records/{id}.json` (owner, creation time, size, probed properties).
//! Media are written first and their record second, both atomically (object_store
//! stages each write and renames it into place; an S3 PUT is atomic). On the local
//! store, staged leftovers and media without a record (a crash between the two
//! writes) are removed at start.
//!
//! Which media exist (a media exists once its row is in the media index), tasks
//! and idempotency keys are the database's ([`db`]); the records beside the
//! media, and the documents servers before the database kept there, are read
//! only to import them.

use std::path::{Path as FsPath, PathBuf};

use crate::domain::media::{MEDIA_FORMAT, MediaKind, MediaRecord, Probed};
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
    BackoffConfig, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;

mod blobs;
pub mod db;
mod documents;
mod error;
mod location;
mod probe;
mod records;
mod recovery;

pub use error::StoreError;
pub use location::StorageLocation;
use recovery::clean_leftovers;

/// Where a media's bytes are in the store.
fn media_path_of(record: &MediaRecord) -> Path {
    media_path(record.kind, &record.id)
}

fn media_path(kind: MediaKind, id: &str) -> Path {
    Path::from(format!("{}/{id}.{}", kind.folder(), kind.extension()))
}

fn record_path(id: &str) -> Path {
    Path::from(format!("records/{id}.json"))
}

/// Deletes `path`; deleting nothing is fine.
async fn delete_if_there(store: &dyn ObjectStore, path: &Path) -> Result<(), StoreError> {
    match store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// How the backend changes documents conditionally.
#[derive(Debug)]
enum Backend {
    /// The local filesystem: no conditional update, so one lock per document
    /// stripe serializes every document write of this (the only) server.
    Local { root: PathBuf },
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

impl MediaStore {
    /// A new media id with the kind's prefix: 128 random bits from the OS,
    /// unguessable.
    pub fn new_id(kind: MediaKind) -> Result<String, StoreError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Random(e.to_string()))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("{}_{hex}", kind.id_prefix()))
    }

    /// Opens the store at `location`: a local directory (created, leftovers of
    /// interrupted writes removed) or an S3 bucket (configured from the standard
    /// `AWS_*` environment variables, and checked: it must exist and take writes).
    pub async fn open(location: &StorageLocation) -> Result<Self, StoreError> {
        match location {
            StorageLocation::Local(dir) => Self::open_local(dir),
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
            backend: Arc::new(Backend::Local { root: root.clone() }),
            location: Arc::new(StorageLocation::Local(root)),
            media_ttl: None,
            space_needed: Arc::default(),
        })
    }

    /// Keeps media for `ttl` only: older ones read as gone (a sweep of the
    /// services removes them).
    pub fn with_media_ttl(mut self, ttl: Option<chrono::Duration>) -> Self {
        self.media_ttl = ttl;
        self
    }

    /// When `record` expires, if media expire.
    pub fn expires_at(&self, record: &MediaRecord) -> Option<DateTime<Utc>> {
        self.media_ttl.map(|ttl| record.created_at + ttl)
    }

    /// Media stored before this time have expired (none when media are kept).
    pub fn expired_before(&self) -> Option<DateTime<Utc>> {
        self.media_ttl.map(|ttl| Utc::now() - ttl)
    }

    /// Where the store is, for people: a directory or an `s3://` URL.
    pub fn location(&self) -> &StorageLocation {
        &self.location
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
}
