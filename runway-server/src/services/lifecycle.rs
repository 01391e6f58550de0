//! Media with a lifecycle: a caller's listing and usage, the storage quota, and
//! retention.
//!
//! - **Index**: each media has an entry in its owner's index in the store
//!   ([`crate::storage::IndexEntry`]: creation time, id, size in the name), so a
//!   listing or a usage figure is one `LIST`, and a page reads only its records.
//! - **Quota** (`--quota-bytes`, per key): checked when a job starts (a key at or
//!   over its quota starts nothing) and when its output is stored (the exact size);
//!   403 `quota_exceeded` names the use and the limit. With several replicas two
//!   jobs racing past the same limit may both be stored: the quota is enforced to
//!   within the jobs running at once.
//! - **Retention** (`--media-ttl-secs`): an expired media reads as gone at once
//!   (the store checks its age); a sweep removes a bounded number per pass.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use crate::domain::Owner;
use crate::domain::media::{MediaKind, MediaRecord};
use crate::domain::{Error, Result};
use crate::services::App;
use crate::services::background::Sweep;
use crate::storage::IndexEntry;

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

impl MediaFilter {
    fn admits(&self, entry: &IndexEntry) -> bool {
        let Some(created) = entry.created_at() else {
            return false;
        };
        self.kind.is_none_or(|kind| entry.kind() == Some(kind))
            && self.created_after.is_none_or(|after| created >= after)
            && self.created_before.is_none_or(|before| created < before)
    }
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
        let index = self.store.index(&owner.0).await?;
        Ok(Usage {
            media_count: index.len() as u64,
            used_bytes: index.iter().map(|e| e.size_bytes).sum::<u64>(),
            quota_bytes: self.config.quota_bytes,
        })
    }

    /// Refuses (403 `quota_exceeded`) when storing `adding` more bytes (at least one)
    /// would take `owner` past the quota.
    pub(crate) async fn check_quota(&self, owner: &Owner, adding: u64) -> Result<()> {
        let Some(quota) = self.config.quota_bytes else {
            return Ok(());
        };
        let used: u64 = self
            .store
            .index(&owner.0)
            .await?
            .iter()
            .map(|e| e.size_bytes)
            .sum();
        if used.saturating_add(adding.max(1)) > quota {
            return Err(Error::quota_exceeded(used, quota));
        }
        Ok(())
    }

    /// A page of `owner`'s media, newest first, after `cursor`.
    pub(crate) async fn list_media(
        &self,
        owner: &Owner,
        filter: &MediaFilter,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<MediaPage> {
        let mut entries: Vec<IndexEntry> = self
            .store
            .index(&owner.0)
            .await?
            .into_iter()
            .filter(|entry| filter.admits(entry))
            .filter(|entry| cursor.is_none_or(|cursor| entry.cursor().as_str() < cursor))
            .collect();
        entries.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.cursor()));
        let mut data = Vec::with_capacity(limit.min(entries.len()));
        let mut next_cursor = None;
        for entry in entries {
            let Some(record) = self.store.record_by_id(&entry.id).await? else {
                continue; // deleted or expired since it was listed
            };
            if data.len() == limit {
                // There is at least one more: the page ends at its last media.
                next_cursor = data.last().map(|(cursor, _)| String::clone(cursor));
                break;
            }
            data.push((entry.cursor(), record));
        }
        Ok(MediaPage {
            media: data.into_iter().map(|(_, record)| record).collect(),
            next_cursor,
        })
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
        let Some(_deleting) = InFlight::enter(&self.deleting, &record.id) else {
            return Err(
                Error::conflict("this media is being deleted by another request")
                    .with_param("media_url"),
            );
        };
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
        Ok(app.store.sweep_expired_media(budget).await?)
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
        /// Any text is a cursor or not, without a panic; every cursor an index
        /// entry gives is one.
        #[test]
        fn cursors_parse_without_panicking(text in proptest::prelude::any::<String>(), ms in 0i64..(1 << 48), id in "[a-z]{3}_[0-9a-f]{1,32}") {
            let _ = is_valid_cursor(&text);
            let _ = IndexEntry::parse(&text);
            let entry = IndexEntry { created_ms: ms, id, size_bytes: 1 };
            proptest::prop_assert!(is_valid_cursor(&entry.cursor()));
        }
    }
}
