//! Host and URL normalisation, and look-alike (homograph) detection.
//!
//! Every list lookup depends on this module: a list entry can only match a request if both were
//! brought to the same canonical spelling first. People who want to get round a filter know the
//! many spellings that browsers and resolvers treat as the same place (`WWW.Example.COM.`,
//! `http://2130706433/`, `http://user@evil.com`, `/a/../b`, `%77ww`, Unicode look-alikes), so
//! normalisation follows what *browsers* do (the WHATWG URL Standard), not what a strict RFC
//! parser would accept: whatever a browser would connect to is what we must classify.
//!
//! The canonical forms:
//! - a host name is lower-case ASCII, IDN labels in punycode (`xn--…`), no trailing dot, labels of
//!   1–63 bytes made of `a-z 0-9 - _`, at most 253 bytes in all;
//! - an IP literal is an [`IpAddr`], whatever notation it arrived in; IPv4-mapped IPv6
//!   (`::ffff:1.2.3.4`) becomes the IPv4 address so that it matches IPv4 lists;
//! - a URL is scheme (`http`/`https`) + host + non-default port + normalised path + raw query
//!   (see [`normalize_url`] for the exact path rules).
//!
//! Normalisation is idempotent: normalising the `Display` form of a result gives the same result.
//! Nothing here panics on any input; errors say what was wrong because they end up in
//! `lychgate explain` output and in logs.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use idna::AsciiDenyList;
use unicode_normalization::UnicodeNormalization;
use unicode_script::{Script, UnicodeScript};

/// DNS limit on one label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// DNS limit on a whole name in text form without the trailing dot (255 octets on the wire).
const MAX_NAME_LEN: usize = 253;
/// Inputs longer than this are refused before IDNA processing, so a hostile multi-megabyte "host"
/// costs nothing. Generous because IDNA may delete characters (soft hyphens) on the way.
const MAX_HOST_INPUT_LEN: usize = 1024;
/// How many characters of an offending input an error message repeats.
const MAX_ECHO_CHARS: usize = 80;

/// Why a host or URL could not be normalised.
///
/// The strings inside are the offending input (or part of it), shortened to 80 characters and with
/// control characters escaped, so they are safe to put in a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// Empty input (or only whitespace, or only a dot).
    #[error("empty host")]
    Empty,
    /// Anything not covered by a more specific variant (for example a URL with no host part).
    #[error("invalid host `{0}`")]
    Invalid(String),
    /// A character that cannot appear in a host name, or a space/control character in a URL.
    #[error("`{input}` contains {ch:?}, which is not allowed in a host name or URL")]
    InvalidCharacter {
        /// The host or URL, shortened.
        input: String,
        /// The first offending character.
        ch: char,
    },
    /// A leading dot, or two dots in a row (`a..b`): DNS has no empty labels.
    #[error("host `{0}` has an empty label (a leading dot or `..`)")]
    EmptyLabel(String),
    /// A label longer than DNS allows.
    #[error("label `{label}` is {len} bytes long; DNS allows at most 63")]
    LabelTooLong {
        /// The label, shortened.
        label: String,
        /// Its length in bytes (after punycode encoding).
        len: usize,
    },
    /// A name longer than DNS allows.
    #[error("host name is {len} bytes long; DNS allows at most 253")]
    NameTooLong {
        /// Its length in bytes (after punycode encoding, or of the raw input if that was absurd).
        len: usize,
    },
    /// IDNA processing failed: invalid punycode in an `xn--` label, or a code point IDNA forbids.
    #[error(
        "`{0}` is not a valid internationalised domain name (bad punycode or a forbidden code point)"
    )]
    Idna(String),
    /// The host ends in a number, so (as browsers do) it was read as an IPv4 address, and it is
    /// not a valid one: a part out of range, too many parts, or a bad digit.
    #[error(
        "`{0}` ends in a number, so it is read as an IPv4 address as browsers do, but it is not a valid one"
    )]
    InvalidIpv4(String),
    /// A bracketed (or colon-containing) host that is not a valid IPv6 address.
    #[error("`{0}` is not a valid IPv6 address")]
    InvalidIpv6(String),
    /// An IPv6 zone id (`fe80::1%eth0`): meaningless beyond one machine, refused.
    #[error("`{0}` has an IPv6 zone id, which is not allowed in a host")]
    Ipv6ZoneId(String),
    /// Percent-decoding the host gave bytes that are not UTF-8.
    #[error("`{0}`: percent-decoding the host does not give valid UTF-8")]
    BadPercentEncoding(String),
    /// A URL scheme other than `http` or `https`.
    #[error("scheme `{0}` is not supported (only http and https)")]
    UnsupportedScheme(String),
    /// A port that is not a number from 0 to 65535.
    #[error("invalid port `{0}` (must be a number from 0 to 65535)")]
    InvalidPort(String),
}

/// A normalised host: a lower-case ASCII name (IDN labels in punycode, no trailing dot) or an IP.
///
/// `Display` gives the canonical text form: the name, dotted IPv4, or bracketed IPv6 (`[::1]`),
/// which [`normalize_host`] and URL building both accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lower-case ASCII, punycode for IDN labels, no trailing dot.
    Name(String),
    /// An IP literal, whatever notation it arrived in (decimal, hex, octal, short form, IPv6).
    /// IPv4-mapped IPv6 addresses are stored as [`IpAddr::V4`].
    Ip(IpAddr),
}

