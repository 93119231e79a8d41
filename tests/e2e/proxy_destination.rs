//! The destination policy end to end (issue 11, SSRF): the proxy never fetches from Lychgate's
//! own listeners, loopback, unspecified or mapped forms of them — whichever path the request
//! takes (plain HTTP, CONNECT, transparent) and whatever name leads there — while
//! `[[static_host]]` names a technician pointed at a loopback origin keep working.

use crate::daemon::{
    Daemon, Origin, Reply, TlsOrigin, client_hello, config_text, connect_from, get, local,
    read_reply, send,
};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const HOSTS: &str = "[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n\n\
     [[static_host]]\nname = \"gateway.example.org\"\naddresses = [\"0.0.0.0\"]\n\n\
     [[static_host]]\nname = \"admin.example.org\"\naddresses = [\"127.0.0.1\"]\n\n\
     [[static_host]]\nname = \"mapped.example.org\"\naddresses = [\"::ffff:127.0.0.1\"]\n";

/// A port nothing listens on now, for a listener the config must name before it starts.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Asserts a refusal: 403 page, logged as a block with the flag and the reason.
fn assert_refused(daemon: &Daemon, reply: &Reply, reason: &str, what: &str) {
    assert_eq!(reply.status, 403, "{what}: {}", reply.body_text());
    assert!(
        reply
            .body_text()
            .contains("cannot be reached through the web filter"),
        "{what}: {}",
        reply.body_text()
    );
    let r = daemon.record(&reply.reference());
    assert_eq!(r["decision"], "block", "{what}: {r}");
    assert!(
        r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "destination_refused"),
        "{what}: {r}"
    );
    assert!(
        r["rule"].as_str().unwrap_or("").contains(reason),
        "{what}: {r}"
    );
}

