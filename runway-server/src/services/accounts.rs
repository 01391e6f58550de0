//! Accounts and their API keys: made, listed and revoked by `runway-server keys`
//! and `runway-server accounts` (and by the server at start for `--api-key`).
//!
//! An account owns media, tasks and a quota; a key only names its account, so a
//! key can be rotated or revoked and the account keeps its media. A key is
//! `rwk_` and 32 hex digits, stored as its SHA-256 digest.

use crate::domain::{Error, ErrorCode, Result};
use crate::services::auth::{digest_of, generate_key};
use crate::storage::MediaStore;
use crate::storage::db::{Account, ApiKeyInfo, Database, DbError};

/// The name of the account made for the first key of a new data directory.
pub const DEFAULT_ACCOUNT: &str = "default";

/// How many characters of a key are kept to tell it apart (`rwk_` and 8).
const PREFIX_CHARS: usize = 12;

/// A key just made: the key itself (shown once) and what is stored of it.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The key, to give to the client; never stored.
    pub key: String,
    /// What the server keeps of it.
    pub info: ApiKeyInfo,
}

/// The accounts and keys of one database.
#[derive(Debug, Clone)]
pub struct Accounts {
    db: Database,
}

impl Accounts {
    /// The accounts of `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The account named `name`, made if it does not exist.
    pub async fn ensure(&self, name: &str) -> Result<Account> {
        check_name("account", name)?;
        Ok(self.db.ensure_account(&new_id("acc")?, name).await?)
    }

    /// Makes a key for the account `account` (made if it does not exist), with an
    /// optional label.
    pub async fn create_key(&self, account: &str, label: Option<&str>) -> Result<NewKey> {
        check_name("account", account)?;
        if let Some(label) = label
            && (label.chars().count() > 100 || label.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                "label",
                "a label is at most 100 characters, without control characters",
            ));
        }
        let account = self.db.ensure_account(&new_id("acc")?, account).await?;
        let key = generate_key().map_err(|e| Error::internal(e.to_string()))?;
        let info = self
            .db
            .insert_key(
                &new_id("key")?,
                &account.id,
                label,
                &prefix_of(&key),
                &digest_of(&key),
            )
            .await?;
        Ok(NewKey { key, info })
    }

    /// Accepts `key` (a `--api-key` flag): a key the database knows stays as it
    /// is (its account, or revoked); an unknown one gets an account of its own,
    /// named `key-` and the first digits of its digest, whose id is the digest
    /// itself: the owner id of media from before accounts, which stay its own.
    pub async fn adopt_flag_key(&self, key: &str) -> Result<()> {
        let digest = digest_of(key);
        if let Some(known) = self.db.key_by_hash(&digest).await? {
            if known.revoked_ms.is_some() {
                tracing::warn!(key = %known.id, "a --api-key flag names a revoked key: it stays refused");
            }
            return Ok(());
        }
        let account = self
            .db
            .ensure_account(&digest, &format!("key-{}", &digest[..12]))
            .await?;
        match self
            .db
            .insert_key(
                &format!("key_{}", &digest[..16]),
                &account.id,
                Some("--api-key"),
                &prefix_of(key),
                &digest,
            )
            .await
        {
            // Another replica stored it at the same moment.
            Ok(_) | Err(DbError::Conflict(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Gives each owner of a store written before accounts (a key digest) an
    /// account of that id, named `key-` and its first digits, once per database:
    /// its media and tasks then belong to it, and `keys create --account
    /// key-...` gives a new key to media whose key is lost.
    pub async fn adopt_owners(&self, store: &MediaStore) -> Result<usize> {
        const STEP: &str = "owners of a store from before accounts";
        if self.db.done(STEP).await? {
            return Ok(0);
        }
        let mut adopted = 0;
        for owner in &store.owners().await? {
            let digest_like = owner.len() == 64 && owner.bytes().all(|b| b.is_ascii_hexdigit());
            if digest_like {
                self.db
                    .ensure_account(owner, &format!("key-{}", &owner[..12]))
                    .await?;
                adopted += 1;
            }
        }
        self.db.mark_done(STEP).await?;
        Ok(adopted)
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> Result<Vec<Account>> {
        Ok(self.db.accounts().await?)
    }

    /// The keys of `account`, or of every account.
    pub async fn keys(&self, account: Option<&str>) -> Result<Vec<ApiKeyInfo>> {
        Ok(self.db.keys(account).await?)
    }

    /// Revokes a key, given as the key itself or as its id; 404 when there is no
    /// such key.
    pub async fn revoke(&self, key_or_id: &str) -> Result<ApiKeyInfo> {
        let key_or_id = key_or_id.trim();
        self.db
            .revoke_key(key_or_id, &digest_of(key_or_id))
            .await?
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    "no such key (give the key itself or its id)",
                )
            })
    }
}

/// `what` is a name people type: 1 to 64 of letters, digits, `.`, `_`, `-`.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            what,
            format!("an {what} name is 1 to 64 letters, digits, `.`, `_` or `-`"),
        ))
    }
}

/// The characters of a key kept to tell it apart.
fn prefix_of(key: &str) -> String {
    key.chars().take(PREFIX_CHARS).collect()
}

/// A new random id, `{kind}_` and 16 hex digits.
fn new_id(kind: &str) -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{kind}_{hex}"))
}
