//! Differential tests of host normalisation and the look-alike table against independent
//! oracles: the `url` crate (the WHATWG URL Standard: the host a browser connects to) and
//! `unicode-security` (Unicode's confusables, UTS #39). Both are dev-dependencies only; the
//! daemon never runs them.
//!
//! Where Lychgate and an oracle differ on purpose, the difference is named here with its reason;
//! any other difference fails.

use std::net::IpAddr;

use proptest::prelude::*;
use unicode_security::confusable_detection::skeleton;

use super::*;

// ---------------------------------------------------------------------------------------------
// Host parsing against WHATWG (`url`)
// ---------------------------------------------------------------------------------------------

/// The host a browser would connect to for `http://{input}/`, if it accepts it.
fn whatwg_host(input: &str) -> Option<url::Host<String>> {
    let parsed = url::Url::parse(&format!("http://{input}/")).ok()?;
    parsed.host().map(|h| h.to_owned())
}

/// Whether a WHATWG domain is a name DNS can carry, by Lychgate's rules: labels of 1–63 bytes of
/// `a-z 0-9 - _`, at most 253 bytes.
fn fits_dns(domain: &str) -> bool {
    let name = domain.strip_suffix('.').unwrap_or(domain);
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.split('.').all(|label| {
            !label.is_empty() && label.len() <= MAX_LABEL_LEN && label.bytes().all(is_host_char)
        })
}

/// Lychgate's host and the browser's must be the same place. Intentional differences:
/// - a trailing dot is dropped (`a.com.` is the fully qualified spelling of `a.com`);
/// - an IPv4-mapped IPv6 literal is its IPv4 address (so it matches IPv4 lists);
/// - a host WHATWG accepts but DNS cannot carry (`a..b`, `.a`, `a!b`, a 64-byte label, `%2e`)
///   is refused: it can never resolve, and refusing is the safe side for a filter;
/// - tab and newline inside a host, which browsers silently delete (`a\tb` is `ab` to them), are
///   refused (see `tabs_inside_a_host_are_refused_not_deleted`): a known filter-evasion trick.
///
/// Lychgate must never accept a host WHATWG refuses, nor refuse an IP literal or a DNS-shaped
/// name WHATWG accepts.
fn same_host(ours: &Result<Host, HostError>, theirs: Option<&url::Host<String>>) -> bool {
    match (ours, theirs) {
        (Ok(Host::Name(n)), Some(url::Host::Domain(d))) => n == d.strip_suffix('.').unwrap_or(d),
        (Ok(Host::Ip(IpAddr::V4(a))), Some(url::Host::Ipv4(b))) => a == b,
        (Ok(Host::Ip(IpAddr::V4(a))), Some(url::Host::Ipv6(b))) => b.to_ipv4_mapped() == Some(*a),
        (Ok(Host::Ip(IpAddr::V6(a))), Some(url::Host::Ipv6(b))) => a == b,
        (Err(_), Some(url::Host::Domain(d))) => !fits_dns(d),
        (Err(_), None) => true,
        _ => false,
    }
}

/// Pieces of hosts: ASCII, dots of every kind, percent-escapes, IPv4 parts in every base,
/// punycode, and Unicode that IDNA maps (case, compatibility forms, joiners, combining marks).
const HOST_PIECES: &[&str] = &[
    "a",
    "b",
    "x",
    "-",
    "_",
    ".",
    ".",
    "0",
    "1",
    "9",
    "0x",
    "0X1f",
    "ff",
    "08",
    "010",
    "256",
    "4294967295",
    "99999999999",
    "0177",
    "1e",
    "xn--",
    "xn--nxasmq6b",
    "xn--80ak6aa92e",
    "%C3%BC",
    "%00",
    "%25",
    "%2E",
    "%41",
    "%30",
    "%E3%80%82",
    "%zz",
    "ä",
    "é",
    "e\u{301}",
    "\u{FF0E}",
    "\u{3002}",
    "\u{FF61}",
    "Ⓐ",
    "Ａ",
    "ß",
    "ς",
    "Σ",
    "İ",
    "\u{212A}",
    "\u{200B}",
    "\u{200D}",
    "\u{00AD}",
    "Ⅸ",
    "㎒",
    "ǅ",
    "ﬁ",
    "①",
    "٠",
    "۰",
    "٣",
    "а",
    "!",
    "$",
    "*",
    "=",
    "~",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn hosts_are_the_hosts_a_browser_connects_to(
        pieces in proptest::collection::vec(proptest::sample::select(HOST_PIECES), 1..8),
        trailing_dot in any::<bool>(),
    ) {
        let mut input = pieces.concat();
        if trailing_dot {
            input.push('.');
        }
        let ours = normalize_host(&input);
        let theirs = whatwg_host(&input);
        prop_assert!(
            same_host(&ours, theirs.as_ref()),
            "{input:?}: Lychgate {ours:?}, WHATWG {theirs:?}"
        );
    }

    #[test]
    fn ipv6_literals_are_the_addresses_a_browser_connects_to(
        segments in proptest::array::uniform8(proptest::sample::select(&[0u16, 1, 0xffff, 0x7f00, 0x2001, 0xdb8][..])),
        upper in any::<bool>(),
    ) {
        let address = std::net::Ipv6Addr::from(segments);
        let text = if upper { format!("[{address}]").to_uppercase() } else { format!("[{address}]") };
        let ours = normalize_host(&text);
        let theirs = whatwg_host(&text);
        prop_assert!(same_host(&ours, theirs.as_ref()), "{text}: {ours:?} vs {theirs:?}");
    }
}

