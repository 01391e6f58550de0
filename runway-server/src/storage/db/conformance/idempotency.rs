//! Idempotency keys on both backends: one claim at a time, answers replayed,
//! expired and abandoned claims taken over.

use super::*;

fn request<'a>(fingerprint: &'a str, claim: &'a str, now_ms: i64) -> KeyRequest<'a> {
    KeyRequest {
        owner: "alice",
        key_hash: "hash-1",
        fingerprint,
        claim,
        now_ms,
    }
}

fn answer() -> StoredAnswer {
    StoredAnswer {
        status: 200,
        content_type: Some("application/json".into()),
        location: None,
        body: r#"{"image_url":"x"}"#.into(),
    }
}

on_both!(a_key_is_claimed_once_and_its_answer_replayed, on_postgres);
async fn a_key_is_claimed_once_and_its_answer_replayed(db: Database) {
    // Eight requests with one key at once: one claims it.
    let mut claims = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        claims.push(tokio::spawn(async move {
            let token = format!("token-{i}");
            db.claim_key(&request("fp", &token, 1_000), 0, 0)
                .await
                .expect("claim")
        }));
    }
    let mut won = 0;
    for claim in claims {
        match claim.await.expect("join") {
            KeyClaim::Claimed => won += 1,
            KeyClaim::Held {
                fingerprint,
                answer,
            } => {
                assert_eq!((fingerprint.as_str(), answer), ("fp", None));
            }
        }
    }
    assert_eq!(won, 1);

    // The winner's token is unknown here: a stale token keeps nothing.
    assert!(
        !db.keep_answer("alice", "hash-1", "not-the-claim", &answer())
            .await
            .expect("keep")
    );
    // Abandoned (unanswered, claimed before 2_000): taken over, then answered.
    let taken = db
        .claim_key(&request("fp", "late", 3_000), 0, 2_000)
        .await
        .expect("claim");
    assert_eq!(taken, KeyClaim::Claimed);
    assert!(
        db.keep_answer("alice", "hash-1", "late", &answer())
            .await
            .expect("keep")
    );
    let repeat = db
        .claim_key(&request("fp", "again", 3_001), 0, 2_000)
        .await
        .expect("claim");
    assert_eq!(
        repeat,
        KeyClaim::Held {
            fingerprint: "fp".into(),
            answer: Some(answer())
        },
        "an answered key is not abandoned"
    );
    // Expired (created before 5_000): a new request takes it.
    let expired = db
        .claim_key(&request("other", "new", 6_000), 5_000, 0)
        .await
        .expect("claim");
    assert_eq!(expired, KeyClaim::Claimed);
}

on_both!(released_and_expired_keys_go, on_postgres);
async fn released_and_expired_keys_go(db: Database) {
    assert_eq!(
        db.claim_key(&request("fp", "first", 1_000), 0, 0)
            .await
            .expect("claim"),
        KeyClaim::Claimed
    );
    db.release_key("alice", "hash-1", "first")
        .await
        .expect("released");
    assert_eq!(
        db.claim_key(&request("fp", "second", 1_001), 0, 0)
            .await
            .expect("claim"),
        KeyClaim::Claimed,
        "a failed request's key runs again"
    );
    assert_eq!(db.release_unanswered_keys().await.expect("released"), 1);
    let imported = [(
        "bob".to_owned(),
        "hash-2".to_owned(),
        "fp".to_owned(),
        500,
        answer(),
    )];
    db.import_keys(&imported).await.expect("imported");
    db.import_keys(&imported).await.expect("imported twice");
    let bob = KeyRequest {
        owner: "bob",
        key_hash: "hash-2",
        ..request("fp", "bob", 600)
    };
    assert!(matches!(
        db.claim_key(&bob, 0, 0).await.expect("claim"),
        KeyClaim::Held {
            answer: Some(_),
            ..
        }
    ));
    assert_eq!(db.remove_expired_keys(501, 10).await.expect("removed"), 1);
    assert_eq!(
        db.claim_key(&bob, 0, 0).await.expect("claim"),
        KeyClaim::Claimed
    );
}
