//! The explicit proxy with plain HTTP: per-group decisions, the block page each audience sees,
//! SafeSearch by address, header hygiene, refusals (open proxy, smuggling, loops), upstream
//! failures and the PAC file — each checked against the request log too.

use crate::daemon::{Daemon, Origin, get, listeners_on_one_port, local, refusing_port, send};

fn with_origin(extra: &str) -> (Daemon, Origin) {
    let origin = Origin::start("A");
    let config = format!(
        "{extra}\n[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n\n\
         [[static_host]]\nname = \"amazon.co.uk\"\naddresses = [\"127.0.0.1\"]\n"
    );
    (Daemon::start(&config), origin)
}

#[test]
fn allowed_requests_reach_the_origin_with_clean_headers_and_are_logged() {
    let (daemon, origin) = with_origin("");
    let port = origin.addr.port();
    let reply = send(
        daemon.proxy,
        local(2),
        &format!(
            "GET http://www.bbc.co.uk:{port}/bitesize?topic=fractions HTTP/1.1\r\nHost: www.bbc.co.uk:{port}\r\n\
             Proxy-Connection: keep-alive\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), "origin A saw /bitesize?topic=fractions");
    let head = origin
        .requests()
        .pop()
        .expect("origin saw the request")
        .to_ascii_lowercase();
    assert!(
        head.starts_with("get /bitesize?topic=fractions http/1.1"),
        "origin-form upstream: {head}"
    );
    assert!(head.contains("via: 1.1 lychgate"), "{head}");
    assert!(!head.contains("proxy-connection"), "{head}");
    assert!(
        head.contains(&format!("host: www.bbc.co.uk:{port}")),
        "{head}"
    );

    let records = daemon.log_records(1);
    let r = records
        .iter()
        .find(|r| r["path"] == "/bitesize")
        .expect("log record");
    assert_eq!(r["v"], 1);
    assert_eq!(r["client"], "127.0.0.2");
    assert_eq!(r["group"], "ks2");
    assert_eq!(r["decision"], "allow");
    assert_eq!(r["status"], 200);
    assert_eq!(r["host"], format!("www.bbc.co.uk:{port}"));
    // search-terms-only (the default) keeps no query string that is not a search.
    assert!(r["query"].is_null());
    assert!(r["bytes_out"].as_u64().unwrap() > 0);
}

#[test]
fn the_same_site_is_allowed_for_staff_and_blocked_for_pupils() {
    let (daemon, origin) = with_origin("");
    let url = format!("http://amazon.co.uk:{}/books", origin.addr.port());
    let staff = get(daemon.proxy, local(1), &url);
    assert_eq!(staff.status, 200, "shopping is allowed for staff");
    let pupil = get(daemon.proxy, local(2), &url);
    assert_eq!(pupil.status, 403, "shopping is blocked for KS2");
    let r = daemon.record(&pupil.reference());
    assert_eq!(r["decision"], "block");
    assert_eq!(r["category"], "shopping");
    assert_eq!(r["group"], "ks2");
    assert_eq!(
        origin.requests().len(),
        1,
        "the blocked request never reached the origin"
    );
}

#[test]
fn pupils_see_a_gentle_page_and_staff_see_why() {
    let daemon = Daemon::start("");
    let pupil = get(daemon.proxy, local(2), "http://pornhub.com/video?id=1");
    assert_eq!(pupil.status, 403);
    assert_eq!(pupil.header("cache-control"), Some("no-store"));
    let text = pupil.body_text();
    assert!(
        text.contains("Turn off the screen and tell your teacher."),
        "{text}"
    );
    assert!(
        !text.to_ascii_lowercase().contains("adult"),
        "never names a sensitive category to a child"
    );
    assert!(
        !text.contains("pornhub"),
        "never repeats the address to a child"
    );
    assert!(
        text.contains(&pupil.reference()),
        "the reference code is on the page"
    );

    let staff = get(daemon.proxy, local(1), "http://pornhub.com/");
    let text = staff.body_text();
    assert!(text.contains("adult"), "staff see the category: {text}");
    assert!(
        text.contains("Request a review"),
        "staff can ask for a review"
    );
    // The default pages URL carries the transparent listener's port (not 80 here), which a
    // browser in transparent mode reaches directly.
    let port = daemon
        .transparent_http
        .expect("transparent listener")
        .port();
    assert!(
        text.contains(&format!("http://lychgate.internal:{port}/review")),
        "the form posts to Lychgate"
    );
    let r = daemon.record(&staff.reference());
    assert_eq!(
        (r["group"].as_str(), r["category"].as_str()),
        (Some("staff"), Some("adult"))
    );
}

#[test]
fn a_staff_review_request_is_recorded_for_the_reviewer() {
    let daemon = Daemon::start("");
    let blocked = get(daemon.proxy, local(1), "http://pornhub.com/research");
    let reference = blocked.reference();
    let body = format!(
        "reference={reference}&url=http%3A%2F%2Fpornhub.com%2Fresearch&reason=PSHE+lesson+research"
    );
    let post = |src| {
        send(
            daemon.proxy,
            src,
            &format!(
                "POST http://lychgate.internal/review HTTP/1.1\r\nHost: lychgate.internal\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    // Another machine cannot use the ticket, and pupils cannot ask at all.
    assert_eq!(
        post(local(7)).status,
        400,
        "a different device cannot redeem the ticket"
    );
    assert_eq!(post(local(2)).status, 403);
    let ok = post(local(1));
    assert_eq!(ok.status, 200, "{}", ok.body_text());
    assert!(ok.body_text().contains(&reference));
    let stored = std::fs::read_to_string(daemon.dir.path().join("state/review-requests.jsonl"))
        .expect("review file");
    let line: serde_json::Value =
        serde_json::from_str(stored.lines().next().expect("one line")).expect("json");
    assert_eq!(line["reference"], reference.as_str());
    assert_eq!(line["url"], "http://pornhub.com/research");
    assert_eq!(line["group"], "staff");
    assert!(line.to_string().contains("PSHE lesson research"));
    assert_eq!(post(local(1)).status, 400, "a ticket is used once");
    // The block, then four review posts (refused, refused, recorded, refused).
    let records = daemon.log_records(5);
    let reviews: Vec<_> = records.iter().filter(|r| r["path"] == "/review").collect();
    assert_eq!(reviews.len(), 4, "{records:?}");
    assert!(
        reviews.iter().all(|r| r["type"] == "admin"),
        "review requests are administrative events: {reviews:?}"
    );
    assert!(
        reviews.iter().any(|r| r["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "review_request"))),
        "{reviews:?}"
    );
    assert_eq!(
        records[0]["type"], "http",
        "the blocked page itself is web traffic"
    );
}

#[test]
fn a_review_keeps_the_port_counts_its_body_and_tells_a_pupil_it_is_for_staff() {
    let daemon = Daemon::start("");
    let url = "http://pornhub.com:8080/research?q=1";
    let blocked = get(daemon.proxy, local(1), url);
    assert_eq!(blocked.status, 403);
    assert!(
        blocked
            .body_text()
            .contains("http://pornhub.com:8080/research?q=1"),
        "the staff page shows the port asked for: {}",
        blocked.body_text()
    );
    let reference = blocked.reference();
    let body = format!(
        "reference={reference}&url=http%3A%2F%2Fpornhub.com%3A8080%2Fresearch%3Fq%3D1&reason=PSHE+lesson+research"
    );
    let post = |src| {
        send(
            daemon.proxy,
            src,
            &format!(
                "POST http://lychgate.internal/review HTTP/1.1\r\nHost: lychgate.internal\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let pupil = post(local(2));
    assert_eq!(pupil.status, 403);
    let text = pupil.body_text();
    assert!(text.contains("Only staff can ask for a review"), "{text}");
    assert!(!text.contains("network"), "not a network refusal: {text}");

    let ok = post(local(1));
    assert_eq!(ok.status, 200, "{}", ok.body_text());
    let stored = std::fs::read_to_string(daemon.dir.path().join("state/review-requests.jsonl"))
        .expect("review file");
    let line: serde_json::Value =
        serde_json::from_str(stored.lines().next().expect("one line")).expect("json");
    assert_eq!(line["url"], url);
    let record = daemon.record(&ok.reference());
    assert_eq!(record["method"], "POST");
    assert_eq!(record["bytes_in"], body.len() as u64, "{record}");
}

#[test]
fn a_staff_review_posts_straight_to_the_transparent_listener() {
    let daemon = Daemon::start("");
    let http = daemon.transparent_http.expect("transparent listener");
    let blocked = send(
        http,
        local(1),
        "GET /research HTTP/1.1\r\nHost: pornhub.com\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(blocked.status, 403);
    let action = format!("http://lychgate.internal:{}/review", http.port());
    assert!(
        blocked.body_text().contains(&action),
        "{}",
        blocked.body_text()
    );
    // What the browser does with that form: no proxy, straight to the gateway's port.
    let body = format!(
        "reference={}&url=http%3A%2F%2Fpornhub.com%2Fresearch&reason=PSHE",
        blocked.reference()
    );
    let ok = send(
        http,
        local(1),
        &format!(
            "POST /review HTTP/1.1\r\nHost: lychgate.internal:{}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            http.port(),
            body.len()
        ),
    );
    assert_eq!(ok.status, 200, "{}", ok.body_text());
}

#[test]
fn safe_search_sends_pupils_to_the_safe_front_end() {
    // Two origins on the same port, different loopback addresses: www.google.com is one,
    // forcesafesearch.google.com the other.
    let (safe, plain) = listeners_on_one_port([127, 0, 0, 9].into(), [127, 0, 0, 1].into());
    let port = safe.local_addr().unwrap().port();
    let safe = Origin::serve("safe", safe);
    let plain = Origin::serve("plain", plain);
    let daemon = Daemon::start(
        "[[static_host]]\nname = \"www.google.com\"\naddresses = [\"127.0.0.1\"]\n\n\
         [[static_host]]\nname = \"forcesafesearch.google.com\"\naddresses = [\"127.0.0.9\"]\n",
    );
    let url = format!("http://www.google.com:{port}/search?q=volcanoes");
    let pupil = get(daemon.proxy, local(2), &url);
    assert_eq!(pupil.body_text(), "origin safe saw /search?q=volcanoes");
    assert!(
        safe.requests()[0]
            .to_ascii_lowercase()
            .contains(&format!("host: www.google.com:{port}")),
        "Host kept for the provider: {:?}",
        safe.requests()
    );
    let staff = get(daemon.proxy, local(1), &url);
    assert_eq!(staff.body_text(), "origin plain saw /search?q=volcanoes");
    assert_eq!(plain.requests().len(), 1);
    let records = daemon.log_records(2);
    let pupil_record = records
        .iter()
        .find(|r| r["client"] == "127.0.0.2")
        .expect("record");
    assert!(
        pupil_record["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "safe_search")
    );
    assert_eq!(
        pupil_record["search"], "volcanoes",
        "search terms are logged"
    );
}

#[test]
fn clients_outside_the_school_networks_are_refused_and_counted() {
    let mut daemon = Daemon::start("");
    let reply = get(daemon.proxy, local(8), "http://www.bbc.co.uk/");
    assert_eq!(reply.status, 403);
    assert!(
        reply.body_text().contains("school"),
        "{}",
        reply.body_text()
    );
    assert!(
        daemon
            .metrics()
            .contains("lychgate_refused_connections_total{reason=\"not_in_network\"} 1")
    ); // A listed network without a group is served with the default group.
    let unknown = get(daemon.proxy, local(6), "http://pornhub.com/");
    assert_eq!(daemon.record(&unknown.reference())["group"], "guest");

    // The refusal is in the summary line written at the latest when Lychgate stops.
    assert_eq!(daemon.stop(), Some(0));
    let lines = outsider_lines(&daemon, local(8));
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let summary = &lines[0];
    assert!(
        has_flags(summary, &["not_in_network", "summary"]),
        "{summary}"
    );
    assert_eq!(summary["count"], 1);
    assert_eq!(summary["status"], 403);
    assert_eq!(summary["decision"], "block");
    assert_eq!(summary["bytes_out"], reply.body.len(), "{summary}");
    assert_ne!(summary["id"], reply.reference().as_str());
}

/// Every log line from `client`.
fn outsider_lines(daemon: &Daemon, client: std::net::IpAddr) -> Vec<serde_json::Value> {
    daemon
        .log_records(0)
        .into_iter()
        .filter(|r| r["client"] == client.to_string())
        .collect()
}

fn has_flags(line: &serde_json::Value, wanted: &[&str]) -> bool {
    let flags = line["flags"].as_array().expect("flags");
    wanted.iter().all(|w| flags.iter().any(|f| f == w))
}

/// One address outside the networks opening connection after connection must not be able to
/// fill the log disk: the log grows by a few summary lines whose counts add up to every
/// connection, exactly as the metrics count them.
#[test]
fn a_flood_from_outside_the_networks_is_summarised_not_logged_line_by_line() {
    let mut daemon = Daemon::start("");
    let before = daemon.log_records(0).len();
    let sent = 2000;
    let mut page_bytes = 0;
    for _ in 0..sent {
        let reply = get(daemon.proxy, local(8), "http://www.bbc.co.uk/");
        assert_eq!(reply.status, 403);
        page_bytes += reply.body.len();
    }
    assert!(
        daemon.metrics().contains(&format!(
            "lychgate_refused_connections_total{{reason=\"not_in_network\"}} {sent}"
        )),
        "every refusal is counted:\n{}",
        daemon.metrics()
    );
    assert_eq!(daemon.stop(), Some(0));
    let lines = outsider_lines(&daemon, local(8));
    assert!(
        (1..=3).contains(&lines.len()),
        "a few summary lines, not one per connection: {} lines",
        lines.len()
    );
    assert!(
        lines
            .iter()
            .all(|l| has_flags(l, &["not_in_network", "summary"]))
    );
    let counted: u64 = lines
        .iter()
        .map(|l| l["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(counted, sent as u64, "{lines:#?}");
    let bytes_out: u64 = lines
        .iter()
        .map(|l| l["bytes_out"].as_u64().expect("bytes"))
        .sum();
    assert_eq!(bytes_out, page_bytes as u64);
    assert!(daemon.log_records(0).len() - before <= 3);
}

#[test]
fn smuggling_ambiguities_and_loops_are_refused_with_a_reason() {
    let daemon = Daemon::start("");
    let both = send(
        daemon.proxy,
        local(1),
        "POST http://www.bbc.co.uk/ HTTP/1.1\r\nHost: www.bbc.co.uk\r\nContent-Length: 4\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(both.status, 400);
    let duplicate = send(
        daemon.proxy,
        local(1),
        "POST http://www.bbc.co.uk/ HTTP/1.1\r\nHost: www.bbc.co.uk\r\nContent-Length: 4\r\n\
         Content-Length: 4\r\nConnection: close\r\n\r\nabcd",
    );
    assert_eq!(duplicate.status, 400);
    let looped = send(
        daemon.proxy,
        local(1),
        "GET http://www.bbc.co.uk/ HTTP/1.1\r\nHost: www.bbc.co.uk\r\nVia: 1.1 lychgate\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(looped.status, 400);
    assert!(looped.body_text().contains("loop"));
    let itself = get(
        daemon.proxy,
        local(1),
        &format!("http://127.0.0.1:{}/", daemon.proxy.port()),
    );
    assert_eq!(
        itself.status, 403,
        "a request to Lychgate's own socket is refused by the destination policy"
    );
    let r = daemon.record(&itself.reference());
    assert!(
        r["flags"].as_array().unwrap().iter().any(|f| f == "loop"),
        "{r}"
    );
    let origin_form = send(
        daemon.proxy,
        local(1),
        "GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(origin_form.status, 400);
    // Every refusal is in the log.
    let records = daemon.log_records(5);
    assert!(records.len() >= 5, "{records:?}");
    assert!(
        records
            .iter()
            .all(|r| r["decision"] == "error" || r["decision"] == "block")
    );
}

#[test]
fn an_unreachable_origin_gets_a_clear_502() {
    let (_closed, port) = refusing_port();
    let daemon =
        Daemon::start("[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n");
    let reply = get(
        daemon.proxy,
        local(1),
        &format!("http://www.bbc.co.uk:{port}/"),
    );
    assert_eq!(reply.status, 502);
    let r = daemon.record(&reply.reference());
    assert_eq!(r["decision"], "error");
    assert!(
        r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "upstream_refused")
    );
    assert!(
        daemon
            .metrics()
            .contains("lychgate_upstream_errors_total{kind=\"refused\"} 1")
    );
}

#[test]
fn the_pac_file_sends_everything_through_the_proxy() {
    let daemon = Daemon::start("");
    let reply = send(
        daemon.proxy,
        local(2),
        "GET /proxy.pac HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/x-ns-proxy-autoconfig")
    );
    let pac = reply.body_text();
    assert!(pac.contains("function FindProxyForURL"));
    assert!(
        pac.contains(&format!("PROXY {}", daemon.proxy)) || pac.contains("PROXY 127.0.0.1:"),
        "{pac}"
    );
    assert!(!pac.contains("; DIRECT\""), "no DIRECT fallback: {pac}");
}

/// Bytes that are not HTTP, from a school device: hyper answers 400 itself; the refusal is
/// summarised with the device's group and the bytes really sent, also after a served request
/// on the same connection.
#[test]
fn unparseable_requests_are_summarised_with_the_client_s_group_and_the_bytes_sent() {
    use std::io::{Read, Write};
    let mut daemon = Daemon::start("");
    let garbage = b"\x16\x03\x01 not http at all\r\n\r\n";
    let mut sent_back = 0;
    let mut fresh = crate::daemon::connect_from(local(2), daemon.proxy);
    fresh.write_all(garbage).unwrap();
    let mut buf = Vec::new();
    let _ = fresh.read_to_end(&mut buf);
    assert!(
        String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 400"),
        "{buf:?}"
    );
    sent_back += buf.len();

    let mut reused = crate::daemon::connect_from(local(2), daemon.proxy);
    reused
        .write_all(b"GET http://pornhub.com/ HTTP/1.1\r\nHost: pornhub.com\r\n\r\n")
        .unwrap();
    let blocked = crate::daemon::read_reply(&mut reused);
    assert_eq!(blocked.status, 403);
    reused.write_all(garbage).unwrap();
    let mut buf = Vec::new();
    let _ = reused.read_to_end(&mut buf);
    assert!(
        String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 400"),
        "{buf:?}"
    );
    sent_back += buf.len();

    assert_eq!(daemon.stop(), Some(0));
    let lines = outsider_lines(&daemon, local(2));
    let summaries: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| has_flags(l, &["summary"]))
        .collect();
    assert_eq!(summaries.len(), 1, "{lines:#?}");
    let summary = summaries[0];
    assert!(has_flags(summary, &["unparseable"]), "{summary}");
    assert_eq!(summary["count"], 2);
    assert_eq!(summary["group"], "ks2");
    assert_eq!(summary["status"], 400);
    assert_eq!(summary["bytes_out"], sent_back, "{summary}");
    assert_eq!(
        lines.len(),
        2,
        "the blocked request is a line of its own: {lines:#?}"
    );
}

/// An outsider's CONNECT is summarised as a `connect` with the `https` scheme, apart from its
/// plain HTTP requests.
#[test]
fn an_outsider_s_connect_is_summarised_as_a_connect() {
    let mut daemon = Daemon::start("");
    let reply = send(
        daemon.proxy,
        local(8),
        "CONNECT www.example.org:443 HTTP/1.1\r\nHost: www.example.org:443\r\n\r\n",
    );
    assert_eq!(reply.status, 403);
    let plain = get(daemon.proxy, local(8), "http://www.example.org:8080/");
    assert_eq!(plain.status, 403);
    assert_eq!(daemon.stop(), Some(0));
    let lines = outsider_lines(&daemon, local(8));
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let connect = lines
        .iter()
        .find(|l| l["type"] == "connect")
        .expect("connect");
    assert_eq!(connect["scheme"], "https");
    assert_eq!(connect["count"], 1);
    let http = lines.iter().find(|l| l["type"] == "http").expect("http");
    assert_eq!(http["scheme"], "http");
    assert_eq!(http["count"], 1);
}

#[test]
fn a_slow_client_is_cut_off_after_the_header_timeout() {
    use std::io::{Read, Write};
    let daemon = Daemon::start_tuned("header_timeout_seconds = 1", "");
    let mut s = crate::daemon::connect_from(local(1), daemon.proxy);
    s.write_all(b"GET http://www.bbc.co.uk/ HTTP/1.1\r\nHost: www.bb")
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "connection closed by Lychgate"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[test]
fn metrics_count_what_happened() {
    let (daemon, origin) = with_origin("");
    for i in 0..3 {
        assert_eq!(
            get(daemon.proxy, local(2), &format!("http://pornhub.com/{i}")).status,
            403
        );
    }
    for _ in 0..2 {
        let url = format!("http://www.bbc.co.uk:{}/", origin.addr.port());
        assert_eq!(get(daemon.proxy, local(2), &url).status, 200);
    }
    let _ = daemon.log_records(5);
    let m = daemon.metrics();
    assert!(
        m.contains("lychgate_requests_total{kind=\"http\",decision=\"block\",group=\"ks2\",category=\"adult\"} 3"),
        "{m}"
    );
    assert!(m.contains("lychgate_requests_total{kind=\"http\",decision=\"allow\",group=\"ks2\",category=\"none\"} 2"));
    assert!(m.contains("lychgate_decision_seconds_count 5"));
    assert!(m.contains("lychgate_upstream_seconds_count 2"));
    assert!(m.contains("lychgate_log_lines_written_total 5"));
    assert!(m.contains("lychgate_policy_generation 1"));
    let health = send(
        daemon.admin,
        local(1),
        "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(health.status, 200);
    let ready = send(
        daemon.admin,
        local(1),
        "GET /readyz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(ready.status, 200);
}

/// The `host:` lines of a request head the origin saw.
fn host_lines(head: &str) -> Vec<String> {
    head.lines()
        .map(str::to_ascii_lowercase)
        .filter(|l| l.starts_with("host:"))
        .collect()
}

#[test]
fn the_origin_gets_the_host_that_was_decided_on() {
    let (daemon, origin) = with_origin("");
    let port = origin.addr.port();
    // A pupil's request for an allowed URI with a blocked site's Host (twice, even): the
    // origin — or a CDN routing by Host — must see only the URI's authority.
    let reply = send(
        daemon.proxy,
        local(2),
        &format!(
            "GET http://www.bbc.co.uk:{port}/news HTTP/1.1\r\nHost: pornhub.com\r\n\
             Host: pornhub.com\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(reply.status, 200, "{}", reply.body_text());
    let head = origin.requests().pop().expect("origin saw the request");
    assert_eq!(
        host_lines(&head),
        [format!("host: www.bbc.co.uk:{port}")],
        "{head}"
    );
    let records = daemon.log_records(1);
    assert!(
        records
            .iter()
            .any(|r| r["path"] == "/news" && r["host"] == format!("www.bbc.co.uk:{port}")),
        "{records:?}"
    );
    // `Connection: close, Host` names Host as hop-by-hop: it is still sent, once.
    let reply = send(
        daemon.proxy,
        local(2),
        &format!(
            "GET http://www.bbc.co.uk:{port}/a HTTP/1.1\r\nHost: www.bbc.co.uk:{port}\r\n\
             Connection: close, Host\r\n\r\n"
        ),
    );
    assert_eq!(reply.status, 200);
    let head = origin.requests().pop().expect("origin saw the request");
    assert_eq!(
        host_lines(&head),
        [format!("host: www.bbc.co.uk:{port}")],
        "{head}"
    );

    // Transparent mode decides on the Host: a second one is refused, not forwarded.
    let http = daemon.transparent_http.expect("transparent 80 listener");
    let seen = origin.requests().len();
    let two = send(
        http,
        local(2),
        &format!(
            "GET /b HTTP/1.1\r\nHost: www.bbc.co.uk:{port}\r\nHost: pornhub.com\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    assert_eq!(two.status, 400, "{}", two.body_text());
    assert!(two.body_text().contains("more than one Host header"));
    assert_eq!(daemon.record(&two.reference())["decision"], "error");
    assert_eq!(origin.requests().len(), seen, "the origin was reached");
    let hop = send(
        http,
        local(2),
        &format!(
            "GET /c HTTP/1.1\r\nHost: www.bbc.co.uk:{port}\r\nConnection: close, Host\r\n\r\n"
        ),
    );
    assert_eq!(hop.status, 200, "{}", hop.body_text());
    let head = origin.requests().pop().expect("origin saw the request");
    assert_eq!(
        host_lines(&head),
        [format!("host: www.bbc.co.uk:{port}")],
        "{head}"
    );
}

#[test]
fn odd_transfer_encodings_are_refused_not_forwarded() {
    let (daemon, origin) = with_origin("");
    let port = origin.addr.port();
    for te in [
        "Transfer-Encoding: identity, chunked\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let reply = send(
            daemon.proxy,
            local(1),
            &format!(
                "POST http://www.bbc.co.uk:{port}/form HTTP/1.1\r\nHost: www.bbc.co.uk\r\n{te}\
                 Connection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
            ),
        );
        assert_eq!(reply.status, 400, "{te}: {}", reply.body_text());
        let r = daemon.record(&reply.reference());
        assert!(
            r["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "ambiguous_framing"),
            "{te}: {r}"
        );
    }
    assert!(origin.requests().is_empty(), "{:?}", origin.requests());
    let metrics = daemon.metrics();
    assert!(
        metrics.contains("lychgate_bad_requests_total{reason=\"bad_transfer_encoding\"} 3"),
        "{metrics}"
    );
}

#[test]
fn ipv6_literal_urls_are_read_and_logged_with_brackets() {
    let daemon = Daemon::start("");
    // KS2 blocks IP-literal hosts: decided and logged, never dialled.
    for (url, host) in [
        ("http://[2001:db8::1]/x", "[2001:db8::1]"),
        ("http://[2001:DB8::1]:8080/x", "[2001:db8::1]:8080"),
    ] {
        let reply = get(daemon.proxy, local(2), url);
        assert_eq!(reply.status, 403, "{url}: {}", reply.body_text());
        let r = daemon.record(&reply.reference());
        assert_eq!(r["host"], host, "{url}: {r}");
        assert_eq!(r["decision"], "block", "{url}: {r}");
    }
    // CONNECT too (the port is logged apart for tunnels).
    let reply = send(
        daemon.proxy,
        local(2),
        "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n",
    );
    assert_eq!(reply.status, 403, "{}", reply.body_text());
    let r = daemon.record(&reply.reference());
    assert_eq!(r["host"], "[2001:db8::1]", "{r}");
    assert_eq!(r["authority"], "[2001:db8::1]:443", "{r}");
}

/// A request head of exactly `len` bytes (request line, headers, blank line), padded with one
/// `X-Pad` header, plus `extra` more header fields.
fn head_of(url: &str, host: &str, len: usize, extra: usize) -> String {
    let mut fields = String::new();
    for i in 0..extra {
        fields.push_str(&format!("X-F{i}: v\r\n"));
    }
    let fixed = format!(
        "GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{fields}X-Pad: \r\n\r\n"
    );
    assert!(fixed.len() <= len, "{} > {len}", fixed.len());
    fixed.replacen(
        "X-Pad: ",
        &format!("X-Pad: {}", "a".repeat(len - fixed.len())),
        1,
    )
}

#[test]
fn header_limits_hold_exactly_at_the_boundary() {
    let origin = Origin::start("A");
    // The default limit, 65536: hyper's read buffer grows in steps up to it, which is where
    // heads over the limit used to slip through.
    let daemon =
        Daemon::start("[[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n");
    let host = format!("www.bbc.co.uk:{}", origin.addr.port());
    let url = format!("http://{host}/");
    let at_limit = head_of(&url, &host, 65536, 0);
    assert_eq!(at_limit.len(), 65536);
    assert_eq!(send(daemon.proxy, local(1), &at_limit).status, 200);
    let over = head_of(&url, &host, 65537, 0);
    assert_eq!(send(daemon.proxy, local(1), &over).status, 431);
    // Heads well over the limit, sent in one go, are refused too (the read buffer alone let
    // heads of about 96 KiB through).
    for len in [80_000, 98_000] {
        let big = head_of(&url, &host, len, 0);
        assert_eq!(send(daemon.proxy, local(1), &big).status, 431, "{len}");
    }
    // 100 header fields (Host, Connection, X-Pad and 97 more) pass; 101 do not.
    assert_eq!(
        send(daemon.proxy, local(1), &head_of(&url, &host, 4000, 97)).status,
        200
    );
    assert_eq!(
        send(daemon.proxy, local(1), &head_of(&url, &host, 4000, 98)).status,
        431
    );
    assert_eq!(origin.requests().len(), 2);
    // The refusals are counted (and summarised in the log rather than a line each) once
    // hyper has closed each connection, which may be just after the 431 arrived.
    let counted = "lychgate_bad_requests_total{reason=\"header_too_large\"} 4";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut metrics = daemon.metrics();
    while !metrics.contains(counted) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        metrics = daemon.metrics();
    }
    assert!(metrics.contains(counted), "{metrics}");
}
