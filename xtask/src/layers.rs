//! The layer check of `runway-server/src`: imports point down, HTTP and the
//! wire contract stay at the edge, and hand-written files stay readable.
//!
//! Each top folder of the crate is a layer; a file may use (`crate::…`, or
//! `super::…` reaching the crate root) only the layers below its own:
//!
//! ```text
//! startup.rs, admin.rs,         the composition root: anything
//! lib.rs, main.rs
//! http/                         services, storage, media, net, domain, config
//! services/                     storage, media, net, domain, config
//! storage/  media/  net/        domain
//! domain/   config.rs           nothing of the crate
//! ```
//!
//! Only `http/` and the composition root name `axum` or `runway_api` (the
//! generated wire types), under any alias. A name the crate root re-exports
//! (`crate::App`) is no way around a layer, nor is a glob of the crate root. A
//! file's test module (from its `#[cfg(test)]` on) is not checked: tests use
//! what they test. No file is over [`MAX_LINES`] lines.

use std::path::{Path, PathBuf};

/// The most lines a hand-written file of the server may have.
pub const MAX_LINES: usize = 600;

/// The server's sources, relative to the workspace root.
pub const SERVER_SRC: &str = "runway-server/src";

/// What a layer may use.
fn allowed(layer: &str) -> Option<&'static [&'static str]> {
    Some(match layer {
        "domain" | "config" => &[],
        "media" | "storage" | "net" => &["domain"],
        "services" => &["domain", "media", "storage", "net", "config"],
        "http" => &["domain", "media", "storage", "net", "services", "config"],
        // The composition root.
        "startup" | "admin" | "lib" | "main" => return None,
        _ => &[],
    })
}

/// Whether a layer may name `axum` or `runway_api`.
fn at_the_edge(layer: &str) -> bool {
    matches!(layer, "http" | "startup" | "admin" | "lib" | "main")
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The file, relative to the crate's `src`.
    pub file: String,
    /// Its line (1-based), or 0 for the whole file.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

/// The module path of a file under `src` (`services/jobs.rs` -> `services::jobs`,
/// `services/mod.rs` -> `services`).
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs");
        if stem != "mod" {
            parts.push(stem.to_owned());
        }
    }
    parts
}

/// The identifiers a path starting at `rest` (just after `crate::`) names first:
/// one, or each of a `{…}` group.
fn first_segments(rest: &str) -> Vec<String> {
    let ident = |s: &str| {
        s.trim()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<String>()
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let mut depth = 0;
    let mut items = vec![String::new()];
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => items.push(String::new()),
            _ => {}
        }
        if let Some(last) = items.last_mut()
            && (depth > 0 || c != ',')
        {
            last.push(c);
        }
    }
    items
        .iter()
        .map(|i| ident(i))
        .filter(|i| !i.is_empty())
        .collect()
}

/// Whether `c` can be part of an identifier.
fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// What the code at byte `at` of `code` names from the crate, with where:
/// after `crate::`, or after a `super::` chain that climbs to the crate root
/// from the file at `module`. `*` stands for a glob.
fn crate_paths(code: &str, module: &[String]) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let named = |rest: &str| -> Vec<String> {
        if rest.trim_start().starts_with('*') {
            vec!["*".to_owned()]
        } else {
            first_segments(rest)
        }
    };
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| ident_char(c) || c == '$') {
            continue; // `$crate::` or a longer identifier
        }
        for name in named(&code[at + "crate::".len()..]) {
            found.push((at, name));
        }
    }
    for (at, _) in code.match_indices("super::") {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| ident_char(c) || c == ':') {
            continue; // part of a chain counted from its start
        }
        let mut climbs = 0;
        let mut after = &code[at..];
        while let Some(next) = after.strip_prefix("super::") {
            climbs += 1;
            after = next;
        }
        if climbs >= module.len() {
            for name in named(after) {
                found.push((at, name));
            }
        }
    }
    found
}

/// Where `word` stands as a whole identifier in `code` (not inside a longer
/// one, not right after a quote).
fn word_at(code: &str, word: &str) -> Vec<usize> {
    code.match_indices(word)
        .filter(|(at, _)| {
            let before = code[..*at].chars().last();
            let after = code[at + word.len()..].chars().next();
            !before.is_some_and(|c| ident_char(c) || c == '"') && !after.is_some_and(ident_char)
        })
        .map(|(at, _)| at)
        .collect()
}

