//! The server's own types, with no I/O and nothing of HTTP or of the wire
//! contract: what is stored is shaped here, never by the generated types.

pub(crate) mod task;
