//! One suite, both backends: every test runs on SQLite (a fresh file) and on
//! PostgreSQL (a fresh database on the server `RUNWAY_TEST_POSTGRES_URL` names;
//! `scripts/postgres.sh` starts one). The PostgreSQL runs are ignored by a plain
//! `cargo test` and run by CI with `-- --ignored`; run that way without the
//! variable they fail rather than pass unchecked.

use super::*;

/// A fresh SQLite database in its own directory (kept as long as the guard).
async fn sqlite() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::open(&DatabaseUrl::Sqlite(Some(dir.path().join("t.db"))))
        .await
        .expect("sqlite opens");
    (db, dir)
}

/// A fresh database on the PostgreSQL server of `RUNWAY_TEST_POSTGRES_URL`.
async fn postgres() -> Database {
    let Ok(server) = std::env::var("RUNWAY_TEST_POSTGRES_URL") else {
        panic!("RUNWAY_TEST_POSTGRES_URL must name a PostgreSQL server (scripts/postgres.sh)");
    };
    let admin = Database::connect(&DatabaseUrl::Postgres(server.clone()))
        .await
        .expect("the PostgreSQL server answers");
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("random");
    let name: String = std::iter::once("runway_t_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    with_pool!(admin, pool => sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(pool)
        .await
        .map(drop))
    .expect("a test database");
    admin.close().await;
    let mut url = url::Url::parse(&server).expect("a URL");
    url.set_path(&name);
    Database::open(&DatabaseUrl::Postgres(url.to_string()))
        .await
        .expect("the test database opens")
}

/// Declares `$name` on SQLite and `${name}_on_postgres` (ignored unless asked).
macro_rules! on_both {
    ($name:ident, $pg:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn on_sqlite() {
                let (db, _dir) = sqlite().await;
                $name(db).await;
            }

            #[tokio::test]
            #[ignore = "needs PostgreSQL: RUNWAY_TEST_POSTGRES_URL (scripts/postgres.sh)"]
            async fn $pg() {
                $name(postgres().await).await;
            }
        }
    };
}

mod idempotency;
mod sessions;
mod tasks;

on_both!(accounts_are_unique_by_name, on_postgres);
async fn accounts_are_unique_by_name(db: Database) {
    let first = db.ensure_account("acc_1", "alice").await.expect("made");
    let again = db.ensure_account("acc_2", "alice").await.expect("found");
    assert_eq!(first, again, "the second call finds the first account");
    db.ensure_account("acc_3", "bob").await.expect("made");
    let names: Vec<String> = db
        .accounts()
        .await
        .expect("listed")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
}

on_both!(keys_are_found_by_digest_until_revoked, on_postgres);
async fn keys_are_found_by_digest_until_revoked(db: Database) {
    let alice = db.ensure_account("acc_a", "alice").await.expect("account");
    let bob = db.ensure_account("acc_b", "bob").await.expect("account");
    let made = db
        .insert_key(
            "key_1",
            &alice.id,
            Some("laptop"),
            "rwk_00000000",
            "digest-1",
        )
        .await
        .expect("stored");
    assert_eq!(made.account_name, "alice");
    assert_eq!(made.label.as_deref(), Some("laptop"));
    assert_eq!(made.last_used_ms, None);
    db.insert_key("key_2", &alice.id, None, "rwk_11111111", "digest-2")
        .await
        .expect("stored");
    db.insert_key("key_3", &bob.id, None, "rwk_22222222", "digest-3")
        .await
        .expect("stored");
    let duplicate = db
        .insert_key("key_4", &bob.id, None, "rwk_00000000", "digest-1")
        .await;
    assert!(
        matches!(duplicate, Err(DbError::Conflict(_))),
        "{duplicate:?}"
    );

    let owner = db.key_owner("digest-1").await.expect("read");
    assert_eq!(
        owner,
        Some(KeyOwner {
            key_id: "key_1".into(),
            account_id: "acc_a".into()
        })
    );
    assert_eq!(db.key_owner("digest-9").await.expect("read"), None);

    let ids = |keys: Vec<ApiKeyInfo>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(
        ids(db.keys(Some("alice")).await.expect("listed")),
        ["key_1", "key_2"]
    );
    assert_eq!(
        ids(db.keys(None).await.expect("listed")),
        ["key_1", "key_2", "key_3"]
    );
    assert!(db.keys(Some("nobody")).await.expect("listed").is_empty());

    // Revoked by id, or by digest; a revoked key is no one's.
    let revoked = db.revoke_key("key_1", "-").await.expect("revoked");
    assert!(revoked.is_some_and(|k| k.revoked_ms.is_some()));
    assert_eq!(db.key_owner("digest-1").await.expect("read"), None);
    let by_digest = db.revoke_key("-", "digest-3").await.expect("revoked");
    assert_eq!(by_digest.map(|k| k.id), Some("key_3".to_owned()));
    assert_eq!(
        db.revoke_key("key_9", "digest-9").await.expect("read"),
        None
    );
    assert!(db.key_owner("digest-2").await.expect("read").is_some());
    let kept = db.key_by_hash("digest-1").await.expect("read");
    assert!(
        kept.is_some_and(|k| k.revoked_ms.is_some()),
        "a revoked key is kept, as revoked"
    );
}

