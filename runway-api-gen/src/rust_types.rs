//! Where the Rust client uses hand-written types instead of generated ones.
//!
//! typify checks string lengths and patterns but not the bounds of numbers
//! (`VideoDuration` became a `NonZeroU32` that takes 20, a width took any `i64`),
//! and a generated string newtype takes `&str` and `String` but not `&String`, so
//! a URL from one answer did not go into the next request as it is. So the
//! generator gives these schemas to `runway-api`'s own types (its `values`
//! module), which check what the contract says:
//!
//! - [`HAND_WRITTEN`] components (`MediaUrl`, `TaskId`) and every component that
//!   is a bounded number (`VideoDuration`, `Fps`, `SpeedFactor`) become the type of
//!   the same name in `runway-api`;
//! - a bounded integer written inline in a request (`width` from 16 to 2048)
//!   becomes `Int<MIN, MAX>` (or `Int<MIN, MAX, STEP>` with a `multipleOf`), a
//!   bounded number one of [`NAMED_RANGES`];
//! - a query parameter that is a URL (`format: uri`) becomes `MediaUrl`;
//! - an optional request field whose component has a default takes that default
//!   (`fps`: 24), so it is a value with a default rather than an `Option`.
//!
//! Only request-side schemas are rewritten: answers keep plain numbers, so an
//! answer is never refused for a value the client would not send.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{
    OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, Schema, SchemaData, SchemaKind, Type,
};

/// Components that `runway-api` defines by hand (with checks typify does not make).
pub const HAND_WRITTEN: &[&str] = &["MediaUrl", "TaskId"];

/// Bounded numbers (not integers) of requests, by their bounds, and the
/// `runway-api` type of each. A new range in the contract needs a type here.
pub const NAMED_RANGES: &[(f64, f64, &str)] = &[(-1.0, 1.0, "Adjustment"), (0.0, 1.0, "Strength")];

/// The crate path of the hand-written types; `runway-api` names itself so with
/// `extern crate self as runway_api`, and the CLI and the mocks use the crate.
const CRATE: &str = "::runway_api";

/// A schema that the generated code does not define: the hand-written type used
/// wherever the contract names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The component's name in the (prepared) contract.
    pub schema: String,
    /// The Rust type used in its place.
    pub rust_type: String,
}

/// Rewrites `spec` as the module comment says and returns the replacements to give
/// progenitor. Fails when a request has a bounded number with no type.
pub fn use_hand_written_types(spec: &mut OpenAPI) -> Result<Vec<Replacement>, String> {
    let mut replacements = BTreeMap::new();
    let components = spec.components.get_or_insert_with(Default::default);
    for (name, schema) in &components.schemas {
        let hand_written = HAND_WRITTEN.contains(&name.as_str());
        let bounded = schema.as_item().is_some_and(|s| bounds(s).is_some());
        if hand_written || bounded {
            replacements.insert(name.clone(), format!("{CRATE}::{name}"));
        }
    }
    let defaults: BTreeMap<String, serde_json::Value> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| {
            Some((name.clone(), schema.as_item()?.schema_data.default.clone()?))
        })
        .collect();

    let mut synthesized = BTreeMap::new();
    for name in request_components(spec) {
        let Some(components) = spec.components.as_mut() else {
            break;
        };
        let Some(ReferenceOr::Item(schema)) = components.schemas.get_mut(&name) else {
            continue;
        };
        let mut rewrite = Rewrite {
            defaults: &defaults,
            synthesized: &mut synthesized,
        };
        rewrite.schema(schema, &name)?;
    }
    for parameter in parameters_mut(spec) {
        let (data, in_query) = match parameter {
            Parameter::Query { parameter_data, .. } => (parameter_data, true),
            Parameter::Header { parameter_data, .. }
            | Parameter::Path { parameter_data, .. }
            | Parameter::Cookie { parameter_data, .. } => (parameter_data, false),
        };
        let ParameterSchemaOrContent::Schema(ReferenceOr::Item(schema)) = &mut data.format else {
            continue;
        };
        let is_url = matches!(&schema.schema_kind, SchemaKind::Type(Type::String(s))
            if matches!(&s.format, openapiv3::VariantOrUnknownOrEmpty::Unknown(f) if f == "uri"));
        if in_query && is_url {
            data.format = ParameterSchemaOrContent::Schema(schema_ref("MediaUrl"));
            continue;
        }
        let at = format!("parameter `{}`", data.name);
        if let Some(name) = bounded_type(schema, &at, &mut synthesized)? {
            data.format = ParameterSchemaOrContent::Schema(schema_ref(&name));
        }
    }

    let components = spec.components.get_or_insert_with(Default::default);
    for (name, (schema, rust_type)) in synthesized {
        components
            .schemas
            .insert(name.clone(), ReferenceOr::Item(schema));
        replacements.insert(name, rust_type);
    }
    Ok(replacements
        .into_iter()
        .map(|(schema, rust_type)| Replacement { schema, rust_type })
        .collect())
}