impl Host {
    /// The DNS name, if this is a name rather than an IP literal.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Host::Name(name) => Some(name),
            Host::Ip(_) => None,
        }
    }

    /// The IP address, if this is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Name(_) => None,
            Host::Ip(ip) => Some(*ip),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
        }
    }
}

/// A normalised URL.
///
/// `Display` gives `scheme://host[:port]path[?query]`, which normalises to the same value again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedUrl {
    /// `http` or `https` (lower case); `http` when the input had none.
    pub scheme: String,
    /// The host.
    pub host: Host,
    /// Explicit port, if any and not the scheme's default.
    pub port: Option<u16>,
    /// Path, always starting with `/`.
    pub path: String,
    /// Query without `?`, exactly as it arrived; `None` when absent or empty.
    pub query: Option<String>,
}

impl NormalizedUrl {
    /// The port a client would connect to: the explicit one, or the scheme's default.
    pub fn effective_port(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }
}

impl fmt::Display for NormalizedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path)?;
        if let Some(query) = &self.query {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Hosts
// ---------------------------------------------------------------------------------------------

/// Normalises a host (not a URL: no scheme, port, path or userinfo).
///
/// Steps, in the order browsers apply them (WHATWG URL "host parser"):
/// 1. Trim surrounding whitespace and control characters.
/// 2. `[…]` is an IPv6 literal; a bare string containing `:` is tried as IPv6 too (list files
///    write `::1`). Zone ids are refused. IPv4-mapped addresses become IPv4.
/// 3. Percent-decode (`%77ww.example.com` is `www.example.com` to a browser).
/// 4. ASCII names without `xn--` labels take a fast path (lower-casing only). Anything else goes
///    through IDNA (UTS #46, as browsers): Unicode is mapped (case folding, NFKC, fullwidth
///    forms, `。` as a dot) and encoded as punycode; existing `xn--` labels are validated.
/// 5. One trailing dot is dropped (`example.com.` is the fully qualified spelling of the same name).
/// 6. **If the last label is a number** (all decimal digits, or `0x` + hex digits) the whole host
///    is parsed as IPv4 with `inet_aton` rules, as the WHATWG "IPv4 parser" does: 1–4 parts, each
///    decimal, octal (leading `0`) or hex (`0x`); all but the last part ≤ 255, the last fills the
///    remaining bytes (`127.1` = 127.0.0.1, `2130706433` = 127.0.0.1). If that fails the host is
///    invalid ([`HostError::InvalidIpv4`]) rather than a name: browsers refuse such hosts too, so
///    `foo.123` or `256.1.1.1` can never be a reachable name.
/// 7. Every label must be 1–63 bytes of `a-z 0-9 - _` (underscores occur in real host names),
///    the whole name at most 253 bytes.
pub fn normalize_host(input: &str) -> Result<Host, HostError> {
    if let Some(name) = plain_ascii_name(input) {
        return Ok(Host::Name(name));
    }
    let trimmed = trim(input);
    if trimmed.is_empty() {
        return Err(HostError::Empty);
    }
    if trimmed.len() > MAX_HOST_INPUT_LEN {
        return Err(HostError::NameTooLong { len: trimmed.len() });
    }
    if let Some(inner) = trimmed.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Err(HostError::InvalidIpv6(clip(trimmed)));
        };
        return parse_ipv6(inner).map(Host::Ip);
    }
    if trimmed.contains(':') {
        return normalize_unbracketed_colon_host(trimmed);
    }
    let decoded = percent_decode_host(trimmed)?;
    normalize_name_or_ipv4(&decoded)
}

/// A host with a `:` but no brackets: an IPv6 literal as list files write them, or a mistake
/// (`example.com:80` given where only a host belongs).
fn normalize_unbracketed_colon_host(host: &str) -> Result<Host, HostError> {
    if host.contains('%') {
        return Err(HostError::Ipv6ZoneId(clip(host)));
    }
    match host.parse::<Ipv6Addr>() {
        Ok(v6) => Ok(Host::Ip(canonical_v6(v6))),
        Err(_)
            if host
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') =>
        {
            Err(HostError::InvalidIpv6(clip(host)))
        }
        Err(_) => Err(HostError::InvalidCharacter {
            input: clip(host),
            ch: ':',
        }),
    }
}

/// Parses the inside of `[…]`.
fn parse_ipv6(inner: &str) -> Result<IpAddr, HostError> {
    if inner.contains('%') {
        return Err(HostError::Ipv6ZoneId(clip(inner)));
    }
    inner
        .parse::<Ipv6Addr>()
        .map(canonical_v6)
        .map_err(|_| HostError::InvalidIpv6(clip(inner)))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) reaches the IPv4 host, so it must match IPv4 lists.
fn canonical_v6(v6: Ipv6Addr) -> IpAddr {
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// Steps 4–7 of [`normalize_host`], on a percent-decoded host.
fn normalize_name_or_ipv4(host: &str) -> Result<Host, HostError> {
    let mut name = if host.is_ascii() && !has_xn_label(host) {
        // Plain ASCII (here: after trimming or percent-decoding) needs no IDNA, only lower-casing.
        host.to_ascii_lowercase()
    } else {
        // Report a stray ASCII character ourselves: clearer than "IDNA failed".
        if let Some(ch) = host
            .chars()
            .find(|c| c.is_ascii() && !is_host_char(*c as u8))
        {
            return Err(HostError::InvalidCharacter {
                input: clip(host),
                ch,
            });
        }
        idna::domain_to_ascii_cow(host.as_bytes(), AsciiDenyList::URL)
            .map_err(|_| HostError::Idna(clip(host)))?
            .into_owned()
    };
    if name.ends_with('.') {
        name.pop();
    }
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    if ends_in_number(&name) {
        return parse_ipv4(&name)
            .map(|v4| Host::Ip(IpAddr::V4(v4)))
            .ok_or_else(|| HostError::InvalidIpv4(clip(host)));
    }
    validate_name(&name)?;
    Ok(Host::Name(name))
}

/// Characters of a canonical host name (after lower-casing), plus the dot between labels.
fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
}

