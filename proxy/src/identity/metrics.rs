//! Counters for client identification. Labels are bounded enums: never user names or addresses.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Identity metrics, registered by [`IdentityMetrics::register`].
#[derive(Debug, Default)]
pub struct IdentityMetrics {
    /// Proxy logins accepted (cached or verified).
    pub auth_successes: Counter,
    /// Proxy logins refused: wrong password or unknown user.
    pub auth_failures: Counter,
    /// Proxy logins refused unchecked because the client had too many recent failures.
    pub auth_rate_limited: Counter,
    /// `Proxy-Authorization` headers that could not be read.
    pub auth_bad_headers: Counter,
    /// Proxy logins accepted from the success cache (no argon2 run).
    pub auth_cache_hits: Counter,
    /// argon2 verifications run for proxy logins.
    pub auth_verifications: Counter,
    /// Identity-map requests that bound or unbound an address.
    pub map_changes: Counter,
    /// Identity-map requests refused (bad token, scope, unknown user, bad request).
    pub map_refusals: Counter,
    /// Identity-map bindings currently held (expired ones until purged).
    pub map_bindings: Gauge,
}

impl IdentityMetrics {
    /// Zeroed metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers every metric under `lychgate_` names.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lychgate_proxy_auth_successes",
            "Proxy logins accepted",
            self.auth_successes.clone(),
        );
        registry.register(
            "lychgate_proxy_auth_failures",
            "Proxy logins refused for a wrong password or unknown user",
            self.auth_failures.clone(),
        );
        registry.register(
            "lychgate_proxy_auth_rate_limited",
            "Proxy logins refused unchecked after too many failures from the client",
            self.auth_rate_limited.clone(),
        );
        registry.register(
            "lychgate_proxy_auth_bad_headers",
            "Proxy-Authorization headers that could not be read",
            self.auth_bad_headers.clone(),
        );
        registry.register(
            "lychgate_proxy_auth_cache_hits",
            "Proxy logins accepted from the success cache",
            self.auth_cache_hits.clone(),
        );
        registry.register(
            "lychgate_proxy_auth_verifications",
            "argon2 verifications run for proxy logins",
            self.auth_verifications.clone(),
        );
        registry.register(
            "lychgate_identity_map_changes",
            "Identity-map bindings made or removed",
            self.map_changes.clone(),
        );
        registry.register(
            "lychgate_identity_map_refusals",
            "Identity-map requests refused",
            self.map_refusals.clone(),
        );
        registry.register(
            "lychgate_identity_map_bindings",
            "Identity-map bindings held",
            self.map_bindings.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_prefixed_names() {
        let m = IdentityMetrics::new();
        m.auth_cache_hits.inc();
        let mut registry = Registry::default();
        m.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        assert!(
            out.contains("lychgate_proxy_auth_cache_hits_total 1"),
            "{out}"
        );
        assert!(out.contains("lychgate_identity_map_bindings 0"), "{out}");
    }
}
