//! Accounts and keys from the server's machine: `runway-server keys ...`,
//! `accounts list` and `migrate`, against the database the server uses, and what
//! the API makes of a key made, revoked or given as a flag.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{binary, serve, start};

/// Runs `runway-server --data-dir DATA ARGS...`.
fn admin(data: &std::path::Path, args: &[&str]) -> Output {
    binary()
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn usage_status(url: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{url}/v1/usage"))
        .bearer_auth(key)
        .send()
        .await
        .expect("answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn keys_are_made_listed_used_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    let made = admin(
        &data,
        &["keys", "create", "--account", "alice", "--name", "laptop"],
    );
    assert!(made.status.success(), "{made:?}");
    let key = stdout(&made);
    let key = key.trim_end_matches('\n');
    assert!(!key.contains('\n'), "the key alone on stdout: {key:?}");
    assert!(key.starts_with("rwk_") && key.len() == 36, "{key}");

    let list = stdout(&admin(&data, &["keys", "list", "--account", "alice"]));
    assert!(list.contains("alice") && list.contains("laptop"), "{list}");
    assert!(
        list.contains(&key[..12]),
        "the key's first characters: {list}"
    );
    assert!(!list.contains(key), "never the key itself: {list}");
    let accounts = stdout(&admin(&data, &["accounts", "list"]));
    assert!(accounts.contains("alice"), "{accounts}");

    // The server knows the key; another key (a flag) is another account.
    let (mut server, url) = serve(&data, "flag-key");
    assert_eq!(usage_status(&url, key).await, 200);
    assert_eq!(usage_status(&url, "flag-key").await, 200);
    assert_eq!(usage_status(&url, "rwk_not_a_key").await, 401);
    let accounts = stdout(&admin(&data, &["accounts", "list"]));
    assert!(accounts.contains("key-"), "the flag's account: {accounts}");

    // Revoked on the command line: refused within the replica's cache period.
    let revoked = admin(&data, &["keys", "revoke", key]);
    assert!(revoked.status.success(), "{revoked:?}");
    let started = Instant::now();
    while usage_status(&url, key).await != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a revoked key is refused within seconds"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        usage_status(&url, "flag-key").await,
        200,
        "other keys still work"
    );
    let list = stdout(&admin(&data, &["keys", "list", "--account", "alice"]));
    let line = list.lines().find(|l| l.contains("laptop")).expect("listed");
    assert!(!line.trim_end().ends_with('-'), "a revocation time: {line}");

    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn mistakes_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let unknown = admin(&data, &["keys", "revoke", "rwk_nothing"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no such key"),
        "{unknown:?}"
    );
    let bad_name = admin(&data, &["keys", "create", "--account", "a b"]);
    assert!(!bad_name.status.success());
    assert!(
        String::from_utf8_lossy(&bad_name.stderr).contains("account name"),
        "{bad_name:?}"
    );
    let migrated = admin(&data, &["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(stdout(&migrated).contains("up to date"));
    let bad_url = binary()
        .args(["--database", "mysql://x", "accounts", "list"])
        .output()
        .expect("runs");
    assert!(!bad_url.status.success());
    assert!(String::from_utf8_lossy(&bad_url.stderr).contains("sqlite://"));
}

#[test]
fn shared_storage_needs_a_shared_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = binary()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--storage",
            "s3://a-bucket",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("needs a database every replica shares") && stderr.contains("postgres://"),
        "{stderr}"
    );
}

#[test]
fn the_first_start_makes_the_default_account_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let first = |data: &std::path::Path| -> Vec<String> {
        let (_server, lines) = start(data, &[]);
        lines
            .map_while(Result::ok)
            .take_while(|line| !line.starts_with("ffmpeg:"))
            .collect()
    };
    let report = first(&data);
    assert!(
        report.iter().any(|l| l.contains("media stored in")),
        "{report:?}"
    );
    let listed = stdout(&admin(&data, &["keys", "list"]));
    assert!(listed.contains("default"), "{listed}");
    assert_eq!(listed.lines().count(), 2, "one key: {listed}");
    first(&data);
    let listed = stdout(&admin(&data, &["keys", "list"]));
    assert_eq!(
        listed.lines().count(),
        2,
        "no second key at the next start: {listed}"
    );
}
