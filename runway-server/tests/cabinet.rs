//! The cabinet over HTTP, against the binary: passwords set on the server's
//! machine, sign-in (cookie flags, wrong passwords slowed down), keys made and
//! revoked in the page and what the API makes of them, and the guards against
//! cross-site requests and markup. (`scripts/browser.sh` drives the same pages
//! in Chromium.)

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{binary, serve};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

/// `runway-server accounts set-password NAME`, the password on stdin.
fn set_password(data: &std::path::Path, name: &str, password: &str) -> std::process::Output {
    let mut child = binary()
        .arg("--data-dir")
        .arg(data)
        .args(["accounts", "set-password", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{password}").expect("written");
    drop(stdin);
    child.wait_with_output().expect("ends")
}

/// A browser's requests, minus the browser: no redirects followed, the session
/// cookie kept by hand.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookie: None,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        request.send().await.expect("answers")
    }

    /// POSTs a form as a page of this server would (`Origin` its own).
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_from(path, form, &self.base.clone()).await
    }

    async fn post_from(
        &self,
        path: &str,
        form: &[(&str, &str)],
        origin: &str,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Origin", origin)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            );
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        request.send().await.expect("answers")
    }

    async fn sign_in(&mut self, account: &str, password: &str) -> reqwest::Response {
        let response = self
            .post(
                "/cabinet/sign-in",
                &[("account", account), ("password", password)],
            )
            .await;
        if let Some(cookie) = response.headers().get(SET_COOKIE) {
            let pair = cookie
                .to_str()
                .expect("ascii")
                .split(';')
                .next()
                .expect("a pair");
            self.cookie = Some(pair.to_owned());
        }
        response
    }
}

/// The value of the first `name="field" value="..."` in a page.
fn field(page: &str, field: &str) -> String {
    let marker = format!("name=\"{field}\" value=\"");
    let start = page.find(&marker).expect("the field") + marker.len();
    page[start..].split('"').next().expect("a value").to_owned()
}

fn cookie_flags(headers: &HeaderMap) -> String {
    headers[SET_COOKIE].to_str().expect("ascii").to_owned()
}

#[tokio::test]
async fn accounts_sign_in_with_their_password_and_wrong_ones_are_slowed_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let short = set_password(&data, "alice", "short");
    assert!(!short.status.success(), "a short password is refused");
    assert!(
        set_password(&data, "alice", "a long enough password")
            .status
            .success()
    );
    assert!(
        set_password(&data, "bob", "bob's long password")
            .status
            .success()
    );
    let (_server, url) = serve(&data, "rwk_cabinet_test_flag_key");
    let mut browser = Browser::new(&url);

    let away = browser.get("/cabinet/keys").await;
    assert_eq!(away.status(), StatusCode::SEE_OTHER);
    assert_eq!(away.headers()[LOCATION], "/cabinet/sign-in");

    let wrong = browser.sign_in("alice", "not her password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .text()
            .await
            .expect("page")
            .contains("wrong account name or password")
    );
    let unknown = browser.sign_in("nobody", "whatever it is").await;
    assert_eq!(
        unknown.status(),
        StatusCode::UNAUTHORIZED,
        "the same answer"
    );
    // Five attempts a minute per account: the sixth waits, even with the
    // right password.
    for _ in 0..4 {
        browser.sign_in("alice", "still not it").await;
    }
    let slowed = browser.sign_in("alice", "a long enough password").await;
    assert_eq!(slowed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(slowed.headers().contains_key("retry-after"));

    let signed_in = browser.sign_in("bob", "bob's long password").await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let flags = cookie_flags(signed_in.headers());
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/cabinet", "Max-Age="] {
        assert!(flags.contains(flag), "{flags}");
    }
    assert!(!flags.contains("Secure"), "plain http: {flags}");
    let page = browser.get("/cabinet/keys").await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let page = page.text().await.expect("page");
    assert!(page.contains("bob"), "signed in as bob");

    // Signing in again from the same browser starts a new session and ends the
    // one it had.
    let earlier = browser.cookie.clone();
    let again = browser.sign_in("bob", "bob's long password").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_ne!(browser.cookie, earlier, "a new session id");
    let mut old = Browser::new(&url);
    old.cookie = earlier;
    let ended = old.get("/cabinet/keys").await;
    assert_eq!(
        ended.status(),
        StatusCode::SEE_OTHER,
        "the earlier session ended"
    );
    let page = browser.get("/cabinet/keys").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("page");

    // A form with a wrong token changes nothing.
    let wrong = browser
        .post(
            "/cabinet/sign-out",
            &[("csrf", "0123456789abcdef0123456789abcdef")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    // Signing out ends the session.
    let first_cookie = browser.cookie.clone();
    let csrf = field(&page, "csrf");
    let out = browser.post("/cabinet/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    browser.cookie = first_cookie;
    let after = browser.get("/cabinet/keys").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session is gone");
}

#[tokio::test]
async fn a_key_made_in_the_cabinet_works_until_it_is_revoked_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    assert!(
        set_password(&data, "carol", "carol's long password")
            .status
            .success()
    );
    let (_server, url) = serve(&data, "rwk_cabinet_test_flag_key");
    let mut browser = Browser::new(&url);
    browser.sign_in("carol", "carol's long password").await;
    let page = browser
        .get("/cabinet/keys")
        .await
        .text()
        .await
        .expect("page");
    let csrf = field(&page, "csrf");

    // Made with a label that holds markup: shown as text.
    let label = "<img src=x onerror=alert(1)>";
    let made = browser
        .post("/cabinet/keys", &[("csrf", &csrf), ("label", label)])
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    let page = made.text().await.expect("page");
    assert!(!page.contains(label), "the label is escaped");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    let start = page.find("rwk_").expect("the key is shown");
    let key: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert_eq!(key.len(), 36, "{key}");

    let api = reqwest::Client::new();
    let usage = |key: String| {
        let api = api.clone();
        let url = url.clone();
        async move {
            api.get(format!("{url}/v1/usage"))
                .bearer_auth(key)
                .send()
                .await
                .expect("answers")
                .status()
        }
    };
    assert_eq!(usage(key.clone()).await, StatusCode::OK, "the key works");

    let key_id = page
        .split("href=\"/cabinet/keys/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a revoke link")
        .to_owned();
    let revoke = format!("/cabinet/keys/{key_id}/revoke");
    // Not without the form's token, not from another site.
    let forged = browser.post(&revoke, &[("csrf", "0123")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let cross = browser
        .post_from(&revoke, &[("csrf", &csrf)], "http://127.0.0.1:1")
        .await;
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert_eq!(usage(key.clone()).await, StatusCode::OK, "nothing changed");

    let confirm = browser.get(&revoke).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let revoked = browser.post(&revoke, &[("csrf", &csrf)]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    let started = Instant::now();
    while usage(key.clone()).await != StatusCode::UNAUTHORIZED {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the API still takes it"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = browser
        .get("/cabinet/keys")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("revoked"));
}
