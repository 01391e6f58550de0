//! The readiness probe of the store.

use super::*;

impl MediaStore {
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
}
