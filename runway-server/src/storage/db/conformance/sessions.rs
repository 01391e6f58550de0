//! Cabinet passwords and sessions on both backends.

use super::*;

on_both!(sessions_are_found_until_they_expire_or_end, on_postgres);
async fn sessions_are_found_until_they_expire_or_end(db: Database) {
    let alice = db.ensure_account("acc_a", "alice").await.expect("account");
    assert_eq!(
        db.password_of("alice").await.expect("read"),
        None,
        "no password yet"
    );
    assert!(
        db.set_password(&alice.id, "$argon2id$stand-in")
            .await
            .expect("set")
    );
    assert!(
        !db.set_password("acc_none", "x").await.expect("set"),
        "no such account"
    );
    assert_eq!(
        db.password_of("alice").await.expect("read"),
        Some(("acc_a".to_owned(), "$argon2id$stand-in".to_owned()))
    );

    let later = now_ms() + 60_000;
    db.insert_session("digest-1", &alice.id, "csrf-1", later)
        .await
        .expect("started");
    db.insert_session("digest-2", &alice.id, "csrf-2", now_ms() - 1)
        .await
        .expect("started");
    let found = db.session("digest-1").await.expect("read").expect("there");
    assert_eq!(
        (found.account_name.as_str(), found.csrf_token.as_str()),
        ("alice", "csrf-1")
    );
    assert!(
        db.session("digest-2").await.expect("read").is_none(),
        "expired"
    );
    assert_eq!(db.remove_expired_sessions(10).await.expect("removed"), 1);
    db.delete_session("digest-1").await.expect("ended");
    assert!(
        db.session("digest-1").await.expect("read").is_none(),
        "signed out"
    );
    db.insert_session("digest-3", &alice.id, "csrf-3", later)
        .await
        .expect("started");
    db.delete_sessions_of(&alice.id).await.expect("ended");
    assert!(
        db.session("digest-3").await.expect("read").is_none(),
        "a new password ends it"
    );
}