/// Checks one file's text; `relative` is its path under `src`.
pub fn check_file(relative: &Path, text: &str) -> Vec<Violation> {
    let module = module_path(relative);
    let layer = module.first().cloned().unwrap_or_else(|| "lib".to_owned());
    let file = relative.display().to_string();
    let mut found = Vec::new();
    let lines = text.lines().count();
    if lines > MAX_LINES {
        found.push(Violation {
            file: file.clone(),
            line: 0,
            what: format!("{lines} lines, over {MAX_LINES}: split it by concern"),
        });
    }
    // The code without its comment lines and its test module (which uses what
    // it tests), read whole: a `use` may span lines.
    let code: String = text
        .lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .map(|line| match line.trim_start().starts_with("//") {
            true => "",
            false => line,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    if let Some(allowed) = allowed(&layer) {
        for (at, named) in crate_paths(&code, &module) {
            let what = if named == "*" {
                format!("{layer}/ imports the crate root with a glob: name the layers it uses")
            } else if named != layer && !allowed.contains(&named.as_str()) {
                format!("{layer}/ uses crate::{named}, which is not a layer below it")
            } else {
                continue;
            };
            found.push(Violation {
                file: file.clone(),
                line: line_of(at),
                what,
            });
        }
    }
    if !at_the_edge(&layer) {
        for edge in ["axum", "runway_api"] {
            for at in word_at(&code, edge) {
                found.push(Violation {
                    file: file.clone(),
                    line: line_of(at),
                    what: format!("{layer}/ names {edge}: only http/ and the composition root may"),
                });
            }
        }
    }
    found
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found.sort();
    Ok(())
}

/// Checks every file of the crate whose sources are at `src`.
pub fn check_tree(src: &Path) -> std::io::Result<Vec<Violation>> {
    let mut files = Vec::new();
    rust_files(src, &mut files)?;
    let mut found = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let relative = path.strip_prefix(src).unwrap_or(&path);
        found.extend(check_file(relative, &text));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, text: &str) -> Vec<String> {
        check_file(Path::new(path), text)
            .into_iter()
            .map(|v| v.what)
            .collect()
    }

    #[test]
    fn imports_that_point_down_pass() {
        assert!(
            check(
                "services/jobs.rs",
                "use crate::domain::Error;\nuse crate::storage::X;"
            )
            .is_empty()
        );
        assert!(
            check(
                "http/handlers/media.rs",
                "use crate::services::App;\nuse axum::Json;"
            )
            .is_empty()
        );
        assert!(check("startup.rs", "use crate::http::router;\nuse axum::Router;").is_empty());
        assert!(check("services/tasks.rs", "use super::jobs::JobQueue;").is_empty());
        assert!(check("services/mod.rs", "use jobs::JobQueue;").is_empty());
    }

    #[test]
    fn an_upward_import_fails() {
        let above = |layer: &str, named: &str| {
            vec![format!(
                "{layer}/ uses crate::{named}, which is not a layer below it"
            )]
        };
        assert_eq!(
            check("domain/op.rs", "use crate::services::App;"),
            above("domain", "services")
        );
        let group = "use crate::{domain::Error, media::engine};";
        assert_eq!(check("storage/mod.rs", group), above("storage", "media"));
        assert_eq!(
            check("media/mod.rs", "use super::http::error;"),
            above("media", "http")
        );
        let call = "let x = crate::http::wire::thing();";
        assert_eq!(check("services/jobs.rs", call), above("services", "http"));
        // rustfmt's long groups span lines.
        let long = "use crate::{\n    domain::Error,\n    http::wire,\n};";
        assert_eq!(check("services/jobs.rs", long), above("services", "http"));
        // A name the crate root re-exports is not a way around the layers.
        assert_eq!(
            check("storage/mod.rs", "fn f(app: crate::App) {}"),
            above("storage", "App")
        );
        assert_eq!(
            check("net/mod.rs", "use super::*;"),
            ["net/ imports the crate root with a glob: name the layers it uses"]
        );
        assert!(
            check("net/fetch.rs", "use super::*;").is_empty(),
            "its own layer"
        );
        // Test modules (from `#[cfg(test)]` on) use what they test.
        assert!(
            check(
                "config.rs",
                "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}"
            )
            .is_empty()
        );
    }

    #[test]
    fn axum_and_wire_types_below_the_edge_fail() {
        assert_eq!(
            check("services/upload.rs", "use axum::body::Body;"),
            ["services/ names axum: only http/ and the composition root may"]
        );
        assert_eq!(
            check("domain/task.rs", "fn f(t: runway_api::types::Task) {}"),
            ["domain/ names runway_api: only http/ and the composition root may"]
        );
        assert!(check("domain/task.rs", "// runway_api::types::Task is the wire's").is_empty());
        assert!(check("domain/task.rs", "let s = \"axum::x\";").is_empty());
        assert_eq!(
            check("media/video.rs", "use runway_api as api;"),
            ["media/ names runway_api: only http/ and the composition root may"]
        );
    }

    #[test]
    fn long_files_fail() {
        let long = "fn f() {}\n".repeat(MAX_LINES + 1);
        assert_eq!(check("http/wire.rs", &long).len(), 1);
    }
}
