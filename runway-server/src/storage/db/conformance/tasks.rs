//! The task queue on both backends: claims, leases, attempts, outputs kept once.

use super::*;

/// Queues task `id` of `owner`, created at `created_ms`, with `max_attempts`.
async fn queue(db: &Database, id: &str, created_ms: i64, max_attempts: u32) {
    use crate::domain::task::Operation;
    db.insert_task(&NewTask {
        id,
        owner: "alice",
        operation: Operation::GenerateImage,
        input: r#"{"op":"generate_image"}"#,
        output_id: &format!("img_of_{id}"),
        max_attempts,
        created_ms,
    })
    .await
    .expect("queued");
}

fn interrupted_error() -> crate::domain::task::TaskError {
    crate::domain::task::TaskError {
        code: "interrupted".into(),
        message: "cut short".into(),
        param: None,
    }
}

on_both!(tasks_are_claimed_once_each_oldest_first, on_postgres);
async fn tasks_are_claimed_once_each_oldest_first(db: Database) {
    for i in 0..12 {
        queue(&db, &format!("task_{i:02}"), 1_000 + i, 3).await;
    }
    assert_eq!(db.pending_tasks().await.expect("count"), 12);
    let (claim, task) = db
        .claim_task("w0", 60_000)
        .await
        .expect("claim")
        .expect("a task");
    assert_eq!((task.record.id.as_str(), claim.attempt), ("task_00", 1));
    assert_eq!(task.input, r#"{"op":"generate_image"}"#);
    assert_eq!(task.output_id, "img_of_task_00");
    let read = db
        .task("alice", "task_00")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(read.record.status, crate::domain::task::TaskStatus::Running);
    assert!(read.record.started_at.is_some());

    // Four workers claim the rest together: each task goes to exactly one.
    let mut workers = Vec::new();
    for w in 1..=4 {
        let db = db.clone();
        workers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some((_, task)) = db
                .claim_task(&format!("w{w}"), 60_000)
                .await
                .expect("claim")
            {
                got.push(task.record.id);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.expect("worker"));
    }
    claimed.sort();
    let expected: Vec<String> = (1..12).map(|i| format!("task_{i:02}")).collect();
    assert_eq!(claimed, expected, "each once");
    assert_eq!(db.pending_tasks().await.expect("count"), 0);
}

on_both!(
    a_lapsed_claim_is_run_again_until_its_attempts_run_out,
    on_postgres
);
async fn a_lapsed_claim_is_run_again_until_its_attempts_run_out(db: Database) {
    queue(&db, "task_a", 1_000, 2).await;
    // A lease of 0 ms lapses at once: the worker is taken for dead.
    let (first, _) = db
        .claim_task("w1", 0)
        .await
        .expect("claim")
        .expect("a task");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (second, task) = db.claim_task("w2", 0).await.expect("claim").expect("again");
    assert_eq!((second.attempt, task.attempts), (2, 2));
    // The first worker has lost it: it can neither renew nor finish.
    assert!(!db.renew_claim(&first, 0.5, 60_000).await.expect("renew"));
    assert_eq!(
        db.finish_failed(&first, &interrupted_error())
            .await
            .expect("finish"),
        Finished::Lost
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(
        db.claim_task("w3", 60_000).await.expect("claim").is_none(),
        "no attempt left"
    );
    let failed = db
        .fail_exhausted(&interrupted_error(), 10)
        .await
        .expect("failed");
    assert_eq!(failed, ["img_of_task_a"]);
    let read = db
        .task("alice", "task_a")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(read.record.status, crate::domain::task::TaskStatus::Failed);
    assert_eq!(
        read.record.error.map(|e| e.code).as_deref(),
        Some("interrupted")
    );
    assert!(
        db.fail_exhausted(&interrupted_error(), 10)
            .await
            .expect("none")
            .is_empty()
    );
}

on_both!(
    a_success_keeps_its_output_once_within_the_quota,
    on_postgres
);
async fn a_success_keeps_its_output_once_within_the_quota(db: Database) {
    queue(&db, "task_a", 1_000, 3).await;
    queue(&db, "task_b", 1_001, 3).await;
    let (a, _) = db
        .claim_task("w1", 60_000)
        .await
        .expect("claim")
        .expect("a");
    let (b, _) = db
        .claim_task("w1", 60_000)
        .await
        .expect("claim")
        .expect("b");
    assert!(db.renew_claim(&a, 0.4, 60_000).await.expect("renew"));
    assert!(db.renew_claim(&a, 0.2, 60_000).await.expect("renew"));
    let read = db
        .task("alice", "task_a")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(read.record.progress, 0.4, "progress never goes back");

    let output = media("img_of_task_a", "alice", 40, 2_000);
    let done = db
        .finish_succeeded(&a, &output, "http://x/images/img_of_task_a.jpg", Some(50))
        .await
        .expect("finish");
    assert_eq!(done, Finished::Recorded);
    let again = db
        .finish_succeeded(&a, &output, "http://x/images/img_of_task_a.jpg", Some(50))
        .await
        .expect("finish");
    assert_eq!(again, Finished::Lost, "finished once");
    let counted = db.counters("alice").await.expect("read");
    assert_eq!((counted.media_count, counted.used_bytes), (1, 40));
    let read = db
        .task("alice", "task_a")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        read.record.output.map(|o| (o.field, o.media_url)),
        Some((
            "image_url".into(),
            "http://x/images/img_of_task_a.jpg".into()
        ))
    );

    // B's output would pass the quota: nothing changes, the claim still holds.
    let over = media("img_of_task_b", "alice", 20, 2_001);
    let refused = db
        .finish_succeeded(&b, &over, "http://x/images/img_of_task_b.jpg", Some(50))
        .await
        .expect("finish");
    assert_eq!(refused, Finished::OverQuota(40));
    assert!(db.renew_claim(&b, 0.9, 60_000).await.expect("still held"));
    assert_eq!(db.counters("alice").await.expect("read").media_count, 1);
}

on_both!(cancelled_released_and_resumed_tasks, on_postgres);
async fn cancelled_released_and_resumed_tasks(db: Database) {
    use crate::domain::task::TaskStatus;
    queue(&db, "task_a", 1_000, 3).await;
    queue(&db, "task_b", 1_001, 3).await;
    queue(&db, "task_c", 1_002, 3).await;
    let (a, _) = db
        .claim_task("w1", 60_000)
        .await
        .expect("claim")
        .expect("a");
    // Cancelled while it runs: the runner's next renewal says stop.
    let cancelled = db.cancel_task("alice", "task_a").await.expect("cancel");
    assert_eq!(
        cancelled.map(|t| t.record.status),
        Some(TaskStatus::Cancelled)
    );
    assert!(!db.renew_claim(&a, 0.5, 60_000).await.expect("renew"));
    assert!(
        db.cancel_task("alice", "task_a")
            .await
            .expect("again")
            .is_none()
    );
    assert!(
        db.cancel_task("bob", "task_b")
            .await
            .expect("not bob's")
            .is_none()
    );

    // Given back as its server stops: pending again, the attempt uncounted.
    let (b, _) = db
        .claim_task("w1", 60_000)
        .await
        .expect("claim")
        .expect("b");
    assert!(db.release_claim(&b).await.expect("released"));
    let (b2, task) = db
        .claim_task("w2", 60_000)
        .await
        .expect("claim")
        .expect("b again");
    assert_eq!((task.record.id.as_str(), b2.attempt), ("task_b", 1));

    // The one server of an embedded database takes back what it held.
    let (c, _) = db
        .claim_task("w2", 60_000)
        .await
        .expect("claim")
        .expect("c");
    assert_eq!(db.end_all_leases().await.expect("ended"), 2);
    let (_, again) = db
        .claim_task("w3", 60_000)
        .await
        .expect("claim")
        .expect("b");
    assert_eq!((again.record.id.as_str(), again.attempts), ("task_b", 2));
    let (_, again) = db
        .claim_task("w3", 60_000)
        .await
        .expect("claim")
        .expect("c");
    assert_eq!((again.record.id.as_str(), again.attempts), ("task_c", 2));
    assert!(
        !db.renew_claim(&c, 0.1, 60_000).await.expect("renew"),
        "c is w3's now"
    );

    // Finished tasks: deleted by their owner, or past their time.
    assert!(
        db.delete_finished_task("alice", "task_b")
            .await
            .expect("running")
            .is_none()
    );
    let deleted = db
        .delete_finished_task("alice", "task_a")
        .await
        .expect("delete");
    assert_eq!(deleted.map(|t| t.record.id), Some("task_a".into()));
    db.finish_failed(
        &Claim {
            task_id: "task_b".into(),
            worker: "w3".into(),
            attempt: 2,
        },
        &interrupted_error(),
    )
    .await
    .expect("failed");
    let page = db
        .task_page("alice", 0, (None, None), None, 10)
        .await
        .expect("page");
    let ids: Vec<_> = page.into_iter().map(|t| t.record.id).collect();
    assert_eq!(ids, ["task_c", "task_b"], "newest first");
    let after = db
        .task_page("alice", 0, (None, None), Some("task_c"), 10)
        .await
        .expect("page");
    assert_eq!(after.len(), 1);
    // Created within a time: from is inclusive, until is not.
    let created = |from, until| db.task_page("alice", 0, (from, until), None, 10);
    let ids =
        |page: Vec<QueuedTask>| -> Vec<String> { page.into_iter().map(|t| t.record.id).collect() };
    assert_eq!(
        ids(created(Some(1_002), None).await.expect("page")),
        ["task_c"]
    );
    assert_eq!(
        ids(created(None, Some(1_002)).await.expect("page")),
        ["task_b"]
    );
    assert_eq!(
        ids(created(Some(1_001), Some(1_003)).await.expect("page")),
        ["task_c", "task_b"]
    );
    assert!(created(Some(1_003), None).await.expect("page").is_empty());
    assert_eq!(
        db.remove_finished_tasks(i64::MAX, 10)
            .await
            .expect("removed"),
        1
    );
    assert!(db.task("alice", "task_b").await.expect("read").is_none());
}
