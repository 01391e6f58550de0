//! The breaking-change gate: the working contract against the last released one
//! (`openapi/released/runway-<version>.yaml`).
//!
//! A change is **incompatible** when a client generated from the released contract
//! can fail against a server of the new one. Two sources find them:
//!
//! - oxidecomputer's `drift` compares operations: an operation or parameter
//!   removed, a parameter or request body now required, a new success status.
//!   (`drift` also calls a new *error* status backward-incompatible; errors are
//!   already errors to every generated client, so a new 4xx/5xx/3xx is not.)
//! - Our own rules compare schemas, which `drift` leaves "unhandled", knowing which
//!   way each schema travels. In a **request** (the client writes it): an enum
//!   value removed, a property removed or newly required, a bound narrowed (a
//!   higher `minimum`, a lower `maxLength`, a new `pattern`...), a variant removed.
//!   In a **response** (the client reads it, and generated clients check it): an
//!   enum value or a union variant added, a required property removed or made
//!   optional, a bound widened. In either: a type changed, a `$ref` to another
//!   schema.
//!
//! Incompatible changes pass only with a new major `info.version` (a new minor
//! while the major is 0); `cargo xtask release` then blesses the contract.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Released contracts, relative to the workspace root.
pub const RELEASED_DIR: &str = "openapi/released";
/// The contract's changelog, relative to the workspace root.
pub const CHANGELOG_PATH: &str = "openapi/CHANGELOG.md";

