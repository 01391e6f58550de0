//! Helpers shared by the tests of the `runway-server` binary.

use std::process::Command;

/// Kills what still runs on files under `dir`: the ffmpeg of a server that was
/// SIGKILLed (no one was left to kill it).
pub fn kill_processes_under(dir: &std::path::Path) {
    let needle = dir.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let pid = entry.file_name().to_string_lossy().into_owned();
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}
