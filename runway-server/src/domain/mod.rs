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