/// A version `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// Reads `1.2.3`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u64>().ok());
        let version = Version(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(version)
    }

    /// Whether going from `self` to `next` may break clients: a new major, or a new
    /// minor while the major is 0.
    pub fn allows_breaking(self, next: Version) -> bool {
        match self.0 {
            0 => next.0 > 0 || next.1 > self.1,
            _ => next.0 > self.0,
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// One incompatible change: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// A JSON pointer into the new contract (or the old one, for removals).
    pub location: String,
    /// What changed, for people.
    pub message: String,
}

/// What the gate concluded.
#[derive(Debug)]
pub struct GateReport {
    /// The released contract compared against, if there is one.
    pub released: Option<(Version, PathBuf)>,
    /// The working contract's version.
    pub version: Version,
    /// Every incompatible change.
    pub findings: Vec<Finding>,
}

impl GateReport {
    /// Whether the working contract may stand as it is.
    pub fn passes(&self) -> bool {
        match self.released {
            None => true,
            Some((released, _)) => {
                self.findings.is_empty() || released.allows_breaking(self.version)
            }
        }
    }

    /// The report for people: each finding, and what to do.
    pub fn explain(&self) -> String {
        let Some((released, path)) = &self.released else {
            return "no released contract yet: run `cargo xtask release` to bless one".to_owned();
        };
        let mut text = format!(
            "openapi/runway.yaml ({}) against the released {released} ({}): ",
            self.version,
            path.display()
        );
        if self.findings.is_empty() {
            text.push_str("no incompatible change");
            return text;
        }
        text.push_str(&format!(
            "{} incompatible change(s):\n",
            self.findings.len()
        ));
        for finding in &self.findings {
            text.push_str(&format!("  - {}: {}\n", finding.location, finding.message));
        }
        if self.passes() {
            text.push_str(&format!(
                "allowed: {} is a new major version of {released}",
                self.version
            ));
        } else {
            let next = match released.0 {
                0 => Version(0, released.1 + 1, 0),
                major => Version(major + 1, 0, 0),
            };
            text.push_str(&format!(
                "these break clients of {released}: undo them, or set info.version to {next}, \
                 describe them in {CHANGELOG_PATH} and run `cargo xtask release`"
            ));
        }
        text
    }
}

/// Why the gate could not run.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A contract is not YAML, or has no usable `info.version`.
    #[error("{}: {message}", path.display())]
    Contract {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `drift` failed on the two contracts.
    #[error("drift could not compare the contracts: {0}")]
    Drift(String),
    /// `release` was asked to bless what it must not.
    #[error("{0}")]
    Refused(String),
}

fn read_contract(path: &Path) -> Result<Value, GateError> {
    let text = std::fs::read_to_string(path).map_err(|source| GateError::Io {
        path: path.to_owned(),
        source,
    })?;
    yaml_serde::from_str(&text).map_err(|e| GateError::Contract {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn version_of(contract: &Value, path: &Path) -> Result<Version, GateError> {
    contract["info"]["version"]
        .as_str()
        .and_then(Version::parse)
        .ok_or_else(|| GateError::Contract {
            path: path.to_owned(),
            message: "info.version is not major.minor.patch".to_owned(),
        })
}

/// The newest released contract under `root`, if any.
pub fn latest_released(root: &Path) -> Result<Option<(Version, PathBuf)>, GateError> {
    let dir = root.join(RELEASED_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(GateError::Io { path: dir, source }),
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(version) = name
            .strip_prefix("runway-")
            .and_then(|n| n.strip_suffix(".yaml"))
            .and_then(Version::parse)
        {
            found.push((version, entry.path()));
        }
    }
    Ok(found.into_iter().max())
}

/// Compares the contract at `spec` with the newest released one under `root`.
pub fn gate(root: &Path, spec: &Path) -> Result<GateReport, GateError> {
    let new = read_contract(spec)?;
    let version = version_of(&new, spec)?;
    let Some((released, path)) = latest_released(root)? else {
        return Ok(GateReport {
            released: None,
            version,
            findings: Vec::new(),
        });
    };
    let old = read_contract(&path)?;
    if version < released {
        return Err(GateError::Contract {
            path: spec.to_owned(),
            message: format!("info.version {version} is older than the released {released}"),
        });
    }
    let mut findings = operation_changes(&old, &new)?;
    findings.extend(schema_changes(&old, &new));
    findings.sort();
    findings.dedup();
    let shown = path
        .strip_prefix(root)
        .map_or(path.clone(), Path::to_path_buf);
    Ok(GateReport {
        released: Some((released, shown)),
        version,
        findings,
    })
}

/// Blesses the contract at `spec` as released: a copy in `RELEASED_DIR` named by
/// its version. Refuses a version already released with other content, and a
/// version the changelog does not describe.
pub fn release(root: &Path, spec: &Path) -> Result<PathBuf, GateError> {
    let contract = read_contract(spec)?;
    let version = version_of(&contract, spec)?;
    let report = gate(root, spec)?;
    if !report.passes() {
        return Err(GateError::Refused(report.explain()));
    }
    let changelog = root.join(CHANGELOG_PATH);
    let notes = std::fs::read_to_string(&changelog).unwrap_or_default();
    if !notes.lines().any(|l| l.trim() == format!("## {version}")) {
        return Err(GateError::Refused(format!(
            "{CHANGELOG_PATH} has no `## {version}` section: say what {version} changes first"
        )));
    }
    let target = root
        .join(RELEASED_DIR)
        .join(format!("runway-{version}.yaml"));
    let text = std::fs::read(spec).map_err(|source| GateError::Io {
        path: spec.to_owned(),
        source,
    })?;
    match std::fs::read(&target) {
        Ok(existing) if existing == text => return Ok(target),
        Ok(_) => {
            return Err(GateError::Refused(format!(
                "{version} is released with other content ({}): set a new info.version",
                target.display()
            )));
        }
        Err(_) => {}
    }
    let io = |source| GateError::Io {
        path: target.clone(),
        source,
    };
    std::fs::create_dir_all(root.join(RELEASED_DIR)).map_err(io)?;
    std::fs::write(&target, text).map_err(io)?;
    Ok(target)
}

/// Operation-level changes, from `drift`.
fn operation_changes(old: &Value, new: &Value) -> Result<Vec<Finding>, GateError> {
    // drift asserts on some media-type edits; a panic is a failure to compare, not
    // a crash of the gate (and its default message would only be noise here).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let compared = std::panic::catch_unwind(|| drift::compare(old, new));
    std::panic::set_hook(hook);
    let changes = match compared {
        Ok(Ok(changes)) => changes,
        Ok(Err(err)) => return Err(GateError::Drift(err.to_string())),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "it panicked".to_owned());
            return Err(GateError::Drift(reason));
        }
    };
    let mut findings = Vec::new();
    for change in changes {
        for info in &change.changes {
            let breaks = matches!(
                info.class,
                drift::ChangeClass::BackwardIncompatible | drift::ChangeClass::Incompatible
            );
            if !breaks || is_new_non_success_status(&info.message) {
                continue;
            }
            let location = change.paths.first().map_or_else(String::new, |path| {
                let at = match info.details {
                    drift::ChangeDetails::Removed => &path.old,
                    _ => &path.new,
                };
                let mut pointer = at.to_string();
                if !info.new_subpath.is_empty() {
                    pointer = format!("{pointer}/{}", info.new_subpath);
                }
                pointer
            });
            findings.push(Finding {
                location,
                message: info.message.clone(),
            });
        }
    }
    Ok(findings)
}

/// `drift`'s "operation added a new response code N" for a status that is not 2xx.
fn is_new_non_success_status(message: &str) -> bool {
    message
        .strip_prefix("operation added a new response code ")
        .is_some_and(|status| !status.trim().starts_with('2'))
}

/// Which way a schema travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Direction {
    /// Clients send it (request bodies, parameters).
    request: bool,
    /// Clients receive it (responses).
    response: bool,
}

const REQUEST: Direction = Direction {
    request: true,
    response: false,
};
const RESPONSE: Direction = Direction {
    request: false,
    response: true,
};

/// Schema-level changes of every operation both contracts have, and of every
/// component schema those reach.
fn schema_changes(old: &Value, new: &Value) -> Vec<Finding> {
    let mut diff = SchemaDiff {
        old,
        new,
        findings: Vec::new(),
        components: BTreeMap::new(),
    };
    let methods = ["get", "put", "post", "delete", "patch", "head", "options"];
    let empty = serde_json::Map::new();
    let old_paths = old["paths"].as_object().unwrap_or(&empty);
    for (path, old_item) in old_paths {
        for method in methods {
            let (Some(old_op), Some(new_op)) = (
                old_item.get(method),
                new["paths"].get(path).and_then(|item| item.get(method)),
            ) else {
                continue; // a removed operation is drift's finding
            };
            let at = format!(
                "#/paths/{}/{method}",
                path.replace('~', "~0").replace('/', "~1")
            );
            diff.operation(old_op, new_op, &at);
        }
    }
    // Component schemas, each once per direction they travel in.
    let mut done = BTreeSet::new();
    while let Some((name, direction)) = diff
        .components
        .iter()
        .map(|(name, direction)| (name.clone(), *direction))
        .find(|entry| !done.contains(entry))
    {
        done.insert((name.clone(), direction));
        let (Some(old_schema), Some(new_schema)) = (
            old["components"]["schemas"].get(&name),
            new["components"]["schemas"].get(&name),
        ) else {
            continue;
        };
        let at = format!("#/components/schemas/{name}");
        diff.schema(old_schema, new_schema, direction, &at);
    }
    diff.findings
}

struct SchemaDiff<'a> {
    old: &'a Value,
    new: &'a Value,
    findings: Vec<Finding>,
    /// Component schemas reached, and the directions they travel in.
    components: BTreeMap<String, Direction>,
}

