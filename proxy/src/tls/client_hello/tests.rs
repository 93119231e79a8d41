use super::*;
use crate::tls::test_hello::{
    HelloBuilder, X25519_MLKEM768, X25519_MLKEM768_SHARE, records, unwrap_records, vec16,
};
use proptest::prelude::*;

/// Captured hellos (see fixtures/README.md): name, bytes.
const FIXTURES: &[(&str, &[u8])] = &[
    (
        "chromium",
        include_bytes!("../fixtures/chromium-pq-ech-grease.bin"),
    ),
    ("curl", include_bytes!("../fixtures/curl-sni-h2.bin")),
    (
        "openssl13",
        include_bytes!("../fixtures/openssl-tls13-sni-alpn.bin"),
    ),
    (
        "openssl12",
        include_bytes!("../fixtures/openssl-tls12-sni.bin"),
    ),
    (
        "openssl-no-sni",
        include_bytes!("../fixtures/openssl-no-sni.bin"),
    ),
];

fn fixture(name: &str) -> &'static [u8] {
    FIXTURES.iter().find(|(n, _)| *n == name).unwrap().1
}

fn hello(buf: &[u8]) -> ClientHelloInfo {
    match peek(buf) {
        Peek::Hello(info) => info,
        other => panic!("expected a hello, got {other:?}"),
    }
}

