//! The logic behind `cargo xtask`, as a library so that it can be tested.

use std::path::{Path, PathBuf};

use runway_api_gen::GenError;

pub mod gate;
pub mod layers;

/// The contract, relative to the workspace root.
pub const SPEC_PATH: &str = "openapi/runway.yaml";
/// The generated client source, relative to the workspace root.
pub const GENERATED_PATH: &str = "runway-api/src/generated.rs";
/// The generated httpmock helpers, relative to the workspace root.
pub const GENERATED_MOCKS_PATH: &str = "runway-api-httpmock/src/generated.rs";
/// The generated CLI commands, relative to the workspace root.
pub const GENERATED_CLI_PATH: &str = "runway-cli/src/generated.rs";

/// What a task found or did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `regen` wrote these files.
    Written(Vec<PathBuf>),
    /// `check` found everything up to date.
    UpToDate,
    /// `check` found stale files; the report holds a diff and the fix.
    Stale(String),
}

/// Why a task could not run.
#[derive(Debug)]
pub enum TaskError {
    /// The contract is invalid or could not be generated from.
    Generate(GenError),
    /// A file could not be read or written.
    Io(PathBuf, std::io::Error),
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskError::Generate(err) => write!(f, "{err}"),
            TaskError::Io(path, err) => write!(f, "{}: {err}", path.display()),
        }
    }
}

impl std::error::Error for TaskError {}

/// Every generated file: its path and its expected content.
fn expected_files(root: &Path) -> Result<Vec<(PathBuf, String)>, TaskError> {
    let spec_path = root.join(SPEC_PATH);
    let origin = spec_path.display().to_string();
    let spec = runway_api_gen::load_spec(&spec_path).map_err(TaskError::Generate)?;
    let client = runway_api_gen::generate(&spec, &origin).map_err(TaskError::Generate)?;
    let mocks = runway_api_gen::generate_httpmock(&spec, &origin).map_err(TaskError::Generate)?;
    let cli = runway_api_gen::generate_cli(&spec, &origin).map_err(TaskError::Generate)?;
    Ok(vec![
        (root.join(GENERATED_PATH), client),
        (root.join(GENERATED_MOCKS_PATH), mocks),
        (root.join(GENERATED_CLI_PATH), cli),
    ])
}

/// Writes every generated file from the contract under `root`.
pub fn regen(root: &Path) -> Result<Outcome, TaskError> {
    let files = expected_files(root)?;
    let mut written = Vec::new();
    for (path, content) in files {
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() != Some(content.as_str()) {
            std::fs::write(&path, content).map_err(|e| TaskError::Io(path.clone(), e))?;
            written.push(path);
        }
    }
    Ok(if written.is_empty() {
        Outcome::UpToDate
    } else {
        Outcome::Written(written)
    })
}

/// Regenerates in memory and compares with what is on disk under `root`.
pub fn check(root: &Path) -> Result<Outcome, TaskError> {
    let mut report = String::new();
    for (path, expected) in expected_files(root)? {
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(TaskError::Io(path, e)),
        };
        if current != expected {
            let shown = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let diff = similar::TextDiff::from_lines(&current, &expected);
            report.push_str(&format!(
                "{shown} is stale: it differs from what {SPEC_PATH} generates.\n"
            ));
            report.push_str(
                &diff
                    .unified_diff()
                    .context_radius(2)
                    .header(
                        &format!("{shown} (checked in)"),
                        &format!("{shown} (generated)"),
                    )
                    .to_string(),
            );
        }
    }
    Ok(if report.is_empty() {
        Outcome::UpToDate
    } else {
        report.push_str(
            "\nThe generated code is never edited by hand. Run `cargo xtask regen` and commit the result.",
        );
        Outcome::Stale(report)
    })
}