/// `value`, or what its local `$ref` points at in `doc`.
fn resolve<'v>(doc: &'v Value, value: &'v Value) -> &'v Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or(&Value::Null),
        None => value,
    }
}

/// The schema inside an `allOf` of one (the usual way to put a `default` or a
/// `description` beside a `$ref`); the schema itself otherwise.
fn unwrap_alias(schema: &Value) -> &Value {
    match schema["allOf"].as_array().map(Vec::as_slice) {
        Some([inner]) if schema.get("type").is_none() && schema.get("properties").is_none() => {
            inner
        }
        _ => schema,
    }
}

/// The component a schema `$ref` names.
fn ref_name(schema: &Value) -> Option<&str> {
    schema["$ref"]
        .as_str()?
        .strip_prefix("#/components/schemas/")
}

/// Whether a bound is a lower one (`minimum`...) or an upper one (`maximum`...).
const BOUNDS: [(&str, bool); 8] = [
    ("minimum", true),
    ("minLength", true),
    ("minItems", true),
    ("minProperties", true),
    ("maximum", false),
    ("maxLength", false),
    ("maxItems", false),
    ("maxProperties", false),
];

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "none".to_owned(),
        Value::String(s) => format!("`{s}`"),
        other => other.to_string(),
    }
}

impl<'a> SchemaDiff<'a> {
    fn find(&mut self, location: &str, message: String) {
        self.findings.push(Finding {
            location: location.to_owned(),
            message,
        });
    }