/// The per-request fast path: one pass over the bytes that recognises a plain ASCII name which
/// needs at most lower-casing and dropping a trailing dot, and returns it with one allocation.
/// Anything else (whitespace, `%`, non-ASCII, `xn--`, a numeric last label, any error) returns
/// `None` and takes the general path, which also produces the error messages.
fn plain_ascii_name(input: &str) -> Option<String> {
    let name = input.strip_suffix('.').unwrap_or(input);
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_NAME_LEN {
        return None;
    }
    let mut label_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match BYTE_CLASS[usize::from(b)] {
            LABEL_BYTE => {
                if i == label_start
                    && (b == b'x' || b == b'X')
                    && bytes[i..]
                        .get(..4)
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
                {
                    return None;
                }
            }
            DOT_BYTE => {
                let len = i - label_start;
                if len == 0 || len > MAX_LABEL_LEN {
                    return None;
                }
                label_start = i + 1;
            }
            _ => return None,
        }
    }
    let last = &name[label_start..];
    if last.is_empty() || last.len() > MAX_LABEL_LEN || label_is_number(last) {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

const OTHER_BYTE: u8 = 0;
const LABEL_BYTE: u8 = 1;
const DOT_BYTE: u8 = 2;

/// Byte classes for [`plain_ascii_name`]: `A-Z a-z 0-9 - _` may be in a label, `.` separates.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [OTHER_BYTE; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' {
            table[b] = LABEL_BYTE;
        }
        b += 1;
    }
    table[b'.' as usize] = DOT_BYTE;
    table
};

/// Whether any label starts with `xn--` (any case): those must be validated by IDNA.
fn has_xn_label(host: &str) -> bool {
    let bytes = host.as_bytes();
    (0..bytes.len()).any(|i| {
        (i == 0 || bytes[i - 1] == b'.')
            && bytes[i..]
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
    })
}

/// Label and length checks on a lower-case ASCII name without trailing dot.
fn validate_name(name: &str) -> Result<(), HostError> {
    for label in name.split('.') {
        if label.is_empty() {
            return Err(HostError::EmptyLabel(clip(name)));
        }
        if let Some(ch) = label
            .chars()
            .find(|c| !c.is_ascii() || !is_host_char(*c as u8))
        {
            return Err(HostError::InvalidCharacter {
                input: clip(name),
                ch,
            });
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(HostError::LabelTooLong {
                label: clip(label),
                len: label.len(),
            });
        }
    }
    if name.len() > MAX_NAME_LEN {
        return Err(HostError::NameTooLong { len: name.len() });
    }
    Ok(())
}

/// WHATWG "ends in a number": the last label is all decimal digits, or `0x`/`0X` + hex digits
/// (`0x` alone counts: it is zero).
fn ends_in_number(name: &str) -> bool {
    let last = match name.rsplit_once('.') {
        Some((_, last)) => last,
        None => name,
    };
    label_is_number(last)
}

/// The label test behind [`ends_in_number`].
fn label_is_number(label: &str) -> bool {
    if label.is_empty() {
        return false;
    }
    if label.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    match label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
    {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => false,
    }
}

/// WHATWG "IPv4 parser" (= `inet_aton`): 1–4 dot-separated numbers, each decimal, octal (`0…`)
/// or hex (`0x…`); every part but the last at most 255; the last fills the remaining bytes.
fn parse_ipv4(name: &str) -> Option<Ipv4Addr> {
    let mut parts = [0u64; 4];
    let mut count = 0;
    for part in name.split('.') {
        let slot = parts.get_mut(count)?;
        *slot = parse_ipv4_number(part)?;
        count += 1;
    }
    let (last, init) = parts[..count].split_last()?;
    if init.iter().any(|&p| p > 255) {
        return None;
    }
    // The last part may fill 5 - count bytes: 4 bytes alone, 1 byte when there are 4 parts.
    let limit = 1u64 << (8 * (5 - count));
    if *last >= limit {
        return None;
    }
    let mut addr = *last;
    for (i, part) in init.iter().enumerate() {
        addr += part << (8 * (3 - i));
    }
    u32::try_from(addr).ok().map(Ipv4Addr::from)
}

/// WHATWG "IPv4 number parser". Values too big for `u64` saturate: they are out of range anyway.
fn parse_ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() >= 2 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    let mut value: u64 = 0;
    for c in digits.chars() {
        let digit = c.to_digit(radix)?;
        value = value
            .saturating_mul(u64::from(radix))
            .saturating_add(u64::from(digit));
    }
    Some(value)
}

/// Percent-decodes a host, as browsers do before IDNA. A `%` not followed by two hex digits is
/// left alone (and then refused as an invalid host character).
fn percent_decode_host(host: &str) -> Result<Cow<'_, str>, HostError> {
    if !host.contains('%') {
        return Ok(Cow::Borrowed(host));
    }
    let bytes = host.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(v) = hex_pair(bytes, i + 1) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| HostError::BadPercentEncoding(clip(host)))
}

