//! What the benches share: the server binary started on loopback, and the peak
//! RSS of a process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `program` (a `runway-server` binary) on a free loopback port with one
/// API key, storing under `data_dir`; returns the child and its base URL.
pub fn spawn_server(program: &str, key: &str, data_dir: &Path) -> (Child, String) {
    let mut child = Command::new(program)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            key,
            "--no-remote-fetch",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("RUNWAY_STORAGE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start runway-server");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("listening on ").nth(1).map(str::to_owned))
        .expect("the server reports its URL");
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

/// Peak RSS of process `pid` (or `self`) in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: impl std::fmt::Display) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
