//! The breaking-change gate: each kind of change to the contract, against the
//! released one, passes or fails as a client of the released contract would need.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xtask::SPEC_PATH;
use xtask::gate::{self, Finding, GateReport, RELEASED_DIR};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

/// A workspace holding the released contracts and a working contract changed by
/// `change`.
fn gate_after(change: impl FnOnce(&mut Value)) -> GateReport {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = workspace_root();
    std::fs::create_dir_all(dir.path().join(RELEASED_DIR)).expect("mkdir");
    for entry in std::fs::read_dir(root.join(RELEASED_DIR)).expect("released") {
        let entry = entry.expect("entry");
        std::fs::copy(
            entry.path(),
            dir.path().join(RELEASED_DIR).join(entry.file_name()),
        )
        .expect("copy");
    }
    let text = std::fs::read_to_string(root.join(SPEC_PATH)).expect("contract");
    let mut contract: Value = yaml_serde::from_str(&text).expect("yaml");
    change(&mut contract);
    let spec = dir.path().join(SPEC_PATH);
    std::fs::write(&spec, yaml_serde::to_string(&contract).expect("yaml")).expect("write");
    gate::gate(dir.path(), &spec).expect("the gate runs")
}

fn schema<'a>(contract: &'a mut Value, name: &str) -> &'a mut Value {
    &mut contract["components"]["schemas"][name]
}

fn failing(report: &GateReport) -> Vec<Finding> {
    assert!(!report.passes(), "passed: {}", report.explain());
    report.findings.clone()
}

fn assert_finds(report: &GateReport, location: &str, words: &str) {
    let findings = failing(report);
    assert!(
        findings
            .iter()
            .any(|f| f.location.contains(location) && f.message.contains(words)),
        "no finding at {location} saying {words:?}: {}",
        report.explain()
    );
    // The report names it, and says what to do.
    let text = report.explain();
    assert!(
        text.contains(location) && text.contains("cargo xtask release"),
        "{text}"
    );
}

#[test]
fn the_working_contract_is_compatible_with_the_released_one() {
    let report =
        gate::gate(&workspace_root(), &workspace_root().join(SPEC_PATH)).expect("the gate runs");
    assert!(report.released.is_some(), "a released contract is kept");
    assert!(report.passes(), "{}", report.explain());
}

#[test]
fn removing_an_operation_fails() {
    let report = gate_after(|c| {
        c["paths"]
            .as_object_mut()
            .expect("paths")
            .remove("/v1/usage");
    });
    assert_finds(&report, "/paths", "get_usage was removed");
}

#[test]
fn removing_an_enum_value_a_client_may_send_fails() {
    let report = gate_after(|c| {
        schema(c, "ImageStyle")["enum"] = json!(["photorealistic", "abstract"]);
    });
    assert_finds(
        &report,
        "#/components/schemas/ImageStyle",
        "`sketch` removed",
    );
}

#[test]
fn adding_a_required_request_field_fails() {
    let report = gate_after(|c| {
        let request = schema(c, "GenerateImageRequest");
        request["properties"]["guidance_scale"] = json!({"type": "number"});
        request["required"] = json!(["prompt", "guidance_scale"]);
    });
    assert_finds(
        &report,
        "#/components/schemas/GenerateImageRequest/properties/guidance_scale",
        "now required",
    );
}

#[test]
fn narrowing_a_request_bound_fails() {
    let report = gate_after(|c| {
        schema(c, "GenerateImageRequest")["properties"]["width"]["maximum"] = json!(1024);
    });
    assert_finds(
        &report,
        "#/components/schemas/GenerateImageRequest/properties/width",
        "maximum from 2048 to 1024",
    );
}

#[test]
fn a_new_value_in_a_response_enum_fails() {
    let report = gate_after(|c| {
        let status = schema(c, "TaskStatus");
        status["enum"]
            .as_array_mut()
            .expect("enum")
            .push(json!("paused"));
    });
    assert_finds(&report, "#/components/schemas/TaskStatus", "`paused` added");
}

#[test]
fn adding_an_optional_field_passes() {
    let report = gate_after(|c| {
        schema(c, "GenerateImageRequest")["properties"]["guidance_scale"] = json!({"type": "number", "format": "double", "description": "How closely to follow the prompt."});
        schema(c, "ImageMetadata")["properties"]["colour_space"] =
            json!({"type": "string", "description": "The colour space."});
    });
    assert!(report.passes(), "{}", report.explain());
    assert!(report.findings.is_empty(), "{}", report.explain());
}

#[test]
fn adding_an_operation_or_an_error_status_passes() {
    let report = gate_after(|c| {
        let usage = c["paths"]["/v1/usage"].clone();
        let mut quota = usage;
        quota["get"]["operationId"] = json!("get_quota");
        c["paths"]["/v1/quota"] = quota;
        c["paths"]["/v1/usage"]["get"]["responses"]["503"] =
            json!({"$ref": "#/components/responses/ServiceUnavailable"});
    });
    assert!(report.passes(), "{}", report.explain());
    assert!(report.findings.is_empty(), "{}", report.explain());
}

