//! Who owns media and tasks.

/// The owner of media and tasks: the SHA-256 (hex) of the API key that made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(pub String);