    fn operation(&mut self, old: &'a Value, new: &'a Value, at: &str) {
        for old_param in old["parameters"].as_array().into_iter().flatten() {
            let old_param = resolve(self.old, old_param);
            let key = (&old_param["name"], &old_param["in"]);
            let found = new["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| resolve(self.new, p))
                .find(|p| (&p["name"], &p["in"]) == key);
            if let Some(new_param) = found {
                let name = old_param["name"].as_str().unwrap_or("?");
                let at = format!("{at}/parameters/{name}");
                self.schema(&old_param["schema"], &new_param["schema"], REQUEST, &at);
            }
        }
        let (old_body, new_body) = (
            resolve(self.old, &old["requestBody"]),
            resolve(self.new, &new["requestBody"]),
        );
        for (media, old_media) in old_body["content"].as_object().into_iter().flatten() {
            if let Some(new_media) = new_body["content"].get(media) {
                let at = format!("{at}/requestBody/content/{}", media.replace('/', "~1"));
                self.schema(&old_media["schema"], &new_media["schema"], REQUEST, &at);
            }
        }
        for (status, old_response) in old["responses"].as_object().into_iter().flatten() {
            let old_response = resolve(self.old, old_response);
            let new_response = resolve(self.new, &new["responses"][status]);
            for (media, old_media) in old_response["content"].as_object().into_iter().flatten() {
                if let Some(new_media) = new_response["content"].get(media) {
                    let at = format!(
                        "{at}/responses/{status}/content/{}",
                        media.replace('/', "~1")
                    );
                    self.schema(&old_media["schema"], &new_media["schema"], RESPONSE, &at);
                }
            }
        }
    }

    /// Compares one schema, travelling in `direction`, found at `at`.
    fn schema(&mut self, old: &'a Value, new: &'a Value, direction: Direction, at: &str) {
        if old.is_null() || new.is_null() {
            return;
        }
        let (old, new) = (unwrap_alias(old), unwrap_alias(new));
        match (ref_name(old), ref_name(new)) {
            (Some(old_name), Some(new_name)) if old_name == new_name => {
                let entry = self
                    .components
                    .entry(old_name.to_owned())
                    .or_insert(direction);
                entry.request |= direction.request;
                entry.response |= direction.response;
                return;
            }
            (Some(old_name), Some(new_name)) => {
                self.find(at, format!("now `{new_name}` instead of `{old_name}`"));
                return;
            }
            (Some(_), None) | (None, Some(_)) => {
                let (old, new) = (resolve(self.old, old), resolve(self.new, new));
                return self.schema(old, new, direction, at);
            }
            (None, None) => {}
        }
        if old["type"] != new["type"] && !old["type"].is_null() {
            self.find(
                at,
                format!(
                    "type changed from {} to {}",
                    shown(&old["type"]),
                    shown(&new["type"])
                ),
            );
            return;
        }
        if old["format"] != new["format"] {
            self.find(
                at,
                format!(
                    "format changed from {} to {}",
                    shown(&old["format"]),
                    shown(&new["format"])
                ),
            );
        }
        self.enumeration(old, new, direction, at);
        self.bounds(old, new, direction, at);
        self.properties(old, new, direction, at);
        if old["items"].is_object() {
            let at = format!("{at}/items");
            self.schema(&old["items"], &new["items"], direction, &at);
        }
        for union in ["oneOf", "anyOf", "allOf"] {
            self.variants(old, new, union, direction, at);
        }
    }

    fn enumeration(&mut self, old: &Value, new: &Value, direction: Direction, at: &str) {
        let values = |schema: &Value| -> BTreeSet<String> {
            schema["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .map(shown)
                .collect()
        };
        let (old_values, new_values) = (values(old), values(new));
        if old_values.is_empty() && new_values.is_empty() {
            return;
        }
        if direction.request {
            for removed in old_values.difference(&new_values) {
                self.find(
                    at,
                    format!("enum value {removed} removed (clients may send it)"),
                );
            }
        }
        if direction.response {
            for added in new_values.difference(&old_values) {
                if !old_values.is_empty() {
                    self.find(
                        at,
                        format!("enum value {added} added (clients may not know it)"),
                    );
                }
            }
        }
    }

    fn bounds(&mut self, old: &Value, new: &Value, direction: Direction, at: &str) {
        for (key, lower) in BOUNDS {
            let (before, after) = (old[key].as_f64(), new[key].as_f64());
            let narrower = match (before, after) {
                (Some(b), Some(a)) => (lower && a > b) || (!lower && a < b),
                (None, Some(_)) => true,
                _ => false,
            };
            let wider = match (before, after) {
                (Some(b), Some(a)) => (lower && a < b) || (!lower && a > b),
                (Some(_), None) => true,
                _ => false,
            };
            let change = format!("{key} from {} to {}", shown(&old[key]), shown(&new[key]));
            if narrower && direction.request {
                self.find(at, format!("{change}: requests valid before are refused"));
            }
            if wider && direction.response {
                self.find(at, format!("{change}: responses may fail clients' checks"));
            }
        }
        for key in ["exclusiveMinimum", "exclusiveMaximum", "multipleOf"] {
            let (before, after) = (&old[key], &new[key]);
            let narrower = match key {
                "multipleOf" => before != after && !after.is_null(),
                _ => after.as_bool() == Some(true) && before.as_bool() != Some(true),
            };
            let wider = match key {
                "multipleOf" => before != after && !before.is_null(),
                _ => before.as_bool() == Some(true) && after.as_bool() != Some(true),
            };
            let change = format!("{key} from {} to {}", shown(before), shown(after));
            if narrower && direction.request {
                self.find(at, format!("{change}: requests valid before are refused"));
            }
            if wider && direction.response {
                self.find(at, format!("{change}: responses may fail clients' checks"));
            }
        }
        if old["pattern"] != new["pattern"] {
            let change = format!(
                "pattern from {} to {}",
                shown(&old["pattern"]),
                shown(&new["pattern"])
            );
            if direction.request && !new["pattern"].is_null() {
                self.find(
                    at,
                    format!("{change}: requests valid before may be refused"),
                );
            }
            if direction.response && !old["pattern"].is_null() {
                self.find(at, format!("{change}: responses may fail clients' checks"));
            }
        }
        let nullable = |schema: &Value| schema["nullable"].as_bool() == Some(true);
        if direction.request && nullable(old) && !nullable(new) {
            self.find(
                at,
                "no longer nullable: requests sending null are refused".to_owned(),
            );
        }
        if direction.response && !nullable(old) && nullable(new) {
            self.find(at, "now nullable: clients may not expect null".to_owned());
        }
    }

    fn properties(&mut self, old: &'a Value, new: &'a Value, direction: Direction, at: &str) {
        let (Some(old_props), Some(new_props)) =
            (old["properties"].as_object(), new["properties"].as_object())
        else {
            return;
        };
        let required = |schema: &Value| -> BTreeSet<String> {
            schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        };
        let (old_required, new_required) = (required(old), required(new));
        for (name, old_prop) in old_props {
            let at_prop = format!("{at}/properties/{name}");
            match new_props.get(name) {
                None => {
                    if direction.request {
                        self.find(
                            &at_prop,
                            "property removed (clients may send it)".to_owned(),
                        );
                    }
                    if direction.response && old_required.contains(name) {
                        self.find(&at_prop, "required property removed".to_owned());
                    }
                }
                Some(new_prop) => {
                    if direction.response
                        && old_required.contains(name)
                        && !new_required.contains(name)
                    {
                        self.find(&at_prop, "no longer required: it may be absent".to_owned());
                    }
                    self.schema(old_prop, new_prop, direction, &at_prop);
                }
            }
        }
        if direction.request {
            for name in new_required.difference(&old_required) {
                self.find(
                    &format!("{at}/properties/{name}"),
                    "now required: clients that leave it out are refused".to_owned(),
                );
            }
        }
    }

    fn variants(
        &mut self,
        old: &'a Value,
        new: &'a Value,
        union: &str,
        direction: Direction,
        at: &str,
    ) {
        let keyed = |schema: &'a Value| -> BTreeMap<String, &'a Value> {
            schema[union]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, variant)| {
                    let key = ref_name(variant)
                        .map(str::to_owned)
                        .or_else(|| variant["title"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| format!("#{i}"));
                    (key, variant)
                })
                .collect()
        };
        let (old_variants, new_variants) = (keyed(old), keyed(new));
        for (key, old_variant) in &old_variants {
            let at_variant = format!("{at}/{union}/{key}");
            match new_variants.get(key) {
                None if direction.request => self.find(
                    &at_variant,
                    "variant removed (clients may send it)".to_owned(),
                ),
                None => {}
                Some(new_variant) => self.schema(old_variant, new_variant, direction, &at_variant),
            }
        }
        if direction.response && !old_variants.is_empty() {
            for key in new_variants
                .keys()
                .filter(|k| !old_variants.contains_key(*k))
            {
                self.find(
                    &format!("{at}/{union}/{key}"),
                    "variant added (clients may not know it)".to_owned(),
                );
            }
        }
    }
}
