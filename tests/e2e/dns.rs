//! The filtering DNS server (`docs/dns.md`), end to end: the real `lychgate run` answering on
//! 127.0.0.1 and forwarding to a fake upstream on loopback. Each 127.0.0.x source address is a
//! different group, as for the proxy. Every answer is checked against what the upstream was
//! asked (blocked names never reach it) and against the request log.

use crate::daemon::{Daemon, config_text, connect_from, local};
use crate::dns_upstream::{
    Ask, FakeUpstream, Forgery, Transport, UNPROGRAMMED_V4, a, aaaa, ask_tcp, ask_udp, cname,
    exchange_tcp, exchange_udp, https, https_alias, name, next_id, parse_answer, query, read_frame,
    svcb, txt, write_frame,
};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::svcb::{SvcParamKey, SvcParamValue};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// The test config: the default one with `[dns]` forwarding to these fake upstreams, more
/// `[dns]` keys, and more config after it.
fn dns_config(dir: &Path, upstreams: &[&FakeUpstream], dns_keys: &str, extra: &str) -> String {
    let list = upstreams
        .iter()
        .map(|u| format!("\"{}\"", u.addr))
        .collect::<Vec<_>>()
        .join(", ");
    let dns = format!("upstreams = [{list}]\n{dns_keys}\n");
    let text = config_text(dir, extra);
    // The default config may gain a [dns] table of its own; TOML allows it only once.
    if text.lines().any(|l| l.trim() == "[dns]") {
        text.replacen("\n[dns]\n", &format!("\n[dns]\n{dns}"), 1)
    } else {
        format!("{text}\n[dns]\n{dns}")
    }
}

/// A daemon on [`dns_config`].
fn start(upstreams: &[&FakeUpstream], dns_keys: &str, extra: &str) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = dns_config(dir.path(), upstreams, dns_keys, extra);
    Daemon::start_with(dir, &text)
}

/// The DNS listener's address.
fn dns(daemon: &Daemon) -> SocketAddr {
    *daemon
        .dns
        .first()
        .expect("`lychgate run` prints `listening dns ADDRESS`")
}

fn rcode(message: &Message) -> ResponseCode {
    message.metadata.response_code
}

/// The A and AAAA addresses in the answer section, in order.
fn addresses(message: &Message) -> Vec<IpAddr> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(v4) => Some(IpAddr::V4(v4.0)),
            RData::AAAA(v6) => Some(IpAddr::V6(v6.0)),
            _ => None,
        })
        .collect()
}

/// The (owner, target) of each CNAME in the answer section, without trailing dots.
fn aliases(message: &Message) -> Vec<(String, String)> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::CNAME(target) => Some((bare(&r.name.to_ascii()), bare(&target.0.to_ascii()))),
            _ => None,
        })
        .collect()
}

fn bare(name: &str) -> String {
    name.trim_end_matches('.').to_string()
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

/// Every DNS line of the request log, once at least `at_least` lines are there (up to 5 s).
fn dns_lines(daemon: &Daemon, at_least: usize) -> Vec<Value> {
    daemon
        .log_records(at_least)
        .into_iter()
        .filter(|r| r["type"] == "dns")
        .collect()
}

/// The log lines for (client, host, qtype), waiting up to 5 s for at least `count` of them.
fn lines_for(daemon: &Daemon, client: IpAddr, host: &str, qtype: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found: Vec<Value> = dns_lines(daemon, 0)
            .into_iter()
            .filter(|r| {
                r["client"] == client.to_string() && r["host"] == host && r["qtype"] == qtype
            })
            .collect();
        if found.len() >= count || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one log line for (client, host, qtype).
fn line_for(daemon: &Daemon, client: IpAddr, host: &str, qtype: &str) -> Value {
    let mut found = lines_for(daemon, client, host, qtype, 1);
    assert_eq!(
        found.len(),
        1,
        "one log line for {client} {host} {qtype}: {found:#?}\nall: {:#?}",
        dns_lines(daemon, 0)
    );
    found.remove(0)
}

fn flags(line: &Value) -> Vec<String> {
    line["flags"]
        .as_array()
        .unwrap_or_else(|| panic!("flags array in {line}"))
        .iter()
        .map(|f| f.as_str().expect("flag text").to_string())
        .collect()
}

fn has_flag(line: &Value, flag: &str) -> bool {
    flags(line).iter().any(|f| f == flag)
}

/// The value of the metric series whose line starts with `family{` and holds every label.
fn metric(daemon: &Daemon, family: &str, labels: &[&str]) -> Option<f64> {
    let text = daemon.metrics();
    text.lines()
        .filter(|l| l.starts_with(&format!("{family}{{")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

const STAFF: u8 = 1;
const KS2: u8 = 2;
/// 127.0.0.9 is in no `[[network]]`.
const OUTSIDER: u8 = 9;

#[test]
fn each_group_gets_its_own_answer_and_blocked_names_never_reach_the_upstream() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "amazon.co.uk",
        RecordType::A,
        vec![a("amazon.co.uk", "203.0.113.10", 300)],
    );
    let daemon = start(&[&upstream], "blocked_ttl_seconds = 45", "");
    let server = dns(&daemon);

    let staff = query(server, local(STAFF), "amazon.co.uk", RecordType::A);
    assert_eq!(rcode(&staff), ResponseCode::NoError);
    assert_eq!(addresses(&staff), vec![ip("203.0.113.10")]);
    assert!(staff.metadata.recursion_available, "RA set");
    assert_eq!(staff.queries.len(), 1, "the question is echoed");
    assert_eq!(bare(&staff.queries[0].name().to_ascii()), "amazon.co.uk");
    assert!(
        staff.edns.is_some(),
        "an OPT record answers the client's OPT"
    );

    // Shopping is blocked for KS2: NXDOMAIN with a short-lived synthetic SOA.
    let pupil = query(server, local(KS2), "amazon.co.uk", RecordType::A);
    assert_eq!(rcode(&pupil), ResponseCode::NXDomain);
    assert!(pupil.answers.is_empty(), "{pupil:?}");
    assert!(pupil.metadata.recursion_available, "RA set on blocks too");
    assert_eq!(
        pupil.queries.len(),
        1,
        "the question is echoed on blocks too"
    );
    let soa = pupil
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some((r.ttl, soa.minimum)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("an SOA in the authority section: {pupil:?}"));
    assert_eq!(soa, (45, 45), "SOA TTL and minimum are blocked_ttl_seconds");

    // Gambling is blocked for everyone, staff too.
    for group in [STAFF, KS2] {
        let bet = query(server, local(group), "www.bet365.com", RecordType::A);
        assert_eq!(rcode(&bet), ResponseCode::NXDomain, "127.0.0.{group}");
    }
    assert_eq!(upstream.asked("amazon.co.uk", RecordType::A), 1);
    assert_eq!(
        upstream.questions(),
        vec![("amazon.co.uk".to_string(), RecordType::A)],
        "nothing else went upstream"
    );

    let allowed = line_for(&daemon, local(STAFF), "amazon.co.uk", "A");
    assert_eq!(allowed["group"], "staff");
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["rcode"], "NOERROR");
    assert_eq!(allowed["cache_hit"], false);
    assert!(allowed["upstream_ms"].is_number(), "{allowed}");
    let blocked = line_for(&daemon, local(KS2), "amazon.co.uk", "A");
    assert_eq!(blocked["group"], "ks2");
    assert_eq!(blocked["decision"], "block");
    assert_eq!(blocked["category"], "shopping");
    assert_eq!(blocked["rcode"], "NXDOMAIN");
    assert!(
        blocked["cache_hit"].is_null(),
        "no upstream involved: {blocked}"
    );
    let gambling = line_for(&daemon, local(STAFF), "www.bet365.com", "A");
    assert_eq!(gambling["category"], "gambling");
}

#[test]
fn an_answer_without_edns_carries_no_opt_record() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "plain.example.org",
        RecordType::A,
        vec![a("plain.example.org", "203.0.113.11", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let answer = ask_udp(
        dns(&daemon),
        local(STAFF),
        Ask::new("plain.example.org", RecordType::A).without_edns(),
    );
    assert_eq!(addresses(&answer), vec![ip("203.0.113.11")]);
    assert!(answer.edns.is_none(), "{answer:?}");
}

#[test]
fn a_blocked_name_is_blocked_for_every_query_type() {
    let upstream = FakeUpstream::start();
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::HTTPS,
        RecordType::SVCB,
        RecordType::TXT,
        RecordType::MX,
        RecordType::NS,
        RecordType::SRV,
        RecordType::Unknown(65534),
    ];
    for host in ["pornhub.com", "www.pornhub.com"] {
        for qtype in types {
            let answer = query(server, local(KS2), host, qtype);
            assert_eq!(rcode(&answer), ResponseCode::NXDomain, "{host} {qtype}");
            assert!(answer.answers.is_empty(), "{host} {qtype}: {answer:?}");
        }
    }
    assert_eq!(
        upstream.total_asked(),
        0,
        "asked upstream: {:?}",
        upstream.questions()
    );
    // TXT matters most: it is how DNS tunnels carry data out.
    let tunnel = line_for(&daemon, local(KS2), "www.pornhub.com", "TXT");
    assert_eq!(tunnel["decision"], "block");
    assert_eq!(tunnel["category"], "adult");
    let unknown = line_for(&daemon, local(KS2), "pornhub.com", "TYPE65534");
    assert_eq!(unknown["rcode"], "NXDOMAIN");
}

#[test]
fn block_page_mode_answers_the_block_address_and_nodata_for_other_types() {
    let upstream = FakeUpstream::start();
    let daemon = start(
        &[&upstream],
        "blocked_answer = \"block-page\"\nblock_address = [\"192.0.2.80\", \"2001:db8::80\"]\n\
         blocked_ttl_seconds = 30",
        "",
    );
    let server = dns(&daemon);
    let v4 = query(server, local(KS2), "amazon.co.uk", RecordType::A);
    assert_eq!(rcode(&v4), ResponseCode::NoError);
    assert_eq!(addresses(&v4), vec![ip("192.0.2.80")]);
    assert_eq!(v4.answers[0].ttl, 30, "blocked_ttl_seconds");
    let v6 = query(server, local(KS2), "amazon.co.uk", RecordType::AAAA);
    assert_eq!(addresses(&v6), vec![ip("2001:db8::80")]);
    for qtype in [RecordType::HTTPS, RecordType::TXT, RecordType::MX] {
        let nodata = query(server, local(KS2), "amazon.co.uk", qtype);
        assert_eq!(rcode(&nodata), ResponseCode::NoError, "{qtype}");
        assert!(nodata.answers.is_empty(), "{qtype} is NODATA: {nodata:?}");
    }
    // Only NXDOMAIN switches the canaries' features off, whatever blocked_answer says.
    let canary = query(
        server,
        local(STAFF),
        "use-application-dns.net",
        RecordType::A,
    );
    assert_eq!(rcode(&canary), ResponseCode::NXDomain);
    assert!(canary.answers.is_empty());
    assert_eq!(upstream.total_asked(), 0, "{:?}", upstream.questions());
    let line = line_for(&daemon, local(KS2), "amazon.co.uk", "A");
    assert_eq!(line["decision"], "block");
    assert_eq!(line["rcode"], "NOERROR");
}

#[test]
fn safe_search_points_pupils_at_google_s_safe_front_end_and_leaves_staff_alone() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "forcesafesearch.google.com",
        RecordType::A,
        vec![a("forcesafesearch.google.com", "216.239.38.120", 300)],
    );
    upstream.answer(
        "forcesafesearch.google.com",
        RecordType::AAAA,
        vec![aaaa(
            "forcesafesearch.google.com",
            "2001:4860:4802:32::78",
            300,
        )],
    );
    upstream.answer(
        "www.google.co.uk",
        RecordType::A,
        vec![a("www.google.co.uk", "203.0.113.21", 300)],
    );
    upstream.answer(
        "strict.bing.com",
        RecordType::A,
        vec![a("strict.bing.com", "204.79.197.220", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);

    let pupil = query(server, local(KS2), "www.google.co.uk", RecordType::A);
    assert_eq!(rcode(&pupil), ResponseCode::NoError);
    assert_eq!(
        aliases(&pupil),
        vec![(
            "www.google.co.uk".to_string(),
            "forcesafesearch.google.com".to_string()
        )]
    );
    assert_eq!(addresses(&pupil), vec![ip("216.239.38.120")]);
    let pupil_v6 = query(server, local(KS2), "www.google.co.uk", RecordType::AAAA);
    assert_eq!(aliases(&pupil_v6).len(), 1, "{pupil_v6:?}");
    assert_eq!(addresses(&pupil_v6), vec![ip("2001:4860:4802:32::78")]);
    assert_eq!(
        upstream.asked("www.google.co.uk", RecordType::A),
        0,
        "the pupil's question is never forwarded as asked"
    );

    let bing = query(server, local(KS2), "www.bing.com", RecordType::A);
    assert_eq!(
        aliases(&bing),
        vec![("www.bing.com".to_string(), "strict.bing.com".to_string())]
    );
    assert_eq!(addresses(&bing), vec![ip("204.79.197.220")]);

    let staff = query(server, local(STAFF), "www.google.co.uk", RecordType::A);
    assert!(aliases(&staff).is_empty(), "{staff:?}");
    assert_eq!(addresses(&staff), vec![ip("203.0.113.21")]);

    let line = line_for(&daemon, local(KS2), "www.google.co.uk", "A");
    assert_eq!(line["decision"], "allow");
    assert!(has_flag(&line, "safe_search"), "{line}");
    let staff_line = line_for(&daemon, local(STAFF), "www.google.co.uk", "A");
    assert!(!has_flag(&staff_line, "safe_search"), "{staff_line}");
}

/// Two classes allowed video, one in YouTube's strict and one in its moderate restricted mode
/// (KS2's own video window depends on the time of day, so the test brings its own groups).
const VIDEO_CLASSES: &str = r#"
[[network]]
cidr = "127.0.0.10/32"
group = "video_strict"
name = "a class watching YouTube in strict restricted mode"

[[network]]
cidr = "127.0.0.11/32"
group = "video_moderate"
name = "a class watching YouTube in moderate restricted mode"

[groups.video_strict]
kind = "pupil"
account_type = "shared"
block = ["adult", "discrimination", "drugs", "extremism", "gambling", "malware", "piracy",
         "selfharm", "violence", "weapons", "bypass", "dating"]
ip_literal = "block"
look_alikes = "block"
safe_search = true
youtube = "strict"
phrase_threshold = 60

[groups.video_moderate]
kind = "pupil"
account_type = "shared"
block = ["adult", "discrimination", "drugs", "extremism", "gambling", "malware", "piracy",
         "selfharm", "violence", "weapons", "bypass", "dating"]
ip_literal = "block"
look_alikes = "block"
safe_search = true
youtube = "moderate"
phrase_threshold = 60
"#;

#[test]
fn youtube_restricted_mode_is_a_cname_to_restrict_youtube_com() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "restrict.youtube.com",
        RecordType::A,
        vec![a("restrict.youtube.com", "216.239.38.120", 300)],
    );
    upstream.answer(
        "restrictmoderate.youtube.com",
        RecordType::A,
        vec![a("restrictmoderate.youtube.com", "216.239.38.119", 300)],
    );
    let daemon = start(&[&upstream], "", VIDEO_CLASSES);
    let server = dns(&daemon);
    let strict = query(server, local(10), "www.youtube.com", RecordType::A);
    assert_eq!(
        aliases(&strict),
        vec![(
            "www.youtube.com".to_string(),
            "restrict.youtube.com".to_string()
        )]
    );
    assert_eq!(addresses(&strict), vec![ip("216.239.38.120")]);
    let moderate = query(server, local(11), "m.youtube.com", RecordType::A);
    assert_eq!(
        aliases(&moderate),
        vec![(
            "m.youtube.com".to_string(),
            "restrictmoderate.youtube.com".to_string()
        )]
    );
    assert_eq!(addresses(&moderate), vec![ip("216.239.38.119")]);
    assert_eq!(upstream.asked("www.youtube.com", RecordType::A), 0);
    let line = line_for(&daemon, local(10), "www.youtube.com", "A");
    assert_eq!(line["group"], "video_strict");
    assert!(has_flag(&line, "youtube_restrict"), "{line}");
}

