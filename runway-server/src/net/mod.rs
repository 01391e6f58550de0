//! The network outside: fetching media URLs of other hosts, guarded against
//! server-side request forgery.

pub(crate) mod fetch;
