//! Media records and their owners' index: a media exists once its record does;
//! the index (names only) serves listings, usage and retention.

use super::*;

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
    pub(super) fn of(record: &MediaRecord) -> Self {
        Self {
            created_ms: record.created_at.timestamp_millis(),
            id: record.id.clone(),
            size_bytes: record.size_bytes,
        }
    }

    pub(super) fn path(&self, owner: &str) -> Path {
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

impl MediaStore {
    /// A new record for media of `kind`, `size_bytes` long, for `owner`.
    pub(super) fn new_record(
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

    /// Writes the record and the index entry of media whose bytes are stored; on a
    /// failure, removes what it wrote (and the bytes).
    pub(super) async fn commit(&self, record: MediaRecord) -> Result<MediaRecord, StoreError> {
        let json = serde_json::to_vec(&record)?;
        let needed = record.size_bytes + json.len() as u64;
        if let Err(err) = self
            .store
            .put(&record_path(&record.id), PutPayload::from(json))
            .await
        {
            let _ = self.store.delete(&media_path_of(&record)).await;
            return Err(self.note_failure(err, needed));
        }
        let index = IndexEntry::of(&record).path(&record.owner);
        if let Err(err) = self.store.put(&index, PutPayload::default()).await {
            let _ = self.store.delete(&record_path(&record.id)).await;
            let _ = self.store.delete(&media_path_of(&record)).await;
            return Err(self.note_failure(err, needed));
        }
        self.space_needed.store(0, Ordering::SeqCst);
        tracing::info!(id = %record.id, kind = ?record.kind, size = record.size_bytes, "stored media");
        Ok(record)
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

    /// The owners this store has media or tasks of: before accounts, an owner
    /// was the SHA-256 of the key that made them (the folder names under
    /// `index/` and `tasks/`).
    pub async fn owners(&self) -> Result<Vec<String>, StoreError> {
        let mut owners = std::collections::BTreeSet::new();
        for top in ["index", "tasks"] {
            let listed = self
                .store
                .list_with_delimiter(Some(&Path::from(top)))
                .await?;
            owners.extend(
                listed
                    .common_prefixes
                    .iter()
                    .filter_map(|prefix| prefix.filename().map(str::to_owned)),
            );
        }
        Ok(owners.into_iter().collect())
    }

    /// Every index entry under `prefix`, with its path.
    pub(super) async fn index_under(
        &self,
        prefix: &str,
    ) -> Result<Vec<(Path, IndexEntry)>, StoreError> {
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
    pub(super) async fn remove(&self, kind: MediaKind, id: &str) -> Result<(), StoreError> {
        delete_if_there(self.store.as_ref(), &record_path(id)).await?;
        delete_if_there(self.store.as_ref(), &media_path(kind, id)).await
    }

    /// On the local store at start: every record has its index entry, and every
    /// entry its record (a crash may have come between the writes).
    pub(super) async fn reindex(&self) -> Result<(), StoreError> {
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

    /// Deletes a media: its record first (so it disappears at once), then its
    /// bytes and its index entry.
    pub async fn delete(&self, record: &MediaRecord) -> Result<(), StoreError> {
        self.store.delete(&record_path(&record.id)).await?;
        delete_if_there(self.store.as_ref(), &media_path_of(record)).await?;
        delete_if_there(
            self.store.as_ref(),
            &IndexEntry::of(record).path(&record.owner),
        )
        .await?;
        tracing::info!(id = %record.id, "deleted media");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    pub(super) async fn put_read_delete_and_reopen() {
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