#[test]
fn canaries_and_doh_servers_are_nxdomain_for_staff_too_and_never_forwarded() {
    let upstream = FakeUpstream::start();
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    for (host, qtype) in [
        ("use-application-dns.net", RecordType::A),
        ("use-application-dns.net", RecordType::AAAA),
        ("mask.icloud.com", RecordType::A),
        ("mask.icloud.com", RecordType::HTTPS),
        ("mask-h2.icloud.com", RecordType::AAAA),
    ] {
        let answer = query(server, local(STAFF), host, qtype);
        assert_eq!(rcode(&answer), ResponseCode::NXDomain, "{host} {qtype}");
    }
    let doh = query(
        server,
        local(STAFF),
        "mozilla.cloudflare-dns.com",
        RecordType::A,
    );
    assert_eq!(rcode(&doh), ResponseCode::NXDomain);
    let dns_google = query(server, local(STAFF), "dns.google", RecordType::HTTPS);
    assert_eq!(rcode(&dns_google), ResponseCode::NXDomain);
    assert_eq!(upstream.total_asked(), 0, "{:?}", upstream.questions());

    let canary = line_for(&daemon, local(STAFF), "mask.icloud.com", "A");
    assert_eq!(canary["decision"], "block");
    assert!(has_flag(&canary, "canary"), "{canary}");
    let firefox = line_for(&daemon, local(STAFF), "use-application-dns.net", "A");
    assert!(has_flag(&firefox, "canary"), "{firefox}");
    let doh_line = line_for(&daemon, local(STAFF), "mozilla.cloudflare-dns.com", "A");
    assert_eq!(doh_line["category"], "bypass");
}

#[test]
fn an_allowed_name_aliased_to_a_blocked_one_is_blocked_for_that_group_only() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "deals.example.org",
        RecordType::A,
        vec![
            cname("deals.example.org", "amazon.co.uk", 300),
            a("amazon.co.uk", "203.0.113.12", 300),
        ],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let staff = query(server, local(STAFF), "deals.example.org", RecordType::A);
    assert_eq!(rcode(&staff), ResponseCode::NoError);
    assert_eq!(
        aliases(&staff),
        vec![("deals.example.org".to_string(), "amazon.co.uk".to_string())]
    );
    assert_eq!(addresses(&staff), vec![ip("203.0.113.12")]);
    // The cache holds the upstream's answer; each group's answer is checked again.
    let pupil = query(server, local(KS2), "deals.example.org", RecordType::A);
    assert_eq!(rcode(&pupil), ResponseCode::NXDomain, "{pupil:?}");
    assert!(pupil.answers.is_empty());
    assert_eq!(upstream.asked("deals.example.org", RecordType::A), 1);
    assert_eq!(
        upstream.asked("amazon.co.uk", RecordType::A),
        0,
        "the chain's target comes from the same answer"
    );
    let line = line_for(&daemon, local(KS2), "deals.example.org", "A");
    assert_eq!(line["decision"], "block");
    assert_eq!(
        line["category"], "shopping",
        "the blocked target's category"
    );
    assert!(has_flag(&line, "cname_blocked"), "{line}");
    assert_eq!(line["cache_hit"], true);
}

