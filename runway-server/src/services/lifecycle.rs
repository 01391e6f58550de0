//! Media with a lifecycle: a caller's listing and usage, the storage quota, and
//! retention, over the database's media index.
//!
//! - **Index**: each stored media has a row (owner, kind, size, creation time, its
//!   record), so a listing page is one indexed query and reads nothing else.
//! - **Usage**: counters per owner, changed in the same transaction as the rows:
//!   one row read, whatever the owner keeps.
//! - **Quota** (`--quota-bytes`, per account): a quick check of the counters when
//!   a job starts (an owner at or over it starts nothing), and the exact one when
//!   the output is added to the index: the counters change only while the total
//!   stays within the quota, so concurrent requests on any number of replicas
//!   cannot pass it together. Bytes refused so are removed again.
//! - **Retention** (`--media-ttl-secs`): an expired media reads as gone at once
//!   (the store checks its age, listings leave it out); a sweep removes a bounded
//!   number per pass, reading only expired rows. Usage leaves expired media out
//!   (a range of the owner's index, short since the sweep removes them); the
//!   atomic quota check counts them until the sweep has removed them (a pass runs
//!   every minute, or as often as the TTL with a short one).

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::domain::Owner;
use crate::domain::media::{MediaKind, MediaRecord, is_valid_id};
use crate::domain::{Error, Result};
use crate::services::App;
use crate::services::background::Sweep;
use crate::storage::db::{Added, MediaCursor, MediaQuery};

/// What a page of media is filtered by.
#[derive(Debug, Default)]
pub(crate) struct MediaFilter {
    /// Only this kind.
    pub(crate) kind: Option<MediaKind>,
    /// Only media stored at or after this time.
    pub(crate) created_after: Option<DateTime<Utc>>,
    /// Only media stored before this time.
    pub(crate) created_before: Option<DateTime<Utc>>,
}

/// An owner's storage use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// How many media they keep.
    pub(crate) media_count: u64,
    /// How many bytes those take.
    pub(crate) used_bytes: u64,
    /// Their quota, when there is one.
    pub(crate) quota_bytes: Option<u64>,
}

/// A page of media, newest first.
#[derive(Debug)]
pub(crate) struct MediaPage {
    /// The media's records.
    pub(crate) media: Vec<MediaRecord>,
    /// Where the next page starts, when there is one.
    pub(crate) next_cursor: Option<String>,
}

impl App {
    /// `owner`'s storage use: how many media, how many bytes.
    pub(crate) async fn usage(&self, owner: &Owner) -> Result<Usage> {
        let counters = self.live_counters(owner).await?;
        Ok(Usage {
            media_count: counters.media_count,
            used_bytes: counters.used_bytes,
            quota_bytes: self.config.quota_bytes,
        })
    }

    /// Refuses (403 `quota_exceeded`) when storing `adding` more bytes (at least one)
    /// would take `owner` past the quota. The exact check is [`Self::keep_media`]'s.
    pub(crate) async fn check_quota(&self, owner: &Owner, adding: u64) -> Result<()> {
        let Some(quota) = self.config.quota_bytes else {
            return Ok(());
        };
        let used = self.live_counters(owner).await?.used_bytes;
        if used.saturating_add(adding.max(1)) > quota {
            return Err(Error::quota_exceeded(used, quota));
        }
        Ok(())
    }

    /// The record of stored media `id` of `kind`, from the database's index: a
    /// media exists once it is there (its bytes are stored first), and reads as
    /// gone once it has expired.
    pub(crate) async fn stored_media(
        &self,
        kind: MediaKind,
        id: &str,
    ) -> Result<Option<MediaRecord>> {
        if !is_valid_id(id) {
            return Ok(None);
        }
        let expired_before = self.store.expired_before();
        let record = self.db.media_record(id).await?;
        Ok(record.filter(|record| {
            record.kind == kind && expired_before.is_none_or(|before| record.created_at >= before)
        }))
    }

    /// `owner`'s counters, without expired media the sweep has not removed yet.
    async fn live_counters(&self, owner: &Owner) -> Result<crate::storage::db::Counters> {
        let expired_before = self.store.expired_before().map(|t| t.timestamp_millis());
        Ok(self.db.live_counters(&owner.0, expired_before).await?)
    }

    /// Adds stored media to its owner's index within the quota; over it, removes
    /// the media again and answers 403 `quota_exceeded`.
    pub(crate) async fn keep_media(&self, record: MediaRecord) -> Result<MediaRecord> {
        let added = match self.db.add_media(&record, self.config.quota_bytes).await {
            Ok(added) => added,
            Err(err) => {
                self.forget_stored(&record).await;
                return Err(err.into());
            }
        };
        match (added, self.config.quota_bytes) {
            (Added::OverQuota(used), Some(quota)) => {
                self.forget_stored(&record).await;
                Err(Error::quota_exceeded(used, quota))
            }
            _ => Ok(record),
        }
    }

    /// Removes media that were stored but not kept.
    async fn forget_stored(&self, record: &MediaRecord) {
        if let Err(err) = self.store.delete(record).await {
            tracing::warn!(id = %record.id, error = %err, "could not remove media that were not kept");
        }
    }

