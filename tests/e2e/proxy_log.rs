//! The request log is the school's record: every request makes exactly one line, and when the
//! disk fails, pupils' requests stop (fail closed) while staff's are served and flagged, the
//! failure shows in /readyz and the metrics, and the lines are not lost.

use crate::daemon::{Daemon, Origin, connect_from, local, read_reply, send};
use std::io::Write;

#[test]
fn one_hundred_thousand_requests_make_exactly_one_hundred_thousand_lines() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 25_000;
    let origin = Origin::start("A");
    let mut daemon =
        Daemon::start("[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n");
    let proxy = daemon.proxy;
    let port = origin.addr.port();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut s = connect_from(local(1), proxy);
                let mut statuses = [0usize; 2];
                for i in 0..PER_THREAD {
                    // Half allowed (through the origin), half blocked (the block page).
                    let url = if i % 2 == 0 {
                        format!("http://www.bbc.co.uk:{port}/t{t}/{i}")
                    } else {
                        format!("http://pornhub.com/t{t}/{i}")
                    };
                    s.write_all(format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                        .unwrap();
                    let reply = read_reply(&mut s);
                    statuses[usize::from(reply.status == 403)] += 1;
                }
                statuses
            })
        })
        .collect();
    let mut totals = [0usize; 2];
    for w in workers {
        let s = w.join().expect("client thread");
        totals[0] += s[0];
        totals[1] += s[1];
    }
    assert_eq!(totals, [THREADS * PER_THREAD / 2, THREADS * PER_THREAD / 2]);
    assert_eq!(daemon.stop(), Some(0));
    let records = daemon.log_records(0);
    assert_eq!(
        records.len(),
        THREADS * PER_THREAD,
        "one line per request, none lost, none doubled"
    );
    let mut paths: Vec<&str> = records
        .iter()
        .map(|r| r["path"].as_str().expect("path"))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(
        paths.len(),
        THREADS * PER_THREAD,
        "every request has its own line"
    );
    assert!(
        records
            .iter()
            .all(|r| r["v"] == 1 && r["client"] == "127.0.0.1")
    );
}

#[test]
fn a_failing_disk_closes_pupils_access_and_loses_no_line() {
    let mut daemon = Daemon::start("");
    assert_eq!(
        crate::daemon::get(daemon.proxy, local(2), "http://pornhub.com/before").status,
        403
    );
    let _ = daemon.log_records(1);
    fill_the_disk(&daemon);
    // The next line written discovers it.
    let _ = crate::daemon::get(daemon.proxy, local(1), "http://pornhub.com/discovers");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ready = send(
            daemon.admin,
            local(1),
            "GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        );
        if ready.status == 503 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readyz never reported the failing log"
        );
        let _ = crate::daemon::get(daemon.proxy, local(1), "http://pornhub.com/again");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pupil = crate::daemon::get(daemon.proxy, local(2), "http://www.bbc.co.uk/");
    assert_eq!(pupil.status, 503, "pupils are not served unlogged");
    assert!(pupil.body_text().contains("log"), "{}", pupil.body_text());
    let staff = crate::daemon::get(
        daemon.proxy,
        local(1),
        "http://pornhub.com/staff-while-failing",
    );
    assert_eq!(
        staff.status, 403,
        "staff are still filtered (fail open for the log only)"
    );
    let metrics = daemon.metrics();
    assert!(
        metrics.contains("lychgate_log_write_errors_total"),
        "{metrics}"
    );
    daemon.stop();
    // Lines the disk refused went to stderr, marked, rather than vanishing.
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("lychgate-unlogged: ") && stderr.contains("staff-while-failing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fail_open") && stderr.contains("fail_closed"),
        "{stderr}"
    );
}

#[test]
fn a_request_whose_client_leaves_mid_way_is_still_logged() {
    use std::io::Write as _;
    // An origin that accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = silent.incoming().take(1).flatten().collect();
        std::thread::sleep(std::time::Duration::from_secs(5));
        drop(conns);
    });
    let daemon = Daemon::start_tuned(
        "response_timeout_seconds = 2",
        "[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n",
    );
    let mut s = connect_from(local(1), daemon.proxy);
    s.write_all(
        format!("GET http://www.bbc.co.uk:{port}/left-early HTTP/1.1\r\nHost: x\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(s);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let record = loop {
        if let Some(r) = daemon
            .log_records(0)
            .into_iter()
            .find(|r| r["path"] == "/left-early")
        {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned request was never logged"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_ne!(record["decision"], "allow", "{record}");
    let flags = record["flags"].as_array().unwrap();
    assert!(
        flags
            .iter()
            .any(|f| f == "unfinished" || f == "upstream_timeout" || f == "client_closed"),
        "{record}"
    );
    let _ = held.join();
}

#[test]
fn open_tunnels_of_fail_closed_groups_close_when_the_log_fails() {
    use std::io::{Read as _, Write as _};
    // A site that answers the hello and then keeps the connection open for a long time.
    let site = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = site.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in site.incoming().flatten().take(2) {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"hello from the site");
                std::thread::sleep(std::time::Duration::from_secs(20));
            });
        }
    });
    let mut daemon = Daemon::start_tuned(
        &format!("connect_ports = [443, {port}]"),
        "[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n",
    );
    let open = |src| {
        let mut s = connect_from(src, daemon.proxy);
        s.write_all(format!("CONNECT www.bbc.co.uk:{port} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        assert_eq!(read_reply(&mut s).status, 200);
        s.write_all(&crate::daemon::client_hello(Some("www.bbc.co.uk")))
            .unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello from the site");
        s
    };
    let mut pupil = open(local(2));
    let mut staff = open(local(1));
    // The disk fails; a staff request discovers it.
    fill_the_disk(&daemon);
    let started = std::time::Instant::now();
    pupil
        .set_read_timeout(Some(std::time::Duration::from_millis(200)))
        .unwrap();
    let closed = loop {
        let _ = crate::daemon::get(daemon.proxy, local(1), "http://pornhub.com/discover");
        let mut buf = [0u8; 16];
        match pupil.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break true,
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            break false;
        }
    };
    assert!(
        closed,
        "the pupil's open tunnel was not closed when logging failed"
    );
    // Staff fail open: their tunnel stays up.
    staff
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(staff.read(&mut buf), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "the staff tunnel stays open"
    );
    daemon.stop();
    let stderr = daemon.stderr();
    assert!(
        stderr.lines().any(|l| l.contains("lychgate-unlogged: ")
            && l.contains("\"type\":\"connect\"")
            && l.contains("fail_closed")),
        "the closed tunnel's record is kept: {stderr}"
    );
}

/// The disk "fills up": today's log file is replaced by `/dev/full`, which refuses every write
/// (even root's, unlike a read-only folder). The daemon notices at its next write.
fn fill_the_disk(daemon: &Daemon) {
    let file = std::fs::read_dir(daemon.log_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("today's log file");
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("/dev/full", &file).unwrap();
}
