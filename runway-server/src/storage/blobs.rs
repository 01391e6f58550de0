//! Media bytes: written atomically (a synced move into the local store, or one
//! PUT or a streamed multipart upload to the bucket), read whole, by range or
//! as a stream.

use super::*;

impl MediaStore {
    /// Stores `bytes` as a media of `kind` for `owner` and returns its record:
    /// a new media, or the one of id `id` (replaced when it is there).
    pub async fn put(
        &self,
        kind: MediaKind,
        owner: &str,
        bytes: Bytes,
        probed: Probed,
        id: Option<&str>,
    ) -> Result<MediaRecord, StoreError> {
        let record = Self::new_record(kind, owner, bytes.len() as u64, probed, id)?;
        self.store
            .put(&media_path_of(&record), PutPayload::from_bytes(bytes))
            .await
            .map_err(|err| self.note_failure(err, record.size_bytes))?;
        self.commit(record).await
    }

    /// Stores the file at `file` (which it takes: moved into the local store, or
    /// streamed into the bucket and removed) as a media of `kind` for `owner` (a
    /// new one, or `id`, as [`Self::put`]), and returns its record. Memory does
    /// not grow with the file's size.
    pub async fn put_file(
        &self,
        kind: MediaKind,
        owner: &str,
        file: &FsPath,
        probed: Probed,
        id: Option<&str>,
    ) -> Result<MediaRecord, StoreError> {
        let size = tokio::fs::metadata(file)
            .await
            .map_err(StoreError::File)?
            .len();
        let record = Self::new_record(kind, owner, size, probed, id)?;
        let written = match self.backend.as_ref() {
            Backend::Local { root, .. } => {
                move_into(file, &root.join(media_path_of(&record).as_ref())).await
            }
            Backend::S3 { .. } => self.upload_file(file, &media_path_of(&record)).await,
        };
        written.map_err(|err| self.note_failure(err, size))?;
        self.commit(record).await
    }

    /// Streams `file` into the bucket at `path`, in parts. The upload runs in a
    /// task of its own, so that it finishes (or is aborted, parts and all) even if
    /// the request that started it goes away.
    pub(super) async fn upload_file(&self, file: &FsPath, path: &Path) -> Result<(), StoreError> {
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

    /// The path of a stored media's file when the store is a local directory (so
    /// ffmpeg reads it where it is); `None` for a bucket.
    pub fn local_path(&self, record: &MediaRecord) -> Option<PathBuf> {
        match self.backend.as_ref() {
            Backend::Local { root, .. } => Some(root.join(media_path_of(record).as_ref())),
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

    /// The whole content of a stored media.
    pub async fn read(&self, record: &MediaRecord) -> Result<Bytes, StoreError> {
        Ok(self
            .store
            .get(&media_path_of(record))
            .await?
            .bytes()
            .await?)
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
        Ok(self.store.get_range(&media_path_of(record), range).await?)
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
            .get_opts(&media_path_of(record), options)
            .await?
            .into_stream())
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