#[test]
fn ech_is_stripped_from_https_and_svcb_records_and_the_rest_kept() {
    let upstream = FakeUpstream::start();
    let ech: &[u8] = &[0x00, 0x08, 0xfe, 0x0d, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04];
    upstream.answer(
        "private.example.org",
        RecordType::HTTPS,
        vec![https("private.example.org", &["h2", "h3"], Some(ech), 300)],
    );
    upstream.answer(
        "private.example.org",
        RecordType::SVCB,
        vec![svcb("private.example.org", &["h2"], Some(ech), 300)],
    );
    upstream.answer(
        "open.example.org",
        RecordType::HTTPS,
        vec![https("open.example.org", &["h2"], None, 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let params = |m: &Message| -> Vec<(SvcParamKey, SvcParamValue)> {
        m.answers
            .iter()
            .find_map(|r| match &r.data {
                RData::HTTPS(h) => Some(h.0.svc_params.clone()),
                RData::SVCB(s) => Some(s.svc_params.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("a service binding in {m:?}"))
    };
    let alpn = |p: &[(SvcParamKey, SvcParamValue)]| -> Vec<String> {
        p.iter()
            .find_map(|(_, v)| match v {
                SvcParamValue::Alpn(alpn) => Some(alpn.0.clone()),
                _ => None,
            })
            .expect("alpn kept")
    };
    for group in [STAFF, KS2] {
        let answer = query(
            server,
            local(group),
            "private.example.org",
            RecordType::HTTPS,
        );
        let p = params(&answer);
        assert!(
            !p.iter().any(|(k, _)| *k == SvcParamKey::EchConfigList),
            "ech removed for 127.0.0.{group}: {p:?}"
        );
        assert_eq!(alpn(&p), vec!["h2", "h3"]);
    }
    let svcb_answer = query(
        server,
        local(STAFF),
        "private.example.org",
        RecordType::SVCB,
    );
    let p = params(&svcb_answer);
    assert!(!p.iter().any(|(k, _)| *k == SvcParamKey::EchConfigList));
    assert_eq!(alpn(&p), vec!["h2"]);
    let open = query(server, local(STAFF), "open.example.org", RecordType::HTTPS);
    assert_eq!(alpn(&params(&open)), vec!["h2"]);

    let line = line_for(&daemon, local(STAFF), "private.example.org", "HTTPS");
    assert!(has_flag(&line, "ech_stripped"), "{line}");
    let untouched = line_for(&daemon, local(STAFF), "open.example.org", "HTTPS");
    assert!(!has_flag(&untouched, "ech_stripped"), "{untouched}");
}

#[test]
fn private_addresses_for_public_names_are_refused_but_the_school_s_own_zone_is_not() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "rebind.example.org",
        RecordType::A,
        vec![a("rebind.example.org", "192.168.1.5", 60)],
    );
    upstream.answer(
        "home.example.org",
        RecordType::A,
        vec![a("home.example.org", "127.0.0.1", 60)],
    );
    upstream.answer(
        "ula.example.org",
        RecordType::AAAA,
        vec![aaaa("ula.example.org", "fd00::5", 60)],
    );
    upstream.answer(
        "printer.school.internal",
        RecordType::A,
        vec![a("printer.school.internal", "192.168.1.20", 60)],
    );
    upstream.answer(
        "public.example.org",
        RecordType::A,
        vec![a("public.example.org", "203.0.113.5", 60)],
    );
    let daemon = start(&[&upstream], "internal_domains = [\"school.internal\"]", "");
    let server = dns(&daemon);
    upstream.answer(
        "metadata.example.org",
        RecordType::A,
        vec![a("metadata.example.org", "169.254.169.254", 60)],
    );
    upstream.answer(
        "mapped.example.org",
        RecordType::AAAA,
        vec![aaaa("mapped.example.org", "::ffff:192.168.1.5", 60)],
    );
    upstream.answer(
        "link.example.org",
        RecordType::AAAA,
        vec![aaaa("link.example.org", "fe80::1", 60)],
    );
    upstream.answer(
        "hidden.example.org",
        RecordType::A,
        vec![
            cname("hidden.example.org", "lan.example.net", 60),
            a("lan.example.net", "10.0.0.7", 60),
        ],
    );
    for (host, qtype) in [
        ("rebind.example.org", RecordType::A),
        ("home.example.org", RecordType::A),
        ("ula.example.org", RecordType::AAAA),
        ("metadata.example.org", RecordType::A),
        ("mapped.example.org", RecordType::AAAA),
        ("link.example.org", RecordType::AAAA),
        ("hidden.example.org", RecordType::A),
    ] {
        let answer = query(server, local(STAFF), host, qtype);
        assert_eq!(rcode(&answer), ResponseCode::NXDomain, "{host}: {answer:?}");
        assert!(answer.answers.is_empty(), "{host}");
    }
    let printer = query(
        server,
        local(STAFF),
        "printer.school.internal",
        RecordType::A,
    );
    assert_eq!(addresses(&printer), vec![ip("192.168.1.20")]);
    let public = query(server, local(STAFF), "public.example.org", RecordType::A);
    assert_eq!(addresses(&public), vec![ip("203.0.113.5")]);

    let line = line_for(&daemon, local(STAFF), "rebind.example.org", "A");
    assert_eq!(line["decision"], "block");
    assert!(has_flag(&line, "rebinding"), "{line}");
    let printer_line = line_for(&daemon, local(STAFF), "printer.school.internal", "A");
    assert_eq!(printer_line["decision"], "allow");
    assert!(!has_flag(&printer_line, "rebinding"));
}

/// 40 A records: about 680 bytes, over the 512 a client without EDNS can take.
fn forty_addresses(owner: &str) -> Vec<Record> {
    (1..=40)
        .map(|n| a(owner, &format!("203.0.113.{n}"), 300))
        .collect()
}

#[test]
fn truncated_upstream_answers_are_fetched_over_tcp_and_big_answers_truncate_for_small_clients() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "many.example.org",
        RecordType::A,
        forty_addresses("many.example.org"),
    );
    upstream.truncate_over_udp("many.example.org");
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);

    let full = query(server, local(STAFF), "many.example.org", RecordType::A);
    assert_eq!(rcode(&full), ResponseCode::NoError);
    assert!(!full.metadata.truncation);
    assert_eq!(addresses(&full).len(), 40, "{full:?}");
    assert_eq!(
        upstream.asked_over("many.example.org", RecordType::A, Transport::Tcp),
        1,
        "the truncated UDP answer was fetched again over TCP"
    );

    // Without EDNS a UDP answer is at most 512 bytes: TC and the question only.
    let small = ask_udp(
        server,
        local(STAFF),
        Ask::new("many.example.org", RecordType::A).without_edns(),
    );
    assert!(small.metadata.truncation, "TC set: {small:?}");
    assert!(small.answers.is_empty());
    assert_eq!(small.queries.len(), 1);
    let over_tcp = ask_tcp(
        server,
        local(STAFF),
        Ask::new("many.example.org", RecordType::A).without_edns(),
    );
    assert!(!over_tcp.metadata.truncation);
    let mut got = addresses(&over_tcp);
    got.sort();
    let mut want: Vec<IpAddr> = (1..=40).map(|n| ip(&format!("203.0.113.{n}"))).collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        upstream.asked("many.example.org", RecordType::A),
        2,
        "one UDP and one TCP question upstream; the rest came from the cache"
    );
    let lines = lines_for(&daemon, local(STAFF), "many.example.org", "A", 3);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(
        lines.iter().filter(|l| has_flag(l, "truncated")).count(),
        1,
        "only the 512-byte UDP answer was truncated: {lines:#?}"
    );
}

#[test]
fn a_long_txt_record_truncates_over_udp_without_edns_and_arrives_whole_over_tcp() {
    let upstream = FakeUpstream::start();
    let text = "v=spf1 ".to_string() + &"include:_spf.example.org ".repeat(40);
    upstream.answer(
        "long.example.org",
        RecordType::TXT,
        vec![txt("long.example.org", &text, 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let ask = Ask::new("long.example.org", RecordType::TXT).without_edns();
    let small = ask_udp(server, local(KS2), ask);
    assert!(small.metadata.truncation, "{small:?}");
    let whole = ask_tcp(server, local(KS2), ask);
    let got: String = whole
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(got, text);
}

#[test]
fn a_silent_upstream_gives_servfail_within_the_timeout() {
    let upstream = FakeUpstream::start();
    upstream.silent_for("slow.example.org");
    let daemon = start(&[&upstream], "upstream_timeout_ms = 300", "");
    let started = Instant::now();
    let answer = query(
        dns(&daemon),
        local(STAFF),
        "slow.example.org",
        RecordType::A,
    );
    assert_eq!(rcode(&answer), ResponseCode::ServFail);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "upstream_timeout_ms honoured: {:?}",
        started.elapsed()
    );
    assert!(upstream.asked("slow.example.org", RecordType::A) >= 1);
    let line = line_for(&daemon, local(STAFF), "slow.example.org", "A");
    assert_eq!(line["decision"], "error");
    assert_eq!(line["rcode"], "SERVFAIL");
    assert!(has_flag(&line, "upstream_timeout"), "{line}");
}

#[test]
fn a_silent_or_failing_first_upstream_hands_the_question_to_the_next() {
    let down = FakeUpstream::start();
    down.silent();
    let broken = FakeUpstream::start();
    broken.servfail_everything();
    let working = FakeUpstream::start();
    working.answer(
        "failover.example.org",
        RecordType::A,
        vec![a("failover.example.org", "203.0.113.40", 300)],
    );
    let daemon = start(&[&down, &broken, &working], "upstream_timeout_ms = 300", "");
    let answer = query(
        dns(&daemon),
        local(STAFF),
        "failover.example.org",
        RecordType::A,
    );
    assert_eq!(rcode(&answer), ResponseCode::NoError);
    assert_eq!(addresses(&answer), vec![ip("203.0.113.40")]);
    assert!(down.asked("failover.example.org", RecordType::A) >= 1);
    assert!(broken.asked("failover.example.org", RecordType::A) >= 1);
    assert_eq!(working.asked("failover.example.org", RecordType::A), 1);
    let line = line_for(&daemon, local(STAFF), "failover.example.org", "A");
    assert_eq!(line["decision"], "allow");
}

#[test]
fn servfail_is_not_cached() {
    let upstream = FakeUpstream::start();
    upstream.servfail("broken.example.org");
    let daemon = start(&[&upstream], "", "");
    for _ in 0..2 {
        let answer = query(
            dns(&daemon),
            local(STAFF),
            "broken.example.org",
            RecordType::A,
        );
        assert_eq!(rcode(&answer), ResponseCode::ServFail);
    }
    assert_eq!(upstream.asked("broken.example.org", RecordType::A), 2);
}

#[test]
fn the_cache_answers_repeats_until_the_upstream_ttl_runs_out() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "cached.example.org",
        RecordType::A,
        vec![a("cached.example.org", "203.0.113.50", 300)],
    );
    upstream.answer(
        "brief.example.org",
        RecordType::A,
        vec![a("brief.example.org", "203.0.113.51", 1)],
    );
    upstream.nxdomain("missing.example.org", 300);
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);

    let first = query(server, local(STAFF), "cached.example.org", RecordType::A);
    let second = query(server, local(7), "cached.example.org", RecordType::A);
    assert_eq!(addresses(&second), addresses(&first));
    assert!(second.answers[0].ttl <= 300 && second.answers[0].ttl > 0);
    assert_eq!(upstream.asked("cached.example.org", RecordType::A), 1);
    let hit = line_for(&daemon, local(7), "cached.example.org", "A");
    assert_eq!(hit["cache_hit"], true);
    let miss = line_for(&daemon, local(STAFF), "cached.example.org", "A");
    assert_eq!(miss["cache_hit"], false);

    // Negative answers are cached too, for the SOA's negative TTL.
    for _ in 0..2 {
        let gone = query(server, local(STAFF), "missing.example.org", RecordType::A);
        assert_eq!(rcode(&gone), ResponseCode::NXDomain);
    }
    assert_eq!(upstream.asked("missing.example.org", RecordType::A), 1);
    let gone_line = &lines_for(&daemon, local(STAFF), "missing.example.org", "A", 2)[0];
    assert_eq!(
        gone_line["decision"], "allow",
        "the upstream's own NXDOMAIN"
    );

    query(server, local(STAFF), "brief.example.org", RecordType::A);
    std::thread::sleep(Duration::from_millis(1500));
    let again = query(server, local(STAFF), "brief.example.org", RecordType::A);
    assert_eq!(addresses(&again), vec![ip("203.0.113.51")]);
    assert_eq!(
        upstream.asked("brief.example.org", RecordType::A),
        2,
        "a one-second answer is fetched again after it expires"
    );
}

