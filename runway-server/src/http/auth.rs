//! `Authorization: Bearer <key>` on every `/v1/` route, and the per-key rate
//! limit: the middleware that turns a request into its [`Owner`].

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::{Error, ErrorCode};
use crate::services::App;

/// The bearer token of a request, if it has one.
pub fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Middleware: refuses requests without an accepted key (401) or over the
/// account's rate limit (429), and hands the caller's [`Owner`] (their account)
/// to the handlers; 503 `database_unavailable` when the key cannot be checked.
pub async fn require_key(State(state): State<App>, mut request: Request, next: Next) -> Response {
    let Some(key) = bearer(&request) else {
        return Error::unauthorized().into_response();
    };
    let owner = match state.keys.owner(key).await {
        Ok(Some(owner)) => owner,
        Ok(None) => return Error::unauthorized().into_response(),
        Err(err) => return err.into_response(),
    };
    if let Some(limits) = &state.rate_limits
        && let Err(seconds) = limits.check(&owner)
    {
        let mut err = Error::new(
            ErrorCode::RateLimited,
            format!("too many requests for this key; retry after {seconds} s"),
        );
        err.retry_after = Some(seconds);
        return err.into_response();
    }
    request.extensions_mut().insert(owner);
    next.run(request).await
}
