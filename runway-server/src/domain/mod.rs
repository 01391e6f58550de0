//! The server's own types, with no I/O and nothing of HTTP or of the wire
//! contract: media and their records, owners, the media operation and its
//! bounds, tasks, and the one error with the one list of error codes. What is
//! stored is shaped here, never by the generated types.

pub(crate) mod error;
pub(crate) mod media;
pub(crate) mod op;
pub(crate) mod owner;
pub(crate) mod task;

pub(crate) use error::{Error, ErrorCode, Result};
pub(crate) use media::MediaRecord;
pub(crate) use owner::Owner;

/// The text of the stored record `name` as contract 1.1.x servers wrote it
/// (`tests/fixtures/stored-1.1/{name}.json`), for the tests that read it.
#[cfg(test)]
pub(crate) fn stored_fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/stored-1.1/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}
