//! Scratch space under `<data-dir>/work`: one directory per job or upload,
//! removed with everything in it when dropped (the work directory is emptied at
//! start too).
//!
//! A write there that fails for lack of space is remembered with its size, and
//! readiness writes a probe that large until it fits ([`WorkDir::check_room`]),
//! as the store does for its own writes: a full scratch disk is a state the
//! server reports and leaves by itself.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tempfile::TempDir;

use crate::domain::{Error, ErrorCode, Result};

/// The largest readiness probe (a failed write of gigabytes is probed with this).
const MAX_PROBE: u64 = 64 * 1024 * 1024;

/// The work directory that holds the scratch directories.
#[derive(Debug)]
pub(crate) struct WorkDir {
    path: PathBuf,
    /// After a write failed for lack of space: its size (0: none since the last
    /// probe that fitted).
    needed: AtomicU64,
}

impl WorkDir {
    /// The work directory at `path` (which exists).
    pub(crate) fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            needed: AtomicU64::new(0),
        })
    }

    /// A new scratch directory.
    pub(crate) fn scratch(self: &Arc<Self>) -> Result<Scratch> {
        let dir = tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(&self.path)
            .map_err(|err| self.io_error(err, 4096))?;
        Ok(Scratch {
            dir,
            work: self.clone(),
        })
    }

    /// An I/O error of a scratch write of `needed` bytes: 507 (remembered for
    /// readiness) when the disk is full, else 500.
    pub(crate) fn io_error(&self, err: std::io::Error, needed: u64) -> Error {
        let err = Error::io(err);
        if err.code == ErrorCode::StorageFull {
            self.needed.fetch_max(needed.max(1), Ordering::SeqCst);
        }
        err
    }

    /// After a write failed for lack of space, whether one of its size (at most
    /// 64 MiB) fits now: the error while it does not.
    pub(crate) async fn check_room(&self) -> std::io::Result<()> {
        let needed = self.needed.load(Ordering::SeqCst);
        if needed == 0 {
            return Ok(());
        }
        let probe = self
            .path
            .join(format!("space-probe-{:016x}", fastrand::u64(..)));
        let size = usize::try_from(needed.min(MAX_PROBE)).unwrap_or(usize::MAX);
        let written = tokio::fs::write(&probe, vec![0u8; size]).await;
        let _ = tokio::fs::remove_file(&probe).await;
        written?;
        self.needed.store(0, Ordering::SeqCst);
        Ok(())
    }
}

/// A scratch directory, removed when dropped.
#[derive(Debug)]
pub(crate) struct Scratch {
    dir: TempDir,
    work: Arc<WorkDir>,
}

impl Scratch {
    /// Whether the scratch disk is full: a small write fails for lack of space
    /// (remembered for readiness).
    pub(crate) async fn is_full(&self) -> bool {
        let size = 64 * 1024;
        let probe = tokio::fs::write(self.path("space-probe"), vec![0u8; size]).await;
        probe.is_err_and(|err| self.io_error(err, size as u64).code == ErrorCode::StorageFull)
    }

    /// The path of file `name` in the directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Creates file `name`; its path and the file.
    pub(crate) async fn create(&self, name: &str) -> Result<(PathBuf, tokio::fs::File)> {
        let path = self.path(name);
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|err| self.io_error(err, 4096))?;
        Ok((path, file))
    }

    /// Writes `bytes` to file `name`; its path.
    pub(crate) async fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path(name);
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|err| self.io_error(err, bytes.len() as u64))?;
        Ok(path)
    }

    /// An I/O error of a write of `needed` bytes here (see [`WorkDir::io_error`]).
    pub(crate) fn io_error(&self, err: std::io::Error, needed: u64) -> Error {
        self.work.io_error(err, needed)
    }
}
