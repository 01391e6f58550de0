//! A JSON body extractor that answers in the contract's error format: 400 for
//! malformed JSON, 413 for an oversized body, 422 naming the parameter for a value
//! of the wrong type or out of the schema.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

/// The field named in a serde message such as "missing field `prompt`".
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// The top-level field names of the request type `T`, from its JSON Schema.
fn field_names<T: schemars::JsonSchema>() -> std::collections::BTreeSet<String> {
    let schema = schemars::schema_for!(T);
    schema
        .schema
        .object
        .map(|object| object.properties.into_keys().collect())
        .unwrap_or_default()
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + schemars::JsonSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status().as_u16() == 413 {
                    ApiError::too_large("the request body is over the size limit")
                } else {
                    ApiError::bad_request(format!(
                        "the request body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("a JSON request body is required"));
        }
        let document: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
        let Some(fields) = document.as_object() else {
            return Err(ApiError::invalid("body", "the body must be a JSON object"));
        };
        // The contract has no nullable fields: an explicit null for one of the
        // operation's fields is a wrong type, not an absent field. Unknown fields are
        // ignored, whatever their value.
        let known = field_names::<T>();
        if let Some((name, _)) = fields
            .iter()
            .find(|(name, value)| value.is_null() && known.contains(name.as_str()))
        {
            return Err(ApiError::invalid(
                name,
                format!("{name} must not be null; leave it out instead"),
            ));
        }
        let value = serde_path_to_error::deserialize(document).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            let param = if path == "." {
                backticked(&message).unwrap_or("body").to_owned()
            } else {
                path
            };
            ApiError::invalid(&param, format!("{param}: {message}"))
        })?;
        Ok(ApiJson(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_come_from_the_schema() {
        let names = field_names::<runway_api::types::GenerateImageRequest>();
        let expected = ["height", "prompt", "style", "width"];
        assert_eq!(
            names.iter().map(String::as_str).collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn the_missing_field_is_named() {
        assert_eq!(
            backticked("missing field `prompt` at line 1"),
            Some("prompt")
        );
        assert_eq!(backticked("no field"), None);
    }
}
