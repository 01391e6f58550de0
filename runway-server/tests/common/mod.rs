//! Helpers shared by the tests of the `runway-server` binary (each test file
//! uses some of them).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The server binary, without the `RUNWAY_*` settings of the shell that runs the
/// tests.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runway-server"));
    for name in ["RUNWAY_DATABASE_URL", "RUNWAY_STORAGE", "RUNWAY_API_KEYS"] {
        command.env_remove(name);
    }
    command
}

/// The server started on `data` on a free port of 127.0.0.1, with `args`
/// besides; the process and the lines of its report (its stdout).
pub fn start(
    data: &std::path::Path,
    args: &[&str],
) -> (Server, std::io::Lines<BufReader<std::process::ChildStdout>>) {
    let mut child = binary()
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    let out = child.stdout.take().expect("stdout");
    (Server(child), BufReader::new(out).lines())
}

/// Starts the server on `data` with `--api-key flag_key`; the process and its URL.
pub fn serve(data: &std::path::Path, flag_key: &str) -> (Server, String) {
    let (server, mut lines) = start(data, &["--api-key", flag_key]);
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("listening on ")
                .nth(1)
                .map(|u| u.trim().to_owned())
        })
        .expect("the server reports its address");
    std::thread::spawn(move || lines.for_each(drop));
    (server, url)
}

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
