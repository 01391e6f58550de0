//! Small JSON documents beside the media (task and idempotency records), each
//! written whole and atomically, changed by compare-and-swap on its version:
//! S3's conditional PUT, emulated on the local store (one server owns it) with
//! a lock per document stripe.

use super::*;

/// The version a document was read or written at, for [`MediaStore::replace_doc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocVersion(UpdateVersion);

impl DocVersion {
    pub(super) fn of(e_tag: Option<String>, version: Option<String>) -> Self {
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

impl MediaStore {
    /// On the local store, the lock of the document at `path` (held across a
    /// read-compare-write, so that it acts as S3's conditional PUT does).
    pub(super) async fn doc_lock(&self, path: &Path) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let Backend::Local { doc_locks, .. } = self.backend.as_ref() else {
            return None;
        };
        let mut hash = Sha256::new();
        hash.update(path.as_ref());
        let stripe = usize::from(hash.finalize()[0]) % doc_locks.len();
        Some(doc_locks[stripe].lock().await)
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

    pub(super) async fn doc_version_at(
        &self,
        path: &Path,
    ) -> Result<Option<DocVersion>, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    pub(super) async fn documents_change_only_from_the_version_they_were_read_at() {
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
        store.delete_doc("tasks/o/t.json").await.expect("delete");
        assert!(
            store
                .replace_doc("tasks/o/t.json", &4, &second)
                .await
                .expect("replace")
                .is_none()
        );
    }
}