#[test]
fn the_gateways_own_listeners_and_loopback_are_never_fetched() {
    let origin = Origin::start("A");
    let daemon = Daemon::start(HOSTS);
    let (admin, dns, proxy) = (
        daemon.admin.port(),
        daemon.dns[0].port(),
        daemon.proxy.port(),
    );
    // The reported attack: a name resolving to 0.0.0.0 (a static host here, so even a
    // technician's entry cannot open it) reaching /metrics as a KS2 pupil.
    for (src, url, reason) in [
        (
            2,
            format!("http://gateway.example.org:{admin}/metrics"),
            "own_listener",
        ),
        (
            2,
            format!("http://admin.example.org:{admin}/metrics"),
            "own_listener",
        ),
        (
            2,
            format!("http://mapped.example.org:{admin}/metrics"),
            "own_listener",
        ),
        (
            2,
            format!("http://localhost:{admin}/metrics"),
            "own_listener",
        ),
        (2, format!("http://www.bbc.co.uk:{dns}/"), "own_listener"),
        (2, format!("http://www.bbc.co.uk:{proxy}/"), "own_listener"),
        (
            1,
            format!("http://127.0.0.1:{admin}/metrics"),
            "own_listener",
        ),
        (1, format!("http://0.0.0.0:{admin}/metrics"), "own_listener"),
        // Not Lychgate, but loopback all the same: only static hosts may lead there.
        (
            2,
            format!("http://localhost:{}/", origin.addr.port()),
            "loopback",
        ),
        (
            1,
            format!("http://127.0.0.1:{}/", origin.addr.port()),
            "loopback",
        ),
        (
            1,
            format!("http://127.9.9.9:{}/", origin.addr.port()),
            "loopback",
        ),
        (
            1,
            format!("http://0.0.0.0:{}/", origin.addr.port()),
            "unspecified",
        ),
        (
            1,
            format!("http://[::ffff:127.0.0.1]:{}/", origin.addr.port()),
            "loopback",
        ),
        (
            1,
            format!("http://[::1]:{}/", origin.addr.port()),
            "loopback",
        ),
    ] {
        let reply = get(daemon.proxy, local(src), &url);
        assert_refused(&daemon, &reply, reason, &url);
    }
    assert!(
        origin.requests().is_empty(),
        "the loopback origin was reached: {:?}",
        origin.requests()
    );
    // The identity map cannot be reached through the proxy either.
    let post = send(
        daemon.proxy,
        local(2),
        &format!(
            "POST http://gateway.example.org:{admin}/identity HTTP/1.1\r\nHost: x\r\n\
             Authorization: Bearer not-a-token\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        ),
    );
    assert_refused(&daemon, &post, "own_listener", "POST /identity");
    assert!(
        !daemon
            .log_records(0)
            .iter()
            .any(|r| r.to_string().contains("identity_binding")),
        "the identity endpoint saw the request"
    );
    let metrics = daemon.metrics();
    assert!(
        metrics.contains("lychgate_destination_refused_total{reason=\"own_listener\"} 9"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lychgate_destination_refused_total{reason=\"loopback\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("lychgate_destination_refused_total{reason=\"private\"} 0"),
        "every reason is exported from the start: {metrics}"
    );
    // The technician's static host still reaches its loopback origin.
    let allowed = get(
        daemon.proxy,
        local(2),
        &format!("http://www.bbc.co.uk:{}/news", origin.addr.port()),
    );
    assert_eq!(allowed.status, 200, "{}", allowed.body_text());
    assert_eq!(allowed.body_text(), "origin A saw /news");
}

#[test]
fn connect_refuses_loopback_and_own_listeners_before_the_200() {
    let site = TlsOrigin::start("S");
    let admin_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(dir.path(), HOSTS)
        .replacen(
            "connect_ports = [443]",
            &format!("connect_ports = [443, {}, {admin_port}]", site.addr.port()),
            1,
        )
        .replacen(
            "admin = \"127.0.0.1:0\"",
            &format!("admin = \"127.0.0.1:{admin_port}\""),
            1,
        );
    let daemon = Daemon::start_with(dir, &text);
    assert_eq!(daemon.admin.port(), admin_port);
    let connect = |authority: &str| {
        let mut s = connect_from(local(1), daemon.proxy);
        s.write_all(
            format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes(),
        )
        .unwrap();
        (read_reply(&mut s), s)
    };
    let port = site.addr.port();
    for (authority, reason) in [
        (format!("127.0.0.1:{port}"), "loopback"),
        (format!("localhost:{port}"), "loopback"),
        (format!("[::ffff:127.0.0.1]:{port}"), "loopback"),
        (format!("0.0.0.0:{port}"), "unspecified"),
        (format!("gateway.example.org:{admin_port}"), "own_listener"),
        (format!("www.bbc.co.uk:{admin_port}"), "own_listener"),
    ] {
        let (reply, _s) = connect(&authority);
        assert_refused(&daemon, &reply, reason, &authority);
    }
    assert!(site.seen.lock().unwrap().is_empty(), "the site was reached");
    // A static host still tunnels to its loopback site.
    let (reply, mut s) = connect(&format!("www.bbc.co.uk:{port}"));
    assert_eq!(reply.status, 200);
    s.write_all(&client_hello(Some("www.bbc.co.uk"))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(&buf[..n], b"tls-origin S");
    let metrics = daemon.metrics();
    assert!(
        metrics.contains("lychgate_tunnels_total{reason=\"destination_refused\"} 6"),
        "{metrics}"
    );
}

#[test]
fn an_sni_naming_a_refused_destination_is_not_dialled() {
    let site = TlsOrigin::start("S");
    let daemon = Daemon::start_tuned(
        &format!("connect_ports = [443, {}]", site.addr.port()),
        HOSTS,
    );
    // The authority is a static host (allowed); the SNI names loopback by a resolver's answer.
    let mut s = connect_from(local(1), daemon.proxy);
    let authority = format!("www.bbc.co.uk:{}", site.addr.port());
    s.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(read_reply(&mut s).status, 200);
    s.write_all(&client_hello(Some("localhost"))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    // A TLS alert record (content type 21), then the close.
    assert!(n > 0 && buf[0] == 21, "{:?}", &buf[..n]);
    assert!(site.seen.lock().unwrap().is_empty(), "the site was reached");
    let records = daemon.log_records(1);
    let r = records
        .iter()
        .find(|r| r["type"] == "connect")
        .expect("tunnel record");
    assert_eq!(r["decision"], "block", "{r}");
    assert!(r["rule"].as_str().unwrap_or("").contains("loopback"), "{r}");
}

#[test]
fn transparent_http_refuses_loopback_hosts() {
    let origin = Origin::start("A");
    let daemon = Daemon::start(HOSTS);
    let http = daemon.transparent_http.expect("transparent 80 listener");
    let reply = send(
        http,
        local(1),
        &format!(
            "GET /metrics HTTP/1.1\r\nHost: gateway.example.org:{}\r\nConnection: close\r\n\r\n",
            daemon.admin.port()
        ),
    );
    assert_refused(&daemon, &reply, "own_listener", "transparent admin");
    let reply = send(
        http,
        local(1),
        &format!(
            "GET / HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            origin.addr.port()
        ),
    );
    assert_refused(&daemon, &reply, "loopback", "transparent localhost");
    assert!(origin.requests().is_empty());
}

#[test]
fn transparent_tls_refuses_an_sni_that_resolves_to_loopback() {
    let daemon = Daemon::start(HOSTS);
    let tls = daemon.transparent_https.expect("transparent 443 listener");
    let mut s = connect_from(local(1), tls);
    s.write_all(&client_hello(Some("localhost"))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    assert!(n > 0 && buf[0] == 21, "a TLS alert: {:?}", &buf[..n]);
    let records = daemon.log_records(1);
    let r = records
        .iter()
        .find(|r| r["type"] == "tls")
        .expect("tunnel record");
    assert_eq!(r["decision"], "block", "{r}");
    assert!(
        r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "destination_refused"),
        "{r}"
    );
    assert!(r["rule"].as_str().unwrap_or("").contains("loopback"), "{r}");
}