#[test]
fn concurrent_identical_questions_are_sent_upstream_once() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "popular.example.org",
        RecordType::A,
        vec![a("popular.example.org", "203.0.113.60", 300)],
    );
    // Long enough for all twenty questions to arrive while the first is still upstream.
    upstream.delay("popular.example.org", Duration::from_millis(700));
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let answers: Vec<Message> = std::thread::scope(|scope| {
        let askers: Vec<_> = (0..20)
            .map(|_| {
                scope.spawn(|| query(server, local(STAFF), "popular.example.org", RecordType::A))
            })
            .collect();
        askers
            .into_iter()
            .map(|h| h.join().expect("asker"))
            .collect()
    });
    for answer in &answers {
        assert_eq!(addresses(answer), vec![ip("203.0.113.60")]);
    }
    assert_eq!(upstream.asked("popular.example.org", RecordType::A), 1);
    let lines = lines_for(&daemon, local(STAFF), "popular.example.org", "A", 20);
    assert_eq!(lines.len(), 20, "one line per question");
}

/// A question's wire form with its header bytes changed by `edit`.
fn edited(ask: Ask<'_>, id: u16, edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut packet = ask.packet(id);
    edit(&mut packet);
    packet
}

/// The header's RCODE (low four bits), read without parsing the rest.
fn raw_rcode(packet: &[u8]) -> u8 {
    assert!(packet.len() >= 12, "a full header: {packet:02x?}");
    packet[3] & 0x0f
}

