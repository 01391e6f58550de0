//! JSON documents that servers before the database kept beside the media (task
//! and idempotency records, under `tasks/` and `idempotency/`): read once, at the
//! first start on the database, to import them. Nothing writes them any more.

use super::*;

impl MediaStore {
    /// The document at `path`, if there is one.
    pub async fn get_doc<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, StoreError> {
        match self.store.get(&Path::from(path)).await {
            Ok(result) => Ok(Some(serde_json::from_slice(&result.bytes().await?)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
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
    async fn documents_are_listed_and_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tasks/o")).expect("mkdir");
        std::fs::write(dir.path().join("tasks/o/t.json"), "7").expect("write");
        let store = MediaStore::open_local(dir.path()).expect("open");
        let paths = store.list_docs("tasks").await.expect("listed");
        assert_eq!(paths, ["tasks/o/t.json"]);
        assert_eq!(
            store.get_doc::<u32>("tasks/o/t.json").await.expect("read"),
            Some(7)
        );
        assert_eq!(
            store
                .get_doc::<u32>("tasks/o/none.json")
                .await
                .expect("read"),
            None
        );
    }
}