on_both!(a_keys_use_is_noted_at_most_once_a_minute, on_postgres);
async fn a_keys_use_is_noted_at_most_once_a_minute(db: Database) {
    let account = db.ensure_account("acc_a", "alice").await.expect("account");
    db.insert_key("key_1", &account.id, None, "rwk_0", "digest-1")
        .await
        .expect("stored");
    db.touch_key("key_1").await.expect("noted");
    let first = db.keys(None).await.expect("listed")[0].last_used_ms;
    assert!(first.is_some());
    db.touch_key("key_1").await.expect("noted");
    let second = db.keys(None).await.expect("listed")[0].last_used_ms;
    assert_eq!(first, second, "within a minute the first use stands");
}

on_both!(a_closed_pool_is_unavailable, on_postgres);
async fn a_closed_pool_is_unavailable(db: Database) {
    db.ping().await.expect("answers");
    db.close().await;
    let err = db.ping().await.expect_err("closed");
    assert!(matches!(err, DbError::Unavailable(_)), "{err:?}");
    let answered = crate::domain::Error::from(err);
    assert_eq!(answered.code, crate::domain::ErrorCode::DatabaseUnavailable);
    assert_eq!(answered.retry_after, Some(1));
}

on_both!(a_step_is_done_once, on_postgres);
async fn a_step_is_done_once(db: Database) {
    assert!(!db.done("import").await.expect("read"));
    db.mark_done("import").await.expect("noted");
    db.mark_done("import")
        .await
        .expect("noted again, harmlessly");
    assert!(db.done("import").await.expect("read"));
    assert!(!db.done("another").await.expect("read"));
}

/// A media record of `owner`, `size` bytes, made at `ms`.
fn media(id: &str, owner: &str, size: u64, ms: i64) -> crate::domain::media::MediaRecord {
    use crate::domain::media::{MEDIA_FORMAT, MediaKind, MediaRecord, Probed};
    MediaRecord {
        format: MEDIA_FORMAT,
        id: id.to_owned(),
        kind: MediaKind::of_id(id).unwrap_or(MediaKind::Image),
        owner: owner.to_owned(),
        created_at: chrono::DateTime::from_timestamp_millis(ms).expect("a time"),
        size_bytes: size,
        probed: Probed::default(),
    }
}