#[test]
fn malformed_packets_get_an_error_or_nothing_and_the_server_keeps_answering() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "after.example.org",
        RecordType::A,
        vec![a("after.example.org", "203.0.113.70", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let brief = Duration::from_millis(400);
    let good = Ask::new("after.example.org", RecordType::A);
    let send = |packet: &[u8]| exchange_udp(server, local(STAFF), packet, brief);

    // Shorter than a header, and a response rather than a question: dropped.
    assert_eq!(send(&[0x01, 0x02, 0x03]), None);
    assert_eq!(send(&[]), None);
    let response = edited(good, 0x1001, |p| p[2] |= 0x80);
    assert_eq!(send(&response), None, "a response (QR=1) is dropped");

    // A header that promises a question that is not there, or is cut short: FORMERR.
    let header_only = [0x10, 0x02, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    let reply = send(&header_only).expect("FORMERR for a missing question");
    assert_eq!(raw_rcode(&reply), 1, "FORMERR");
    assert_eq!(reply[..2], [0x10, 0x02], "the id is echoed");
    let no_question = [0x10, 0x08, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
    let reply = send(&no_question).expect("FORMERR for no question at all");
    assert_eq!(raw_rcode(&reply), 1, "FORMERR");
    let cut = edited(good, 0x1003, |p| p.truncate(20));
    assert_eq!(
        raw_rcode(&send(&cut).expect("FORMERR for a cut question")),
        1
    );

    // Another opcode: NOTIMP.
    let status = edited(good, 0x1004, |p| p[2] = (p[2] & 0x87) | (2 << 3));
    assert_eq!(raw_rcode(&send(&status).expect("NOTIMP")), 4);

    // Class CH (the version.bind probe): REFUSED.
    let mut chaos = Message::new(0x1005, MessageType::Query, OpCode::Query);
    let mut question = Query::query(name("version.bind"), RecordType::TXT);
    question.set_query_class(DNSClass::CH);
    chaos.add_query(question);
    let reply = send(&chaos.to_vec().expect("encode")).expect("REFUSED for class CH");
    assert_eq!(raw_rcode(&reply), 5);

    // EDNS version 1: BADVERS (extended RCODE 16, so read through the OPT record).
    let mut future = Message::new(0x1006, MessageType::Query, OpCode::Query);
    future.add_query(Query::query(name("after.example.org"), RecordType::A));
    let mut edns = Edns::new();
    edns.set_version(1);
    future.set_edns(edns);
    let reply = send(&future.to_vec().expect("encode")).expect("BADVERS");
    let reply = Message::from_vec(&reply).expect("BADVERS parses");
    // 16 is both BADVERS and BADSIG (RFC 6891 / RFC 8945); hickory names it BADSIG.
    assert_eq!(u16::from(rcode(&reply)), 16, "BADVERS: {reply:?}");
    assert!(
        reply.edns.is_some(),
        "an extended RCODE needs the OPT record"
    );

    // Two questions in one packet: refused or dropped, never answered as if one.
    let mut two = Message::new(0x1007, MessageType::Query, OpCode::Query);
    two.add_query(Query::query(name("after.example.org"), RecordType::A));
    two.add_query(Query::query(name("pornhub.com"), RecordType::A));
    if let Some(reply) = send(&two.to_vec().expect("encode")) {
        assert_ne!(
            raw_rcode(&reply),
            0,
            "two questions are an error: {reply:02x?}"
        );
    }

    // Over TCP: a garbage frame, then a frame that never finishes.
    let _ = exchange_tcp(server, local(STAFF), &[0xff; 7], brief);
    {
        let mut stream = connect_from(local(STAFF), server);
        use std::io::Write as _;
        let _ = stream.write_all(&[0x01, 0x00, 0x12, 0x34]);
    }

    // The server is still there and still answers properly, over both transports.
    let after = ask_udp(server, local(STAFF), good);
    assert_eq!(addresses(&after), vec![ip("203.0.113.70")]);
    let after_tcp = ask_tcp(server, local(STAFF), good);
    assert_eq!(addresses(&after_tcp), vec![ip("203.0.113.70")]);
    assert!(
        upstream.asked("pornhub.com", RecordType::A) == 0,
        "the two-question packet's second name never went upstream"
    );
    assert!(
        metric(
            &daemon,
            "lychgate_dns_refused_total",
            &["reason=\"malformed\""]
        )
        .is_some_and(|n| n >= 2.0),
        "malformed packets are counted:\n{}",
        daemon.metrics()
    );
}

#[test]
fn clients_outside_every_network_are_refused() {
    let upstream = FakeUpstream::start();
    let daemon = start(&[&upstream], "", "");
    let answer = query(
        dns(&daemon),
        local(OUTSIDER),
        "www.example.org",
        RecordType::A,
    );
    assert_eq!(rcode(&answer), ResponseCode::Refused);
    assert!(answer.answers.is_empty());
    assert_eq!(upstream.total_asked(), 0, "never an open resolver");
    assert!(
        metric(
            &daemon,
            "lychgate_dns_refused_total",
            &["reason=\"not_in_network\""]
        )
        .is_some_and(|n| n >= 1.0),
        "{}",
        daemon.metrics()
    );
}

#[test]
fn every_question_is_one_log_line_with_the_group_of_its_source_address() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "amazon.co.uk",
        RecordType::A,
        vec![a("amazon.co.uk", "203.0.113.10", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let expected = [
        (1, "staff", "allow"),
        (2, "ks2", "block"),
        (3, "ks1", "block"),
        (4, "year1", "block"),
        (5, "reception", "block"),
        (6, "guest", "block"),
        (7, "staff", "allow"),
    ];
    for (n, _, _) in expected {
        // Mixed case and a trailing dot: the log holds the normalised name.
        query(server, local(n), "Amazon.CO.uk.", RecordType::A);
    }
    let lines = dns_lines(&daemon, expected.len());
    std::thread::sleep(Duration::from_millis(300));
    let lines_later = dns_lines(&daemon, expected.len());
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    assert_eq!(
        lines_later.len(),
        expected.len(),
        "no second line per question"
    );
    for (n, group, decision) in expected {
        let line = line_for(&daemon, local(n), "amazon.co.uk", "A");
        assert_eq!(line["group"], group, "127.0.0.{n}");
        assert_eq!(line["decision"], decision, "127.0.0.{n}");
        for field in [
            "qtype",
            "rcode",
            "cache_hit",
            "upstream_ms",
            "bytes_in",
            "bytes_out",
        ] {
            assert!(
                line.get(field).is_some(),
                "{field} on every DNS line: {line}"
            );
        }
        assert!(line["bytes_in"].as_u64().is_some_and(|b| b > 12), "{line}");
        let rcode = if decision == "allow" {
            "NOERROR"
        } else {
            "NXDOMAIN"
        };
        assert_eq!(line["rcode"], rcode, "127.0.0.{n}");
        if decision == "block" {
            assert!(line["cache_hit"].is_null(), "{line}");
            assert!(line["upstream_ms"].is_null(), "{line}");
        }
    }
    assert_eq!(
        line_for(&daemon, local(1), "amazon.co.uk", "A")["cache_hit"],
        false
    );
    assert_eq!(
        line_for(&daemon, local(7), "amazon.co.uk", "A")["cache_hit"],
        true
    );
    assert_eq!(upstream.asked("amazon.co.uk", RecordType::A), 1);
}

#[test]
fn dns_questions_are_counted_in_the_metrics() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "counted.example.org",
        RecordType::A,
        vec![a("counted.example.org", "203.0.113.80", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    query(server, local(STAFF), "counted.example.org", RecordType::A);
    query(server, local(STAFF), "counted.example.org", RecordType::A);
    query(server, local(KS2), "www.bet365.com", RecordType::AAAA);
    dns_lines(&daemon, 3);
    let allowed = metric(
        &daemon,
        "lychgate_dns_queries_total",
        &["decision=\"allow\"", "group=\"staff\"", "qtype=\"A\""],
    );
    assert_eq!(allowed, Some(2.0), "{}", daemon.metrics());
    let blocked = metric(
        &daemon,
        "lychgate_dns_queries_total",
        &["decision=\"block\"", "group=\"ks2\"", "qtype=\"AAAA\""],
    );
    assert_eq!(blocked, Some(1.0), "{}", daemon.metrics());
    assert_eq!(
        metric(&daemon, "lychgate_dns_cache_total", &["result=\"hit\""]),
        Some(1.0)
    );
    assert_eq!(
        metric(&daemon, "lychgate_dns_cache_total", &["result=\"miss\""]),
        Some(1.0)
    );
}

#[test]
fn static_hosts_and_lychgate_s_own_name_are_answered_without_the_upstream() {
    let upstream = FakeUpstream::start();
    let daemon = start(
        &[&upstream],
        "",
        "[[static_host]]\nname = \"intranet.example.org\"\naddresses = [\"192.0.2.44\", \"2001:db8::44\"]\n\n\
         [[static_host]]\nname = \"nas.example.org\"\naddresses = [\"192.168.1.50\"]\n\n\
         [[static_host]]\nname = \"amazon.co.uk\"\naddresses = [\"192.0.2.45\"]\n",
    );
    let server = dns(&daemon);
    let v4 = query(server, local(KS2), "intranet.example.org", RecordType::A);
    assert_eq!(addresses(&v4), vec![ip("192.0.2.44")]);
    let v6 = query(server, local(KS2), "intranet.example.org", RecordType::AAAA);
    assert_eq!(addresses(&v6), vec![ip("2001:db8::44")]);
    let other = query(server, local(KS2), "intranet.example.org", RecordType::TXT);
    assert_eq!(rcode(&other), ResponseCode::NoError);
    assert!(other.answers.is_empty(), "{other:?}");
    // A static host may hold a private address: it is the school's own word.
    let nas = query(server, local(STAFF), "nas.example.org", RecordType::A);
    assert_eq!(addresses(&nas), vec![ip("192.168.1.50")]);
    // The policy comes first, even for static hosts.
    let pupil = query(server, local(KS2), "amazon.co.uk", RecordType::A);
    assert_eq!(rcode(&pupil), ResponseCode::NXDomain);
    let staff = query(server, local(STAFF), "amazon.co.uk", RecordType::A);
    assert_eq!(addresses(&staff), vec![ip("192.0.2.45")]);
    // The service host answers with the address of the listener the question came to.
    let own = query(server, local(KS2), "lychgate.internal", RecordType::A);
    assert_eq!(addresses(&own), vec![server.ip()]);
    assert_eq!(upstream.total_asked(), 0, "{:?}", upstream.questions());
    let line = line_for(&daemon, local(KS2), "intranet.example.org", "A");
    assert!(line["cache_hit"].is_null(), "no upstream involved: {line}");
}

/// A group with a time window over shopping that only allows what is allowed anyway, so the
/// decision does not depend on when the test runs but the TTL cap applies.
const WINDOWED_CLASS: &str = r#"
[[network]]
cidr = "127.0.0.12/32"
group = "windowed"
name = "a class with a shopping window"

[groups.windowed]
kind = "staff"
account_type = "individual"
block = ["adult", "gambling"]
ip_literal = "allow"
look_alikes = "allow"
safe_search = false
youtube = "off"
phrase_threshold = 160

[[groups.windowed.window]]
days = "daily"
time = "03:00-03:01"
allow = ["shopping"]
"#;

#[test]
fn names_in_a_time_windowed_category_get_short_ttls() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "amazon.co.uk",
        RecordType::A,
        vec![a("amazon.co.uk", "203.0.113.10", 3600)],
    );
    upstream.answer(
        "calm.example.org",
        RecordType::A,
        vec![a("calm.example.org", "203.0.113.90", 3600)],
    );
    upstream.answer(
        "deals.example.org",
        RecordType::A,
        vec![
            cname("deals.example.org", "amazon.co.uk", 3600),
            a("amazon.co.uk", "203.0.113.10", 3600),
        ],
    );
    let daemon = start(&[&upstream], "window_ttl_seconds = 20", WINDOWED_CLASS);
    let server = dns(&daemon);
    let windowed = query(server, local(12), "amazon.co.uk", RecordType::A);
    assert_eq!(addresses(&windowed), vec![ip("203.0.113.10")]);
    assert!(
        windowed.answers.iter().all(|r| r.ttl <= 20),
        "TTL capped at window_ttl_seconds: {windowed:?}"
    );
    // The cap follows an alias into the windowed category too.
    let aliased = query(server, local(12), "deals.example.org", RecordType::A);
    assert_eq!(addresses(&aliased), vec![ip("203.0.113.10")]);
    assert!(
        aliased.answers.iter().all(|r| r.ttl <= 20),
        "TTL capped through the CNAME: {aliased:?}"
    );
    let calm = query(server, local(12), "calm.example.org", RecordType::A);
    assert!(
        calm.answers.iter().all(|r| r.ttl > 20),
        "other names keep their TTL: {calm:?}"
    );
}

#[test]
fn a_client_over_its_rate_gets_no_answer_and_others_are_still_served() {
    let upstream = FakeUpstream::start();
    let daemon = start(&[&upstream], "max_qps_per_client = 5", "");
    let server = dns(&daemon);
    let socket = UdpSocket::bind(SocketAddr::new(local(KS2), 0)).expect("bind");
    socket.connect(server).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let sent = 30;
    for _ in 0..sent {
        let packet = Ask::new("pornhub.com", RecordType::A).packet(next_id());
        socket.send(&packet).expect("send");
    }
    let mut buf = [0u8; 4096];
    let answered = (0..sent)
        .take_while(|_| socket.recv(&mut buf).is_ok())
        .count();
    // 5 a second with 2 s of burst: about 10 of a sudden 30 are answered.
    assert!(
        (5..sent).contains(&answered),
        "{answered} of {sent} answered"
    );
    let staff = query(server, local(STAFF), "pornhub.com", RecordType::A);
    assert_eq!(
        rcode(&staff),
        ResponseCode::NXDomain,
        "other clients are served"
    );

    assert_eq!(
        metric(
            &daemon,
            "lychgate_dns_refused_total",
            &["reason=\"rate_limited\""]
        ),
        Some((sent - answered) as f64)
    );

    // Answered questions are a line each; rate-limited ones are counted (before they are read:
    // a flood costs no parse) into a summary line with the client, its group and the count.
    let mut daemon = daemon;
    assert_eq!(daemon.stop(), Some(0));
    let lines: Vec<Value> = dns_lines(&daemon, 0)
        .into_iter()
        .filter(|l| l["client"] == local(KS2).to_string())
        .collect();
    let (summaries, single): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|l| has_flag(l, "summary"));
    assert_eq!(single.len(), answered, "{single:#?}");
    assert!(single.iter().all(|l| !has_flag(l, "rate_limited")));
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    let summary = summaries[0];
    assert!(has_flag(summary, "rate_limited"), "{summary}");
    assert_eq!(summary["count"], sent - answered);
    assert_eq!(summary["group"], "ks2");
    assert_eq!(summary["decision"], "error");
    assert!(summary["rcode"].is_null() && summary["host"].is_null());
}

/// 5,000 questions as fast as one device can send them: the few it is allowed are answered and
/// logged, the rest are counted exactly into a summary line or two — the log does not grow by
/// a line per question (one pupil must not be able to fill the log disk).
#[test]
fn a_flood_of_over_rate_questions_is_summarised_with_the_exact_count() {
    let upstream = FakeUpstream::start();
    let mut daemon = start(&[&upstream], "max_qps_per_client = 5", "");
    let server = dns(&daemon);
    let socket = UdpSocket::bind(SocketAddr::new(local(KS2), 0)).expect("bind");
    socket.connect(server).expect("connect");
    let sent: u64 = 5000;
    let packet = Ask::new("pornhub.com", RecordType::A).packet(next_id());
    let limited = |d: &Daemon| {
        metric(
            d,
            "lychgate_dns_refused_total",
            &["reason=\"rate_limited\""],
        )
        .unwrap_or(0.0)
    };
    let answered = |d: &Daemon| {
        metric(
            d,
            "lychgate_dns_queries_total",
            &["decision=\"block\"", "group=\"ks2\""],
        )
        .unwrap_or(0.0)
    };
    // In bursts of 100, each read by Lychgate before the next is sent, so the kernel's receive
    // buffer never drops one: every question sent must reach Lychgate for the counts below to
    // be exact.
    let burst = 100;
    for n in 0..sent / burst {
        for _ in 0..burst {
            socket.send(&packet).expect("send");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while (limited(&daemon) + answered(&daemon)) < ((n + 1) * burst) as f64
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let refused = limited(&daemon) as u64;
    assert_eq!(daemon.stop(), Some(0));

    let lines: Vec<Value> = dns_lines(&daemon, 0)
        .into_iter()
        .filter(|l| l["client"] == local(KS2).to_string())
        .collect();
    let (summaries, single): (Vec<&Value>, Vec<&Value>) =
        lines.iter().partition(|l| has_flag(l, "summary"));
    assert!(
        (1..=2).contains(&summaries.len()),
        "one summary line per interval: {summaries:#?}"
    );
    let counted: u64 = summaries
        .iter()
        .map(|l| l["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(
        counted, refused,
        "the summary counts what the metrics count"
    );
    assert_eq!(
        counted + single.len() as u64,
        sent,
        "every question sent is either answered (a line) or counted in a summary"
    );
    // 5 a second with 2 s of burst: a few dozen at most, however slow this machine is today.
    assert!(
        (single.len() as u64) < sent / 10,
        "{} answered",
        single.len()
    );
    assert!(single.iter().all(|l| l["rcode"] == "NXDOMAIN"));
    let bytes_in: u64 = summaries
        .iter()
        .map(|l| l["bytes_in"].as_u64().expect("bytes_in"))
        .sum();
    assert_eq!(bytes_in, counted * packet.len() as u64);
}

/// Unreadable packets and questions from outside the networks are summarised too, by client
/// and reason, and every one is counted.
#[test]
fn malformed_and_outsider_questions_become_summary_lines() {
    let upstream = FakeUpstream::start();
    let mut daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let brief = Duration::from_millis(300);
    let header_only = [0x10, 0x02, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    for _ in 0..3 {
        assert!(exchange_udp(server, local(STAFF), &header_only, brief).is_some());
        assert_eq!(exchange_udp(server, local(STAFF), &[1, 2, 3], brief), None);
    }
    for _ in 0..4 {
        let answer = query(server, local(OUTSIDER), "www.example.org", RecordType::A);
        assert_eq!(rcode(&answer), ResponseCode::Refused);
    }
    assert_eq!(daemon.stop(), Some(0));
    let lines = dns_lines(&daemon, 0);
    let staff: Vec<&Value> = lines
        .iter()
        .filter(|l| l["client"] == local(STAFF).to_string())
        .collect();
    assert_eq!(staff.len(), 1, "{staff:#?}");
    assert!(has_flag(staff[0], "malformed") && has_flag(staff[0], "summary"));
    assert_eq!(staff[0]["count"], 6);
    assert_eq!(staff[0]["group"], "staff");
    assert_eq!(staff[0]["bytes_in"], 3 * (header_only.len() + 3));
    let outsider: Vec<&Value> = lines
        .iter()
        .filter(|l| l["client"] == local(OUTSIDER).to_string())
        .collect();
    assert_eq!(outsider.len(), 1, "{outsider:#?}");
    assert!(has_flag(outsider[0], "not_in_network") && has_flag(outsider[0], "summary"));
    assert_eq!(outsider[0]["count"], 4);
    assert_eq!(outsider[0]["group"], "unknown");
    assert_eq!(outsider[0]["decision"], "block");
}

#[test]
fn several_questions_on_one_tcp_connection_are_all_answered() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "one.example.org",
        RecordType::A,
        vec![a("one.example.org", "203.0.113.101", 300)],
    );
    upstream.answer(
        "two.example.org",
        RecordType::A,
        vec![a("two.example.org", "203.0.113.102", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let mut stream = connect_from(local(STAFF), dns(&daemon));
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let asks = [
        (next_id(), Ask::new("one.example.org", RecordType::A)),
        (next_id(), Ask::new("two.example.org", RecordType::A)),
        (next_id(), Ask::new("pornhub.com", RecordType::A)),
    ];
    // Sent back to back before reading anything (RFC 7766 pipelining).
    for (id, ask) in &asks {
        write_frame(&mut stream, &ask.packet(*id)).expect("send");
    }
    let mut answers = std::collections::HashMap::new();
    for _ in &asks {
        let packet = read_frame(&mut stream).expect("an answer per question");
        let message = Message::from_vec(&packet).expect("parse");
        answers.insert(message.metadata.id, message);
    }
    // Answers may come in any order; each is matched by id.
    let (one, two, blocked) = (
        &answers[&asks[0].0],
        &answers[&asks[1].0],
        &answers[&asks[2].0],
    );
    assert_eq!(addresses(one), vec![ip("203.0.113.101")]);
    assert_eq!(addresses(two), vec![ip("203.0.113.102")]);
    assert_eq!(rcode(blocked), ResponseCode::NXDomain);
}

#[test]
fn tcp_from_outside_every_network_is_refused_too() {
    let upstream = FakeUpstream::start();
    let daemon = start(&[&upstream], "", "");
    let id = next_id();
    let ask = Ask::new("www.example.org", RecordType::A);
    let reply = exchange_tcp(
        dns(&daemon),
        local(OUTSIDER),
        &ask.packet(id),
        Duration::from_secs(2),
    )
    .expect("REFUSED over TCP (docs/dns.md, step 1)");
    assert_eq!(
        rcode(&parse_answer(&reply, id, &ask)),
        ResponseCode::Refused
    );
    assert_eq!(upstream.total_asked(), 0);
}

#[test]
fn tcp_connections_over_the_per_client_limit_are_closed_and_idle_ones_time_out() {
    let upstream = FakeUpstream::start();
    let daemon = start(
        &[&upstream],
        "max_tcp_connections_per_client = 2\ntcp_idle_timeout_seconds = 1",
        "",
    );
    let server = dns(&daemon);
    let ask = Ask::new("pornhub.com", RecordType::A);
    let mut held: Vec<_> = (0..2).map(|_| connect_from(local(KS2), server)).collect();
    for stream in &mut held {
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        write_frame(stream, &ask.packet(next_id())).expect("send");
        assert!(read_frame(stream).is_some(), "within the limit: answered");
    }
    let over = exchange_tcp(
        server,
        local(KS2),
        &ask.packet(next_id()),
        Duration::from_secs(2),
    );
    assert_eq!(
        over, None,
        "a third connection from the same client is closed"
    );
    let other = ask_tcp(server, local(STAFF), ask);
    assert_eq!(
        rcode(&other),
        ResponseCode::NXDomain,
        "another client is served"
    );
    assert!(
        metric(
            &daemon,
            "lychgate_dns_refused_total",
            &["reason=\"tcp_limit\""]
        )
        .is_some_and(|n| n >= 1.0),
        "{}",
        daemon.metrics()
    );

    // Idle connections are closed after tcp_idle_timeout_seconds, freeing the client's slots.
    let started = Instant::now();
    assert_eq!(read_frame(&mut held[0]), None, "closed when idle");
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "closed after about a second: {:?}",
        started.elapsed()
    );
    let _ = read_frame(&mut held[1]);
    let again = ask_tcp(server, local(KS2), ask);
    assert_eq!(rcode(&again), ResponseCode::NXDomain);
}

#[test]
fn one_network_filling_the_tcp_connections_leaves_the_others_their_reserve() {
    let upstream = FakeUpstream::start();
    // 36 connections; the nine networks (the default eight and the Wi-Fi) reserve
    // 36 / 2 / 9 = 2 each and 18 are shared.
    let daemon = start(
        &[&upstream],
        "max_tcp_connections = 36\nmax_tcp_connections_per_client = 2\ntcp_idle_timeout_seconds = 60",
        "[[network]]\ncidr = \"127.0.1.0/24\"\ngroup = \"ks2\"\nname = \"pupils' Wi-Fi\"\n",
    );
    let server = dns(&daemon);
    let ask = Ask::new("pornhub.com", RecordType::A);
    let wifi = |n: u8| IpAddr::from([127, 0, 1, n]);
    // Ten Wi-Fi devices, two connections each, every one answered (so admitted) and then held.
    let mut held = Vec::new();
    for n in 1..=10 {
        for _ in 0..2 {
            let mut stream = connect_from(wifi(n), server);
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            write_frame(&mut stream, &ask.packet(next_id())).expect("send");
            assert!(read_frame(&mut stream).is_some(), "device {n}: admitted");
            held.push(stream);
        }
    }
    let over = exchange_tcp(
        server,
        wifi(11),
        &ask.packet(next_id()),
        Duration::from_secs(2),
    );
    assert_eq!(
        over, None,
        "the Wi-Fi has its reserve and every shared connection"
    );
    for client in [local(STAFF), local(KS2)] {
        let answer = ask_tcp(server, client, ask);
        assert_eq!(rcode(&answer), ResponseCode::NXDomain, "{client} is served");
    }
    drop(held);
}

#[test]
fn cached_answers_count_their_ttl_down_and_echo_the_question_as_asked() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "cased.example.org",
        RecordType::A,
        vec![a("cased.example.org", "203.0.113.103", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    // Mixed case, as resolvers using 0x20 randomisation send: the question comes back as sent.
    let first = query(server, local(STAFF), "CaSeD.ExAmPlE.oRg", RecordType::A);
    assert_eq!(first.queries[0].name().to_ascii(), "CaSeD.ExAmPlE.oRg.");
    assert_eq!(first.answers[0].ttl, 300);
    std::thread::sleep(Duration::from_millis(1100));
    let later = query(server, local(STAFF), "cased.example.org", RecordType::A);
    assert_eq!(later.queries[0].name().to_ascii(), "cased.example.org.");
    assert!(
        later.answers[0].ttl <= 299,
        "the TTL counts down from the fetch: {later:?}"
    );
    assert_eq!(upstream.asked("cased.example.org", RecordType::A), 1);
}

#[test]
fn udp_answers_never_exceed_max_udp_payload_whatever_the_client_offers() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "many.example.org",
        RecordType::A,
        forty_addresses("many.example.org"),
    );
    let daemon = start(&[&upstream], "max_udp_payload = 600", "");
    let server = dns(&daemon);
    let ask = Ask::new("many.example.org", RecordType::A).with_payload(4096);
    let id = next_id();
    let packet = exchange_udp(
        server,
        local(STAFF),
        &ask.packet(id),
        Duration::from_secs(2),
    )
    .expect("an answer");
    assert!(packet.len() <= 600, "{} bytes", packet.len());
    let answer = parse_answer(&packet, id, &ask);
    assert!(answer.metadata.truncation, "TC: {answer:?}");
    assert_eq!(addresses(&ask_tcp(server, local(STAFF), ask)).len(), 40);
}

#[test]
fn when_every_upstream_fails_the_client_gets_servfail_and_the_log_says_what_each_did() {
    let down = FakeUpstream::start();
    down.silent();
    let broken = FakeUpstream::start();
    broken.servfail_everything();
    let daemon = start(&[&down, &broken], "upstream_timeout_ms = 300", "");
    let answer = query(
        dns(&daemon),
        local(STAFF),
        "nowhere.example.org",
        RecordType::A,
    );
    assert_eq!(rcode(&answer), ResponseCode::ServFail);
    let line = line_for(&daemon, local(STAFF), "nowhere.example.org", "A");
    assert_eq!(line["decision"], "error");
    assert!(has_flag(&line, "upstream_error"), "{line}");
    let rule = line["rule"]
        .as_str()
        .unwrap_or_else(|| panic!("a rule: {line}"));
    for upstream in [&down, &broken] {
        assert!(
            rule.contains(&upstream.addr.to_string()),
            "the rule names {}: {rule}",
            upstream.addr
        );
    }
    for (upstream, reason) in [(&down, "timeout"), (&broken, "servfail")] {
        assert!(
            metric(
                &daemon,
                "lychgate_dns_upstream_failures_total",
                &[
                    &format!("upstream=\"{}\"", upstream.addr),
                    &format!("reason=\"{reason}\"")
                ]
            )
            .is_some_and(|n| n >= 1.0),
            "{reason} counted for {}:\n{}",
            upstream.addr,
            daemon.metrics()
        );
    }
}

/// An upstream that first sends `forgery` for bank.example.org, then the real answer.
fn forged_answer_then_real(forgery: Forgery) -> (FakeUpstream, Daemon) {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "bank.example.org",
        RecordType::A,
        vec![a("bank.example.org", "203.0.113.104", 300)],
    );
    upstream.spoof_first("bank.example.org", forgery);
    let daemon = start(&[&upstream], "", "");
    (upstream, daemon)
}

#[test]
fn an_upstream_answer_with_the_wrong_id_is_ignored() {
    let (_upstream, daemon) = forged_answer_then_real(Forgery::WrongId);
    let answer = query(
        dns(&daemon),
        local(STAFF),
        "bank.example.org",
        RecordType::A,
    );
    assert_eq!(addresses(&answer), vec![ip("203.0.113.104")], "{answer:?}");
}

#[test]
fn an_upstream_answer_to_another_question_is_ignored_and_the_real_one_awaited() {
    // RFC 5452 section 9.1: an answer that does not match the question is discarded, and the
    // resolver goes on waiting for one that does.
    let (_upstream, daemon) = forged_answer_then_real(Forgery::WrongQuestion);
    let server = dns(&daemon);
    let answer = query(server, local(STAFF), "bank.example.org", RecordType::A);
    assert_eq!(
        (rcode(&answer), addresses(&answer)),
        (ResponseCode::NoError, vec![ip("203.0.113.104")]),
        "{answer:?}"
    );
    // Nor was the forgery kept for the question it did answer.
    let other = query(
        server,
        local(STAFF),
        "other.bank.example.org",
        RecordType::A,
    );
    assert_eq!(addresses(&other), vec![IpAddr::V4(UNPROGRAMMED_V4)]);
}

#[test]
fn records_for_other_names_in_an_answer_are_not_cached_for_those_names() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "lure.example.org",
        RecordType::A,
        vec![
            a("lure.example.org", "203.0.113.105", 300),
            a("victim.example.net", "198.51.100.99", 86400),
        ],
    );
    upstream.answer(
        "victim.example.net",
        RecordType::A,
        vec![a("victim.example.net", "203.0.113.106", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    query(server, local(STAFF), "lure.example.org", RecordType::A);
    let victim = query(server, local(STAFF), "victim.example.net", RecordType::A);
    assert_eq!(addresses(&victim), vec![ip("203.0.113.106")]);
    assert_eq!(upstream.asked("victim.example.net", RecordType::A), 1);
}

#[test]
fn an_https_alias_to_a_blocked_name_is_blocked_for_that_group() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "shop.example.org",
        RecordType::HTTPS,
        vec![https_alias("shop.example.org", "amazon.co.uk", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let staff = query(server, local(STAFF), "shop.example.org", RecordType::HTTPS);
    assert_eq!(staff.answers.len(), 1, "{staff:?}");
    let pupil = query(server, local(KS2), "shop.example.org", RecordType::HTTPS);
    assert_eq!(rcode(&pupil), ResponseCode::NXDomain, "{pupil:?}");
    let line = line_for(&daemon, local(KS2), "shop.example.org", "HTTPS");
    assert!(has_flag(&line, "cname_blocked"), "{line}");
}

#[test]
fn with_the_cache_off_every_question_goes_upstream() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "uncached.example.org",
        RecordType::A,
        vec![a("uncached.example.org", "203.0.113.107", 300)],
    );
    let daemon = start(&[&upstream], "cache_entries = 0", "");
    for _ in 0..2 {
        let answer = query(
            dns(&daemon),
            local(STAFF),
            "uncached.example.org",
            RecordType::A,
        );
        assert_eq!(addresses(&answer), vec![ip("203.0.113.107")]);
    }
    assert_eq!(upstream.asked("uncached.example.org", RecordType::A), 2);
    let lines = lines_for(&daemon, local(STAFF), "uncached.example.org", "A", 2);
    assert!(lines.iter().all(|l| l["cache_hit"] == false), "{lines:#?}");
}

#[test]
fn in_block_page_mode_alias_and_rebinding_blocks_answer_the_block_address_too() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "deals.example.org",
        RecordType::A,
        vec![
            cname("deals.example.org", "amazon.co.uk", 300),
            a("amazon.co.uk", "203.0.113.12", 300),
        ],
    );
    upstream.answer(
        "rebind.example.org",
        RecordType::A,
        vec![a("rebind.example.org", "192.168.1.5", 60)],
    );
    let daemon = start(
        &[&upstream],
        "blocked_answer = \"block-page\"\nblock_address = [\"192.0.2.80\"]",
        "",
    );
    let server = dns(&daemon);
    for host in ["deals.example.org", "rebind.example.org"] {
        let answer = query(server, local(KS2), host, RecordType::A);
        assert_eq!(rcode(&answer), ResponseCode::NoError, "{host}");
        assert_eq!(
            addresses(&answer),
            vec![ip("192.0.2.80")],
            "{host}: {answer:?}"
        );
    }
    // Only an IPv4 block address: AAAA questions for a blocked name get no address at all.
    let v6 = query(server, local(KS2), "amazon.co.uk", RecordType::AAAA);
    assert_eq!(rcode(&v6), ResponseCode::NoError);
    assert!(v6.answers.is_empty(), "{v6:?}");
}

#[test]
fn with_rebinding_allowed_private_answers_pass() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "rebind.example.org",
        RecordType::A,
        vec![a("rebind.example.org", "192.168.1.5", 60)],
    );
    let daemon = start(&[&upstream], "rebinding = \"allow\"", "");
    let answer = query(
        dns(&daemon),
        local(STAFF),
        "rebind.example.org",
        RecordType::A,
    );
    assert_eq!(addresses(&answer), vec![ip("192.168.1.5")]);
}

