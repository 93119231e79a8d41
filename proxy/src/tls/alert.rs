//! The TLS alert the transparent 443 listener sends before closing a blocked connection.
//!
//! Without terminating TLS Lychgate cannot show a block page on HTTPS; a fatal alert makes the
//! browser fail at once with a TLS error instead of hanging until a timeout, and the alert
//! kind tells a technician reading the browser's error that a policy, not the network, did it.

/// Alert descriptions (RFC 8446 §6.2) that make sense for a refused ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlertDescription {
    /// `handshake_failure` (40): no acceptable parameters; the most generic refusal.
    HandshakeFailure,
    /// `access_denied` (49): the peer is known but not allowed; what a policy block is.
    #[default]
    AccessDenied,
    /// `decode_error` (50): the hello could not be parsed (a Malformed peek).
    DecodeError,
    /// `protocol_version` (70): the client offers no version we let through.
    ProtocolVersion,
    /// `internal_error` (80): Lychgate failed, not the client.
    InternalError,
    /// `unrecognized_name` (112): no such server name here; browsers show it as a name error.
    UnrecognizedName,
}

impl AlertDescription {
    /// The description's wire value.
    pub fn code(self) -> u8 {
        match self {
            AlertDescription::HandshakeFailure => 40,
            AlertDescription::AccessDenied => 49,
            AlertDescription::DecodeError => 50,
            AlertDescription::ProtocolVersion => 70,
            AlertDescription::InternalError => 80,
            AlertDescription::UnrecognizedName => 112,
        }
    }

    /// The name used in the TLS specifications and in the config (`access_denied`, …).
    pub fn name(self) -> &'static str {
        match self {
            AlertDescription::HandshakeFailure => "handshake_failure",
            AlertDescription::AccessDenied => "access_denied",
            AlertDescription::DecodeError => "decode_error",
            AlertDescription::ProtocolVersion => "protocol_version",
            AlertDescription::InternalError => "internal_error",
            AlertDescription::UnrecognizedName => "unrecognized_name",
        }
    }

    /// Reads a config value written as the specification name (`access_denied`).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            AlertDescription::HandshakeFailure,
            AlertDescription::AccessDenied,
            AlertDescription::DecodeError,
            AlertDescription::ProtocolVersion,
            AlertDescription::InternalError,
            AlertDescription::UnrecognizedName,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
}

/// A plaintext TLS record holding one fatal alert. The record version is 0x0303, which TLS 1.2
/// and 1.3 clients both accept before a version is negotiated (RFC 8446 §5.1).
pub fn alert_record(description: AlertDescription) -> [u8; 7] {
    const CONTENT_ALERT: u8 = 0x15;
    const LEVEL_FATAL: u8 = 2;
    [
        CONTENT_ALERT,
        0x03,
        0x03,
        0x00,
        0x02,
        LEVEL_FATAL,
        description.code(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_bytes() {
        assert_eq!(
            alert_record(AlertDescription::AccessDenied),
            [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 49]
        );
        assert_eq!(
            alert_record(AlertDescription::UnrecognizedName),
            [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112]
        );
        assert_eq!(alert_record(AlertDescription::DecodeError)[6], 50);
    }

    #[test]
    fn names_round_trip() {
        for a in [
            AlertDescription::HandshakeFailure,
            AlertDescription::AccessDenied,
            AlertDescription::DecodeError,
            AlertDescription::ProtocolVersion,
            AlertDescription::InternalError,
            AlertDescription::UnrecognizedName,
        ] {
            assert_eq!(AlertDescription::from_name(a.name()), Some(a));
        }
        assert_eq!(AlertDescription::from_name("Access_Denied"), None);
        assert_eq!(AlertDescription::default(), AlertDescription::AccessDenied);
    }
}
