//! The service itself: liveness, readiness, and the contract it implements.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use runway_api::types;
use sha2::{Digest, Sha256};

use crate::domain::Error;
use crate::services::App;

/// The contract the server was built from, byte for byte.
const CONTRACT_YAML: &str = include_str!("../../../../openapi/runway.yaml");

/// The reference page: Redoc rendering `/openapi.json`.
const DOCS_HTML: &str = include_str!("../../../assets/docs.html");

/// Redoc's standalone bundle (npm `redoc` 3.0.1, MIT), served by the server itself
/// so that `/docs` works without a network.
const REDOC_JS: &str = include_str!("../../../assets/redoc/redoc.standalone.js");

/// The contract converted to JSON, made once.
static CONTRACT_JSON: LazyLock<Result<String, String>> = LazyLock::new(|| {
    let value: serde_json::Value =
        yaml_serde::from_str(CONTRACT_YAML).map_err(|e| format!("the contract: {e}"))?;
    serde_json::to_string_pretty(&value).map_err(|e| format!("the contract as JSON: {e}"))
});

/// A strong validator of `body`.
fn etag(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `body` with its `ETag`, or 304 when the client has it already.
fn document(headers: &HeaderMap, body: &'static str, content_type: &'static str) -> Response {
    let tag = etag(body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

pub(crate) async fn openapi_yaml(headers: HeaderMap) -> Response {
    document(&headers, CONTRACT_YAML, "application/yaml")
}

pub(crate) async fn openapi_json(headers: HeaderMap) -> Response {
    match &*CONTRACT_JSON {
        Ok(json) => document(&headers, json, "application/json"),
        Err(err) => Error::internal(err).into_response(),
    }
}

/// The reference page's `Content-Security-Policy`: scripts, styles, images, fonts
/// and fetches from this server only (the page's one inline script by its hash;
/// inline styles, which Redoc's styled components write), so the page can send
/// nothing off the machine: Redoc's telemetry is off in that script, and its
/// attribution logo (an image on Redocly's CDN) is refused and not shown.
static DOCS_CSP: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine as _;
    let script = inline_script(DOCS_HTML).unwrap_or_default();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
    format!(
        "default-src 'none'; script-src 'self' 'sha256-{hash}'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
});

/// The text of the first inline `<script type="module">` of `html`.
fn inline_script(html: &str) -> Option<&str> {
    const OPEN: &str = "<script type=\"module\">";
    let start = html.find(OPEN)? + OPEN.len();
    let len = html[start..].find("</script>")?;
    Some(&html[start..start + len])
}

pub(crate) async fn docs(headers: HeaderMap) -> Response {
    let mut response = document(&headers, DOCS_HTML, "text/html; charset=utf-8");
    if let Ok(csp) = HeaderValue::from_str(&DOCS_CSP) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

pub(crate) async fn docs_script(headers: HeaderMap) -> Response {
    document(&headers, REDOC_JS, "text/javascript; charset=utf-8")
}

pub(crate) async fn health(State(state): State<App>) -> Json<types::Health> {
    Json(types::Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        media_engine: state.has_media_engine(),
    })
}

pub(crate) async fn readiness(State(state): State<App>) -> Result<Json<types::Readiness>, Error> {
    let ready = state.readiness().await?;
    Ok(Json(types::Readiness {
        status: "ready".to_owned(),
        queued_tasks: ready.queued_tasks as i64,
        max_queued_tasks: ready.max_queued_tasks as i64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_script_is_allowed_by_its_hash() {
        let script = inline_script(DOCS_HTML).expect("the page has its inline script");
        assert!(script.contains("disableTelemetry: true"));
        use base64::Engine as _;
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script));
        assert!(DOCS_CSP.contains(&format!("script-src 'self' 'sha256-{hash}'")));
        assert_eq!(hash.len(), 44, "a SHA-256 in base64");
        assert!(DOCS_CSP.starts_with("default-src 'none'"));
    }

    #[test]
    fn the_contract_converts_to_json() {
        let json = CONTRACT_JSON.as_ref().expect("converts");
        let value: serde_json::Value = serde_json::from_str(json).expect("JSON");
        assert_eq!(value["openapi"], "3.0.3");
        assert!(value["paths"]["/v1/tasks"].is_object());
    }
}
