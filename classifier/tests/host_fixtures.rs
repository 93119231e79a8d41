//! Hand-written evasion fixtures for host and URL normalisation: spellings people use to get
//! round filters, with the answers a browser would give. Expected values are written out by hand
//! (from the WHATWG URL Standard and browser behaviour), not derived from the implementation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lychgate_classifier::host::{
    Host, HostError, NormalizedUrl, homograph_skeleton, normalize_host, normalize_url, unicode_form,
};

fn name(s: &str) -> Host {
    Host::Name(s.to_owned())
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> Host {
    Host::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

fn host(input: &str) -> Host {
    normalize_host(input).unwrap_or_else(|e| panic!("{input:?} should normalise: {e}"))
}

fn url(input: &str) -> NormalizedUrl {
    normalize_url(input).unwrap_or_else(|e| panic!("{input:?} should normalise: {e}"))
}

fn host_err(input: &str) -> HostError {
    match normalize_host(input) {
        Ok(h) => panic!("{input:?} should be refused, got {h:?}"),
        Err(e) => e,
    }
}

fn url_err(input: &str) -> HostError {
    match normalize_url(input) {
        Ok(u) => panic!("{input:?} should be refused, got {u}"),
        Err(e) => e,
    }
}

// ----- host names -----

#[test]
fn case_trailing_dot_and_whitespace() {
    assert_eq!(host("WWW.Example.COM."), name("www.example.com"));
    assert_eq!(host("  example.com\t"), name("example.com"));
    assert_eq!(host("localhost"), name("localhost"));
    assert_eq!(host("_dmarc.Example.com"), name("_dmarc.example.com"));
    assert_eq!(
        host("123.foo"),
        name("123.foo"),
        "only a numeric *last* label means IPv4"
    );
}

#[test]
fn empty_labels_and_lengths() {
    assert_eq!(host_err(""), HostError::Empty);
    assert_eq!(host_err("   "), HostError::Empty);
    assert_eq!(host_err("."), HostError::Empty);
    assert!(matches!(host_err("a..b"), HostError::EmptyLabel(_)));
    assert!(matches!(host_err(".example.com"), HostError::EmptyLabel(_)));
    assert!(matches!(
        host_err("example.com.."),
        HostError::EmptyLabel(_)
    ));
    let label63 = "a".repeat(63);
    assert_eq!(
        host(&format!("{label63}.com")),
        name(&format!("{label63}.com"))
    );
    let label64 = "a".repeat(64);
    assert!(matches!(
        host_err(&format!("{label64}.com")),
        HostError::LabelTooLong { len: 64, .. }
    ));
    // 4 × 63 + 3 dots = 255 bytes: every label fine, the name too long.
    let long = [label63.as_str(); 4].join(".");
    assert!(matches!(
        host_err(&long),
        HostError::NameTooLong { len: 255 }
    ));
    let just_fits = format!("{}.{}.{}.{}", label63, label63, label63, "a".repeat(61));
    assert_eq!(host(&just_fits), name(&just_fits));
}

#[test]
fn invalid_characters() {
    assert!(matches!(
        host_err("exa mple.com"),
        HostError::InvalidCharacter { ch: ' ', .. }
    ));
    assert!(matches!(
        host_err("example.com:80"),
        HostError::InvalidCharacter { ch: ':', .. }
    ));
    assert!(matches!(
        host_err("ex*ample.com"),
        HostError::InvalidCharacter { ch: '*', .. }
    ));
    assert!(matches!(
        host_err("exämple.c*m"),
        HostError::InvalidCharacter { ch: '*', .. }
    ));
    assert!(normalize_host("example.com/").is_err());
    assert!(normalize_host("user@example.com").is_err());
}

#[test]
fn idna() {
    assert_eq!(host("müller.de"), name("xn--mller-kva.de"));
    assert_eq!(host("MÜLLER.DE"), name("xn--mller-kva.de"));
    assert_eq!(host("XN--MLLER-KVA.DE"), name("xn--mller-kva.de"));
    assert_eq!(host("bücher.de"), name("xn--bcher-kva.de"));
    assert_eq!(host("_sip.Bücher.de"), name("_sip.xn--bcher-kva.de"));
    assert_eq!(host("пример.рф"), name("xn--e1afmkfd.xn--p1ai"));
    // Ideographic full stop is a dot; fullwidth letters are ASCII letters.
    assert_eq!(host("example\u{3002}com"), name("example.com"));
    assert_eq!(host("ｅｘａｍｐｌｅ.com"), name("example.com"));
    // `xn--` labels must be valid punycode that does not decode to plain ASCII.
    assert!(matches!(host_err("xn--.com"), HostError::Idna(_)));
    assert!(matches!(host_err("xn--example-.com"), HostError::Idna(_)));
}

#[test]
fn percent_encoded_hosts() {
    assert_eq!(host("%77ww.example.com"), name("www.example.com"));
    assert_eq!(host("ex%2Eample.com"), name("ex.ample.com"));
    assert_eq!(host("m%C3%BCller.de"), name("xn--mller-kva.de"));
    assert!(matches!(
        host_err("ex%ffample.com"),
        HostError::BadPercentEncoding(_)
    ));
    assert!(matches!(
        host_err("ex%zzample.com"),
        HostError::InvalidCharacter { ch: '%', .. }
    ));
}

// ----- IP literals -----

#[test]
fn ipv4_notations() {
    assert_eq!(host("1.2.3.4"), v4(1, 2, 3, 4));
    assert_eq!(host("1.2.3.4."), v4(1, 2, 3, 4));
    assert_eq!(host("16843009"), v4(1, 1, 1, 1));
    assert_eq!(host("2130706433"), v4(127, 0, 0, 1));
    assert_eq!(host("0x01020304"), v4(1, 2, 3, 4));
    assert_eq!(host("0X7F000001"), v4(127, 0, 0, 1));
    assert_eq!(host("0177.0.0.1"), v4(127, 0, 0, 1));
    assert_eq!(host("0x7f.0.0.1"), v4(127, 0, 0, 1));
    assert_eq!(host("0x7f.1"), v4(127, 0, 0, 1));
    assert_eq!(host("127.1"), v4(127, 0, 0, 1));
    assert_eq!(host("127.0.1"), v4(127, 0, 0, 1));
    assert_eq!(host("192.168.257"), v4(192, 168, 1, 1));
    assert_eq!(host("4294967295"), v4(255, 255, 255, 255));
    assert_eq!(host("0"), v4(0, 0, 0, 0));
    assert_eq!(host("0x"), v4(0, 0, 0, 0));
    assert_eq!(
        host("００１.２.３.４"),
        v4(1, 2, 3, 4),
        "fullwidth digits, octal 001"
    );
}

#[test]
fn invalid_ipv4() {
    for bad in [
        "256.1.1.1",
        "1.2.3.256",
        "1.2.3.4.5",
        "4294967296",
        "1.16777216",
        "08.1.1.1",
        "0x1g.1",
        "foo.123",
        "1..2",
        "99999999999999999999999999",
    ] {
        assert!(
            matches!(normalize_host(bad), Err(HostError::InvalidIpv4(_))),
            "{bad}: {:?}",
            normalize_host(bad)
        );
    }
}

#[test]
fn ipv6() {
    assert_eq!(host("[::1]"), Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(host("::1"), Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(
        host("[2001:DB8::1]"),
        Host::Ip("2001:db8::1".parse::<IpAddr>().expect("literal"))
    );
    assert_eq!(host("[::ffff:127.0.0.1]"), v4(127, 0, 0, 1));
    assert_eq!(host("[::ffff:7f00:1]"), v4(127, 0, 0, 1));
    assert_eq!(host("::FFFF:1.2.3.4"), v4(1, 2, 3, 4));
    assert!(matches!(
        host_err("[fe80::1%25eth0]"),
        HostError::Ipv6ZoneId(_)
    ));
    assert!(matches!(host_err("fe80::1%eth0"), HostError::Ipv6ZoneId(_)));
    assert!(matches!(host_err("[::1"), HostError::InvalidIpv6(_)));
    assert!(matches!(host_err("[1:2:3]"), HostError::InvalidIpv6(_)));
    assert!(matches!(
        host_err("[example.com]"),
        HostError::InvalidIpv6(_)
    ));
    assert_eq!(host("[::1]").to_string(), "[::1]");
}

// ----- URLs -----

#[test]
fn ip_urls() {
    assert_eq!(url("http://0x7f000001/").host, v4(127, 0, 0, 1));
    assert_eq!(url("http://2130706433/").host, v4(127, 0, 0, 1));
    assert_eq!(url("http://0177.0.0.1/").host, v4(127, 0, 0, 1));
    assert_eq!(url("http://127.1/").host, v4(127, 0, 0, 1));
    assert_eq!(url("http://[::ffff:127.0.0.1]/").host, v4(127, 0, 0, 1));
    assert_eq!(url("http://[::1]:8080/x").port, Some(8080));
    assert_eq!(url("http://017700000001/").host, v4(127, 0, 0, 1));
    assert_eq!(url("http://0x7f.0x0.0x0.0x1/").host, v4(127, 0, 0, 1));
    assert_eq!(
        url("http://[0:0:0:0:0:ffff:7f00:1]/").host,
        v4(127, 0, 0, 1)
    );
    assert_eq!(url("http://127.0.0.1./").host, v4(127, 0, 0, 1));
    assert_eq!(url("http://%31%32%37.0.0.1/").host, v4(127, 0, 0, 1));
    assert!(matches!(
        url_err("http://256.1.1.1/"),
        HostError::InvalidIpv4(_)
    ));
}

#[test]
fn userinfo_ports_and_dot_segments() {
    let u = url("http://user:pass@example.com:80/a/../b//c/%7Euser");
    assert_eq!(u.scheme, "http");
    assert_eq!(u.host, name("example.com"));
    assert_eq!(u.port, None);
    assert_eq!(u.path, "/b/c/~user");
    assert_eq!(u.query, None);
    assert_eq!(u.to_string(), "http://example.com/b/c/~user");

    assert_eq!(
        url("http://www.google.com@evil.com/").host,
        name("evil.com")
    );
    assert_eq!(url("http://a@b@evil.com/").host, name("evil.com"));
    // Backslash ends the authority, so the `@` after it is in the path.
    assert_eq!(url("http://evil.com\\@good.com/").host, name("evil.com"));
    assert_eq!(url("http://good.com/@evil.com").host, name("good.com"));

    assert_eq!(url("https://example.com:443/").port, None);
    assert_eq!(url("http://example.com:443/").port, Some(443));
    assert_eq!(url("https://example.com:80/").port, Some(80));
    assert_eq!(url("http://example.com:8080/").port, Some(8080));
    assert_eq!(url("http://example.com:0080/").port, None);
    assert_eq!(url("http://example.com:/").port, None);
    assert!(matches!(
        url_err("http://example.com:99999/"),
        HostError::InvalidPort(_)
    ));
    assert!(matches!(
        url_err("http://example.com:8o/"),
        HostError::InvalidPort(_)
    ));
}

#[test]
fn schemes_and_shapes() {
    let u = url("example.com/path?q=1#frag");
    assert_eq!((u.scheme.as_str(), u.path.as_str()), ("http", "/path"));
    assert_eq!(u.query.as_deref(), Some("q=1"));

    let u = url("HTTPS://EXAMPLE.COM");
    assert_eq!((u.scheme.as_str(), u.path.as_str()), ("https", "/"));
    assert_eq!(u.host, name("example.com"));

    let u = url("example.com:8080");
    assert_eq!((u.scheme.as_str(), u.port), ("http", Some(8080)));
    assert_eq!(url("example.com").to_string(), "http://example.com/");
    assert_eq!(url("//example.com/x").to_string(), "http://example.com/x");
    assert_eq!(url("http:example.com").host, name("example.com"));
    assert_eq!(url("http:\\\\example.com\\a\\b").path, "/a/b");
    assert_eq!(url("http:///example.com/").host, name("example.com"));
    assert_eq!(url("http://example.com./").host, name("example.com"));
    assert_eq!(url("http://example.com?a").path, "/");
    assert_eq!(url("http://example.com#top").path, "/");
    assert_eq!(url("http://example.com/?").query, None);
    assert_eq!(
        url("http://example.com/?q=%2f").query.as_deref(),
        Some("q=%2f")
    );

    assert!(matches!(url_err("ftp://example.com/"), HostError::UnsupportedScheme(s) if s == "ftp"));
    assert!(matches!(
        url_err("javascript:alert(1)"),
        HostError::UnsupportedScheme(_)
    ));
    assert!(matches!(
        url_err("data:text/html,hi"),
        HostError::UnsupportedScheme(_)
    ));
    assert!(matches!(
        url_err("example.com:abc"),
        HostError::InvalidPort(_)
    ));
    assert_eq!(url_err("http://:80/"), HostError::Empty);
    assert_eq!(url_err("http://user@/"), HostError::Empty);
    assert_eq!(url_err("http://"), HostError::Empty);
}

#[test]
fn paths() {
    assert_eq!(url("http://example.com/a%2Fb").path, "/a%2Fb");
    assert_eq!(url("http://example.com/a%2fb").path, "/a%2Fb");
    assert_eq!(url("http://example.com/%2e%2E/x").path, "/x");
    assert_eq!(url("http://example.com/a/%2e/b").path, "/a/b");
    assert_eq!(url("http://example.com/a/./b/../../c/").path, "/c/");
    assert_eq!(url("http://example.com/a/b/..").path, "/a/");
    assert_eq!(url("http://example.com/../../etc").path, "/etc");
    assert_eq!(url("http://example.com//a///b").path, "/a/b");
    // Dot segments resolve before slashes collapse, as browsers resolve them (WHATWG).
    assert_eq!(url("http://example.com/foo/bar//..").path, "/foo/bar/");
    assert_eq!(url("http://example.com/foo/bar//../..").path, "/foo/");
    assert_eq!(url("http://example.com////../..").path, "/");
    assert_eq!(url("http://example.com/a\\b").path, "/a/b");
    assert_eq!(url("http://example.com/%41%62%63").path, "/Abc");
    assert_eq!(url("http://example.com/%3f%3a").path, "/%3F%3A");
    assert_eq!(url("http://example.com/caf%c3%a9").path, "/caf%C3%A9");
    assert_eq!(url("http://example.com/café").path, "/caf%C3%A9");
    assert_eq!(url("http://example.com/100%").path, "/100%25");
    assert_eq!(url("http://example.com/a%2e%2e%2fb").path, "/a..%2Fb");
}

#[test]
fn url_errors() {
    assert!(matches!(
        url_err("http://exa mple.com/"),
        HostError::InvalidCharacter { ch: ' ', .. }
    ));
    assert!(matches!(
        url_err("http://example.com/a\tb"),
        HostError::InvalidCharacter { ch: '\t', .. }
    ));
    assert!(matches!(url_err("http://a..b/"), HostError::EmptyLabel(_)));
    assert!(matches!(
        url_err(&format!("http://{}.com/", "x".repeat(64))),
        HostError::LabelTooLong { .. }
    ));
    assert!(matches!(
        url_err("http://[fe80::1%25eth0]/"),
        HostError::Ipv6ZoneId(_)
    ));
    // Trailing newline from a list file is trimmed, not an error.
    assert_eq!(url("http://example.com/\n").path, "/");
}

#[test]
fn percent_encoded_and_idn_url_hosts() {
    assert_eq!(url("http://ex%61mple.com/").host, name("example.com"));
    assert_eq!(
        url("http://www.example.com%2e/").host,
        name("www.example.com")
    );
    assert_eq!(
        url("http://\u{ff57}\u{ff57}\u{ff57}\u{ff0e}example\u{ff0e}com/").host,
        name("www.example.com"),
        "fullwidth letters and fullwidth full stops"
    );
    let u = url("http://ex\u{0430}mple.com/");
    let Host::Name(ascii) = &u.host else {
        panic!("expected a name, got {:?}", u.host)
    };
    assert!(ascii.starts_with("xn--"), "{ascii}");
    assert_eq!(homograph_skeleton(ascii).as_deref(), Some("example.com"));
    assert_eq!(url("http://müller.de/").host, name("xn--mller-kva.de"));
}

// ----- homographs -----

#[test]
fn homographs() {
    // а (Cyrillic) + pple: the classic.
    assert_eq!(
        homograph_skeleton("xn--pple-43d.com").as_deref(),
        Some("apple.com")
    );
    // Wholly Cyrillic, every letter a look-alike: рау.com reads as pay.com.
    let pay = host("\u{0440}\u{0430}\u{0443}.com");
    assert_eq!(
        homograph_skeleton(&pay.to_string()).as_deref(),
        Some("pay.com")
    );
    // Greek omicrons in google.
    let g = host("g\u{03BF}\u{03BF}gle.com");
    assert_eq!(
        homograph_skeleton(&g.to_string()).as_deref(),
        Some("google.com")
    );
    // Latin script g (ɡ) is Latin, but still a look-alike.
    let g = host("\u{0261}oogle.com");
    assert_eq!(
        homograph_skeleton(&g.to_string()).as_deref(),
        Some("google.com")
    );
    // Only the look-alike label is mapped.
    let p = host("\u{0440}ay\u{0440}al.müller.de");
    assert_eq!(
        homograph_skeleton(&p.to_string()).as_deref(),
        Some("paypal.xn--mller-kva.de")
    );

    // Wholly Cyrillic "аррӏе": the look-alike that made browsers change their IDN display rules.
    let apple = host("\u{0430}\u{0440}\u{0440}\u{04CF}\u{0435}.com");
    assert_eq!(apple, name("xn--80ak6aa92e.com"));
    assert_eq!(
        homograph_skeleton("xn--80ak6aa92e.com").as_deref(),
        Some("apple.com")
    );

    // Ordinary names.
    let moscow = host("\u{043C}\u{043E}\u{0441}\u{043A}\u{0432}\u{0430}.\u{0440}\u{0444}");
    assert_eq!(homograph_skeleton(&moscow.to_string()), None, "москва.рф");
    let strasse = host("stra\u{DF}e.de");
    assert_eq!(homograph_skeleton(&strasse.to_string()), None, "straße.de");
    let cafe = host("caf\u{E9}.fr");
    assert_eq!(homograph_skeleton(&cafe.to_string()), None);
    assert_eq!(homograph_skeleton("example.com"), None);
    assert_eq!(homograph_skeleton("xn--mller-kva.de"), None);
    assert_eq!(homograph_skeleton("xn--bcher-kva.de"), None);
    assert_eq!(
        homograph_skeleton("xn--e1afmkfd.xn--p1ai"),
        None,
        "пример.рф"
    );
    assert_eq!(homograph_skeleton("apple.com"), None);
    assert_eq!(homograph_skeleton("xn--broken-.com"), None);
}

/// Look-alikes the differential test against Unicode's confusables (`host_oracle_tests.rs`)
/// found missing from the table.
#[test]
fn homographs_from_unicode_confusables() {
    let skeleton = |unicode: &str| homograph_skeleton(&host(unicode).to_string());
    // Thorn reads as p, hooked f as f: single-script Latin labels, every non-ASCII letter a
    // look-alike.
    assert_eq!(skeleton("\u{FE}aypal.com").as_deref(), Some("paypal.com"));
    assert_eq!(
        skeleton("\u{192}acebook.com").as_deref(),
        Some("facebook.com")
    );
    // Lunate sigma (ϲ) was in the table as a c, but IDNA maps it to σ before the table sees
    // it, and σ (which reads as o) was missing: gϲϲgle reached the policy as gσσgle, unmapped.
    assert_eq!(
        host("g\u{3F2}\u{3F2}gle.com"),
        host("g\u{3C3}\u{3C3}gle.com")
    );
    assert_eq!(
        skeleton("g\u{3F2}\u{3F2}gle.com").as_deref(),
        Some("google.com")
    );
    // Cyrillic г reads as r, ш as w: wholly Cyrillic, every letter a look-alike.
    assert_eq!(
        skeleton("\u{448}\u{445}\u{433}.com").as_deref(),
        Some("wxr.com")
    );
    // Armenian ռ (n) beside Latin letters.
    assert_eq!(
        skeleton("\u{57C}etflix.com").as_deref(),
        Some("netflix.com")
    );
}

#[test]
fn display_forms() {
    assert_eq!(unicode_form("xn--mller-kva.de"), "müller.de");
    assert_eq!(unicode_form("example.com"), "example.com");
    assert_eq!(unicode_form("xn--.com"), "xn--.com");
    let u = url("HTTPS://User@Example.COM:8443/a/./b?x=1#f");
    assert_eq!(u.to_string(), "https://example.com:8443/a/b?x=1");
    assert_eq!(u.effective_port(), 8443);
    assert_eq!(url("https://example.com/").effective_port(), 443);
    assert_eq!(url("[::1]:81").to_string(), "http://[::1]:81/");
}

#[test]
fn error_messages_name_the_problem() {
    let msg = url_err("http://256.1.1.1/").to_string();
    assert!(msg.contains("256.1.1.1") && msg.contains("IPv4"), "{msg}");
    let msg = host_err(&format!("{}.com", "a".repeat(64))).to_string();
    assert!(msg.contains("64") && msg.contains("63"), "{msg}");
    let msg = url_err("ftp://example.com/").to_string();
    assert!(msg.contains("ftp"), "{msg}");
    // User input in errors is shortened and control characters escaped (log safety).
    let msg = url_err(&format!("http://example.com/\n{}", "x".repeat(500))).to_string();
    assert!(!msg.contains('\n') && msg.len() < 300, "{msg}");
}
