//! Media records: a media exists once its record does. Which media an owner has
//! (listings, usage, retention) is the database's index, not the store's.

use super::*;

impl MediaStore {
    /// A new record for media of `kind`, `size_bytes` long, for `owner`: of id
    /// `id`, or a new one.
    pub(super) fn new_record(
        kind: MediaKind,
        owner: &str,
        size_bytes: u64,
        probed: Probed,
        id: Option<&str>,
    ) -> Result<MediaRecord, StoreError> {
        let id = match id {
            Some(id) => id.to_owned(),
            None => Self::new_id(kind)?,
        };
        Ok(MediaRecord {
            format: MEDIA_FORMAT,
            id,
            kind,
            owner: owner.to_owned(),
            created_at: Utc::now().trunc_subsecs(3),
            size_bytes,
            probed,
        })
    }

    /// Writes the record of media whose bytes are stored; on a failure, removes
    /// the bytes.
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
        self.space_needed.store(0, Ordering::SeqCst);
        tracing::info!(id = %record.id, kind = ?record.kind, size = record.size_bytes, "stored media");
        Ok(record)
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

    /// Every media record in the store (to import into the database once).
    pub async fn all_records(&self) -> Result<Vec<MediaRecord>, StoreError> {
        let listed: Vec<_> = self
            .store
            .list(Some(&Path::from("records")))
            .try_collect()
            .await?;
        let mut records = Vec::with_capacity(listed.len());
        for meta in listed {
            let bytes = match self.store.get(&meta.location).await {
                Ok(got) => got.bytes().await?,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            match serde_json::from_slice::<MediaRecord>(&bytes) {
                Ok(record) => records.push(record),
                Err(err) => {
                    tracing::warn!(path = %meta.location, error = %err, "an unreadable media record is left out");
                }
            }
        }
        Ok(records)
    }

    /// Removes a media's record, then its bytes (either may be gone already).
    pub async fn remove(&self, kind: MediaKind, id: &str) -> Result<(), StoreError> {
        delete_if_there(self.store.as_ref(), &record_path(id)).await?;
        delete_if_there(self.store.as_ref(), &media_path(kind, id)).await
    }

    /// Deletes a media: its record first (so it disappears at once), then its
    /// bytes.
    pub async fn delete(&self, record: &MediaRecord) -> Result<(), StoreError> {
        self.store.delete(&record_path(&record.id)).await?;
        delete_if_there(self.store.as_ref(), &media_path_of(record)).await?;
        tracing::info!(id = %record.id, "deleted media");
        Ok(())
    }

    /// Deletes whatever is stored as media `id` of `kind` (record and bytes),
    /// if anything: what a task attempt stored but never kept.
    pub async fn delete_stored(&self, kind: MediaKind, id: &str) -> Result<(), StoreError> {
        delete_if_there(self.store.as_ref(), &record_path(id)).await?;
        delete_if_there(self.store.as_ref(), &media_path(kind, id)).await
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
                None,
            )
            .await
            .expect("put");
        assert_eq!(&store.read(&record).await.expect("read")[..], b"jpeg");

        // A reopened store sees the same media, and cleans leftovers.
        std::fs::write(dir.path().join("media/images/img_x.jpg#1"), b"partial").expect("write");
        std::fs::write(dir.path().join("media/images/img_orphan.jpg"), b"no record")
            .expect("write");
        let reopened = MediaStore::open_local(&root).expect("reopen");
        let found = reopened.all_records().await.expect("records");
        assert_eq!(found, std::slice::from_ref(&record));
        assert!(!dir.path().join("media/images/img_x.jpg#1").exists());
        assert!(!dir.path().join("media/images/img_orphan.jpg").exists());

        reopened.delete(&record).await.expect("delete");
        assert!(reopened.all_records().await.expect("records").is_empty());
        assert!(
            !dir.path()
                .join("media/images")
                .join(record.file_name())
                .exists()
        );
    }
}