#[test]
fn a_ref_wrapped_to_carry_a_default_is_the_same_schema() {
    let report = gate_after(|c| {
        let request = schema(c, "GenerateImageRequest");
        request["properties"]["style"] = json!({
            "description": "The style; default `photorealistic`.",
            "allOf": [{"$ref": "#/components/schemas/ImageStyle"}],
            "default": "photorealistic"
        });
    });
    assert!(report.findings.is_empty(), "{}", report.explain());
    // ...and what it wraps is still compared.
    let report = gate_after(|c| {
        schema(c, "GenerateImageRequest")["properties"]["style"] =
            json!({"allOf": [{"$ref": "#/components/schemas/VideoFilter"}]});
    });
    assert_finds(
        &report,
        "properties/style",
        "now `VideoFilter` instead of `ImageStyle`",
    );
}

#[test]
fn a_breaking_change_passes_with_a_new_major_version_only() {
    let breaking = |c: &mut Value, version: &str| {
        schema(c, "ImageStyle")["enum"] = json!(["photorealistic", "abstract"]);
        c["info"]["version"] = json!(version);
    };
    let minor = gate_after(|c| breaking(c, "1.2.0"));
    assert!(!minor.passes(), "{}", minor.explain());
    assert!(minor.explain().contains("set info.version to 2.0.0"));
    let major = gate_after(|c| breaking(c, "2.0.0"));
    assert!(major.passes(), "{}", major.explain());
    assert_eq!(major.findings.len(), 1, "{}", major.explain());
}

#[test]
fn versions_follow_semver_rules_for_zero_majors() {
    use xtask::gate::Version;
    assert!(Version(0, 3, 1).allows_breaking(Version(0, 4, 0)));
    assert!(!Version(0, 3, 1).allows_breaking(Version(0, 3, 2)));
    assert!(Version(1, 1, 0).allows_breaking(Version(2, 0, 0)));
    assert!(!Version(1, 1, 0).allows_breaking(Version(1, 9, 0)));
    assert_eq!(Version::parse("1.10.2"), Some(Version(1, 10, 2)));
    assert_eq!(Version::parse("1.10"), None);
}

#[test]
fn a_change_drift_cannot_compare_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = workspace_root();
    let released = gate::latest_released(&root).expect("listed").expect("one");
    std::fs::create_dir_all(dir.path().join(RELEASED_DIR)).expect("mkdir");
    std::fs::copy(
        &released.1,
        dir.path()
            .join(RELEASED_DIR)
            .join(released.1.file_name().expect("name")),
    )
    .expect("copy");
    let text = std::fs::read_to_string(root.join(SPEC_PATH)).expect("contract");
    let mut contract: Value = yaml_serde::from_str(&text).expect("yaml");
    // A response's media type renamed: drift asserts on that.
    let ok = &mut contract["paths"]["/v1/usage"]["get"]["responses"]["200"]["content"];
    let body = ok["application/json"].take();
    *ok = json!({"application/vnd.runway+json": body});
    let spec = dir.path().join(SPEC_PATH);
    std::fs::create_dir_all(spec.parent().expect("parent")).expect("mkdir");
    std::fs::write(&spec, yaml_serde::to_string(&contract).expect("yaml")).expect("write");
    let err = gate::gate(dir.path(), &spec).expect_err("drift cannot compare it");
    assert!(err.to_string().contains("drift"), "{err}");
}

#[test]
fn release_needs_a_changelog_entry_and_a_new_version_for_new_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join(SPEC_PATH);
    std::fs::create_dir_all(spec.parent().expect("parent")).expect("mkdir");
    let text = std::fs::read_to_string(workspace_root().join(SPEC_PATH)).expect("contract");
    let mut contract: Value = yaml_serde::from_str(&text).expect("yaml");
    contract["info"]["version"] = json!("0.1.0");
    std::fs::write(&spec, yaml_serde::to_string(&contract).expect("yaml")).expect("write");

    let refused = gate::release(dir.path(), &spec).expect_err("no changelog entry");
    assert!(refused.to_string().contains("## 0.1.0"), "{refused}");
    std::fs::write(
        dir.path().join(gate::CHANGELOG_PATH),
        "## 0.1.0\n\n- first\n",
    )
    .expect("changelog");
    let released = gate::release(dir.path(), &spec).expect("released");
    assert!(released.ends_with("openapi/released/runway-0.1.0.yaml"));

    // Same version, other content: refused.
    contract["info"]["description"] = json!("changed");
    std::fs::write(&spec, yaml_serde::to_string(&contract).expect("yaml")).expect("write");
    let refused = gate::release(dir.path(), &spec).expect_err("same version");
    assert!(
        refused.to_string().contains("set a new info.version"),
        "{refused}"
    );
}
