//! Scratch directories under `<data-dir>/work`: one per job or upload, removed
//! with everything in it when dropped (the directory is emptied at start too).

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::error::{ApiError, ApiResult};

/// A scratch directory, removed when dropped.
#[derive(Debug)]
pub(crate) struct Scratch(TempDir);

impl Scratch {
    /// A new directory under `work_dir`.
    pub(crate) fn new(work_dir: &Path) -> ApiResult<Self> {
        tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(work_dir)
            .map(Scratch)
            .map_err(ApiError::io)
    }

    /// Whether the scratch disk is full: a small write fails for lack of space.
    pub(crate) async fn is_full(&self) -> bool {
        let probe = tokio::fs::write(self.path("space-probe"), vec![0u8; 64 * 1024]).await;
        probe.is_err_and(|err| matches!(ApiError::io(err).code, "storage_full"))
    }

    /// The path of file `name` in the directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `bytes` to file `name`; its path.
    pub(crate) async fn write(&self, name: &str, bytes: &[u8]) -> ApiResult<PathBuf> {
        let path = self.path(name);
        tokio::fs::write(&path, bytes).await.map_err(ApiError::io)?;
        Ok(path)
    }
}
