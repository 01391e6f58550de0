//! A JSON body extractor that answers in the contract's error format: 400 for
//! malformed JSON, 413 for an oversized body, 422 naming the parameter for a value
//! of the wrong type or out of the schema, also inside a union tagged by a field
//! such as `edit_type`.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use std::any::TypeId;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};

use schemars::schema::{Schema, SchemaObject};
use serde::de::DeserializeOwned;
use serde_json::Map;

use crate::domain::Error;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

/// The field named in a serde message such as "missing field `prompt`".
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// The fields of one object schema.
fn object_fields(schema: &SchemaObject) -> BTreeSet<String> {
    schema
        .object
        .as_ref()
        .map(|object| object.properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// The single value a property must have, if its schema fixes one (a union's tag).
fn constant_value(schema: &Schema) -> Option<&serde_json::Value> {
    match schema {
        Schema::Object(object) => match object.enum_values.as_deref() {
            Some([value]) => Some(value),
            _ => None,
        },
        Schema::Bool(_) => None,
    }
}

/// How a request type reads a JSON object, from its JSON Schema.
enum Shape {
    /// An object with these fields.
    Object(BTreeSet<String>),
    /// A union told apart by the value of `tag`, e.g. `edit_type`: the fields of the
    /// variant the document chose (empty when it names no variant).
    Tagged {
        tag: String,
        fields: BTreeSet<String>,
    },
}

/// The JSON Schema of `T`, made once per type rather than once per request.
fn schema_of<T: schemars::JsonSchema + 'static>() -> &'static SchemaObject {
    static SCHEMAS: OnceLock<Mutex<HashMap<TypeId, &'static SchemaObject>>> = OnceLock::new();
    let mut schemas = SCHEMAS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // One small schema per request type, kept for the life of the process.
    schemas
        .entry(TypeId::of::<T>())
        .or_insert_with(|| Box::leak(Box::new(schemars::schema_for!(T).schema)))
}

/// The shape of `T` for this document.
fn shape_of<T: schemars::JsonSchema + 'static>(document: &Map<String, serde_json::Value>) -> Shape {
    let root = schema_of::<T>();
    let variants = root
        .subschemas
        .as_ref()
        .and_then(|subschemas| subschemas.one_of.as_ref());
    let Some(variants) = variants else {
        return Shape::Object(object_fields(root));
    };
    let mut tag = None;
    let mut chosen = BTreeSet::new();
    for variant in variants {
        let Schema::Object(variant) = variant else {
            continue;
        };
        let Some(object) = variant.object.as_ref() else {
            continue;
        };
        for (name, property) in &object.properties {
            if let Some(value) = constant_value(property) {
                tag = Some(name.clone());
                if document.get(name) == Some(value) {
                    chosen = object_fields(variant);
                }
            }
        }
    }
    match tag {
        Some(tag) => Shape::Tagged {
            tag,
            fields: chosen,
        },
        None => Shape::Object(object_fields(root)),
    }
}

/// The parameter a deserialisation error is about. serde names the path for plain
/// objects; inside a tagged union it cannot, so the culprit is the one field whose
/// removal changes the error.
fn param_at_fault<T: DeserializeOwned>(
    shape: &Shape,
    document: &Map<String, serde_json::Value>,
    path: &str,
    message: &str,
) -> String {
    if path != "." {
        return path.to_owned();
    }
    if let Shape::Tagged { tag, fields } = shape {
        let chosen = document.get(tag).and_then(serde_json::Value::as_str);
        let names_the_tag = message.starts_with("unknown variant") && backticked(message) == chosen;
        if names_the_tag || fields.is_empty() {
            return tag.clone();
        }
        let missing = |name: &str| message.contains(&format!("missing field `{name}`"));
        for name in fields.iter().filter(|name| document.contains_key(*name)) {
            if name == tag || missing(name) {
                continue;
            }
            let mut without = document.clone();
            without.remove(name);
            match serde_json::from_value::<T>(serde_json::Value::Object(without)) {
                Ok(_) => return name.clone(),
                Err(err) if err.to_string().contains(&format!("missing field `{name}`")) => {
                    return name.clone();
                }
                Err(_) => {}
            }
        }
    }
    backticked(message).unwrap_or("body").to_owned()
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned + schemars::JsonSchema + 'static,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status().as_u16() == 413 {
                    Error::too_large("the request body is over the size limit")
                } else {
                    Error::bad_request(format!(
                        "the request body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::bad_request("a JSON request body is required"));
        }
        let document: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_request(format!("the body is not valid JSON: {e}")))?;
        from_document(&document, "").map(ApiJson)
    }
}

