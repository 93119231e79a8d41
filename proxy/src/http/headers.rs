//! Header hygiene between client and origin: hop-by-hop headers removed (RFC 9110 §7.6.1),
//! credentials meant for Lychgate never forwarded, `Via` added and checked for loops, and the
//! framing ambiguities that request smuggling relies on refused.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one hop and never travel further.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Why a request's framing is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// Both `Content-Length` and `Transfer-Encoding`.
    LengthAndChunked,
    /// More than one `Content-Length`.
    DuplicateLength,
    /// A `Transfer-Encoding` other than a final `chunked`.
    BadTransferEncoding,
}

impl FramingError {
    /// The reason shown on the 400 page and logged.
    pub const fn reason(self) -> &'static str {
        match self {
            FramingError::LengthAndChunked => {
                "the request's length is ambiguous (Content-Length with Transfer-Encoding, or \
                 two Content-Length headers)"
            }
            FramingError::DuplicateLength => "the request has more than one Content-Length",
            FramingError::BadTransferEncoding => {
                "the request's Transfer-Encoding is not one header ending in a single chunked"
            }
        }
    }

    /// Short label for metrics.
    pub const fn label(self) -> &'static str {
        match self {
            FramingError::LengthAndChunked => "length_and_chunked",
            FramingError::DuplicateLength => "duplicate_length",
            FramingError::BadTransferEncoding => "bad_transfer_encoding",
        }
    }
}

/// Refuses framing that two parsers could read differently. hyper already rejects some of
/// these; checking here as well keeps the guarantee independent of its version.
pub fn check_framing(headers: &HeaderMap) -> Result<(), FramingError> {
    let lengths = headers.get_all(header::CONTENT_LENGTH).iter().count();
    let encodings: Vec<&HeaderValue> = headers.get_all(header::TRANSFER_ENCODING).iter().collect();
    if lengths > 0 && !encodings.is_empty() {
        return Err(FramingError::LengthAndChunked);
    }
    if lengths > 1 {
        return Err(FramingError::DuplicateLength);
    }
    // One header line whose codings end in a single `chunked`, after registered compressions
    // only: `identity`, unknown codings, `chunked` twice or a second header line are read
    // differently by different parsers, so they are refused rather than forwarded.
    if encodings.len() > 1 {
        return Err(FramingError::BadTransferEncoding);
    }
    if let Some(value) = encodings.first() {
        let text = value
            .to_str()
            .map_err(|_| FramingError::BadTransferEncoding)?;
        let mut codings = text.split(',').map(str::trim).rev();
        if !codings
            .next()
            .is_some_and(|c| c.eq_ignore_ascii_case("chunked"))
        {
            return Err(FramingError::BadTransferEncoding);
        }
        const COMPRESSIONS: [&str; 5] = ["gzip", "x-gzip", "deflate", "compress", "x-compress"];
        if !codings.all(|c| COMPRESSIONS.iter().any(|k| c.eq_ignore_ascii_case(k))) {
            return Err(FramingError::BadTransferEncoding);
        }
    }
    Ok(())
}

/// Removes hop-by-hop headers, including any named in `Connection`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names (standard names compare as small
    // integers) is cheaper than hashing every hop-by-hop name to remove it.
    if !headers.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in &HOP_BY_HOP {
        headers.remove(n);
    }
}

/// Whether a `Via` header already names this Lychgate (a forwarding loop).
pub fn via_loops(headers: &HeaderMap, pseudonym: &str) -> bool {
    headers
        .get_all(header::VIA)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|hop| {
            hop.split_whitespace()
                .nth(1)
                .is_some_and(|by| by.eq_ignore_ascii_case(pseudonym))
        })
}

/// Appends this hop to `Via`.
pub fn add_via(headers: &mut HeaderMap, version: http::Version, pseudonym: &str) {
    let proto = match version {
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2",
        _ => "1.1",
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{proto} {pseudonym}")) {
        headers.append(header::VIA, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn framing_ambiguities_are_refused() {
        assert_eq!(
            check_framing(&map(&[
                ("content-length", "5"),
                ("transfer-encoding", "chunked")
            ])),
            Err(FramingError::LengthAndChunked)
        );
        assert_eq!(
            check_framing(&map(&[("content-length", "5"), ("content-length", "5")])),
            Err(FramingError::DuplicateLength)
        );
        assert_eq!(
            check_framing(&map(&[("transfer-encoding", "chunked, gzip")])),
            Err(FramingError::BadTransferEncoding)
        );
        assert_eq!(
            check_framing(&map(&[("transfer-encoding", "gzip, Chunked")])),
            Ok(())
        );
        assert_eq!(
            check_framing(&map(&[("transfer-encoding", " chunked ")])),
            Ok(())
        );
        for odd in [
            "identity, chunked",
            "chunked, chunked",
            "foo, chunked",
            ", chunked",
            "chunked;q=1",
            "",
        ] {
            assert_eq!(
                check_framing(&map(&[("transfer-encoding", odd)])),
                Err(FramingError::BadTransferEncoding),
                "{odd}"
            );
        }
        assert_eq!(
            check_framing(&map(&[
                ("transfer-encoding", "gzip"),
                ("transfer-encoding", "chunked")
            ])),
            Err(FramingError::BadTransferEncoding),
            "two header lines"
        );
        assert_eq!(check_framing(&map(&[("content-length", "5")])), Ok(()));
    }

    #[test]
    fn hop_by_hop_and_credentials_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, x-secret"),
            ("x-secret", "1"),
            ("proxy-authorization", "Basic dTpw"),
            ("proxy-connection", "keep-alive"),
            ("accept", "*/*"),
        ]);
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("accept"));
    }

    #[test]
    fn via_loop_is_spotted_by_pseudonym() {
        let mut h = map(&[("via", "1.1 squid.example")]);
        assert!(!via_loops(&h, "lychgate"));
        add_via(&mut h, http::Version::HTTP_11, "lychgate");
        assert!(via_loops(&h, "lychgate"));
        assert!(!via_loops(&h, "lychgate-2"));
    }
}
