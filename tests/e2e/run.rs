//! `lychgate run` loads the policy, says what it will serve, and stops cleanly on SIGTERM.

use crate::support::root;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn run_loads_the_default_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lychgate"))
        .arg("run")
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lychgate run");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut saw_summary = false;
    for line in stdout.lines().take(200) {
        let line = line.expect("read");
        if line.starts_with("loaded in ") {
            saw_summary = true;
            break;
        }
    }
    assert!(saw_summary, "run prints the policy summary");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "run did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0));
}
