//! One handler per operation, grouped by concern.

pub(super) mod downloads;
pub(super) mod images;
pub(super) mod media;
pub(super) mod service;
pub(super) mod tasks;
pub(super) mod videos;

use crate::domain::{Error, Result};

/// The `limit` of a listing: 20 by default, 1 to 100 (422 otherwise).
fn page_limit(limit: Option<i64>) -> Result<usize> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid(
            "limit",
            format!("limit must be between 1 and 100 (got {limit})"),
        ));
    }
    Ok(limit as usize)
}

/// A query string that does not parse: 422 naming the parameter.
fn query_error(err: axum::extract::rejection::QueryRejection) -> Error {
    let text = err.body_text();
    let param = text.split('`').nth(1).unwrap_or("query").to_owned();
    Error::invalid(&param, text)
}