#[test]
fn cache_lifetimes_are_capped_by_the_config() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "long.example.org",
        RecordType::A,
        vec![a("long.example.org", "203.0.113.110", 86400)],
    );
    upstream.nxdomain("never.example.org", 3600);
    upstream.answer(
        "zero.example.org",
        RecordType::A,
        vec![a("zero.example.org", "203.0.113.111", 0)],
    );
    let daemon = start(
        &[&upstream],
        "max_cache_ttl_seconds = 1\nmax_negative_ttl_seconds = 1",
        "",
    );
    let server = dns(&daemon);
    let ask_all = || {
        let long = query(server, local(STAFF), "long.example.org", RecordType::A);
        assert_eq!(addresses(&long), vec![ip("203.0.113.110")]);
        // Clients are not told to keep an answer longer than Lychgate keeps it.
        assert!(long.answers.iter().all(|r| r.ttl <= 1), "{long:?}");
        let never = query(server, local(STAFF), "never.example.org", RecordType::A);
        assert_eq!(rcode(&never), ResponseCode::NXDomain);
        assert!(never.authorities.iter().all(|r| r.ttl <= 1), "{never:?}");
        query(server, local(STAFF), "zero.example.org", RecordType::A);
    };
    ask_all();
    ask_all();
    assert_eq!(
        upstream.asked("zero.example.org", RecordType::A),
        2,
        "TTL 0 is not cached"
    );
    assert_eq!(upstream.asked("long.example.org", RecordType::A), 1);
    std::thread::sleep(Duration::from_millis(1500));
    ask_all();
    assert_eq!(upstream.asked("long.example.org", RecordType::A), 2);
    assert_eq!(upstream.asked("never.example.org", RecordType::A), 2);
}

