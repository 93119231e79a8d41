//! `lychgate run` serves on the ports it prints, and stops cleanly on SIGTERM, flushing the log.

use crate::daemon::{Daemon, get, local};

#[test]
fn run_serves_and_stops_on_sigterm_with_every_request_logged() {
    let mut daemon = Daemon::start("");
    let reply = get(daemon.proxy, local(1), "http://pornhub.com/");
    assert_eq!(reply.status, 403);
    let reference = reply.reference();
    let log_dir = daemon.log_dir();
    assert_eq!(daemon.stop(), Some(0), "exit code after SIGTERM");
    let text: String = std::fs::read_dir(&log_dir)
        .expect("log dir")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        text.contains(&format!("\"id\":\"{reference}\"")),
        "log has the block: {text}"
    );
}
