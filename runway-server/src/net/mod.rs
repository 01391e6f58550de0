//! The network outside: fetching media URLs of other hosts, guarded against
//! server-side request forgery, and the image model server the operator runs.

pub(crate) mod fetch;
pub(crate) mod generator;