/// Inline bounded numbers of one request schema, given component names of their own.
struct Rewrite<'a> {
    /// The defaults of components, by name.
    defaults: &'a BTreeMap<String, serde_json::Value>,
    /// The components made so far: name -> (schema, Rust type).
    synthesized: &'a mut BTreeMap<String, (Schema, String)>,
}

impl Rewrite<'_> {
    /// The default of the component that an `allOf` of one `$ref` names.
    fn default_of_single_ref(&self, schema: &Schema) -> Option<serde_json::Value> {
        let SchemaKind::AllOf { all_of } = &schema.schema_kind else {
            return None;
        };
        let [ReferenceOr::Reference { reference }] = all_of.as_slice() else {
            return None;
        };
        self.defaults
            .get(reference.trim_start_matches(SCHEMA_REF))
            .cloned()
    }

    fn schema(&mut self, schema: &mut Schema, at: &str) -> Result<(), String> {
        match &mut schema.schema_kind {
            SchemaKind::Type(Type::Object(object)) => {
                for (field, property) in object.properties.iter_mut() {
                    let required = object.required.contains(field);
                    let at = format!("{at}.{field}");
                    match property {
                        ReferenceOr::Item(inner) => {
                            if let Some(name) = bounded_type(inner, &at, self.synthesized)? {
                                *property = ReferenceOr::Item(Box::new(all_of(
                                    &name,
                                    inner.schema_data.clone(),
                                )));
                            } else if let (false, None, Some(default)) = (
                                required,
                                &inner.schema_data.default,
                                self.default_of_single_ref(inner),
                            ) {
                                inner.schema_data.default = Some(default);
                            } else {
                                self.schema(inner, &at)?;
                            }
                        }
                        ReferenceOr::Reference { reference } => {
                            let name = reference.trim_start_matches(SCHEMA_REF).to_owned();
                            if let (false, Some(default)) = (required, self.defaults.get(&name)) {
                                let data = SchemaData {
                                    default: Some(default.clone()),
                                    ..Default::default()
                                };
                                *property = ReferenceOr::Item(Box::new(all_of(&name, data)));
                            }
                        }
                    }
                }
            }
            SchemaKind::OneOf { one_of: items }
            | SchemaKind::AllOf { all_of: items }
            | SchemaKind::AnyOf { any_of: items } => {
                for item in items.iter_mut() {
                    if let ReferenceOr::Item(inner) = item {
                        let at = match &inner.schema_data.title {
                            Some(title) => format!("{at}.{title}"),
                            None => at.to_owned(),
                        };
                        self.schema(inner, &at)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The prefix of a reference to a component schema.
const SCHEMA_REF: &str = "#/components/schemas/";

/// When `schema` is a bounded number, the name of the component standing for its
/// hand-written type (made on first use).
fn bounded_type(
    schema: &Schema,
    at: &str,
    synthesized: &mut BTreeMap<String, (Schema, String)>,
) -> Result<Option<String>, String> {
    let Some(range) = bounds(schema) else {
        return Ok(None);
    };
    let (name, rust_type) = match range {
        Bounds::Integer { min, max, step } => {
            let generics = if step == 1 {
                format!("{min}, {max}")
            } else {
                format!("{min}, {max}, {step}")
            };
            let name = format!("Int{min}To{max}Step{step}").replace('-', "Minus");
            (name, format!("{CRATE}::Int<{generics}>"))
        }
        Bounds::Number { min, max } => {
            let Some((_, _, name)) = NAMED_RANGES
                .iter()
                .find(|(lo, hi, _)| *lo == min && *hi == max)
            else {
                return Err(format!(
                    "{at}: a number from {min} to {max} has no hand-written type; add one to \
                     runway-api's values and to NAMED_RANGES"
                ));
            };
            ((*name).to_owned(), format!("{CRATE}::{name}"))
        }
    };
    let bare = Schema {
        schema_data: SchemaData::default(),
        schema_kind: schema.schema_kind.clone(),
    };
    synthesized.entry(name.clone()).or_insert((bare, rust_type));
    Ok(Some(name))
}

/// The bounds of a number schema that has both a minimum and a maximum.
enum Bounds {
    Integer { min: i64, max: i64, step: i64 },
    Number { min: f64, max: f64 },
}

fn bounds(schema: &Schema) -> Option<Bounds> {
    match &schema.schema_kind {
        SchemaKind::Type(Type::Integer(int))
            if !int.exclusive_minimum && !int.exclusive_maximum =>
        {
            Some(Bounds::Integer {
                min: int.minimum?,
                max: int.maximum?,
                step: int.multiple_of.unwrap_or(1),
            })
        }
        SchemaKind::Type(Type::Number(num))
            if !num.exclusive_minimum && !num.exclusive_maximum && num.multiple_of.is_none() =>
        {
            Some(Bounds::Number {
                min: num.minimum?,
                max: num.maximum?,
            })
        }
        _ => None,
    }
}

/// `allOf: [$ref name]` with `data` (description, default) beside it.
fn all_of(name: &str, data: SchemaData) -> Schema {
    Schema {
        schema_data: data,
        schema_kind: SchemaKind::AllOf {
            all_of: vec![schema_ref(name)],
        },
    }
}

fn schema_ref(name: &str) -> ReferenceOr<Schema> {
    ReferenceOr::Reference {
        reference: format!("{SCHEMA_REF}{name}"),
    }
}

/// Every parameter of every operation, and the shared ones of `components`.
fn parameters_mut(spec: &mut OpenAPI) -> Vec<&mut Parameter> {
    let mut found = Vec::new();
    for item in spec.paths.paths.values_mut() {
        let ReferenceOr::Item(item) = item else {
            continue;
        };
        let shared = item.parameters.iter_mut();
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        let own = operations
            .into_iter()
            .flatten()
            .flat_map(|op| op.parameters.iter_mut());
        found.extend(shared.chain(own).filter_map(|p| match p {
            ReferenceOr::Item(p) => Some(p),
            ReferenceOr::Reference { .. } => None,
        }));
    }
    if let Some(components) = spec.components.as_mut() {
        found.extend(components.parameters.values_mut().filter_map(|p| match p {
            ReferenceOr::Item(p) => Some(p),
            ReferenceOr::Reference { .. } => None,
        }));
    }
    found
}

/// The component schemas a request body reaches, directly or through others.
fn request_components(spec: &OpenAPI) -> BTreeSet<String> {
    let mut bodies = Vec::new();
    for (_, _, op) in spec.operations() {
        if let Some(body) = &op.request_body
            && let Ok(value) = serde_json::to_value(body)
        {
            bodies.push(value);
        }
    }
    let schemas = spec
        .components
        .as_ref()
        .map(|c| c.schemas.clone())
        .unwrap_or_default();
    let mut found = BTreeSet::new();
    let mut queue: Vec<String> = bodies.iter().flat_map(references).collect();
    while let Some(name) = queue.pop() {
        if !found.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get(&name)
            && let Ok(value) = serde_json::to_value(schema)
        {
            queue.extend(references(&value));
        }
    }
    found
}

/// The component names of the `$ref`s in a JSON value.
pub(crate) fn references(value: &serde_json::Value) -> BTreeSet<String> {
    fn walk(value: &serde_json::Value, found: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(reference)) = map.get("$ref")
                    && let Some(name) = reference.strip_prefix(SCHEMA_REF)
                {
                    found.insert(name.to_owned());
                }
                map.values().for_each(|v| walk(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = BTreeSet::new();
    walk(value, &mut found);
    found
}
