//! Maintainer tasks for the runway-rs workspace.
//!
//! - `cargo xtask regen`: regenerate, from `openapi/runway.yaml`, the client
//!   (`runway-api/src/generated.rs`), the httpmock helpers
//!   (`runway-api-httpmock/src/generated.rs`) and the CLI commands
//!   (`runway-cli/src/generated.rs`).
//! - `cargo xtask check`: regenerate in memory and fail when anything checked in is
//!   stale, or when the contract breaks clients of the last released one without a
//!   new major version (the breaking-change gate).
//! - `cargo xtask release`: bless the contract as released (`openapi/released/`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::gate::{self, GateReport};
use xtask::{
    GENERATED_CLI_PATH, GENERATED_MOCKS_PATH, GENERATED_PATH, Outcome, SPEC_PATH, check, regen,
};

fn usage() -> String {
    format!(
        "usage: cargo xtask <regen|check|layers|release>\n\
         \n  regen    write, from {SPEC_PATH}:\
         \n             {GENERATED_PATH} (the client)\
         \n             {GENERATED_MOCKS_PATH} (the httpmock helpers)\
         \n             {GENERATED_CLI_PATH} (the CLI commands)\
         \n  check    fail (with a diff) when one of those is stale or the contract is invalid,\
         \n           (naming each change) when it breaks clients of the released contract\
         \n           without a new major version, and when `layers` fails\
         \n  layers   fail when a file of runway-server/src imports a layer above its own,\
         \n           names axum or runway_api below http/, or is over 600 lines\
         \n  release  bless {SPEC_PATH} as openapi/released/runway-<version>.yaml"
    )
}

fn workspace_root() -> PathBuf {
    // xtask lives one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    let root = workspace_root();
    let command = std::env::args().nth(1);
    let result = match command.as_deref() {
        Some("regen") => regen(&root),
        Some("layers") => return report_layers(&root),
        Some("check") => {
            if report_layers(&root) != ExitCode::SUCCESS {
                return ExitCode::FAILURE;
            }
            let generated = check(&root);
            let gate = gate::gate(&root, &root.join(SPEC_PATH));
            if !report_gate(gate) {
                // The generated code's own report follows; the run fails either way.
                let _ = print_outcome(generated);
                return ExitCode::FAILURE;
            }
            generated
        }
        Some("release") => {
            return match gate::release(&root, &root.join(SPEC_PATH)) {
                Ok(path) => {
                    println!("released: {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::FAILURE
                }
            };
        }
        Some("-h" | "--help" | "help") => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
    print_outcome(result)
}

/// Checks the server's layers (`xtask::layers`) and prints what is wrong.
fn report_layers(root: &Path) -> ExitCode {
    match xtask::layers::check_tree(&root.join(xtask::layers::SERVER_SRC)) {
        Ok(found) if found.is_empty() => {
            println!("runway-server layers: imports point down; axum and wire types stay in http/");
            ExitCode::SUCCESS
        }
        Ok(found) => {
            eprintln!("runway-server layers: {} problem(s)", found.len());
            for violation in found {
                eprintln!("  {violation}");
            }
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("error: reading {}: {err}", xtask::layers::SERVER_SRC);
            ExitCode::FAILURE
        }
    }
}

/// Prints the gate's report; whether the contract may stand.
fn report_gate(gate: Result<GateReport, gate::GateError>) -> bool {
    match gate {
        Ok(report) if report.passes() => {
            println!("{}", report.explain());
            true
        }
        Ok(report) => {
            eprintln!("{}", report.explain());
            false
        }
        Err(err) => {
            eprintln!("error: breaking-change gate: {err}");
            false
        }
    }
}

fn print_outcome(result: Result<Outcome, xtask::TaskError>) -> ExitCode {
    match result {
        Ok(Outcome::Written(paths)) => {
            for path in paths {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Ok(Outcome::UpToDate) => {
            println!("generated code is up to date with openapi/runway.yaml");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Stale(report)) => {
            eprintln!("{report}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
