//! The personal cabinet at `/cabinet`: an account signs in with its password
//! and makes and revokes API keys, sees its media and follows its tasks live.
//!
//! - **Sessions**: a cookie `runway_session` (`HttpOnly`, `SameSite=Strict`,
//!   `Path=/cabinet`, `Secure` when the server's public URL is `https`) holding
//!   a random token, a new one at each sign-in; the database keeps its digest
//!   ([`crate::services::sessions`]).
//! - **Cross-site requests**: every form that changes something carries the
//!   session's own token (checked), and a `POST` whose `Origin` is not this
//!   server's is refused (two ports of one host are one *site*, so `SameSite`
//!   alone would not do).
//! - **Pages** are rendered here ([`pages`], every value escaped), with a
//!   Content-Security-Policy that allows only this server's script and style
//!   (`cabinet.js`, `cabinet.css`: no inline code) and media from the media
//!   URLs' origin.
//! - Errors are pages too, with the status the API would answer.

mod pages;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use maud::Markup;
use serde::Deserialize;

use crate::domain::media::MediaKind;
use crate::domain::{Error, ErrorCode};
use crate::services::App;
use crate::services::accounts::Accounts;
use crate::services::lifecycle::MediaFilter;
use crate::services::sessions::owner_of;
use crate::services::tasks::TaskFilter;
use crate::storage::db::Session;

/// The session cookie's name.
const COOKIE: &str = "runway_session";

/// Media on one page of the gallery.
const MEDIA_PER_PAGE: usize = 24;
/// Tasks on the tasks page.
const TASKS_SHOWN: usize = 30;

/// The routes of the cabinet.
pub(crate) fn router(state: App) -> Router<App> {
    let signed_in = Router::new()
        .route("/cabinet/keys", get(keys_page).post(make_key))
        .route(
            "/cabinet/keys/{key_id}/revoke",
            get(confirm_revoke).post(revoke_key),
        )
        .route("/cabinet/media", get(media_page))
        .route(
            "/cabinet/media/delete",
            get(confirm_delete).post(delete_media),
        )
        .route("/cabinet/tasks", get(tasks_page))
        .route("/cabinet/tasks/{task_id}/events", get(task_events))
        .route("/cabinet/tasks/{task_id}/cancel", post(cancel_task))
        .route("/cabinet/usage", get(usage_page))
        .route("/cabinet/sign-out", post(sign_out))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_session,
        ));
    Router::new()
        .route("/cabinet", get(|| async { Redirect::to("/cabinet/keys") }))
        .route("/cabinet/sign-in", get(sign_in_page).post(sign_in))
        .route("/cabinet/static/cabinet.css", get(stylesheet))
        .route("/cabinet/static/cabinet.js", get(script))
        .merge(signed_in)
        .layer(middleware::from_fn_with_state(state, security_headers))
}

/// A signed-in request's session, and the cookie's token.
#[derive(Clone)]
struct SignedIn {
    session: Session,
    token: String,
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// Lets a request with a valid session through (with [`SignedIn`]); sends any
/// other to the sign-in page. A `POST` must come from this server's pages.
async fn require_session(State(state): State<App>, mut request: Request, next: Next) -> Response {
    let token = cookie(request.headers(), COOKIE).map(str::to_owned);
    let session = match &token {
        Some(token) => state.session(token).await,
        None => Ok(None),
    };
    let session = match session {
        Ok(Some(session)) => session,
        Ok(None) => return Redirect::to("/cabinet/sign-in").into_response(),
        Err(err) => return error_page(&err),
    };
    if request.method() == axum::http::Method::POST && !same_origin(request.headers()) {
        return error_page(&cross_site());
    }
    request.extensions_mut().insert(SignedIn {
        session,
        token: token.unwrap_or_default(),
    });
    next.run(request).await
}

/// Whether a request's `Origin` (when it has one) is the server it was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true; // not a browser's cross-site request: forms carry a token
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| url::Url::parse(o).ok())
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
    matches!((origin_host, host), (Some(a), Some(b)) if a == b)
}

fn cross_site() -> Error {
    Error::forbidden("this form was sent from another site: nothing was changed")
}

