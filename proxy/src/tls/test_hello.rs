//! A ClientHello builder for tests: synthetic hellos with exactly the features a test needs
//! (huge post-quantum key shares, odd SNI lists, GREASE, record fragmentation).

/// X25519MLKEM768, the post-quantum hybrid group browsers offer since 2024.
pub(crate) const X25519_MLKEM768: u16 = 0x11ec;
/// Its key share: 1184-byte ML-KEM-768 encapsulation key plus a 32-byte X25519 key.
pub(crate) const X25519_MLKEM768_SHARE: usize = 1216;

/// Builds ClientHello handshake messages and the TLS records that carry them.
#[derive(Debug, Clone)]
pub(crate) struct HelloBuilder {
    legacy_version: u16,
    session_id: Vec<u8>,
    suites: Vec<u16>,
    extensions: Option<Vec<(u16, Vec<u8>)>>,
}

impl Default for HelloBuilder {
    fn default() -> Self {
        HelloBuilder {
            legacy_version: 0x0303,
            session_id: vec![0x5a; 32],
            suites: vec![0x1301, 0x1302, 0xc02b],
            extensions: Some(Vec::new()),
        }
    }
}

/// A two-byte big-endian length prefix followed by the bytes.
pub(crate) fn vec16(bytes: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A one-byte length prefix followed by the bytes.
pub(crate) fn vec8(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::try_from(bytes.len()).unwrap()];
    out.extend_from_slice(bytes);
    out
}

impl HelloBuilder {
    /// A hello like a TLS 1.3 client's, without extensions yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Sets the legacy_version field.
    pub(crate) fn legacy_version(mut self, v: u16) -> Self {
        self.legacy_version = v;
        self
    }

    /// Drops the extensions block entirely, as pre-TLS 1.2 clients may.
    pub(crate) fn without_extensions_block(mut self) -> Self {
        self.extensions = None;
        self
    }

    /// Adds an extension with a raw body.
    pub(crate) fn ext(mut self, kind: u16, body: Vec<u8>) -> Self {
        self.extensions
            .get_or_insert_with(Vec::new)
            .push((kind, body));
        self
    }

    /// Adds a server_name extension with the given (type, name) entries.
    pub(crate) fn sni_entries(self, entries: &[(u8, &[u8])]) -> Self {
        let mut list = Vec::new();
        for (kind, name) in entries {
            list.push(*kind);
            list.extend(vec16(name));
        }
        self.ext(0x0000, vec16(&list))
    }

    /// Adds a server_name extension naming one host.
    pub(crate) fn sni(self, host: &str) -> Self {
        self.sni_entries(&[(0, host.as_bytes())])
    }

    /// Adds an ALPN extension.
    pub(crate) fn alpn(self, protocols: &[&[u8]]) -> Self {
        let mut list = Vec::new();
        for p in protocols {
            list.extend(vec8(p));
        }
        self.ext(0x0010, vec16(&list))
    }

    /// Adds a supported_versions extension.
    pub(crate) fn versions(self, versions: &[u16]) -> Self {
        let list: Vec<u8> = versions.iter().flat_map(|v| v.to_be_bytes()).collect();
        self.ext(0x002b, vec8(&list))
    }

    /// Adds a key_share extension with one share per (group, length).
    pub(crate) fn key_shares(self, shares: &[(u16, usize)]) -> Self {
        let mut list = Vec::new();
        for (group, len) in shares {
            list.extend(group.to_be_bytes());
            list.extend(vec16(&vec![0x42; *len]));
        }
        self.ext(0x0033, vec16(&list))
    }

    /// Adds an encrypted_client_hello extension (an outer ECH, or Chrome's GREASE one).
    pub(crate) fn ech(self) -> Self {
        let mut body = vec![0, 0x00, 0x01, 0x00, 0x01, 0x07];
        body.extend(vec16(&[0x11; 32]));
        body.extend(vec16(&[0x22; 144]));
        self.ext(0xfe0d, body)
    }

    /// Adds a padding extension of `len` zero bytes (Chrome pads hellos to dodge middlebox bugs).
    pub(crate) fn padding(self, len: usize) -> Self {
        self.ext(0x0015, vec![0; len])
    }

    /// The ClientHello handshake message, header included.
    pub(crate) fn message(&self) -> Vec<u8> {
        let mut body = self.legacy_version.to_be_bytes().to_vec();
        body.extend([0x17; 32]);
        body.extend(vec8(&self.session_id));
        let suites: Vec<u8> = self.suites.iter().flat_map(|s| s.to_be_bytes()).collect();
        body.extend(vec16(&suites));
        body.extend(vec8(&[0]));
        if let Some(extensions) = &self.extensions {
            let mut block = Vec::new();
            for (kind, ext) in extensions {
                block.extend(kind.to_be_bytes());
                block.extend(vec16(ext));
            }
            body.extend(vec16(&block));
        }
        let len = u32::try_from(body.len()).unwrap().to_be_bytes();
        let mut message = vec![0x01, len[1], len[2], len[3]];
        message.extend(body);
        message
    }

    /// The hello in one TLS record.
    pub(crate) fn record(&self) -> Vec<u8> {
        records(&self.message(), &[])
    }
}

/// Wraps a handshake message in handshake records, cutting it after each of `cuts` (offsets
/// into the message, ascending); no cuts means one record.
pub(crate) fn records(message: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([message.len()]) {
        let fragment = &message[start..end];
        out.extend([0x16, 0x03, 0x01]);
        out.extend(vec16(fragment));
        start = end;
    }
    out
}

/// Extracts the handshake payload from a buffer of well-formed handshake records.
pub(crate) fn unwrap_records(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        out.extend_from_slice(&bytes[5..5 + len]);
        bytes = &bytes[5 + len..];
    }
    out
}
