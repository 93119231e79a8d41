//! A crash loses no answered line: every request and DNS question a client got its complete
//! answer to has its line in the request log, even when the daemon is killed (SIGKILL, no
//! shutdown, no flush) in the middle of a burst. Lines for requests still in flight may or
//! may not be there; none may be missing for an answer that left.

use crate::daemon::{Daemon, Origin, config_text, connect_from, local};
use crate::dns_upstream::{Ask, FakeUpstream, next_id};
use hickory_proto::rr::RecordType;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Repetitions of start, load, kill.
const ROUNDS: usize = 3;
/// Client threads of each kind.
const HTTP_CLIENTS: usize = 4;
const DNS_CLIENTS: usize = 4;
/// Most requests one client sends in a round (the kill comes first).
const MOST_PER_CLIENT: usize = 100_000;

/// One round's daemon: the default config, a loopback origin under a real name, and `[dns]`
/// forwarding to a fake upstream on loopback.
fn start(origin: &Origin, upstream: &FakeUpstream) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let hosts = format!(
        "[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"{}\"]\n",
        origin.addr.ip()
    );
    let text = config_text(dir.path(), &hosts);
    let dns = format!("upstreams = [\"{}\"]\n", upstream.addr);
    let text = if text.lines().any(|l| l.trim() == "[dns]") {
        text.replacen("\n[dns]\n", &format!("\n[dns]\n{dns}"), 1)
    } else {
        format!("{text}\n[dns]\n{dns}")
    };
    Daemon::start_with(dir, &text)
}

/// Reads one response with a `Content-Length` body; `None` unless all of it arrived.
fn complete_reply(reader: &mut BufReader<TcpStream>) -> Option<u16> {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).ok()?;
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0u8; length?];
    reader.read_exact(&mut body).ok()?;
    Some(status)
}

