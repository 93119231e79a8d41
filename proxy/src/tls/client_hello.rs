//! Reading the server name out of a TLS ClientHello without terminating TLS.
//!
//! The transparent 443 listener must decide on a connection before any byte goes upstream, from
//! the one thing the client sends in clear: its ClientHello. [`peek`] is called on everything
//! read so far, again after every read, until it gives a final answer. It never copies the
//! common case (the whole hello in one TLS record) and copies once when a client spreads the
//! handshake message over several records (RFC 8446 §5.1 allows it; evasion tools do it to dodge
//! naive SNI filters). Every index is checked: any byte string is a valid input.

use std::borrow::Cow;
use std::fmt;

/// The most bytes, TLS record headers included, that [`peek`] ever needs to reach a final
/// answer. A hello that would need more is [`Malformed`](Peek::Malformed)
/// ([`MalformedReason::TooLarge`]), so a client cannot make Lychgate buffer without end.
///
/// Real hellos are far smaller: about 0.5 KB from OpenSSL, 1.8–2 KB from browsers offering
/// the post-quantum X25519MLKEM768 key share (1216 bytes) plus padding. 16 KiB is one maximal
/// TLS record's payload, which leaves room for larger post-quantum groups and heavy
/// fragmentation.
pub const MAX_HELLO_BYTES: usize = 16 * 1024;

/// The TLS record content type of handshake messages.
const CONTENT_HANDSHAKE: u8 = 0x16;
/// The handshake message type of a ClientHello.
const HANDSHAKE_CLIENT_HELLO: u8 = 0x01;
/// Bytes in a TLS record header: type, version, length.
const RECORD_HEADER: usize = 5;
/// Bytes in a handshake message header: type, 24-bit length.
const HANDSHAKE_HEADER: usize = 4;
/// The largest record payload a peer may send before encryption (RFC 8446 §5.1).
const MAX_RECORD_PAYLOAD: usize = 1 << 14;

/// Extension numbers this parser reads.
const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
const EXT_ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
/// The `host_name` entry type in the server_name extension (RFC 6066 §3).
const NAME_TYPE_HOST_NAME: u8 = 0;

/// What [`peek`] made of the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peek {
    /// The bytes so far are a valid beginning of a ClientHello; read more and call again.
    NeedMore {
        /// At least this many more bytes are needed (more may be needed after them).
        at_least: usize,
    },
    /// A complete ClientHello.
    Hello(ClientHelloInfo),
    /// Not TLS at all: the first record is not a handshake record (for example a plain HTTP
    /// request on port 443, or an SSLv2-compatible hello, which no supported client sends).
    NotTls,
    /// TLS-shaped, but broken or beyond [`MAX_HELLO_BYTES`]; the connection should be refused.
    Malformed(MalformedReason),
}

/// Why a ClientHello was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MalformedReason {
    /// A TLS record header announced an empty or oversized record, or a version other than 3.x.
    #[error("invalid TLS record header")]
    BadRecord,
    /// A non-handshake record arrived before the ClientHello was complete.
    #[error("a non-handshake record interrupted the ClientHello")]
    InterleavedRecord,
    /// The first handshake message is not a ClientHello.
    #[error("the first handshake message is not a ClientHello (type {0})")]
    NotClientHello(u8),
    /// The hello needs more than [`MAX_HELLO_BYTES`].
    #[error("the ClientHello is larger than {MAX_HELLO_BYTES} bytes")]
    TooLarge,
    /// A length field runs past the end of the structure holding it.
    #[error("a length field in the ClientHello runs past its end")]
    Truncated,
    /// Bytes left over after the structure that should have ended there.
    #[error("unexpected bytes after the end of a ClientHello structure")]
    TrailingBytes,
    /// The legacy session id, cipher suite or compression list is impossible.
    #[error("invalid session id, cipher suite list or compression list")]
    BadFixedFields,
    /// One extension type appears twice (RFC 8446 §4.2 forbids it; a filter and a server
    /// reading different copies is an evasion).
    #[error("extension {0:#06x} appears more than once")]
    DuplicateExtension(u16),
    /// The server_name extension is empty, has two host names, or names no valid host.
    #[error("invalid server_name extension")]
    BadServerName,
    /// The ALPN extension is empty or has an empty protocol name.
    #[error("invalid ALPN extension")]
    BadAlpn,
    /// The supported_versions extension is empty or has an odd length.
    #[error("invalid supported_versions extension")]
    BadSupportedVersions,
}

/// A TLS protocol version as it appears on the wire (0x0303 is TLS 1.2, 0x0304 TLS 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TlsVersion(pub u16);

