//! API keys: `Authorization: Bearer <key>` on every `/v1/` route.
//!
//! Keys are kept only as SHA-256 digests; a media's owner is the digest of the key
//! that created it, so records never hold a key.

use std::collections::HashSet;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// The owner id of a key: its SHA-256, hex.
pub fn owner_of(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The accepted keys, by digest.
#[derive(Debug, Clone, Default)]
pub struct Keys(HashSet<String>);

impl Keys {
    /// Accepts `keys` (blank ones are ignored).
    pub fn new<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        Self(
            keys.into_iter()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(owner_of)
                .collect(),
        )
    }

    /// The owner id of `key` when it is accepted.
    pub fn check(&self, key: &str) -> Option<Owner> {
        let owner = owner_of(key);
        self.0.contains(&owner).then_some(Owner(owner))
    }

    /// Whether no key is accepted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The caller of a `/v1/` route: the digest of their key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);

/// A new random API key, `rwk_` and 32 hex digits.
pub fn generate_key() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!(
        "rwk_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// The bearer token of a request, if it has one.
pub fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Middleware: refuses requests without an accepted key (401) and hands the
/// caller's [`Owner`] to the handlers.
pub async fn require_key(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(owner) = bearer(&request).and_then(|key| state.keys.check(key)) else {
        return ApiError::unauthorized().into_response();
    };
    request.extensions_mut().insert(owner);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_by_digest() {
        let keys = Keys::new(["alpha", " beta ", ""]);
        assert!(keys.check("alpha").is_some());
        assert!(keys.check("beta").is_some());
        assert!(keys.check("gamma").is_none());
        assert!(keys.check("").is_none());
        assert_eq!(keys.check("alpha").map(|o| o.0), Some(owner_of("alpha")));
    }

    #[test]
    fn generated_keys_differ() {
        let a = generate_key().expect("key");
        let b = generate_key().expect("key");
        assert_ne!(a, b);
        assert!(a.starts_with("rwk_") && a.len() == 36);
    }
}
