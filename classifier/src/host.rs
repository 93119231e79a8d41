//! Host and URL normalisation. CONTRACT STUB: replaced by the real implementation.

use std::net::IpAddr;

/// Why a host or URL could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Empty input.
    #[error("empty host")]
    Empty,
    /// Anything else.
    #[error("invalid host `{0}`")]
    Invalid(String),
}

/// A normalised host: a lower-case ASCII name (IDN labels in punycode, no trailing dot) or an IP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lower-case ASCII, punycode for IDN labels, no trailing dot.
    Name(String),
    /// An IP literal, in any notation it arrived in.
    Ip(IpAddr),
}

/// A normalised URL.
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
    /// Query without `?`.
    pub query: Option<String>,
}

/// Normalises a host.
pub fn normalize_host(input: &str) -> Result<Host, HostError> {
    if input.is_empty() {
        return Err(HostError::Empty);
    }
    Ok(Host::Name(input.to_ascii_lowercase()))
}

/// Normalises a URL, a bare host or `host/path`.
pub fn normalize_url(input: &str) -> Result<NormalizedUrl, HostError> {
    Ok(NormalizedUrl {
        scheme: "http".into(),
        host: normalize_host(input)?,
        port: None,
        path: "/".into(),
        query: None,
    })
}

/// For a host whose labels mix scripts or use look-alike characters, the ASCII look-alike.
pub fn homograph_skeleton(_host: &str) -> Option<String> {
    None
}