/// The byte encoded by two hex digits at `bytes[at..at + 2]`, if they are there. The one
/// percent-escape decoder of the classifier (URLs, search terms and phrase texts all use it).
pub(crate) fn hex_pair(bytes: &[u8], at: usize) -> Option<u8> {
    let hi = hex_value(*bytes.get(at)?)?;
    let lo = hex_value(*bytes.get(at + 1)?)?;
    Some(hi << 4 | lo)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The display (Unicode) form of a normalised ASCII host, for block pages and reports:
/// `xn--mller-kva.de` → `müller.de`. Returns the input unchanged if it does not decode cleanly.
/// Never use the result for matching: look-alikes are exactly what it makes invisible.
pub fn unicode_form(ascii_host: &str) -> String {
    if !has_xn_label(ascii_host) {
        return ascii_host.to_owned();
    }
    match idna::domain_to_unicode(ascii_host) {
        (unicode, Ok(())) => unicode,
        (_, Err(_)) => ascii_host.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

/// Normalises a URL, a bare host, `host:port` or `host/path?query`.
///
/// - Scheme: `http` or `https` in any case; none means `http` (`//host/…` also works). Other
///   schemes are refused. As in browsers, any number of `/` or `\` may follow `http:`.
/// - Authority: ends at the first `/`, `\`, `?` or `#`. Userinfo is dropped and the host is what
///   follows the **last** `@` (`http://www.google.com@evil.com/` is evil.com, as a browser sees it).
///   The host is normalised by [`normalize_host`] (so percent-decoding and IDNA apply). The port
///   must be decimal; the scheme's default (80, 443) becomes `None`.
/// - Fragment: dropped (never sent to a server).
/// - Path: always starts with `/`. `\` counts as `/` (browsers do that for http/https); runs of
///   `/` collapse to one (see below). Percent-escapes of unreserved characters
///   (`A-Z a-z 0-9 - . _ ~`) are decoded; every other escape is kept with upper-case hex
///   (`%2f` → `%2F`). In particular an encoded slash `%2F` is **never** decoded: `/a%2Fb` is one
///   segment, so it can neither fake nor escape a path prefix in a URL list. A `%` not starting an
///   escape becomes `%25`; non-ASCII, `"`, `<`, `>`, backtick, `{` and `}` are percent-encoded
///   (UTF-8, upper-case hex) as browsers send them. Then `.` and `..` segments are resolved
///   (after decoding, so `%2e%2E` counts) exactly as the WHATWG path parser does (empty segments
///   count, so `/a/b//..` is `/a/b/`), never climbing above `/`, and only then are runs of `/`
///   collapsed; a path ending in a dot segment or `/` keeps its trailing `/`.
/// - Query: kept byte for byte (it is not used for URL-list matching, and search extraction wants
///   it as sent); an empty query (`?` alone) becomes `None`.
/// - Leading/trailing whitespace is trimmed; any other space or control character is an error
///   (browsers silently drop tabs and newlines inside URLs, a known filter-evasion trick, so we
///   refuse rather than guess).
pub fn normalize_url(input: &str) -> Result<NormalizedUrl, HostError> {
    let url = trim(input);
    if url.is_empty() {
        return Err(HostError::Empty);
    }
    // Space and controls are all ASCII, so a byte scan finds them without decoding UTF-8.
    if let Some(b) = url.bytes().find(|b| b.is_ascii_control() || *b == b' ') {
        return Err(HostError::InvalidCharacter {
            input: clip(url),
            ch: char::from(b),
        });
    }
    let (scheme, rest) = split_scheme(url)?;

    let authority_end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (had_userinfo, host_port) = match authority.rfind('@') {
        Some(at) => (true, &authority[at + 1..]),
        None => (false, authority),
    };
    let (host_text, port_text) = split_host_port(host_port)?;
    if host_text.is_empty() {
        return Err(HostError::Empty);
    }
    let port = match port_text {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(parse_port(p).ok_or_else(|| HostError::InvalidPort(clip(p)))?)
        }
        // `data:text/html,…` or `javascript:…` without `//`: a scheme, not `host:port`. A dotted
        // name (`example.com:abc`) is more likely a host with a mistyped port.
        Some(_)
            if scheme.is_none()
                && !had_userinfo
                && is_scheme_name(host_text)
                && !host_text.contains('.') =>
        {
            return Err(HostError::UnsupportedScheme(clip(
                &host_text.to_ascii_lowercase(),
            )));
        }
        Some(p) => return Err(HostError::InvalidPort(clip(p))),
    };
    let host = normalize_host(host_text)?;
    let scheme = scheme.unwrap_or(Scheme::Http);
    let port = port.filter(|&p| p != scheme.default_port());

    let tail = match tail.find('#') {
        Some(hash) => &tail[..hash],
        None => tail,
    };
    let (raw_path, raw_query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    Ok(NormalizedUrl {
        scheme: scheme.as_str().to_owned(),
        host,
        port,
        path: normalize_path(raw_path),
        query: raw_query.filter(|q| !q.is_empty()).map(str::to_owned),
    })
}

/// A decimal port; leading zeros are fine (`:0080` is 80, as in browsers).
fn parse_port(digits: &str) -> Option<u16> {
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    significant.parse::<u16>().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Splits off the scheme and the slashes after it. `example.com:8080` has no scheme even though
/// `example.com` is a syntactically valid scheme name: only http/https, or any `name://`, count.
fn split_scheme(url: &str) -> Result<(Option<Scheme>, &str), HostError> {
    let bytes = url.as_bytes();
    if bytes.len() >= 2 && is_slash(bytes[0]) && is_slash(bytes[1]) {
        return Ok((None, &url[2..]));
    }
    let Some(colon) = url.find(':') else {
        return Ok((None, url));
    };
    let name = &url[..colon];
    if !is_scheme_name(name) {
        return Ok((None, url));
    }
    let after = &url[colon + 1..];
    let scheme = if name.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if name.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else if after.starts_with("//") {
        return Err(HostError::UnsupportedScheme(clip(
            &name.to_ascii_lowercase(),
        )));
    } else {
        return Ok((None, url));
    };
    Ok((Some(scheme), after.trim_start_matches(['/', '\\'])))
}

fn is_slash(b: u8) -> bool {
    b == b'/' || b == b'\\'
}

/// RFC 3986 scheme syntax: a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Splits `host[:port]` or `[v6][:port]`. The port text is returned unvalidated.
fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), HostError> {
    if host_port.starts_with('[') {
        let Some(close) = host_port.find(']') else {
            return Err(HostError::InvalidIpv6(clip(host_port)));
        };
        let (host, after) = host_port.split_at(close + 1);
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(HostError::InvalidIpv6(clip(host_port))),
        };
    }
    Ok(match host_port.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

/// Normalises a path as described on [`normalize_url`]. `raw` is empty or starts with `/` or `\`.
/// Also used for the paths of URL-list entries, so entries and requests compare alike.
pub fn normalize_path(raw: &str) -> String {
    if raw.is_empty() {
        return "/".to_owned();
    }
    if path_is_normal(raw) {
        return raw.to_owned();
    }
    normalize_path_slow(raw)
}

/// The general case of [`normalize_path`]; `raw` starts with `/` or `\`.
fn normalize_path_slow(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    // Where each kept segment (its leading `/`) starts in `out`, so `..` can drop the last one.
    // Empty segments count as segments here, exactly as in the WHATWG path parser, so that
    // `/a/b//..` resolves to `/a/b/` as a browser would send it; slashes collapse afterwards.
    let mut starts: Vec<usize> = Vec::new();
    let body = raw.strip_prefix(['/', '\\']).unwrap_or(raw);
    let mut segments = body.split(['/', '\\']).peekable();
    while let Some(segment) = segments.next() {
        let is_last = segments.peek().is_none();
        let start = out.len();
        out.push('/');
        push_normalized_segment(&mut out, segment);
        match &out[start + 1..] {
            "." => out.truncate(start),
            ".." => {
                out.truncate(start);
                if let Some(previous) = starts.pop() {
                    out.truncate(previous);
                }
            }
            _ => {
                starts.push(start);
                continue;
            }
        }
        // A path ending in a dot segment names a directory: keep the trailing slash.
        if is_last {
            out.push('/');
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if out.contains("//") {
        let mut collapsed = String::with_capacity(out.len());
        for c in out.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        out = collapsed;
    }
    out
}

/// The fast-path test: true if [`normalize_path`] would return `raw` unchanged.
fn path_is_normal(raw: &str) -> bool {
    if !raw.starts_with('/') || !raw.bytes().all(is_plain_path_byte) {
        return false;
    }
    let mut segments = raw[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        let is_last = segments.peek().is_none();
        if (segment.is_empty() && !is_last) || segment == "." || segment == ".." {
            return false;
        }
    }
    true
}

/// Bytes that appear unchanged in a normalised path (`%` and `\` always need work).
fn is_plain_path_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'%' | b'\\' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}')
}

/// RFC 3986 unreserved characters: their escapes are pure spelling variants, so they are decoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xF)]));
}

/// Appends one path segment with percent-escapes normalised (see [`normalize_url`]).
fn push_normalized_segment(out: &mut String, segment: &str) {
    let bytes = segment.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            match hex_pair(bytes, i + 1) {
                Some(v) if is_unreserved(v) => out.push(char::from(v)),
                Some(v) => push_escape(out, v),
                // A lone `%` means itself; encoding it keeps the result idempotent.
                None => {
                    push_escape(out, b'%');
                    i += 1;
                    continue;
                }
            }
            i += 3;
        } else {
            if is_plain_path_byte(b) {
                out.push(char::from(b));
            } else {
                push_escape(out, b);
            }
            i += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Homographs
// ---------------------------------------------------------------------------------------------

/// For a host whose labels mix scripts or use look-alike characters, the ASCII look-alike.
///
/// `host_ascii` is a normalised host (punycode). For each `xn--` label, decoded to Unicode and
/// NFKC-normalised, the label is treated as a look-alike when it contains at least one character
/// with a Latin look-alike in our table (Cyrillic `а е о р с у х і ј ѕ ԁ ԛ ԝ һ ӏ …`, Greek
/// `ο ν α ρ τ ι κ …`, Armenian `օ ս ո հ …`, Latin oddities `ɡ ɑ ı ȷ` and small capitals) and
/// - it mixes scripts (e.g. Latin + Cyrillic: `аpple`), or
/// - every non-ASCII character in it has a look-alike (all-Cyrillic `рау` reads as `pay`; Latin
///   `ɡoogle`).
///
/// Such labels are mapped character by character; the result, back in ASCII (punycode for any
/// label that still has non-ASCII characters), is returned when it differs from the input.
/// Ordinary names give `None`: pure ASCII, or single-script IDNs such as `bücher.de` or
/// `пример.рф` whose letters are not all look-alikes. The policy blocks a name for pupils when its
/// skeleton is on a list (`xn--pple-43d.com`, i.e. `аpple.com`, → `apple.com`).
pub fn homograph_skeleton(host_ascii: &str) -> Option<String> {
    if !has_xn_label(host_ascii) {
        return None;
    }
    let (unicode, result) = idna::domain_to_unicode(host_ascii);
    result.ok()?;
    let mut changed = false;
    let mut skeleton = String::with_capacity(unicode.len());
    for (i, label) in unicode.split('.').enumerate() {
        if i > 0 {
            skeleton.push('.');
        }
        match skeleton_label(label) {
            Some(mapped) => {
                changed = true;
                skeleton.push_str(&mapped);
            }
            None => skeleton.push_str(label),
        }
    }
    if !changed {
        return None;
    }
    let ascii = idna::domain_to_ascii_cow(skeleton.as_bytes(), AsciiDenyList::URL).ok()?;
    (!ascii.eq_ignore_ascii_case(host_ascii)).then(|| ascii.into_owned())
}

/// The skeleton of one Unicode label, if it is a look-alike (see [`homograph_skeleton`]).
fn skeleton_label(label: &str) -> Option<String> {
    if label.is_ascii() {
        return None;
    }
    let label: String = label.nfkc().collect();
    let mut first_script: Option<Script> = None;
    let mut mixed = false;
    let mut any_lookalike = false;
    let mut all_lookalike = true;
    for c in label.chars() {
        let script = c.script();
        if !matches!(script, Script::Common | Script::Inherited | Script::Unknown) {
            match first_script {
                None => first_script = Some(script),
                Some(first) if first != script => mixed = true,
                Some(_) => {}
            }
        }
        if !c.is_ascii() {
            if latin_lookalike(c).is_some() {
                any_lookalike = true;
            } else {
                all_lookalike = false;
            }
        }
    }
    if !any_lookalike || !(mixed || all_lookalike) {
        return None;
    }
    Some(
        label
            .chars()
            .map(|c| latin_lookalike(c).unwrap_or(c))
            .collect(),
    )
}

/// The ASCII character a lower-case letter is commonly mistaken for, after IDNA mapping (so no
/// capitals, and fullwidth forms are already ASCII). Unicode's confusables (UTS #39) for the
/// letters of the scripts people use in look-alikes of Latin names (Latin, Greek, Cyrillic,
/// Armenian), plus a few UTS #39 does not list (`κ`, `к`, `τ`, `χ`, `ω`, `з`). A differential
/// test (`host_oracle_tests.rs`) holds the table to `unicode-security`'s confusables: every
/// entry is a UTS #39 confusable or one of those named exceptions, and every UTS #39 look-alike
/// of an ASCII letter or digit in these scripts that IDNA leaves as it is, is here.
fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic
        '\u{0430}' => 'a', // а
        '\u{0431}' => '6', // б
        '\u{0433}' => 'r', // г
        '\u{0435}' => 'e', // е
        '\u{0437}' => '3', // з
        '\u{043A}' => 'k', // к
        '\u{043E}' => 'o', // о
        '\u{0440}' => 'p', // р
        '\u{0441}' => 'c', // с
        '\u{0443}' => 'y', // у
        '\u{0445}' => 'x', // х
        '\u{0448}' => 'w', // ш
        '\u{0455}' => 's', // ѕ
        '\u{0456}' => 'i', // і
        '\u{0458}' => 'j', // ј
        '\u{0461}' => 'w', // ѡ
        '\u{0475}' => 'v', // ѵ
        '\u{04AF}' => 'y', // ү
        '\u{04BB}' => 'h', // һ
        '\u{04BD}' => 'e', // ҽ
        '\u{04CF}' => 'l', // ӏ
        '\u{0501}' => 'd', // ԁ
        '\u{051B}' => 'q', // ԛ
        '\u{051D}' => 'w', // ԝ
        '\u{A647}' => 'i', // ꙇ
        // Greek
        '\u{03B1}' => 'a', // α
        '\u{03B3}' => 'y', // γ
        '\u{03B9}' => 'i', // ι
        '\u{03BA}' => 'k', // κ
        '\u{03BD}' => 'v', // ν
        '\u{03BF}' => 'o', // ο
        '\u{03C1}' => 'p', // ρ
        '\u{03C3}' => 'o', // σ (IDNA also maps final ς and lunate ϲ to it)
        '\u{03C4}' => 't', // τ
        '\u{03C5}' => 'u', // υ
        '\u{03C7}' => 'x', // χ
        '\u{03C9}' => 'w', // ω
        '\u{03F3}' => 'j', // ϳ
        '\u{03F8}' => 'p', // ϸ
        '\u{1D26}' => 'r', // ᴦ
        // Armenian
        '\u{0560}' => 'm', // ՠ
        '\u{0561}' => 'w', // ա
        '\u{0563}' => 'q', // գ
        '\u{0566}' => 'q', // զ
        '\u{0570}' => 'h', // հ
        '\u{0575}' => 'j', // յ
        '\u{0578}' => 'n', // ո
        '\u{057C}' => 'n', // ռ
        '\u{057D}' => 'u', // ս
        '\u{0581}' => 'g', // ց
        '\u{0582}' => 'i', // ւ
        '\u{0584}' => 'f', // ք
        '\u{0585}' => 'o', // օ
        // Latin letters outside ASCII that read as ASCII ones
        '\u{00FE}' => 'p', // þ
        '\u{018D}' => 'g', // ƍ
        '\u{0192}' => 'f', // ƒ
        '\u{01BD}' => 's', // ƽ
        '\u{01BF}' => 'p', // ƿ
        '\u{0131}' => 'i', // ı dotless i
        '\u{01C0}' => 'l', // ǀ
        '\u{0223}' => '8', // ȣ
        '\u{0237}' => 'j', // ȷ dotless j
        '\u{0251}' => 'a', // ɑ
        '\u{0261}' => 'g', // ɡ script g
        '\u{0263}' => 'y', // ɣ
        '\u{0269}' => 'i', // ɩ
        '\u{026A}' => 'i', // ɪ
        '\u{026F}' => 'w', // ɯ
        '\u{0284}' => 'f', // ʄ
        '\u{028B}' => 'u', // ʋ
        '\u{028F}' => 'y', // ʏ
        '\u{1D04}' => 'c', // ᴄ small capital
        '\u{1D0F}' => 'o', // ᴏ
        '\u{1D11}' => 'o', // ᴑ
        '\u{1D1C}' => 'u', // ᴜ
        '\u{1D20}' => 'v', // ᴠ
        '\u{1D21}' => 'w', // ᴡ
        '\u{1D22}' => 'z', // ᴢ
        '\u{1D83}' => 'g', // ᶃ
        '\u{1D8C}' => 'y', // ᶌ
        '\u{1E9D}' => 'f', // ẝ
        '\u{1EFF}' => 'y', // ỿ
        '\u{2C6C}' => 'z', // ⱬ
        '\u{A731}' => 's', // ꜱ
        '\u{A76F}' => '9', // ꝯ
        '\u{A781}' => 'l', // ꞁ
        '\u{A799}' => 'f', // ꞙ
        '\u{A79F}' => 'u', // ꞟ
        '\u{A7FA}' => 'w', // ꟺ
        '\u{A7FE}' => 'l', // ꟾ
        '\u{AB32}' => 'e', // ꬲ
        '\u{AB35}' => 'f', // ꬵ
        '\u{AB3D}' => 'o', // ꬽ
        '\u{AB47}' => 'r', // ꭇ
        '\u{AB48}' => 'r', // ꭈ
        '\u{AB4E}' => 'u', // ꭎ
        '\u{AB52}' => 'u', // ꭒ
        '\u{AB5A}' => 'y', // ꭚ
        '\u{AB64}' => 'a', // ꭤ
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Trims whitespace and C0 controls, as browsers trim URLs and as list files need.
fn trim(input: &str) -> &str {
    input.trim_matches(|c: char| c <= ' ' || c.is_whitespace())
}

/// Shortens and escapes user input for an error message: errors go to logs and `explain`
/// output, so they must not carry newlines or megabytes.
fn clip(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_ECHO_CHARS + 8));
    for (i, c) in s.chars().enumerate() {
        if i == MAX_ECHO_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ipv4_parser_edges() {
        assert_eq!(parse_ipv4("1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(parse_ipv4("1.2.65535"), Some(Ipv4Addr::new(1, 2, 255, 255)));
        assert_eq!(parse_ipv4("1.2.65536"), None);
        assert_eq!(
            parse_ipv4("1.16777215"),
            Some(Ipv4Addr::new(1, 255, 255, 255))
        );
        assert_eq!(parse_ipv4("0x.0x.0x.0x"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse_ipv4("00.00.00.00"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse_ipv4("1.2.3.4.5"), None);
        assert_eq!(parse_ipv4(""), None);
        assert_eq!(parse_ipv4_number("0x"), Some(0));
        assert_eq!(parse_ipv4_number("09"), None);
        assert_eq!(parse_ipv4_number("99999999999999999999999"), Some(u64::MAX));
        assert!(ends_in_number("a.0x"));
        assert!(!ends_in_number("a.0xg"));
        assert!(!ends_in_number("1.a"));
    }

    #[test]
    fn clip_escapes_and_shortens() {
        assert_eq!(clip("a\nb"), "a\\nb");
        assert_eq!(clip(&"x".repeat(200)).chars().count(), MAX_ECHO_CHARS + 1);
    }

    #[test]
    fn huge_input_is_refused_cheaply() {
        let huge = "a".repeat(1_000_000);
        assert_eq!(
            normalize_host(&huge),
            Err(HostError::NameTooLong { len: 1_000_000 })
        );
        assert!(normalize_url(&format!("http://{huge}/")).is_err());
    }

    fn url_strategy() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![
            Just(""),
            Just("http://"),
            Just("HTTPS://"),
            Just("//"),
            Just("http:"),
            Just("http:\\\\"),
            Just("ftp://"),
        ];
        let userinfo = prop_oneof![Just(""), Just("user:pass@"), Just("a@b@"), Just("@")];
        let label = prop_oneof![
            "[a-zA-Z0-9_-]{1,8}",
            Just("xn--mller-kva".to_owned()),
            Just("XN--pple-43d".to_owned()),
            Just("m\u{fc}ller".to_owned()),
            Just("\u{0430}pple".to_owned()),
            Just("%77ww".to_owned()),
            Just("%C3%BC".to_owned()),
            Just("0x7f".to_owned()),
            Just("127".to_owned()),
            Just("0177".to_owned()),
            Just("256".to_owned()),
            Just("\u{ff25}\u{ff38}".to_owned()),
            Just("".to_owned()),
        ];
        let name = (prop::collection::vec(label, 1..4), any::<bool>()).prop_map(|(labels, dot)| {
            let mut host = labels.join(".");
            if dot {
                host.push('.');
            }
            host
        });
        let host = prop_oneof![
            4 => name,
            1 => Just("[::1]".to_owned()),
            1 => Just("[::FFFF:1.2.3.4]".to_owned()),
            1 => Just("[fe80::1%25eth0]".to_owned()),
            1 => Just("2130706433".to_owned()),
        ];
        let port = prop_oneof![
            Just(""),
            Just(":80"),
            Just(":443"),
            Just(":8080"),
            Just(":0080"),
            Just(":"),
            Just(":99999"),
        ];
        let path = prop::collection::vec(path_segment(), 0..6).prop_map(|segments| {
            if segments.is_empty() {
                String::new()
            } else {
                format!("/{}", segments.join("/"))
            }
        });
        let query = prop_oneof![
            Just("".to_owned()),
            Just("?".to_owned()),
            Just("?q=1&r=%2f".to_owned()),
            "\\?[a-zA-Z0-9=&%/?.]{0,10}",
        ];
        let fragment = prop_oneof![Just(""), Just("#x"), Just("#a?b/c")];
        (scheme, userinfo, host, port, path, query, fragment).prop_map(
            |(scheme, userinfo, host, port, path, query, fragment)| {
                format!("{scheme}{userinfo}{host}{port}{path}{query}{fragment}")
            },
        )
    }

    fn path_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9~._-]{0,6}",
            "[!-~]{0,6}",
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("%2e".to_owned()),
            Just("%2E%2e".to_owned()),
            Just(".%2E".to_owned()),
            Just("%2F".to_owned()),
            Just("%2f".to_owned()),
            Just("%7e".to_owned()),
            Just("%".to_owned()),
            Just("%4".to_owned()),
            Just("%%41".to_owned()),
            Just("%6%31".to_owned()),
            Just("caf\u{e9}".to_owned()),
            Just("a\\b".to_owned()),
            Just("%c3%a9".to_owned()),
            Just("\"{}<>`".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn never_panics_on_arbitrary_strings(s in any::<String>()) {
            let _ = normalize_host(&s);
            let _ = normalize_url(&s);
            let _ = homograph_skeleton(&s);
            let _ = unicode_form(&s);
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let s = String::from_utf8_lossy(&bytes);
            let _ = normalize_host(&s);
            let _ = normalize_url(&s);
            let _ = homograph_skeleton(&s);
        }

        #[test]
        fn url_normalisation_is_idempotent(s in url_strategy()) {
            if let Ok(u) = normalize_url(&s) {
                let again = normalize_url(&u.to_string());
                prop_assert_eq!(again.as_ref(), Ok(&u), "input {:?} gave {}", s, u);
                prop_assert!(u.path.starts_with('/'));
                prop_assert!(u.path.is_ascii());
                prop_assert!(!u.path.contains("//"));
                prop_assert!(u.scheme == "http" || u.scheme == "https");
                prop_assert_eq!(normalize_host(&u.host.to_string()), Ok(u.host.clone()));
            }
        }

        #[test]
        fn printable_url_normalisation_is_idempotent(s in "[!-~]{0,40}") {
            if let Ok(u) = normalize_url(&s) {
                prop_assert_eq!(normalize_url(&u.to_string()), Ok(u));
            }
        }

        #[test]
        fn host_normalisation_is_idempotent(s in prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9._%-]{1,30}",
            "[a-z\u{e0}-\u{ff}\u{0400}-\u{04ff}\u{03b1}-\u{03c9}.]{1,20}",
            "[0-9x.]{1,20}",
        ]) {
            if let Ok(h) = normalize_host(&s) {
                prop_assert_eq!(normalize_host(&h.to_string()), Ok(h.clone()), "input {:?}", s);
                if let Host::Name(name) = &h {
                    prop_assert!(name.len() <= MAX_NAME_LEN);
                    prop_assert!(name.split('.').all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN));
                    prop_assert!(name.bytes().all(is_host_char));
                    prop_assert!(!ends_in_number(name));
                }
            }
        }

        /// The one-pass host fast path must agree with the general path.
        #[test]
        fn plain_name_fast_path_matches_general_path(s in "[a-zA-Z0-9_.x-]{0,12}(\\.[a-zA-Z0-9_-]{0,70}){0,5}\\.?") {
            if let Some(fast) = plain_ascii_name(&s) {
                let decoded = percent_decode_host(&s).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(normalize_name_or_ipv4(&decoded), Ok(Host::Name(fast)));
            }
        }

        /// The ASCII fast path must agree with full IDNA processing.
        #[test]
        fn ascii_fast_path_matches_idna(s in "[a-zA-Z0-9_-]{1,10}(\\.[a-zA-Z0-9_-]{1,10}){0,3}") {
            if let Ok(idna) = idna::domain_to_ascii_cow(s.as_bytes(), AsciiDenyList::URL) {
                prop_assert_eq!(idna.as_ref(), s.to_ascii_lowercase());
            }
        }

        /// The path fast path must agree with the general algorithm.
        #[test]
        fn path_fast_path_matches_slow_path(segments in prop::collection::vec(path_segment(), 0..6)) {
            let raw = format!("/{}", segments.join("/"));
            prop_assert_eq!(normalize_path(&raw), normalize_path_slow(&raw));
        }

        #[test]
        fn skeleton_is_stable(s in "[a-z\u{0430}-\u{044f}\u{03b1}-\u{03c9}\u{0261}]{1,12}\\.com") {
            if let Ok(Host::Name(ascii)) = normalize_host(&s) {
                if let Some(skeleton) = homograph_skeleton(&ascii) {
                    prop_assert_eq!(homograph_skeleton(&skeleton), None);
                    prop_assert!(normalize_host(&skeleton).is_ok());
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "host_oracle_tests.rs"]
mod oracle_tests;