/// Sends GETs one after another on one keep-alive connection until `stop` or an error;
/// returns the paths whose complete answer arrived. Half go to the origin, half are blocked.
fn http_client(
    proxy: SocketAddr,
    origin_port: u16,
    round: usize,
    n: usize,
    stop: &AtomicBool,
) -> Vec<String> {
    let mut answered = Vec::new();
    let stream = connect_from(local(1), proxy);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    for i in 0..MOST_PER_CLIENT {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let path = format!("/crash{round}/h{n}/{i}");
        let url = if i % 2 == 0 {
            format!("http://www.bbc.co.uk:{origin_port}{path}")
        } else {
            format!("http://pornhub.com{path}")
        };
        if writer
            .write_all(format!("GET {url} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .is_err()
        {
            break;
        }
        match complete_reply(&mut reader) {
            Some(_) => answered.push(path),
            None => break,
        }
    }
    answered
}

/// Asks questions one after another over UDP until `stop` or the daemon is gone; returns the
/// names answered. Even clients ask blocked names (answered in the UDP loop), odd ones names
/// that go upstream.
fn dns_client(
    server: SocketAddr,
    from: IpAddr,
    round: usize,
    n: usize,
    stop: &AtomicBool,
) -> Vec<String> {
    let mut answered = Vec::new();
    let socket = UdpSocket::bind(SocketAddr::new(from, 0)).expect("bind client");
    socket.connect(server).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = vec![0u8; 4096];
    let mut silent = 0;
    for i in 0..MOST_PER_CLIENT {
        if stop.load(Ordering::Relaxed) || silent >= 3 {
            break;
        }
        let name = if n % 2 == 0 {
            format!("c{round}-d{n}-{i}.pornhub.com")
        } else {
            format!("c{round}-d{n}-{i}.example.org")
        };
        let id = next_id();
        if socket
            .send(&Ask::new(&name, RecordType::A).packet(id))
            .is_err()
        {
            break;
        }
        // An answer to this question (a late one to an earlier question is skipped).
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut got = false;
        while Instant::now() < deadline {
            match socket.recv(&mut buf) {
                Ok(len) if len >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                    got = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if got {
            silent = 0;
            answered.push(name);
        } else {
            silent += 1;
        }
    }
    answered
}

/// Every line of every log file, skipping a last line a kill cut short.
fn logged(daemon: &Daemon) -> (HashSet<String>, HashSet<String>) {
    let mut paths = HashSet::new();
    let mut names = HashSet::new();
    for entry in std::fs::read_dir(daemon.log_dir())
        .expect("log dir")
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["type"] == "dns" {
                if let Some(h) = v["host"].as_str() {
                    names.insert(h.trim_end_matches('.').to_ascii_lowercase());
                }
            } else if let Some(p) = v["path"].as_str() {
                paths.insert(p.to_string());
            }
        }
    }
    (paths, names)
}

#[test]
fn killing_the_daemon_mid_load_loses_no_answered_line() {
    let origin = Origin::start("A");
    let upstream = FakeUpstream::start();
    let mut total = (0, 0);
    for round in 0..ROUNDS {
        let mut daemon = start(&origin, &upstream);
        let proxy = daemon.proxy;
        let dns = *daemon.dns.first().expect("dns listener");
        let origin_port = origin.addr.port();
        let stop = Arc::new(AtomicBool::new(false));
        let http: Vec<_> = (0..HTTP_CLIENTS)
            .map(|n| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || http_client(proxy, origin_port, round, n, &stop))
            })
            .collect();
        let dns_threads: Vec<_> = (0..DNS_CLIENTS)
            .map(|n| {
                let stop = Arc::clone(&stop);
                // Staff and a pupil group, so both answer paths of each group are exercised.
                let from = local(if n < 2 { 1 } else { 2 });
                std::thread::spawn(move || dns_client(dns, from, round, n, &stop))
            })
            .collect();
        // Under load for a while (a different moment each round), then a crash.
        std::thread::sleep(Duration::from_millis(400 + 150 * round as u64));
        daemon.kill();
        stop.store(true, Ordering::Relaxed);
        let answered_paths: Vec<String> = http
            .into_iter()
            .flat_map(|t| t.join().expect("http client"))
            .collect();
        let answered_names: Vec<String> = dns_threads
            .into_iter()
            .flat_map(|t| t.join().expect("dns client"))
            .collect();
        assert!(
            !answered_paths.is_empty() && !answered_names.is_empty(),
            "round {round}: the load never got going"
        );
        let (paths, names) = logged(&daemon);
        let lost_paths: Vec<&String> = answered_paths
            .iter()
            .filter(|p| !paths.contains(*p))
            .collect();
        let lost_names: Vec<&String> = answered_names
            .iter()
            .filter(|n| !names.contains(*n))
            .collect();
        assert!(
            lost_paths.is_empty() && lost_names.is_empty(),
            "round {round}: {} of {} answered requests and {} of {} answered questions have \
             no line, e.g. {:?} {:?}",
            lost_paths.len(),
            answered_paths.len(),
            lost_names.len(),
            answered_names.len(),
            lost_paths.first(),
            lost_names.first()
        );
        total.0 += answered_paths.len();
        total.1 += answered_names.len();
    }
    eprintln!(
        "{} answered requests and {} answered questions over {ROUNDS} kills, every one logged",
        total.0, total.1
    );
}

#[test]
fn a_log_file_moved_away_is_noticed_and_new_lines_go_to_a_new_file_at_its_path() {
    let daemon = Daemon::start("");
    let first = crate::daemon::get(daemon.proxy, local(1), "http://pornhub.com/before-rotation");
    assert_eq!(first.status, 403);
    let records = daemon.log_records(1);
    assert!(records.iter().any(|r| r["path"] == "/before-rotation"));
    let path = std::fs::read_dir(daemon.log_dir())
        .expect("log dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("today's file");
    // What logrotate does by default: rename, then (create mode) a new empty file, or nothing.
    let rotated = path.with_extension("jsonl.1");
    std::fs::rename(&path, &rotated).expect("rename");
    let second = crate::daemon::get(daemon.proxy, local(1), "http://pornhub.com/after-rotation");
    assert_eq!(second.status, 403);
    // The answer came after its line was written, so the line is there now.
    let new_text = std::fs::read_to_string(&path).expect("a new file at the path");
    assert!(new_text.contains("/after-rotation"), "{new_text}");
    assert!(!new_text.contains("/before-rotation"), "{new_text}");
    let old_text = std::fs::read_to_string(&rotated).expect("rotated file");
    assert!(old_text.contains("/before-rotation"), "{old_text}");
    assert!(!old_text.contains("/after-rotation"), "{old_text}");
}