/// URL pieces that move the host around: userinfo, backslashes, ports, fragments, queries,
/// escapes of the delimiters.
const URL_PIECES: &[&str] = &[
    "user",
    "pw",
    ":",
    "@",
    "@",
    "a.com",
    "b.org",
    "evil.com",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "127.1",
    "0x7f.1",
    "2130706433",
    "\\",
    "/",
    "?",
    "#",
    ";",
    "%40",
    "%2f",
    "%5c",
    "%2e",
    ".",
    "..",
    "x",
    "80",
    "443",
    "8080",
    "0080",
    "65536",
    ":0",
];

/// How URLs start: the schemes and slash spellings browsers accept for http(s).
const SCHEMES: &[&str] = &[
    "http://",
    "https://",
    "HTTP://",
    "http:\\\\",
    "http:/",
    "http:",
    "https:///",
    "hTTps:\\/",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// The scheme, host and port Lychgate decides on are the ones a browser connects to.
    #[test]
    fn urls_go_where_a_browser_goes(
        scheme in proptest::sample::select(SCHEMES),
        pieces in proptest::collection::vec(proptest::sample::select(URL_PIECES), 0..8),
    ) {
        let input = format!("{scheme}{}", pieces.concat());
        let ours = normalize_url(&input);
        let theirs = url::Url::parse(&input);
        let agree = match (&ours, &theirs) {
            (Ok(o), Ok(t)) => {
                same_host(&Ok(o.host.clone()), t.host().map(|h| h.to_owned()).as_ref())
                    && o.scheme == t.scheme()
                    && Some(o.effective_port()) == t.port_or_known_default()
            }
            (Err(_), Ok(t)) => matches!(t.host(), Some(url::Host::Domain(d)) if !fits_dns(d)),
            (Err(_), Err(_)) => true,
            (Ok(_), Err(_)) => false,
        };
        prop_assert!(agree, "{input:?}: Lychgate {ours:?}, WHATWG {theirs:?}");
    }
}