impl TlsVersion {
    /// TLS 1.0.
    pub const TLS10: TlsVersion = TlsVersion(0x0301);
    /// TLS 1.1.
    pub const TLS11: TlsVersion = TlsVersion(0x0302);
    /// TLS 1.2.
    pub const TLS12: TlsVersion = TlsVersion(0x0303);
    /// TLS 1.3.
    pub const TLS13: TlsVersion = TlsVersion(0x0304);
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0x0300 => f.write_str("SSL 3.0"),
            v @ 0x0301..=0x0304 => write!(f, "TLS 1.{}", v - 0x0301),
            v => write!(f, "{v:#06x}"),
        }
    }
}

/// The ALPN protocols a client offers, as a set of the ones a web proxy cares about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Alpn(u8);

impl Alpn {
    const H2: u8 = 1;
    const HTTP11: u8 = 2;
    const OTHER: u8 = 4;

    /// Whether `h2` (HTTP/2) is offered.
    pub fn h2(self) -> bool {
        self.0 & Self::H2 != 0
    }
    /// Whether `http/1.1` is offered.
    pub fn http11(self) -> bool {
        self.0 & Self::HTTP11 != 0
    }
    /// Whether any other protocol is offered (GREASE, `http/1.0`, `acme-tls/1`, …).
    pub fn other(self) -> bool {
        self.0 & Self::OTHER != 0
    }
    /// Whether the client sent no ALPN extension.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn add(&mut self, protocol: &[u8]) {
        self.0 |= match protocol {
            b"h2" => Self::H2,
            b"http/1.1" => Self::HTTP11,
            _ => Self::OTHER,
        };
    }
}

/// What a ClientHello says that matters for filtering and logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHelloInfo {
    /// The requested host name (the `host_name` entry of server_name), lowercased and checked
    /// to be a DNS name; `None` when the client sent none (IP-address connections, some apps).
    /// With ECH this is the outer, public name.
    pub sni: Option<String>,
    /// The offered ALPN protocols.
    pub alpn: Alpn,
    /// Whether the encrypted_client_hello extension (0xfe0d) is present. Chrome sends a GREASE
    /// one on every connection, so this alone does not mean the real name is hidden.
    pub has_ech: bool,
    /// The `legacy_version` field: 0x0303 from every TLS 1.2 and 1.3 client.
    pub legacy_version: TlsVersion,
    /// The highest version offered: from supported_versions (GREASE values ignored) when
    /// present, else `legacy_version`.
    pub max_version: TlsVersion,
    /// How many TLS records carried the hello; more than one is unusual for browsers.
    pub records: usize,
    /// How many leading bytes of the buffer the hello's records occupy. The caller still
    /// forwards everything it read, verbatim, when it lets the connection through.
    pub consumed: usize,
}

/// Parses the start of a client's byte stream; see [`Peek`] for the outcomes.
pub fn peek(buf: &[u8]) -> Peek {
    match reassemble(buf) {
        Ok((message, records, consumed)) => match parse_client_hello(&message) {
            Ok(mut info) => {
                info.records = records;
                info.consumed = consumed;
                Peek::Hello(info)
            }
            Err(reason) => Peek::Malformed(reason),
        },
        Err(stop) => stop,
    }
}

/// Collects the first handshake message from consecutive handshake records: borrowed when one
/// record holds it, copied when it spans several. Returns it with the record count and the
/// bytes used, or the [`Peek`] to give instead.
fn reassemble(buf: &[u8]) -> Result<(Cow<'_, [u8]>, usize, usize), Peek> {
    let mut message: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    let mut pos = 0usize;
    let mut records = 0usize;
    loop {
        if let Some(header) = message.get(..HANDSHAKE_HEADER) {
            check_handshake_header(header)?;
            let total = HANDSHAKE_HEADER + u24(header);
            if message.len() >= total {
                let message = match message {
                    Cow::Borrowed(m) => Cow::Borrowed(m.get(..total).unwrap_or(m)),
                    Cow::Owned(mut m) => {
                        m.truncate(total);
                        Cow::Owned(m)
                    }
                };
                return Ok((message, records, pos));
            }
        }

        // The cap holds whether the bytes are here yet or not: a client that sends a flood of
        // tiny records all at once is refused just like one that trickles them.
        if pos + RECORD_HEADER > MAX_HELLO_BYTES {
            return Err(Peek::Malformed(MalformedReason::TooLarge));
        }
        let Some(&[content_type, major, _minor, len_hi, len_lo]) =
            buf.get(pos..pos + RECORD_HEADER)
        else {
            let have = buf.len().saturating_sub(pos);
            return Err(need_more(RECORD_HEADER, have));
        };
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if content_type != CONTENT_HANDSHAKE || major != 3 {
            return Err(if pos == 0 {
                Peek::NotTls
            } else if content_type != CONTENT_HANDSHAKE {
                Peek::Malformed(MalformedReason::InterleavedRecord)
            } else {
                Peek::Malformed(MalformedReason::BadRecord)
            });
        }
        if len == 0 || len > MAX_RECORD_PAYLOAD {
            return Err(Peek::Malformed(MalformedReason::BadRecord));
        }
        let body_start = pos + RECORD_HEADER;
        if body_start + len > MAX_HELLO_BYTES {
            return Err(Peek::Malformed(MalformedReason::TooLarge));
        }
        let Some(fragment) = buf.get(body_start..body_start + len) else {
            // Judge what has arrived of the first record early, so that a bogus hello is
            // refused without waiting for bytes the client may never send.
            if message.is_empty() {
                if let Some(partial) = buf
                    .get(body_start..)
                    .and_then(|p| p.get(..HANDSHAKE_HEADER))
                {
                    check_handshake_header(partial)?;
                } else if let Some(&kind) = buf.get(body_start) {
                    check_handshake_header(&[kind, 0, 0, 0])?;
                }
            }
            let have = buf.len().saturating_sub(body_start);
            return Err(need_more(len, have));
        };
        message = match message {
            Cow::Borrowed([]) => Cow::Borrowed(fragment),
            other => {
                let mut owned = other.into_owned();
                owned.extend_from_slice(fragment);
                Cow::Owned(owned)
            }
        };
        records += 1;
        pos = body_start + len;
    }
}