    /// A page of `owner`'s media, newest first, after `cursor`.
    pub(crate) async fn list_media(
        &self,
        owner: &Owner,
        filter: &MediaFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<MediaPage> {
        let expired_before = self.store.expired_before().map(|t| t.timestamp_millis());
        let from = filter.created_after.map(|t| t.timestamp_millis());
        let query = MediaQuery {
            kind: filter.kind,
            from_ms: match (from, expired_before) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
            until_ms: filter.created_before.map(|t| t.timestamp_millis()),
        };
        let cursor = cursor.and_then(MediaCursor::parse);
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let mut media = self
            .db
            .media_page(&owner.0, &query, cursor.as_ref(), limit.saturating_add(1))
            .await?;
        let next_cursor = if media.len() > limit as usize {
            media.truncate(limit as usize);
            media
                .last()
                .map(|last| MediaCursor::after(last).to_string())
        } else {
            None
        };
        Ok(MediaPage { media, next_cursor })
    }
}

impl App {
    /// Deletes the stored media at `url` for `owner`, who must also give a key of
    /// their account as `auth_token`: 403 otherwise, 409 while another request
    /// deletes it.
    pub(crate) async fn delete_media(
        &self,
        owner: &Owner,
        url: &str,
        auth_token: &str,
    ) -> Result<()> {
        let record = self.stored_record(url, "media_url").await?;
        let token_owner = self.keys.owner(auth_token).await?;
        if record.owner != owner.0 || token_owner.as_ref() != Some(owner) {
            return Err(Error::forbidden(
                "only the owner of this media may delete it: send a key of the owner's account as the bearer key and as auth_token",
            )
            .with_param("auth_token"));
        }
        self.remove_media(record).await
    }

    /// Deletes the stored media at `url` of `owner` (signed in to the cabinet):
    /// 404 when it is not theirs.
    pub(crate) async fn delete_own_media(&self, owner: &Owner, url: &str) -> Result<()> {
        let record = self.stored_record(url, "media_url").await?;
        if record.owner != owner.0 {
            return Err(Error::media_not_found("media_url"));
        }
        self.remove_media(record).await
    }

    /// Removes a media: its row, then its bytes; 409 while another request does.
    async fn remove_media(&self, record: MediaRecord) -> Result<()> {
        let Some(_deleting) = InFlight::enter(&self.deleting, &record.id) else {
            return Err(
                Error::conflict("this media is being deleted by another request")
                    .with_param("media_url"),
            );
        };
        // Out of the index first (listings and usage at once), then the bytes: a
        // retry after a failure in between finds the record and finishes.
        self.db.remove_media(&record.id).await?;
        Ok(self.store.delete(&record).await?)
    }
}

/// An id in a set of ids being worked on, taken out again when dropped: when the
/// work ends, fails, or panics.
struct InFlight<'a> {
    set: &'a Mutex<HashSet<String>>,
    id: String,
}

impl<'a> InFlight<'a> {
    /// Puts `id` in `set`; `None` when it is there already.
    fn enter(set: &'a Mutex<HashSet<String>>, id: &str) -> Option<Self> {
        let mut ids = set.lock().unwrap_or_else(PoisonError::into_inner);
        ids.insert(id.to_owned()).then(|| Self {
            set,
            id: id.to_owned(),
        })
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut ids = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        ids.remove(&self.id);
    }
}

/// Whether `cursor` has the shape of a cursor this server gives.
pub(crate) fn is_valid_cursor(cursor: &str) -> bool {
    cursor.split_once('.').is_some_and(|(created, id)| {
        created.len() == 12
            && created
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && crate::domain::media::is_valid_id(id)
    })
}

/// Media past `--media-ttl-secs`.
pub(crate) struct ExpiredMedia;

impl Sweep for ExpiredMedia {
    const REMOVES: &'static str = "expired media";
    async fn pass(app: &App, budget: usize) -> Result<usize> {
        let Some(before) = app.store.expired_before() else {
            return Ok(0);
        };
        let budget = u32::try_from(budget).unwrap_or(u32::MAX);
        let expired = app
            .db
            .media_older_than(before.timestamp_millis(), budget)
            .await?;
        for record in &expired {
            // Any replica may run this at any time: each step is idempotent.
            app.store.remove(record.kind, &record.id).await?;
            app.db.remove_media(&record.id).await?;
            tracing::info!(id = %record.id, "removed expired media");
        }
        Ok(expired.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_leaves_the_set_however_its_work_ends() {
        let set = Mutex::new(HashSet::new());
        let first = InFlight::enter(&set, "img_1").expect("entered");
        assert!(InFlight::enter(&set, "img_1").is_none(), "in flight");
        drop(first);
        let panicked = std::panic::catch_unwind(|| {
            let _held = InFlight::enter(&set, "img_1").expect("entered again");
            panic!("a delete that panics");
        });
        assert!(panicked.is_err());
        assert!(
            InFlight::enter(&set, "img_1").is_some(),
            "freed by the panic"
        );
    }

    #[test]
    fn cursors_are_checked() {
        assert!(is_valid_cursor("0193a1b2c3d4.img_00ff"));
        assert!(!is_valid_cursor("0193a1b2c3d4"));
        assert!(!is_valid_cursor("0193A1B2C3D4.img_00ff"));
        assert!(!is_valid_cursor("93a1b2c3d4.img_00ff"));
        assert!(!is_valid_cursor("0193a1b2c3d4.../x"));
    }

    proptest::proptest! {
        /// Any text is a cursor or not, without a panic; every cursor a page
        /// gives is one, and reads back as itself.
        #[test]
        fn cursors_parse_without_panicking(text in proptest::prelude::any::<String>(), ms in 0i64..(1 << 48), id in "[a-z]{3}_[0-9a-f]{1,32}") {
            let _ = is_valid_cursor(&text);
            let _ = MediaCursor::parse(&text);
            let cursor = MediaCursor { created_ms: ms, id };
            proptest::prop_assert!(is_valid_cursor(&cursor.to_string()));
            proptest::prop_assert_eq!(MediaCursor::parse(&cursor.to_string()), Some(cursor));
        }
    }
}