/// Checks a form's token against the session's, in constant time.
fn check_csrf(signed_in: &SignedIn, token: &str) -> Result<(), Error> {
    use subtle::ConstantTimeEq;
    let expected = signed_in.session.csrf_token.as_bytes();
    if token.is_empty() || !bool::from(token.as_bytes().ct_eq(expected)) {
        return Err(Error::forbidden(
            "this form is out of date or not from this cabinet: reload the page and try again",
        ));
    }
    Ok(())
}

/// The headers of every cabinet answer: no inline code, no framing, no sniffing.
async fn security_headers(State(state): State<App>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let media = state.public_origin.ascii_serialization();
    let media = if media == "null" {
        String::new()
    } else {
        format!(" {media}")
    };
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'{media}; \
         media-src 'self'{media}; connect-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An error as a page, with the status the API would answer.
fn error_page(err: &Error) -> Response {
    let status = super::error::status_of(err.code);
    let mut response = (status, pages::error(&err.message)).into_response();
    if let Some(seconds) = err.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A page, or the page of its error.
fn page(result: Result<Markup, Error>) -> Response {
    match result {
        Ok(markup) => markup.into_response(),
        Err(err) => error_page(&err),
    }
}

// ---------------------------------------------------------------- signing in

async fn sign_in_page() -> Markup {
    pages::sign_in("", None)
}

#[derive(Deserialize)]
struct SignInForm {
    account: String,
    password: String,
}

async fn sign_in(
    State(state): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if !same_origin(&headers) {
        return error_page(&cross_site());
    }
    match state
        .sign_in(&form.account, &form.password, &peer.ip().to_string())
        .await
    {
        Ok(session) => {
            // The session this browser had, if any, ends: one browser, one session.
            if let Some(old) = cookie(&headers, COOKIE)
                && let Err(err) = state.sign_out(old).await
            {
                tracing::info!(code = err.code.as_str(), "an earlier session was not ended");
            }
            let secure = if state.public_url().starts_with("https://") {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{COOKIE}={}; Path=/cabinet; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                session.token,
                session.ttl.as_secs()
            );
            let mut response = Redirect::to("/cabinet/keys").into_response();
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(err) => {
            let status = super::error::status_of(err.code);
            let mut response =
                (status, pages::sign_in(&form.account, Some(&err.message))).into_response();
            if let Some(seconds) = err.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    }
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Err(err) = check_csrf(&signed_in, &form.csrf) {
        return error_page(&err);
    }
    if let Err(err) = state.sign_out(&signed_in.token).await {
        return error_page(&err);
    }
    let mut response = Redirect::to("/cabinet/sign-in").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "runway_session=; Path=/cabinet; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

// ---------------------------------------------------------------- API access

async fn keys_page(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    page(render_keys(&state, &signed_in, None, None).await)
}

async fn render_keys(
    state: &App,
    signed_in: &SignedIn,
    made: Option<pages::MadeKey<'_>>,
    message: Option<&str>,
) -> Result<Markup, Error> {
    let keys = Accounts::new(state.db.clone())
        .keys(Some(&signed_in.session.account_name))
        .await?;
    Ok(pages::keys(&signed_in.session, &keys, made, message))
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

async fn make_key(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<KeyForm>,
) -> Response {
    if let Err(err) = check_csrf(&signed_in, &form.csrf) {
        return error_page(&err);
    }
    let label = Some(form.label.trim()).filter(|label| !label.is_empty());
    let made = Accounts::new(state.db.clone())
        .create_key(&signed_in.session.account_name, label)
        .await;
    match made {
        Ok(made) => {
            let shown = pages::MadeKey {
                key: &made.key,
                label: made.info.label.as_deref(),
            };
            page(render_keys(&state, &signed_in, Some(shown), None).await)
        }
        Err(err) => {
            let status = super::error::status_of(err.code);
            let rendered = render_keys(&state, &signed_in, None, Some(&err.message)).await;
            (status, page(rendered)).into_response()
        }
    }
}

/// The account's key `key_id`, or 404.
async fn own_key(
    state: &App,
    signed_in: &SignedIn,
    key_id: &str,
) -> Result<crate::storage::db::ApiKeyInfo, Error> {
    Accounts::new(state.db.clone())
        .keys(Some(&signed_in.session.account_name))
        .await?
        .into_iter()
        .find(|key| key.id == key_id)
        .ok_or_else(|| Error::new(ErrorCode::NotFound, "no such key in this account"))
}

async fn confirm_revoke(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Path(key_id): Path<String>,
) -> Response {
    page(
        own_key(&state, &signed_in, &key_id)
            .await
            .map(|key| pages::confirm_revoke(&signed_in.session, &key)),
    )
}

async fn revoke_key(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Path(key_id): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let revoked = async {
        check_csrf(&signed_in, &form.csrf)?;
        let key = own_key(&state, &signed_in, &key_id).await?;
        Accounts::new(state.db.clone()).revoke(&key.id).await
    }
    .await;
    match revoked {
        Ok(_) => Redirect::to("/cabinet/keys").into_response(),
        Err(err) => error_page(&err),
    }
}

// ---------------------------------------------------------------- media

#[derive(Deserialize)]
struct MediaQuery {
    kind: Option<String>,
    cursor: Option<String>,
}

async fn media_page(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<MediaQuery>,
) -> Response {
    let rendered = async {
        let kind = match query.kind.as_deref() {
            None | Some("") => None,
            Some(folder) => Some(
                MediaKind::from_folder(folder)
                    .ok_or_else(|| Error::invalid("kind", "kind is images, videos or audios"))?,
            ),
        };
        let filter = MediaFilter {
            kind,
            ..MediaFilter::default()
        };
        let owner = owner_of(&signed_in.session);
        let listed = state
            .list_media(&owner, &filter, MEDIA_PER_PAGE, query.cursor.as_deref())
            .await?;
        let items: Vec<_> = listed
            .media
            .into_iter()
            .map(|record| {
                let url = state.media_url(&record);
                (record, url)
            })
            .collect();
        Ok(pages::media(
            &signed_in.session,
            &items,
            kind,
            listed.next_cursor.as_deref(),
            None,
        ))
    }
    .await;
    page(rendered)
}

#[derive(Deserialize)]
struct MediaUrlQuery {
    url: String,
}

async fn confirm_delete(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Query(query): Query<MediaUrlQuery>,
) -> Response {
    let owner = owner_of(&signed_in.session);
    let rendered = async {
        let record = state.stored_record(&query.url, "url").await?;
        if record.owner != owner.0 {
            return Err(Error::media_not_found("url"));
        }
        let url = state.media_url(&record);
        Ok(pages::confirm_delete(&signed_in.session, &record, &url))
    }
    .await;
    page(rendered)
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    url: String,
}

async fn delete_media(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let deleted = async {
        check_csrf(&signed_in, &form.csrf)?;
        state
            .delete_own_media(&owner_of(&signed_in.session), &form.url)
            .await
    }
    .await;
    match deleted {
        Ok(()) => Redirect::to("/cabinet/media").into_response(),
        Err(err) => error_page(&err),
    }
}

// ---------------------------------------------------------------- tasks and usage

async fn tasks_page(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    let owner = owner_of(&signed_in.session);
    page(
        state
            .list_tasks(&owner, &TaskFilter::default(), TASKS_SHOWN, None)
            .await
            .map(|listed| pages::tasks(&signed_in.session, &listed.tasks, None)),
    )
}

async fn task_events(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Path(task_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let owner = owner_of(&signed_in.session);
    match super::handlers::tasks::event_stream(&state, &owner, &task_id, &headers).await {
        Ok(stream) => stream.into_response(),
        Err(err) => err.into_response(),
    }
}

async fn cancel_task(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
    Path(task_id): Path<String>,
    Form(form): Form<TokenForm>,
) -> Response {
    let cancelled = async {
        check_csrf(&signed_in, &form.csrf)?;
        let owner = owner_of(&signed_in.session);
        // A task that ended meanwhile is left as it is (a DELETE would remove it).
        if state.get_task(&owner, &task_id).await?.is_finished() {
            return Ok(());
        }
        state.delete_task(&owner, &task_id).await.map(drop)
    }
    .await;
    match cancelled {
        Ok(_) => Redirect::to("/cabinet/tasks").into_response(),
        Err(err) => error_page(&err),
    }
}

async fn usage_page(
    State(state): State<App>,
    Extension(signed_in): Extension<SignedIn>,
) -> Response {
    page(
        state
            .usage(&owner_of(&signed_in.session))
            .await
            .map(|usage| pages::usage(&signed_in.session, &usage)),
    )
}

// ---------------------------------------------------------------- static files

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("cabinet.css"),
    )
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("cabinet.js"),
    )
}