on_both!(media_are_counted_and_paged_by_the_index, on_postgres);
async fn media_are_counted_and_paged_by_the_index(db: Database) {
    for (i, id) in ["img_a", "vid_b", "img_c", "img_d"].iter().enumerate() {
        let added = db
            .add_media(&media(id, "alice", 10, 1_000 + i as i64), None)
            .await
            .expect("added");
        assert_eq!(added, Added::Added);
    }
    db.add_media(&media("img_z", "bob", 5, 1_000), None)
        .await
        .expect("added");
    let alice = db.counters("alice").await.expect("read");
    assert_eq!((alice.media_count, alice.used_bytes), (4, 40));

    let ids = |page: Vec<crate::domain::media::MediaRecord>| {
        page.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    let all = MediaQuery::default();
    let first = db.media_page("alice", &all, None, 2).await.expect("page");
    assert_eq!(ids(first.clone()), ["img_d", "img_c"], "newest first");
    let cursor = MediaCursor::after(first.last().expect("a last"));
    let second = db
        .media_page("alice", &all, Some(&cursor), 2)
        .await
        .expect("page");
    assert_eq!(ids(second), ["vid_b", "img_a"]);
    let videos = MediaQuery {
        kind: Some(crate::domain::media::MediaKind::Video),
        ..Default::default()
    };
    assert_eq!(
        ids(db
            .media_page("alice", &videos, None, 10)
            .await
            .expect("page")),
        ["vid_b"]
    );
    let window = MediaQuery {
        from_ms: Some(1_001),
        until_ms: Some(1_003),
        ..Default::default()
    };
    assert_eq!(
        ids(db
            .media_page("alice", &window, None, 10)
            .await
            .expect("page")),
        ["img_c", "vid_b"]
    );

    // Expired media: left out of the live counters, listed for the sweep.
    let live = db.live_counters("alice", Some(1_002)).await.expect("read");
    assert_eq!((live.media_count, live.used_bytes), (2, 20));
    assert_eq!(
        ids(db.media_older_than(1_002, 10).await.expect("read")),
        ["img_a", "img_z", "vid_b"]
    );

    assert!(db.remove_media("img_c").await.expect("removed"));
    assert!(!db.remove_media("img_c").await.expect("gone already"));
    let alice = db.counters("alice").await.expect("read");
    assert_eq!((alice.media_count, alice.used_bytes), (3, 30));
}

on_both!(a_quota_holds_when_media_are_added_together, on_postgres);
async fn a_quota_holds_when_media_are_added_together(db: Database) {
    // Twenty additions of 10 bytes at once against a quota of 55: five pass.
    let mut adds = Vec::new();
    for i in 0..20 {
        let db = db.clone();
        adds.push(tokio::spawn(async move {
            db.add_media(&media(&format!("img_{i:02}"), "alice", 10, i), Some(55))
                .await
                .expect("answered")
        }));
    }
    let mut passed = 0;
    for add in adds {
        match add.await.expect("joined") {
            Added::Added => passed += 1,
            Added::OverQuota(used) => assert!(used <= 55, "{used}"),
        }
    }
    assert_eq!(passed, 5);
    let alice = db.counters("alice").await.expect("read");
    assert_eq!((alice.media_count, alice.used_bytes), (5, 50));
    let listed = db
        .media_page("alice", &MediaQuery::default(), None, 100)
        .await
        .expect("page");
    assert_eq!(listed.len(), 5, "a refused media left no row");
}

on_both!(an_import_keeps_what_is_there_and_counts_anew, on_postgres);
async fn an_import_keeps_what_is_there_and_counts_anew(db: Database) {
    db.add_media(&media("img_a", "alice", 10, 1), None)
        .await
        .expect("added");
    let found = [
        media("img_a", "alice", 10, 1),
        media("img_b", "alice", 7, 2),
        media("vid_c", "bob", 3, 3),
    ];
    db.import_media(&found).await.expect("imported");
    db.import_media(&found)
        .await
        .expect("imported again, harmlessly");
    let alice = db.counters("alice").await.expect("read");
    assert_eq!((alice.media_count, alice.used_bytes), (2, 17));
    let bob = db.counters("bob").await.expect("read");
    assert_eq!((bob.media_count, bob.used_bytes), (1, 3));
}