/// Refuses a handshake header that is not a ClientHello or that announces more than the cap.
fn check_handshake_header(header: &[u8]) -> Result<(), Peek> {
    let kind = header.first().copied().unwrap_or(HANDSHAKE_CLIENT_HELLO);
    if kind != HANDSHAKE_CLIENT_HELLO {
        return Err(Peek::Malformed(MalformedReason::NotClientHello(kind)));
    }
    // The message plus at least one record header in front of it must fit under the cap.
    if header.len() >= HANDSHAKE_HEADER
        && u24(header) + HANDSHAKE_HEADER + RECORD_HEADER > MAX_HELLO_BYTES
    {
        return Err(Peek::Malformed(MalformedReason::TooLarge));
    }
    Ok(())
}

/// `NeedMore` for a structure of `want` bytes of which `have` are present. Callers have
/// already checked that the structure ends within [`MAX_HELLO_BYTES`].
fn need_more(want: usize, have: usize) -> Peek {
    Peek::NeedMore {
        at_least: want.saturating_sub(have).max(1),
    }
}

/// The 24-bit length of a handshake header (bytes 1..4).
fn u24(header: &[u8]) -> usize {
    match header {
        [_, a, b, c, ..] => usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c),
        _ => 0,
    }
}

/// A big-endian u16 at `at`, 0 when out of range (callers check lengths first).
fn u16_at(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some([a, b]) => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// A checked cursor over a byte slice: every read fails cleanly instead of panicking.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], MalformedReason> {
        if n > self.bytes.len() {
            return Err(MalformedReason::Truncated);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, MalformedReason> {
        self.take(1)?
            .first()
            .copied()
            .ok_or(MalformedReason::Truncated)
    }
    fn u16(&mut self) -> Result<u16, MalformedReason> {
        Ok(u16_at(self.take(2)?, 0))
    }
    /// A vector with a one-byte length prefix.
    fn vec8(&mut self) -> Result<&'a [u8], MalformedReason> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    /// A vector with a two-byte length prefix.
    fn vec16(&mut self) -> Result<&'a [u8], MalformedReason> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    fn finish(&self) -> Result<(), MalformedReason> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(MalformedReason::TrailingBytes)
        }
    }
}

/// GREASE values (RFC 8701) are 0x?a?a with equal bytes; clients send them to keep servers
/// tolerant, so they carry no meaning.
fn is_grease(value: u16) -> bool {
    let [hi, lo] = value.to_be_bytes();
    hi == lo && lo & 0x0f == 0x0a
}

/// Parses a whole ClientHello handshake message (header included).
fn parse_client_hello(message: &[u8]) -> Result<ClientHelloInfo, MalformedReason> {
    let mut r = Reader::new(message);
    r.take(HANDSHAKE_HEADER)?;
    let legacy_version = TlsVersion(r.u16()?);
    r.take(32)?; // random
    let session_id = r.vec8()?;
    let suites = r.vec16()?;
    let compression = r.vec8()?;
    if session_id.len() > 32 || suites.is_empty() || suites.len() % 2 != 0 || compression.is_empty()
    {
        return Err(MalformedReason::BadFixedFields);
    }
    let mut info = ClientHelloInfo {
        sni: None,
        alpn: Alpn::default(),
        has_ech: false,
        legacy_version,
        max_version: legacy_version,
        records: 0,
        consumed: 0,
    };
    // Hellos before TLS 1.2 may end here, with no extensions at all.
    if r.is_empty() {
        return Ok(info);
    }
    let mut extensions = Reader::new(r.vec16()?);
    r.finish()?;

    let mut seen = SeenExtensions::default();
    while !extensions.is_empty() {
        let kind = extensions.u16()?;
        let body = extensions.vec16()?;
        seen.insert(kind)?;
        match kind {
            EXT_SERVER_NAME => info.sni = parse_server_name(body)?,
            EXT_ALPN => info.alpn = parse_alpn(body)?,
            EXT_SUPPORTED_VERSIONS => {
                if let Some(max) = parse_supported_versions(body)? {
                    info.max_version = max;
                }
            }
            EXT_ENCRYPTED_CLIENT_HELLO => info.has_ech = true,
            _ => {}
        }
    }
    Ok(info)
}

