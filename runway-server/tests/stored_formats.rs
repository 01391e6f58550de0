//! An upgrade loses nothing: a data directory holding records as contract 1.1.x
//! servers wrote them (`tests/fixtures/stored-1.1/`) is read by today's server,
//! through its API.

use std::path::Path;

use serde_json::Value;

const KEY: &str = "fixture-key";
const OWNER: &str = "66e7c82b49bb291dd09c8e020448311c4a7bb96aeb5c5db769f66812b13a50b5";
const MEDIA_ID: &str = "img_0a872993e2aec8deb4079391601d367b";
/// The key the answered idempotency record is seeded under (records are kept by
/// the key's SHA-256).
const IDEMPOTENCY_KEY: &str = "fixture-idempotency-key";

fn key_digest(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stored-1.1")
}

fn copy(from: &str, to: &Path) {
    let to_dir = to.parent().expect("a folder");
    std::fs::create_dir_all(to_dir).expect("mkdir");
    std::fs::copy(fixtures().join(from), to).expect("copy");
}

/// A data directory laid out as a 1.1.x server left it.
fn seeded_data_dir() -> (tempfile::TempDir, Vec<(String, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let media = dir.path().join("media");
    copy(
        "media-record.json",
        &media.join(format!("records/{MEDIA_ID}.json")),
    );
    copy("media.jpg", &media.join(format!("images/{MEDIA_ID}.jpg")));
    let mut tasks = Vec::new();
    for state in ["pending", "running", "succeeded", "failed", "cancelled"] {
        let name = format!("task-{state}.json");
        let text = std::fs::read_to_string(fixtures().join(&name)).expect("fixture");
        let record: Value = serde_json::from_str(&text).expect("JSON");
        let id = record["id"].as_str().expect("an id").to_owned();
        copy(&name, &media.join(format!("tasks/{OWNER}/{id}.json")));
        tasks.push((state.to_owned(), id));
    }
    copy(
        "idempotency-answered.json",
        &media.join(format!(
            "idempotency/{OWNER}/{}.json",
            key_digest(IDEMPOTENCY_KEY)
        )),
    );
    (dir, tasks)
}

#[tokio::test]
async fn media_and_tasks_written_by_contract_1_1_are_read_after_an_upgrade() {
    let (dir, tasks) = seeded_data_dir();
    let mut config = runway_server::ServerConfig::for_data_dir(dir.path(), vec![KEY.to_owned()]);
    // The fixtures were written long ago: keep finished tasks for a century.
    config.task_ttl_secs = 100 * 365 * 24 * 3600;
    let server = runway_server::start(config).await.expect("starts");
    let base = server.base_url.clone();
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http.get(format!("{base}{path}")).bearer_auth(KEY);
        async move {
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            (status, response.bytes().await.expect("body"))
        }
    };
    let json = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).expect("JSON");

    // The media: its metadata from the record, its bytes, its place in the listing.
    let url = format!("{base}/images/{MEDIA_ID}.jpg");
    let (status, body) = get(format!("/v1/image-metadata?image_url={url}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let metadata = json(&body);
    assert_eq!(
        (
            &metadata["width"],
            &metadata["height"],
            &metadata["size_bytes"]
        ),
        (&Value::from(64), &Value::from(48), &Value::from(1476))
    );
    let (status, bytes) = get(format!("/images/{MEDIA_ID}.jpg")).await;
    assert_eq!(status, 200);
    let stored = std::fs::read(fixtures().join("media.jpg")).expect("fixture");
    assert_eq!(&bytes[..], &stored[..]);
    let (status, body) = get("/v1/media".to_owned()).await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["data"][0]["id"], MEDIA_ID);

    // Each task as it was; those that were running when the old server stopped
    // read failed / interrupted (nothing can run them any more).
    let task = |state: &str| {
        tasks
            .iter()
            .find(|(s, _)| s == state)
            .map(|(_, id)| id.clone())
    };
    let read = |state: &str| {
        let id = task(state).expect("fixture");
        let get = &get;
        async move {
            let (status, body) = get(format!("/v1/tasks/{id}")).await;
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            json(&body)
        }
    };
    let succeeded = read("succeeded").await;
    assert_eq!(succeeded["status"], "succeeded");
    assert_eq!(succeeded["progress"], 1.0);
    assert_eq!(
        succeeded["output"]["image_url"],
        "http://127.0.0.1:18081/images/img_7f660090db2745a03dd3d02b12772506.jpg"
    );
    let failed = read("failed").await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "not_found");
    assert_eq!(failed["error"]["param"], "input.image_url");
    assert_eq!(read("cancelled").await["status"], "cancelled");
    for state in ["pending", "running"] {
        let task = read(state).await;
        assert_eq!(task["status"], "failed", "{state}: {task}");
        assert_eq!(task["error"]["code"], "interrupted", "{state}: {task}");
        assert_eq!(task["operation"], "generate-video");
    }
    let (status, body) = get("/v1/tasks".to_owned()).await;
    assert_eq!(status, 200);
    assert_eq!(json(&body)["data"].as_array().map(Vec::len), Some(5));

    // The answer kept for an Idempotency-Key is replayed to the same request.
    let replay = http
        .post(format!("{base}/v1/generate-image"))
        .bearer_auth(KEY)
        .header("Idempotency-Key", IDEMPOTENCY_KEY)
        .header("Content-Type", "application/json")
        .body(r#"{"prompt":"a blue fox","width":32,"height":32}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(
        json(&replay.bytes().await.expect("body"))["image_url"],
        "http://127.0.0.1:18081/images/img_2866bb7f7ab481fb1d965ab8b76e100e.jpg"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn owners_from_before_accounts_get_accounts_and_new_keys() {
    let (dir, _) = seeded_data_dir();
    // The old key is lost: the server starts with another one.
    let config =
        runway_server::ServerConfig::for_data_dir(dir.path(), vec!["someone-else".to_owned()]);
    let server = runway_server::start(config).await.expect("starts");
    let account = format!("key-{}", &OWNER[..12]);
    let admin = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_runway-server"))
            .env_remove("RUNWAY_DATABASE_URL")
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("runs")
    };
    let listed = admin(&["accounts", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&account),
        "{listed:?}"
    );
    // A new key for the old owner's account reaches the old media.
    let made = admin(&["keys", "create", "--account", &account]);
    assert!(made.status.success(), "{made:?}");
    let key = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    let page: Value = reqwest::Client::new()
        .get(format!("{}/v1/media", server.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["data"][0]["id"], MEDIA_ID, "{page}");
    let theirs: Value = reqwest::Client::new()
        .get(format!("{}/v1/media", server.base_url))
        .bearer_auth("someone-else")
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        theirs["data"],
        Value::Array(Vec::new()),
        "not another account's"
    );
    server.shutdown().await;
}