#[test]
fn tabs_inside_a_host_are_refused_not_deleted() {
    // Browsers delete tab and newline anywhere in a URL; a filter that did the same would have
    // to guess which host was meant by whatever wrote the request. Lychgate refuses instead.
    assert_eq!(
        whatwg_host("po\trn.example"),
        Some(url::Host::Domain("porn.example".to_string()))
    );
    assert!(matches!(
        normalize_host("po\trn.example"),
        Err(HostError::InvalidCharacter { ch: '\t', .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The look-alike table against Unicode's confusables (`unicode-security`, UTS #39)
// ---------------------------------------------------------------------------------------------

/// UTS #39's skeleton of a string: two strings are confusable when their skeletons are equal.
fn uts39(s: &str) -> String {
    skeleton(s).collect()
}

/// Every entry of the look-alike table.
fn table() -> Vec<(char, char)> {
    (0x80..=0xFFFF)
        .filter_map(char::from_u32)
        .filter_map(|c| latin_lookalike(c).map(|ascii| (c, ascii)))
        .collect()
}

/// Where the table maps further than UTS #39, on purpose: in the sans-serif fonts of school
/// browsers these read as the ASCII letter or digit, and a school filter would rather block a
/// look-alike of a listed site than let one through (the cost is only that a name whose
/// skeleton is listed is blocked for groups that block look-alikes). UTS #39 maps them to other
/// non-ASCII letters (`κ`, `к` → `ĸ`; `τ` → `ᴛ`; `з` → `ɜ`) or not at all (`χ`, `ω`).
const BEYOND_UTS39: [char; 6] = [
    '\u{03BA}', '\u{043A}', '\u{03C4}', '\u{03C7}', '\u{03C9}', '\u{0437}',
];

/// The scripts the table covers: those of the letters people use in look-alikes of Latin
/// names, and that registries allow in one label. Other scripts with a few confusable
/// characters (Cherokee, Coptic, Indic digits, symbols of the Common script) are out of scope:
/// registries do not let them into a label beside Latin letters (IDNA2008 and the registries'
/// script tables), and single-script labels in them are not read as Latin words.
const TABLE_SCRIPTS: [Script; 4] = [
    Script::Latin,
    Script::Greek,
    Script::Cyrillic,
    Script::Armenian,
];

/// ASCII letters and digits, which look-alikes imitate.
fn ascii_targets() -> Vec<(char, String)> {
    ('a'..='z')
        .chain('0'..='9')
        .map(|a| (a, uts39(&a.to_string())))
        .collect()
}

/// Whether IDNA keeps `c` as it is in a label (lower case, valid): the only form in which a
/// character reaches [`homograph_skeleton`].
fn idna_keeps(c: char) -> bool {
    let label = format!("{c}q");
    let Ok(ascii) = idna::domain_to_ascii_cow(label.as_bytes(), AsciiDenyList::URL) else {
        return false;
    };
    let (back, result) = idna::domain_to_unicode(&ascii);
    result.is_ok() && back == label
}

#[test]
fn every_table_entry_is_a_uts39_confusable_or_a_named_exception() {
    let table = table();
    assert!(table.len() > 50, "{} entries", table.len());
    for (c, ascii) in table {
        let agrees = uts39(&c.to_string()) == uts39(&ascii.to_string());
        if BEYOND_UTS39.contains(&c) {
            // Keeps the exception list honest: an entry Unicode agrees with is no exception.
            assert!(
                !agrees,
                "U+{:04X} {c} agrees with UTS #39 now: drop it from BEYOND_UTS39",
                c as u32
            );
        } else {
            assert!(
                agrees,
                "U+{:04X} {c} → {ascii}: UTS #39 says {:?}",
                c as u32,
                uts39(&c.to_string())
            );
        }
        assert!(
            idna_keeps(c),
            "U+{:04X} {c} never reaches the table (IDNA maps it)",
            c as u32
        );
    }
}

#[test]
fn every_uts39_lookalike_of_an_ascii_letter_in_the_tables_scripts_is_in_the_table() {
    let targets = ascii_targets();
    let mut missing = Vec::new();
    for c in (0x80..=0xFFFF).filter_map(char::from_u32) {
        if !TABLE_SCRIPTS.contains(&c.script()) || !idna_keeps(c) {
            continue;
        }
        let s = uts39(&c.to_string());
        let Some((ascii, _)) = targets.iter().find(|(_, t)| *t == s) else {
            continue;
        };
        // Any ASCII character of the same skeleton will do (`l` and `1` are one to UTS #39).
        let mapped = latin_lookalike(c).map(|m| uts39(&m.to_string()));
        if mapped.as_deref() != Some(s.as_str()) {
            missing.push(format!("U+{:04X} {c} → {ascii}", c as u32));
        }
    }
    assert!(
        missing.is_empty(),
        "look-alikes missing from the table: {missing:#?}"
    );
}

/// Label characters for the skeleton property: ASCII, table letters of each script, and letters
/// of the same scripts that look like no ASCII letter.
const LABEL_CHARS: &[char] = &[
    'a', 'e', 'g', 'l', 'o', 'p', 'y', '1', '-', 'а', 'е', 'о', 'р', 'с', 'у', 'х', 'г', 'ш', 'п',
    'и', 'л', 'ж', 'ο', 'ρ', 'ν', 'σ', 'λ', 'π', 'օ', 'ս', 'ա', 'ռ', 'ծ', 'ɡ', 'ı', 'þ', 'ƒ', 'é',
    'ü',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// A label Lychgate calls a look-alike is one to UTS #39 (its skeleton is confusable with
    /// the original), and a label UTS #39 confuses with an ASCII one is caught when it mixes
    /// scripts or all its non-ASCII letters are look-alikes (Lychgate's rule, which leaves
    /// ordinary single-script names such as `bücher` or `пример` alone).
    #[test]
    fn skeletons_are_uts39_confusables(chars in proptest::collection::vec(proptest::sample::select(LABEL_CHARS), 1..10)) {
        let label: String = chars.iter().collect();
        let host = format!("{label}.com");
        let Ok(ascii) = idna::domain_to_ascii_cow(host.as_bytes(), AsciiDenyList::URL) else {
            return Ok(());
        };
        let ours = homograph_skeleton(&ascii);
        let exception = chars.iter().any(|c| BEYOND_UTS39.contains(c));
        if let Some(skeleton_host) = &ours {
            let (unicode, _) = idna::domain_to_unicode(skeleton_host);
            let skeleton_label = unicode.strip_suffix(".com").unwrap_or(&unicode);
            prop_assert!(
                exception || uts39(skeleton_label) == uts39(&label),
                "{label}: Lychgate {skeleton_label}, UTS #39 {} vs {}",
                uts39(&label),
                uts39(skeleton_label)
            );
        }
        // Every character reads as ASCII to UTS #39 (so the label reads as an ASCII name).
        let confusable_with_ascii =
            !label.is_ascii() && chars.iter().all(|c| uts39(&c.to_string()).is_ascii());
        if confusable_with_ascii {
            prop_assert!(ours.is_some(), "{label} ({ascii}) reads as {} but is not caught", uts39(&label));
        }
    }
}