fn malformed(buf: &[u8]) -> MalformedReason {
    match peek(buf) {
        Peek::Malformed(reason) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// Feeds `full` one prefix at a time, as successive TCP reads would deliver it, and checks
/// that every proper prefix asks for more without overshooting, and the whole gives `expect`.
fn assert_every_prefix(full: &[u8], expect: &ClientHelloInfo) {
    for cut in 0..full.len() {
        match peek(&full[..cut]) {
            Peek::NeedMore { at_least } => {
                assert!(at_least >= 1);
                assert!(
                    cut + at_least <= full.len(),
                    "cut {cut}: hint {at_least} overshoots"
                );
            }
            other => panic!("prefix of {cut} bytes: expected NeedMore, got {other:?}"),
        }
    }
    assert_eq!(&hello(full), expect);
}

#[test]
fn chromium_post_quantum_hello_with_grease_and_ech() {
    let buf = fixture("chromium");
    let info = hello(buf);
    assert_eq!(info.sni.as_deref(), Some("www.wikipedia.org"));
    assert!(info.alpn.h2() && info.alpn.http11() && !info.alpn.other());
    assert!(info.has_ech, "Chromium sends a GREASE ECH extension");
    assert_eq!(info.legacy_version, TlsVersion::TLS12);
    assert_eq!(
        info.max_version,
        TlsVersion::TLS13,
        "the GREASE version is ignored"
    );
    assert_eq!((info.records, info.consumed), (1, buf.len()));
    assert!(
        buf.len() > 1800,
        "the capture carries the 1216-byte ML-KEM share"
    );
}

#[test]
fn curl_and_openssl_hellos() {
    let curl = hello(fixture("curl"));
    assert_eq!(curl.sni.as_deref(), Some("www.youtube.com"));
    assert!(curl.alpn.h2() && curl.alpn.http11());
    assert!(!curl.has_ech);
    assert_eq!(curl.max_version, TlsVersion::TLS13);

    let upper = hello(fixture("openssl13"));
    assert_eq!(upper.sni.as_deref(), Some("www.example.com"), "lowercased");
    assert!(upper.alpn.h2() && upper.alpn.http11());

    let tls12 = hello(fixture("openssl12"));
    assert_eq!(tls12.sni.as_deref(), Some("bbc.co.uk"));
    assert_eq!(tls12.max_version, TlsVersion::TLS12);
    assert!(tls12.alpn.is_empty());

    let none = hello(fixture("openssl-no-sni"));
    assert_eq!(none.sni, None);
    assert_eq!(none.max_version, TlsVersion::TLS13);
}

#[test]
fn fixtures_fed_one_byte_at_a_time() {
    for (name, buf) in FIXTURES {
        let expect = hello(buf);
        assert_eq!(expect.consumed, buf.len(), "{name}");
        assert_every_prefix(buf, &expect);
    }
}

#[test]
fn fixtures_refragmented_into_three_records() {
    for (name, buf) in FIXTURES {
        let message = unwrap_records(buf);
        let third = message.len() / 3;
        let split = records(&message, &[third, 2 * third]);
        let info = hello(&split);
        let mut expect = hello(buf);
        expect.records = 3;
        expect.consumed = split.len();
        assert_eq!(info, expect, "{name}");
    }
}

/// A Chrome-sized hello: GREASE, a 1216-byte X25519MLKEM768 share, ECH, padding.
fn big_hello() -> HelloBuilder {
    HelloBuilder::new()
        .ext(0x3a3a, Vec::new())
        .sni("Classroom.Google.com")
        .alpn(&[b"h2", b"http/1.1"])
        .versions(&[0x7a7a, 0x0304, 0x0303])
        .key_shares(&[
            (0x2a2a, 1),
            (X25519_MLKEM768, X25519_MLKEM768_SHARE),
            (0x001d, 32),
        ])
        .ech()
        .padding(300)
        .ext(0xdada, vec![0])
}

#[test]
fn post_quantum_hello_split_into_three_records_at_every_offset() {
    let message = big_hello().message();
    assert!(message.len() > 1800, "{}", message.len());
    let expect_one = hello(&records(&message, &[]));
    assert_eq!(expect_one.sni.as_deref(), Some("classroom.google.com"));
    assert!(expect_one.has_ech && expect_one.alpn.h2());
    assert_eq!(expect_one.max_version, TlsVersion::TLS13);

    // Cuts inside the handshake header, inside the key share and near the end: four records.
    let buf = records(&message, &[2, 900, message.len() - 1]);
    let mut expect = expect_one.clone();
    expect.records = 4;
    expect.consumed = buf.len();
    assert_every_prefix(&buf, &expect);

    // And the three-record split at many cut points.
    for first in (1..message.len() - 1).step_by(97) {
        let second = (first + 613).min(message.len() - 1);
        let buf = records(&message, &[first, second]);
        let info = hello(&buf);
        assert_eq!(info.sni, expect_one.sni, "cuts {first} {second}");
    }
}

#[test]
fn one_byte_records_are_reassembled() {
    let message = HelloBuilder::new().sni("a.example").message();
    let cuts: Vec<usize> = (1..message.len()).collect();
    let buf = records(&message, &cuts);
    let info = hello(&buf);
    assert_eq!(info.sni.as_deref(), Some("a.example"));
    assert_eq!(info.records, message.len());
}

#[test]
fn data_after_the_hello_is_left_alone() {
    let mut buf = HelloBuilder::new().sni("x.example").record();
    let len = buf.len();
    buf.extend([0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]);
    let info = hello(&buf);
    assert_eq!(info.consumed, len);
}

#[test]
fn not_tls() {
    assert_eq!(
        peek(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        Peek::NotTls
    );
    assert_eq!(peek(b"CONNECT example.com:443 HTTP/1.1\r\n"), Peek::NotTls);
    // An SSLv2-compatible ClientHello: two-byte header with the top bit set, type 1.
    let sslv2 = [
        0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
    ];
    assert_eq!(peek(&sslv2), Peek::NotTls);
    assert_eq!(peek(&[0x16, 0x00, 0x01, 0x00, 0x10]), Peek::NotTls);
    assert_eq!(peek(&[0x16, 0x02, 0x00, 0x00, 0x10]), Peek::NotTls);
}

#[test]
fn need_more_on_short_input() {
    assert_eq!(peek(&[]), Peek::NeedMore { at_least: 5 });
    assert_eq!(peek(&[0x16]), Peek::NeedMore { at_least: 4 });
    assert_eq!(
        peek(&[0x16, 0x03, 0x01, 0x02, 0x00]),
        Peek::NeedMore { at_least: 512 }
    );
    assert_eq!(
        peek(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
        Peek::NeedMore { at_least: 511 }
    );
}

#[test]
fn bad_record_headers() {
    assert_eq!(
        malformed(&[0x16, 0x03, 0x01, 0x00, 0x00]),
        MalformedReason::BadRecord
    );
    assert_eq!(
        malformed(&[0x16, 0x03, 0x01, 0x40, 0x01]),
        MalformedReason::BadRecord
    );

    let message = HelloBuilder::new().sni("a.example").message();
    let mut buf = records(&message[..10], &[]);
    buf.extend([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]); // ChangeCipherSpec in the middle
    assert_eq!(malformed(&buf), MalformedReason::InterleavedRecord);

    let mut buf = records(&message[..10], &[]);
    buf.extend([0x16, 0x00, 0x03, 0x00, 0x01, 0x01]);
    assert_eq!(malformed(&buf), MalformedReason::BadRecord);
}

#[test]
fn not_a_client_hello() {
    // A ServerHello (type 2), refused as soon as its type byte arrives.
    assert_eq!(
        malformed(&[0x16, 0x03, 0x03, 0x00, 0x40, 0x02]),
        MalformedReason::NotClientHello(2)
    );
    let mut message = HelloBuilder::new().message();
    message[0] = 0x0b;
    assert_eq!(
        malformed(&records(&message, &[])),
        MalformedReason::NotClientHello(0x0b)
    );
}

#[test]
fn too_large_is_refused_early_and_for_good() {
    // A declared 1 MiB hello is refused from its first nine bytes.
    let header = [0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x10, 0x00, 0x00];
    assert_eq!(malformed(&header), MalformedReason::TooLarge);

    // Just over the cap, in two records (one record cannot hold it).
    let over = HelloBuilder::new().padding(MAX_HELLO_BYTES).message();
    assert_eq!(
        malformed(&records(&over, &[16000])),
        MalformedReason::TooLarge
    );

    // A legitimate-sized hello chopped into one-byte records needs six times its size: the
    // cap counts record headers, so this cannot grow without bound either.
    let message = HelloBuilder::new().padding(4000).message();
    let cuts: Vec<usize> = (1..message.len()).collect();
    let buf = records(&message, &cuts);
    assert!(buf.len() > MAX_HELLO_BYTES);
    assert_eq!(malformed(&buf), MalformedReason::TooLarge);
    assert_eq!(
        malformed(&buf[..MAX_HELLO_BYTES]),
        MalformedReason::TooLarge
    );

    // The biggest hello that fits in one record under the cap is accepted.
    let base = HelloBuilder::new().padding(0).message().len();
    let fits = HelloBuilder::new()
        .padding(MAX_HELLO_BYTES - 5 - base)
        .record();
    assert_eq!(fits.len(), MAX_HELLO_BYTES);
    assert_eq!(hello(&fits).consumed, MAX_HELLO_BYTES);
}

#[test]
fn server_name_entries() {
    // A non-host_name entry first: the host_name one is used.
    let buf = HelloBuilder::new()
        .sni_entries(&[(7, b"ignored"), (0, b"Host.Example")])
        .record();
    assert_eq!(hello(&buf).sni.as_deref(), Some("host.example"));

    // Two host names: a filter and a server could read different ones.
    let buf = HelloBuilder::new()
        .sni_entries(&[(0, b"school.example"), (0, b"porn.example")])
        .record();
    assert_eq!(malformed(&buf), MalformedReason::BadServerName);

    // Only other name types: no SNI.
    let buf = HelloBuilder::new().sni_entries(&[(1, b"x")]).record();
    assert_eq!(hello(&buf).sni, None);

    // An empty list, or a body with bytes after the list.
    let buf = HelloBuilder::new().ext(0, vec16(&[])).record();
    assert_eq!(malformed(&buf), MalformedReason::BadServerName);
    let buf = HelloBuilder::new().ext(0, Vec::new()).record();
    assert_eq!(malformed(&buf), MalformedReason::BadServerName);
    let mut body = vec16(&[0, 0, 1, b'a']);
    body.push(0);
    let buf = HelloBuilder::new().ext(0, body).record();
    assert_eq!(malformed(&buf), MalformedReason::BadServerName);

    // Two server_name extensions.
    let buf = HelloBuilder::new()
        .sni("a.example")
        .sni("b.example")
        .record();
    assert_eq!(malformed(&buf), MalformedReason::DuplicateExtension(0));
}

#[test]
fn host_name_validation() {
    let long_label = "a".repeat(64);
    let too_long = format!("{}.example", ["abcdefghi"; 25].join("."));
    assert!(too_long.len() > 253);
    let longest = format!("{}.a", vec!["a".repeat(62); 4].join("."));
    assert_eq!(longest.len(), 253);
    for bad in [
        "example.com.",
        ".example.com",
        "a..example",
        "exa mple.com",
        "exa\0mple.com",
        "exämple.com",
        "example.com%2f",
        "example.com:443",
        "example.com/path",
        &format!("{long_label}.example"),
        &too_long,
    ] {
        let buf = HelloBuilder::new().sni(bad).record();
        assert_eq!(malformed(&buf), MalformedReason::BadServerName, "{bad:?}");
    }
    for good in [
        "localhost",
        "xn--bcher-kva.example",
        "my_site.example",
        "10.0.0.1",
        &longest,
    ] {
        let buf = HelloBuilder::new().sni(good).record();
        assert_eq!(hello(&buf).sni.as_deref(), Some(good), "{good:?}");
    }
}

#[test]
fn alpn_and_versions() {
    let buf = HelloBuilder::new()
        .alpn(&[b"\x0a\x0a", b"http/1.1"])
        .versions(&[0x0303, 0x0302])
        .record();
    let info = hello(&buf);
    assert!(info.alpn.http11() && info.alpn.other() && !info.alpn.h2());
    assert_eq!(info.max_version, TlsVersion::TLS12);

    let buf = HelloBuilder::new().alpn(&[b""]).record();
    assert_eq!(malformed(&buf), MalformedReason::BadAlpn);
    let buf = HelloBuilder::new().ext(0x0010, vec16(&[])).record();
    assert_eq!(malformed(&buf), MalformedReason::BadAlpn);

    let buf = HelloBuilder::new().ext(0x002b, vec![3, 3, 4, 3]).record();
    assert_eq!(malformed(&buf), MalformedReason::BadSupportedVersions);
    // Only GREASE: the legacy version stands.
    let buf = HelloBuilder::new().versions(&[0x1a1a]).record();
    assert_eq!(hello(&buf).max_version, TlsVersion::TLS12);
}

#[test]
fn old_hellos_and_fixed_fields() {
    let buf = HelloBuilder::new()
        .legacy_version(0x0301)
        .without_extensions_block()
        .record();
    let info = hello(&buf);
    assert_eq!((info.sni, info.max_version), (None, TlsVersion::TLS10));
    assert_eq!(TlsVersion::TLS10.to_string(), "TLS 1.0");
    assert_eq!(TlsVersion(0x0a0a).to_string(), "0x0a0a");

    // Extensions block shorter than announced, and bytes after it.
    let mut message = HelloBuilder::new().sni("a.example").message();
    let last = message.len() - 1;
    message.truncate(last);
    let len = message.len() - 4;
    message[3] = u8::try_from(len & 0xff).unwrap();
    message[2] = u8::try_from(len >> 8).unwrap();
    assert_eq!(
        malformed(&records(&message, &[])),
        MalformedReason::Truncated
    );

    let mut message = HelloBuilder::new().sni("a.example").message();
    message.push(0);
    let len = message.len() - 4;
    message[3] = u8::try_from(len & 0xff).unwrap();
    message[2] = u8::try_from(len >> 8).unwrap();
    assert_eq!(
        malformed(&records(&message, &[])),
        MalformedReason::TrailingBytes
    );

    // A 33-byte session id.
    let mut message = HelloBuilder::new().message();
    message[4 + 2 + 32] = 33;
    assert!(matches!(peek(&records(&message, &[])), Peek::Malformed(_)));
}

#[test]
fn grease_detection() {
    assert!(is_grease(0x0a0a) && is_grease(0xfafa) && is_grease(0x5a5a));
    assert!(!is_grease(0x0304) && !is_grease(0x0a1a) && !is_grease(0x1301));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes at all: no panic, and never NeedMore once the cap's worth has arrived.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = peek(&bytes);
        let mut framed = vec![0x16, 0x03, 0x01];
        framed.extend(vec16(&bytes));
        let _ = peek(&framed);
    }

    /// Mutated real hellos: no panic.
    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = FIXTURES[which].1.to_vec();
        for (at, byte) in edits {
            let i = at.index(buf.len());
            buf[i] = byte;
        }
        let _ = peek(&buf);
        let _ = peek(&buf[..cut.index(buf.len())]);
    }

    /// A full buffer always gets a final answer.
    #[test]
    fn cap_reached_means_final_answer(fill in any::<u8>(), head in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut buf = head;
        buf.resize(MAX_HELLO_BYTES, fill);
        let is_need_more = matches!(peek(&buf), Peek::NeedMore { .. });
        prop_assert!(!is_need_more);
    }

    /// Valid hellos cut into random records parse the same.
    #[test]
    fn random_fragmentation(mut cuts in prop::collection::vec(1usize..2000, 0..6)) {
        let message = big_hello().message();
        cuts.retain(|c| *c < message.len());
        cuts.sort_unstable();
        cuts.dedup();
        let info = hello(&records(&message, &cuts));
        prop_assert_eq!(info.sni.as_deref(), Some("classroom.google.com"));
        prop_assert_eq!(info.records, cuts.len() + 1);
    }
}
