//! `lychgate run` serves on the ports it prints, and stops cleanly on SIGTERM, flushing the log.
//! SIGHUP (sent by `systemctl reload` and log tools) neither stops nor disturbs it; SIGUSR1
//! (logrotate's `postrotate`) opens the request log again at its path.

use crate::daemon::{Daemon, Origin, connect_from, get, local, read_reply};
use std::io::Write as _;
use std::time::{Duration, Instant};

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

#[test]
fn sighup_under_load_is_said_and_stops_nothing() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 400;
    const HANGUPS: usize = 20;
    let origin = Origin::start("A");
    let mut daemon =
        Daemon::start("[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n");
    let proxy = daemon.proxy;
    let port = origin.addr.port();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut s = connect_from(local(1), proxy);
                let mut ok = 0;
                for i in 0..PER_THREAD {
                    let url = if i % 2 == 0 {
                        format!("http://www.bbc.co.uk:{port}/hup{t}/{i}")
                    } else {
                        format!("http://pornhub.com/hup{t}/{i}")
                    };
                    s.write_all(format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                        .expect("send on the kept-alive connection");
                    let reply = read_reply(&mut s);
                    if reply.status == 200 || reply.status == 403 {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    // SIGHUPs while the requests are in flight (bounded in count and time).
    let deadline = Instant::now() + Duration::from_secs(30);
    for _ in 0..HANGUPS {
        daemon.signal("HUP");
        std::thread::sleep(Duration::from_millis(5));
        assert!(Instant::now() < deadline, "SIGHUP loop overran");
    }
    let answered: usize = workers
        .into_iter()
        .map(|w| w.join().expect("client thread"))
        .sum();
    assert_eq!(answered, THREADS * PER_THREAD, "every request answered");
    assert!(daemon.is_running(), "SIGHUP must not stop the daemon");
    // A fresh connection after the signals is served as before.
    assert_eq!(get(proxy, local(2), "http://pornhub.com/after").status, 403);
    let said = daemon.stderr();
    assert!(said.contains("SIGHUP received"), "SIGHUP is logged: {said}");
    assert_eq!(daemon.stop(), Some(0), "a clean stop after the SIGHUPs");
    let records = daemon.log_records(0);
    let hup_lines = records
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/hup")))
        .count();
    assert_eq!(hup_lines, THREADS * PER_THREAD, "no log line lost");
}

#[test]
fn sigusr1_opens_the_request_log_again_at_its_path() {
    let mut daemon = Daemon::start("");
    assert_eq!(
        get(daemon.proxy, local(1), "http://pornhub.com/before").status,
        403
    );
    let log_dir = daemon.log_dir();
    let file = std::fs::read_dir(&log_dir)
        .expect("log dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("the day's log file");
    // What logrotate does by default: move the file away, then signal.
    let moved = log_dir.join("rotated.jsonl.1");
    std::fs::rename(&file, &moved).expect("move the log away");
    daemon.signal("USR1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !file.exists() {
        assert!(
            daemon.is_running(),
            "SIGUSR1 stopped the daemon: {}",
            daemon.stderr()
        );
        assert!(
            Instant::now() < deadline,
            "SIGUSR1 did not open the log again at its path"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        get(daemon.proxy, local(1), "http://pornhub.com/after").status,
        403
    );
    assert_eq!(daemon.stop(), Some(0));
    let before = std::fs::read_to_string(&moved).unwrap();
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        before.contains("/before") && !before.contains("/after"),
        "{before}"
    );
    assert!(
        after.contains("/after") && !after.contains("/before"),
        "{after}"
    );
}