#[test]
fn safe_search_https_questions_get_the_cname_and_the_front_end_s_records() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "forcesafesearch.google.com",
        RecordType::HTTPS,
        vec![https(
            "forcesafesearch.google.com",
            &["h2", "h3"],
            Some(&[0x00, 0x04, 0xfe, 0x0d, 0x00, 0x00]),
            300,
        )],
    );
    let daemon = start(&[&upstream], "", "");
    let answer = query(
        dns(&daemon),
        local(KS2),
        "www.google.co.uk",
        RecordType::HTTPS,
    );
    assert_eq!(
        aliases(&answer),
        vec![(
            "www.google.co.uk".to_string(),
            "forcesafesearch.google.com".to_string()
        )]
    );
    let binding = answer
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::HTTPS(h) => Some(h.0.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the front end's HTTPS record: {answer:?}"));
    assert!(
        !binding
            .svc_params
            .iter()
            .any(|(k, _)| *k == SvcParamKey::EchConfigList),
        "ech stripped from the SafeSearch records too: {binding:?}"
    );
}

/// Records for names nobody asked about (an upstream's extras, or a forger's) never reach a
/// client, fetched or from the cache; the question's CNAME chain does.
#[test]
fn records_outside_the_question_s_chain_are_not_passed_on() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "www.chain.example.org",
        RecordType::A,
        vec![
            cname("www.chain.example.org", "edge.cdn.example.net", 300),
            a("edge.cdn.example.net", "203.0.113.80", 300),
            a("bank.example.com", "203.0.113.66", 300),
            cname("login.example.com", "edge.cdn.example.net", 300),
        ],
    );
    let daemon = start(&[&upstream], "", "");
    for round in ["fetched", "cached"] {
        let answer = query(
            dns(&daemon),
            local(STAFF),
            "www.chain.example.org",
            RecordType::A,
        );
        assert_eq!(addresses(&answer), vec![ip("203.0.113.80")], "{round}");
        assert_eq!(
            aliases(&answer),
            vec![(
                "www.chain.example.org".to_string(),
                "edge.cdn.example.net".to_string()
            )],
            "{round}"
        );
        assert_eq!(answer.answers.len(), 2, "{round}: {answer:?}");
    }
    assert_eq!(upstream.asked("www.chain.example.org", RecordType::A), 1);
}