/// Remembers which extension types were seen, to refuse duplicates. A small sorted list: a
/// hello has a few dozen extensions at most, so this beats hashing and never allocates twice.
#[derive(Default)]
struct SeenExtensions(Vec<u16>);

impl SeenExtensions {
    fn insert(&mut self, kind: u16) -> Result<(), MalformedReason> {
        match self.0.binary_search(&kind) {
            Ok(_) => Err(MalformedReason::DuplicateExtension(kind)),
            Err(at) => {
                self.0.insert(at, kind);
                Ok(())
            }
        }
    }
}

/// The server_name extension (RFC 6066 §3): a list of (type, name); the `host_name` entry is
/// the one that counts, and there may be only one.
fn parse_server_name(body: &[u8]) -> Result<Option<String>, MalformedReason> {
    let bad = |_| MalformedReason::BadServerName;
    let mut outer = Reader::new(body);
    let mut list = Reader::new(outer.vec16().map_err(bad)?);
    outer.finish().map_err(bad)?;
    // An empty extension body is what a server echoes back; from a client it is invalid.
    if list.is_empty() {
        return Err(MalformedReason::BadServerName);
    }
    let mut host = None;
    while !list.is_empty() {
        let kind = list.u8().map_err(bad)?;
        let name = list.vec16().map_err(bad)?;
        if kind != NAME_TYPE_HOST_NAME {
            continue;
        }
        if host.is_some() {
            return Err(MalformedReason::BadServerName);
        }
        host = Some(validate_host_name(name).ok_or(MalformedReason::BadServerName)?);
    }
    Ok(host)
}

/// Checks an SNI host name and returns it lowercased: ASCII letters, digits, hyphens and
/// underscores in dot-separated labels of 1–63 bytes, at most 253 bytes, no trailing dot
/// (RFC 6066 forbids it). Underscores are not in the hostname grammar but occur in real names
/// (some CDN and intranet hosts) that browsers send; refusing them would break those sites and
/// gain nothing, since the policy matches labels whatever their characters. Anything else —
/// spaces, NULs, UTF-8, percent signs — is an attempt to confuse a filter and is refused.
fn validate_host_name(name: &[u8]) -> Option<String> {
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    for label in name.split(|b| *b == b'.') {
        let ok_chars = label
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
        if label.is_empty() || label.len() > 63 || !ok_chars {
            return None;
        }
    }
    // Checked ASCII above, so this conversion cannot fail.
    String::from_utf8(name.to_ascii_lowercase()).ok()
}

/// The ALPN extension (RFC 7301): a list of non-empty protocol names.
fn parse_alpn(body: &[u8]) -> Result<Alpn, MalformedReason> {
    let bad = |_| MalformedReason::BadAlpn;
    let mut outer = Reader::new(body);
    let mut list = Reader::new(outer.vec16().map_err(bad)?);
    outer.finish().map_err(bad)?;
    if list.is_empty() {
        return Err(MalformedReason::BadAlpn);
    }
    let mut alpn = Alpn::default();
    while !list.is_empty() {
        let protocol = list.vec8().map_err(bad)?;
        if protocol.is_empty() {
            return Err(MalformedReason::BadAlpn);
        }
        alpn.add(protocol);
    }
    Ok(alpn)
}

/// The supported_versions extension (RFC 8446 §4.2.1): the highest non-GREASE version.
fn parse_supported_versions(body: &[u8]) -> Result<Option<TlsVersion>, MalformedReason> {
    let mut outer = Reader::new(body);
    let list = outer
        .vec8()
        .map_err(|_| MalformedReason::BadSupportedVersions)?;
    outer
        .finish()
        .map_err(|_| MalformedReason::BadSupportedVersions)?;
    if list.is_empty() || list.len() % 2 != 0 {
        return Err(MalformedReason::BadSupportedVersions);
    }
    Ok(list
        .chunks_exact(2)
        .map(|v| u16_at(v, 0))
        .filter(|v| !is_grease(*v))
        .max()
        .map(TlsVersion))
}

#[cfg(test)]
mod tests;