/// Reads `document` as a `T`, answering as the extractor does; `prefix` is put
/// before every parameter named (`input.` for the input of a task).
pub(crate) fn from_document<T>(document: &serde_json::Value, prefix: &str) -> Result<T, Error>
where
    T: DeserializeOwned + schemars::JsonSchema + 'static,
{
    let body = if prefix.is_empty() {
        "body"
    } else {
        prefix.trim_end_matches('.')
    };
    let Some(fields) = document.as_object() else {
        return Err(Error::invalid(
            body,
            format!("{body} must be a JSON object"),
        ));
    };
    // The contract has no nullable fields: an explicit null for one of the
    // operation's fields is a wrong type, not an absent field. Unknown fields (and
    // those of another variant of a union) are ignored, whatever their value.
    let shape = shape_of::<T>(fields);
    let known = match &shape {
        Shape::Object(fields) | Shape::Tagged { fields, .. } => fields,
    };
    if let Some((name, _)) = fields
        .iter()
        .find(|(name, value)| value.is_null() && known.contains(name.as_str()))
    {
        let param = format!("{prefix}{name}");
        return Err(Error::invalid(
            &param,
            format!("{param} must not be null; leave it out instead"),
        ));
    }
    serde_path_to_error::deserialize(document).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let param = match param_at_fault::<T>(&shape, fields, &path, &message) {
            param if param == "body" => body.to_owned(),
            param => format!("{prefix}{param}"),
        };
        Error::invalid(&param, format!("{param}: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use runway_api::types;
    use serde_json::json;

    fn object(value: serde_json::Value) -> Map<String, serde_json::Value> {
        match value {
            serde_json::Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn field_names_come_from_the_schema() {
        let Shape::Object(names) = shape_of::<types::GenerateImageRequest>(&Map::new()) else {
            panic!("generate-image takes an object");
        };
        let expected = [
            "height",
            "negative_prompt",
            "prompt",
            "seed",
            "style",
            "width",
        ];
        assert_eq!(
            names.iter().map(String::as_str).collect::<Vec<_>>(),
            expected
        );
    }

    #[test]
    fn a_union_reads_the_fields_of_the_chosen_variant() {
        let document = object(json!({"edit_type": "add-filter"}));
        let Shape::Tagged { tag, fields } = shape_of::<types::EditVideoRequest>(&document) else {
            panic!("edit-video is a tagged union");
        };
        assert_eq!(tag, "edit_type");
        assert_eq!(
            fields.iter().map(String::as_str).collect::<Vec<_>>(),
            ["edit_type", "filter", "video_url"]
        );
    }

    #[test]
    fn errors_inside_a_union_name_their_field() {
        let fault = |value: serde_json::Value| {
            let document = object(value);
            let shape = shape_of::<types::EditImageRequest>(&document);
            let err = serde_json::from_value::<types::EditImageRequest>(document.clone().into())
                .expect_err("invalid");
            param_at_fault::<types::EditImageRequest>(&shape, &document, ".", &err.to_string())
        };
        let url = "https://example.com/a.png";
        assert_eq!(
            fault(json!({"image_url": url, "edit_type": "resize", "resize_width": 0})),
            "resize_width"
        );
        assert_eq!(
            fault(json!({"image_url": url, "edit_type": "add-filter", "filter": "neon"})),
            "filter"
        );
        assert_eq!(
            fault(json!({"image_url": url, "edit_type": "add-filter"})),
            "filter"
        );
        assert_eq!(
            fault(json!({"image_url": url, "edit_type": "crop"})),
            "edit_type"
        );
        assert_eq!(fault(json!({"image_url": url})), "edit_type");
        assert_eq!(
            fault(json!({"image_url": 5, "edit_type": "resize"})),
            "image_url"
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