#[test]
fn outsiders_are_refused_before_anything_else_is_answered() {
    let upstream = FakeUpstream::start();
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    for host in [
        "use-application-dns.net",
        "lychgate.internal",
        "pornhub.com",
    ] {
        let answer = query(server, local(OUTSIDER), host, RecordType::A);
        assert_eq!(rcode(&answer), ResponseCode::Refused, "{host}");
        assert!(answer.answers.is_empty(), "{host}");
    }
}

#[test]
fn the_log_counts_the_bytes_of_both_packets() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "sized.example.org",
        RecordType::A,
        vec![a("sized.example.org", "203.0.113.112", 300)],
    );
    let daemon = start(&[&upstream], "", "");
    let packet = Ask::new("sized.example.org", RecordType::A).packet(next_id());
    let reply = exchange_udp(dns(&daemon), local(STAFF), &packet, Duration::from_secs(2))
        .expect("an answer");
    let line = line_for(&daemon, local(STAFF), "sized.example.org", "A");
    assert_eq!(line["bytes_in"], packet.len(), "{line}");
    assert_eq!(line["bytes_out"], reply.len(), "{line}");
    assert!(line["duration_ms"].is_number(), "{line}");
}

#[test]
fn lychgate_s_own_name_is_the_address_of_the_listener_asked() {
    let upstream = FakeUpstream::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let text = dns_config(dir.path(), &[&upstream], "", "").replacen(
        "dns = \"127.0.0.1:0\"",
        "dns = [\"127.0.0.1:0\", \"127.0.0.20:0\"]",
        1,
    );
    let daemon = Daemon::start_with(dir, &text);
    assert_eq!(daemon.dns.len(), 2, "{:?}", daemon.dns);
    for listener in &daemon.dns {
        let answer = query(*listener, local(KS2), "lychgate.internal", RecordType::A);
        assert_eq!(
            addresses(&answer),
            vec![listener.ip()],
            "asked at {listener}"
        );
    }
}

#[test]
fn one_coalesced_upstream_answer_is_still_decided_per_group() {
    let upstream = FakeUpstream::start();
    upstream.answer(
        "deals.example.org",
        RecordType::A,
        vec![
            cname("deals.example.org", "amazon.co.uk", 300),
            a("amazon.co.uk", "203.0.113.12", 300),
        ],
    );
    upstream.delay("deals.example.org", Duration::from_millis(700));
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let answers: Vec<(u8, Message)> = std::thread::scope(|scope| {
        let askers: Vec<_> = [STAFF, KS2]
            .iter()
            .cycle()
            .take(12)
            .map(|&group| {
                scope.spawn(move || {
                    (
                        group,
                        query(server, local(group), "deals.example.org", RecordType::A),
                    )
                })
            })
            .collect();
        askers
            .into_iter()
            .map(|h| h.join().expect("asker"))
            .collect()
    });
    for (group, answer) in &answers {
        if *group == STAFF {
            assert_eq!(addresses(answer), vec![ip("203.0.113.12")], "{answer:?}");
        } else {
            assert_eq!(rcode(answer), ResponseCode::NXDomain, "{answer:?}");
        }
    }
    assert_eq!(upstream.asked("deals.example.org", RecordType::A), 1);
}

#[test]
fn an_edns_payload_below_512_counts_as_512() {
    let upstream = FakeUpstream::start();
    // About 300 bytes: over the 100 the client claims, under the 512 every client can take.
    let addresses_16: Vec<Record> = (1..=16)
        .map(|n| a("sixteen.example.org", &format!("203.0.113.{n}"), 300))
        .collect();
    upstream.answer("sixteen.example.org", RecordType::A, addresses_16);
    let daemon = start(&[&upstream], "", "");
    let answer = ask_udp(
        dns(&daemon),
        local(STAFF),
        Ask::new("sixteen.example.org", RecordType::A).with_payload(100),
    );
    assert!(!answer.metadata.truncation, "{answer:?}");
    assert_eq!(addresses(&answer).len(), 16);
}

#[test]
fn a_thousand_different_questions_at_once_are_each_answered_and_logged_once() {
    let upstream = FakeUpstream::start();
    let daemon = start(&[&upstream], "", "");
    let server = dns(&daemon);
    let (threads, per_thread) = (8, 125);
    // Two staff addresses, so no one client goes over its rate.
    let unanswered: usize = std::thread::scope(|scope| {
        let askers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let from = local(if t % 2 == 0 { STAFF } else { 7 });
                    (0..per_thread)
                        .filter(|n| {
                            let host = format!("load-{t}-{n}.example.org");
                            let answer = query(server, from, &host, RecordType::A);
                            addresses(&answer) != vec![IpAddr::V4(UNPROGRAMMED_V4)]
                        })
                        .count()
                })
            })
            .collect();
        askers.into_iter().map(|h| h.join().expect("asker")).sum()
    });
    assert_eq!(unanswered, 0, "every question got the upstream's answer");
    let total = threads * per_thread;
    assert_eq!(
        upstream.total_asked(),
        total,
        "each asked upstream exactly once"
    );
    let lines = dns_lines(&daemon, total);
    assert_eq!(lines.len(), total);
}

/// A daemon forwarding over DNS over TLS to `upstream` (started with
/// [`FakeUpstream::start_tls`]), trusting the CA in `ca_file`, expecting `server_name`.
fn start_dot(upstream: &FakeUpstream, server_name: &str, ca_file: &Path) -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "{}\n[dns]\nupstreams = [\"tls://{}#{server_name}\"]\nupstream_ca_file = \"{}\"\nupstream_timeout_ms = 1500\n",
        config_text(dir.path(), ""),
        upstream.addr,
        ca_file.display()
    );
    Daemon::start_with(dir, &text)
}

#[test]
fn a_dns_over_tls_upstream_is_used_over_one_verified_connection() {
    let certs = tempfile::tempdir().expect("temp dir");
    let ca = certs.path().join("ca.pem");
    let upstream = FakeUpstream::start_tls("dot.test", &ca);
    upstream.answer(
        "tls-one.example.org",
        RecordType::A,
        vec![a("tls-one.example.org", "203.0.113.120", 300)],
    );
    upstream.answer(
        "tls-two.example.org",
        RecordType::AAAA,
        vec![aaaa("tls-two.example.org", "2001:db8::120", 300)],
    );
    let daemon = start_dot(&upstream, "dot.test", &ca);
    let server = dns(&daemon);
    let one = query(server, local(STAFF), "tls-one.example.org", RecordType::A);
    assert_eq!(addresses(&one), vec![ip("203.0.113.120")]);
    // Questions in a row and at once share the kept-alive connection.
    let two = query(server, local(KS2), "tls-two.example.org", RecordType::AAAA);
    assert_eq!(addresses(&two), vec![ip("2001:db8::120")]);
    std::thread::scope(|s| {
        for i in 0..8 {
            s.spawn(move || {
                let answer = query(
                    server,
                    local(STAFF),
                    &format!("many{i}.tls.example.org"),
                    RecordType::A,
                );
                assert_eq!(rcode(&answer), ResponseCode::NoError, "{answer:?}");
            });
        }
    });
    assert_eq!(
        upstream.asked_over("tls-one.example.org", RecordType::A, Transport::Tls),
        1
    );
    assert_eq!(
        upstream.asked_over("tls-one.example.org", RecordType::A, Transport::Udp),
        0,
        "nothing goes upstream in the clear"
    );
    let line = line_for(&daemon, local(STAFF), "tls-one.example.org", "A");
    assert_eq!(line["rcode"], "NOERROR");
    assert_eq!(line["cache_hit"], false);
}

#[test]
fn a_dns_over_tls_upstream_whose_certificate_names_another_server_is_not_used() {
    let certs = tempfile::tempdir().expect("temp dir");
    let ca = certs.path().join("ca.pem");
    let upstream = FakeUpstream::start_tls("dot.test", &ca);
    let daemon = start_dot(&upstream, "someone-else.test", &ca);
    let answer = query(
        dns(&daemon),
        local(STAFF),
        "tls-refused.example.org",
        RecordType::A,
    );
    assert_eq!(rcode(&answer), ResponseCode::ServFail);
    assert_eq!(upstream.asked("tls-refused.example.org", RecordType::A), 0);
    let line = line_for(&daemon, local(STAFF), "tls-refused.example.org", "A");
    assert_eq!(line["decision"], "error");
    assert!(
        line["rule"]
            .as_str()
            .is_some_and(|r| r.contains("tls://") && r.contains("error")),
        "{line}"
    );
}
