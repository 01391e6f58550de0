//! Helpers shared by the tests of the `runway-server` binary (each test file
//! uses some of them).
#![allow(dead_code)]

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

/// A server process the test started, killed when dropped: a test that fails
/// half-way leaves no server running behind it.
pub struct Server(pub std::process::Child);

impl std::ops::Deref for Server {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
