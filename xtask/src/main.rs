//! Maintainer tasks for the runway-rs workspace.
//!
//! - `cargo xtask regen`: regenerate `runway-api/src/generated.rs` from `openapi/runway.yaml`.
//! - `cargo xtask check`: regenerate in memory and fail when anything checked in is stale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use xtask::{Outcome, check, regen};

fn usage() -> &'static str {
    "usage: cargo xtask <regen|check>\n\
     \n  regen   write runway-api/src/generated.rs from openapi/runway.yaml\
     \n  check   fail (with a diff) when generated.rs is stale or the contract is invalid"
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
        Some("check") => check(&root),
        Some("-h" | "--help" | "help") => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
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
