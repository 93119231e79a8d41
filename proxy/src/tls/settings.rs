//! Settings of the transparent HTTPS listener's ClientHello handling. The config reader fills
//! this from the `[transparent]` table; the keys are named on each field.

use std::time::Duration;

use super::alert::AlertDescription;

/// What to do with a TLS connection whose ClientHello names no server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NoSniPolicy {
    /// Decide on the original destination address, as for a URL with an IP-literal host
    /// (`https://203.0.113.5/`); lists and the policy's IP rules then apply. Some apps and
    /// older devices send no SNI, so refusing them all would break them for no gain.
    #[default]
    FilterByAddress,
    /// Refuse every connection without SNI.
    Block,
}

impl NoSniPolicy {
    /// Reads the config value: `"address"` or `"block"`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "address" => Some(NoSniPolicy::FilterByAddress),
            "block" => Some(NoSniPolicy::Block),
            _ => None,
        }
    }
}

/// How the transparent 443 listener reads and answers ClientHellos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPeekSettings {
    /// How long a client may take to send its complete ClientHello before the connection is
    /// closed; bounds the slots a silent or trickling client can hold.
    /// TOML: `[transparent] tls_hello_timeout_secs = 10`.
    pub hello_timeout: Duration,
    /// Connections without SNI. TOML: `[transparent] tls_no_sni = "address"` (or `"block"`).
    pub no_sni: NoSniPolicy,
    /// The alert sent before closing a blocked connection.
    /// TOML: `[transparent] tls_block_alert = "access_denied"` (or `"unrecognized_name"`,
    /// `"handshake_failure"`).
    pub block_alert: AlertDescription,
}

impl Default for TlsPeekSettings {
    fn default() -> Self {
        TlsPeekSettings {
            hello_timeout: Duration::from_secs(10),
            no_sni: NoSniPolicy::default(),
            block_alert: AlertDescription::AccessDenied,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults() {
        let s = TlsPeekSettings::default();
        assert_eq!(s.hello_timeout, Duration::from_secs(10));
        assert_eq!(s.no_sni, NoSniPolicy::FilterByAddress);
        assert_eq!(s.block_alert, AlertDescription::AccessDenied);
        assert_eq!(NoSniPolicy::from_name("block"), Some(NoSniPolicy::Block));
        assert_eq!(
            NoSniPolicy::from_name("address"),
            Some(NoSniPolicy::FilterByAddress)
        );
        assert_eq!(NoSniPolicy::from_name("allow"), None);
    }
}
