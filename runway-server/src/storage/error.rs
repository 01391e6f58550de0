//! Errors of the storage layer, and how they become domain errors.

use std::path::PathBuf;

/// Errors of the storage layer.
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

impl From<StoreError> for crate::domain::Error {
    /// A full disk is a state (507, retried later); any other store failure a 500.
    fn from(err: StoreError) -> Self {
        let mut converted = if err.is_storage_full() {
            crate::domain::Error::storage_full()
        } else {
            crate::domain::Error::internal(&err)
        };
        converted.detail = Some(err.to_string());
        converted
    }
}
