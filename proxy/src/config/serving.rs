//! How Lychgate serves web traffic: the `[proxy]` section and `[[static_host]]` name overrides,
//! read (stage one: [`RawServing`]) and then checked into [`ProxySettings`] and [`StaticHosts`]
//! (stage two). Kept apart from the policy sections so `validate.rs` stays about filtering.

use super::reader::{Fields, Located, Source};
use crate::net::{Cidr, private_ranges};
use lychgate_classifier::host::{Host, normalize_host};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The serving sections as written.
#[derive(Debug, Default)]
pub struct RawServing {
    /// `[proxy]` keys.
    pub proxy: RawProxy,
    /// `[[static_host]]` entries.
    pub static_hosts: Vec<RawStaticHost>,
}

/// `[proxy]` as written.
#[derive(Debug, Default)]
pub struct RawProxy {
    /// Ports CONNECT may reach.
    pub connect_ports: Option<Vec<Located<i64>>>,
    /// Name in the `Via` header.
    pub via: Option<Located<String>>,
    /// Host name of Lychgate's own pages.
    pub service_host: Option<Located<String>>,
    /// Seconds allowed for a request's headers (slowloris guard).
    pub header_timeout_seconds: Option<Located<i64>>,
    /// Seconds allowed to connect to an origin.
    pub connect_timeout_seconds: Option<Located<i64>>,
    /// Seconds allowed for an origin's response headers.
    pub response_timeout_seconds: Option<Located<i64>>,
    /// Seconds a tunnel may sit idle.
    pub tunnel_idle_timeout_seconds: Option<Located<i64>>,
    /// Seconds allowed for a TLS ClientHello.
    pub hello_timeout_seconds: Option<Located<i64>>,
    /// Largest request head.
    pub max_header_bytes: Option<Located<i64>>,
    /// Connections in total.
    pub max_connections: Option<Located<i64>>,
    /// Connections per client address.
    pub max_connections_per_client: Option<Located<i64>>,
    /// Idle upstream connections kept per origin.
    pub pool_idle_per_host: Option<Located<i64>>,
    /// Seconds an idle upstream connection is kept.
    pub pool_idle_timeout_seconds: Option<Located<i64>>,
    /// Private address blocks the proxy may connect to.
    pub allowed_private_destinations: Option<Vec<Located<String>>>,
}

/// One `[[static_host]]` as written.
#[derive(Debug)]
pub struct RawStaticHost {
    /// The name.
    pub name: Option<Located<String>>,
    /// Its addresses.
    pub addresses: Vec<Located<String>>,
}

/// Stage one: reads `[proxy]` and `[[static_host]]` from the top-level table.
pub fn read(src: &mut Source<'_>, top: &mut Fields<'_, '_>) -> RawServing {
    let mut raw = RawServing::default();
    if let Some(mut t) = top.table(src, "proxy") {
        raw.proxy = RawProxy {
            connect_ports: t.integers(src, "connect_ports"),
            via: t.string(src, "via"),
            service_host: t.string(src, "service_host"),
            header_timeout_seconds: t.integer(src, "header_timeout_seconds"),
            connect_timeout_seconds: t.integer(src, "connect_timeout_seconds"),
            response_timeout_seconds: t.integer(src, "response_timeout_seconds"),
            tunnel_idle_timeout_seconds: t.integer(src, "tunnel_idle_timeout_seconds"),
            hello_timeout_seconds: t.integer(src, "hello_timeout_seconds"),
            max_header_bytes: t.integer(src, "max_header_bytes"),
            max_connections: t.integer(src, "max_connections"),
            max_connections_per_client: t.integer(src, "max_connections_per_client"),
            pool_idle_per_host: t.integer(src, "pool_idle_per_host"),
            pool_idle_timeout_seconds: t.integer(src, "pool_idle_timeout_seconds"),
            allowed_private_destinations: t.strings(src, "allowed_private_destinations"),
        };
        t.finish(src);
    }
    for mut t in top.tables(src, "static_host") {
        raw.static_hosts.push(RawStaticHost {
            name: t.string(src, "name"),
            addresses: t.strings(src, "addresses").unwrap_or_default(),
        });
        t.finish(src);
    }
    raw
}

/// How the web proxy behaves: limits, timeouts and the ports it tunnels to.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Ports a CONNECT may reach (squid's `SSL_ports`); 443 unless configured.
    pub connect_ports: Vec<u16>,
    /// Pseudonym in the `Via` header, also used to spot forwarding loops.
    pub via: String,
    /// Host name whose requests Lychgate answers itself (review form, PAC file).
    pub service_host: String,
    /// Time allowed to send a request head (slowloris guard); also the keep-alive idle time.
    pub header_timeout: Duration,
    /// Time allowed to connect to an origin.
    pub connect_timeout: Duration,
    /// Time allowed for an origin's response head.
    pub response_timeout: Duration,
    /// Time a tunnel may carry no bytes either way before it is closed.
    pub tunnel_idle_timeout: Duration,
    /// Time allowed for a client's TLS ClientHello (transparent 443 and CONNECT SNI checks).
    pub hello_timeout: Duration,
    /// Largest request head accepted.
    pub max_header_bytes: usize,
    /// Client connections in total.
    pub max_connections: usize,
    /// Client connections per client address.
    pub max_connections_per_client: usize,
    /// Idle upstream connections kept per origin.
    pub pool_idle_per_host: usize,
    /// How long an idle upstream connection is kept.
    pub pool_idle_timeout: Duration,
    /// Private and shared-range blocks the proxy may connect to (the school's own servers);
    /// every other private address is refused as a destination.
    pub allowed_private_destinations: Vec<Cidr>,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            connect_ports: vec![443],
            via: "lychgate".to_string(),
            service_host: "lychgate.internal".to_string(),
            header_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(60),
            tunnel_idle_timeout: Duration::from_secs(600),
            hello_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            max_connections: 8192,
            max_connections_per_client: 256,
            pool_idle_per_host: 64,
            pool_idle_timeout: Duration::from_secs(60),
            allowed_private_destinations: Vec::new(),
        }
    }
}

/// Names answered from config instead of the resolver, so demos and tests reach loopback origins
/// under real names (`www.bbc.co.uk` → `127.0.0.1`) without sending anything off the machine.
#[derive(Debug, Clone, Default)]
pub struct StaticHosts {
    by_name: HashMap<String, Vec<IpAddr>>,
}

impl StaticHosts {
    /// The configured addresses of a normalised host name.
    pub fn get(&self, name: &str) -> Option<&[IpAddr]> {
        self.by_name.get(name).map(Vec::as_slice)
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Adds a name (already normalised).
    pub fn insert(&mut self, name: String, addresses: Vec<IpAddr>) {
        self.by_name.insert(name, addresses);
    }
}

/// A number the reader has checked against its declared range, as the type it is used as;
/// `default` when absent.
pub(super) fn number<T: TryFrom<u64>>(v: Option<&Located<i64>>, default: T) -> T {
    v.and_then(|v| u64::try_from(v.value).ok())
        .and_then(|n| T::try_from(n).ok())
        .unwrap_or(default)
}

/// Whole seconds the reader has checked against their declared range; `default` when absent.
pub(super) fn seconds(v: Option<&Located<i64>>, default: Duration) -> Duration {
    Duration::from_secs(number(v, default.as_secs()))
}

/// Stage two: checks the serving sections.
pub fn validate(src: &mut Source<'_>, raw: &RawServing) -> (ProxySettings, StaticHosts) {
    let d = ProxySettings::default();
    let p = &raw.proxy;
    let mut connect_ports = Vec::new();
    if let Some(ports) = &p.connect_ports {
        if ports.is_empty() {
            if let Some(first) = ports.first() {
                src.error(
                    first.offset,
                    &first.field,
                    "must list at least one port",
                    None,
                );
            }
        }
        for port in ports {
            match u16::try_from(port.value) {
                Ok(n) if n > 0 => connect_ports.push(n),
                _ => src.error(
                    port.offset,
                    &port.field,
                    format!("{} is not a port number", port.value),
                    None,
                ),
            }
        }
    } else {
        connect_ports.clone_from(&d.connect_ports);
    }
    let via = p.via.as_ref().map_or(d.via.clone(), |v| {
        if v.value.is_empty()
            || !v
                .value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            src.error(
                v.offset,
                &v.field,
                format!("`{}` cannot go in a Via header", v.value),
                Some("letters, digits, `-`, `.` and `_` only"),
            );
        }
        v.value.clone()
    });
    let service_host = match &p.service_host {
        None => d.service_host.clone(),
        Some(v) => match normalize_host(&v.value) {
            Ok(Host::Name(n)) => n,
            _ => {
                src.error(
                    v.offset,
                    &v.field,
                    format!("`{}` is not a host name", v.value),
                    None,
                );
                d.service_host.clone()
            }
        },
    };
    let settings = ProxySettings {
        connect_ports,
        via,
        service_host,
        header_timeout: seconds(p.header_timeout_seconds.as_ref(), d.header_timeout),
        connect_timeout: seconds(p.connect_timeout_seconds.as_ref(), d.connect_timeout),
        response_timeout: seconds(p.response_timeout_seconds.as_ref(), d.response_timeout),
        tunnel_idle_timeout: seconds(
            p.tunnel_idle_timeout_seconds.as_ref(),
            d.tunnel_idle_timeout,
        ),
        hello_timeout: seconds(p.hello_timeout_seconds.as_ref(), d.hello_timeout),
        max_header_bytes: number(p.max_header_bytes.as_ref(), d.max_header_bytes),
        max_connections: number(p.max_connections.as_ref(), d.max_connections),
        max_connections_per_client: number(
            p.max_connections_per_client.as_ref(),
            d.max_connections_per_client,
        ),
        pool_idle_per_host: number(p.pool_idle_per_host.as_ref(), d.pool_idle_per_host),
        pool_idle_timeout: seconds(p.pool_idle_timeout_seconds.as_ref(), d.pool_idle_timeout),
        allowed_private_destinations: private_destinations(
            src,
            p.allowed_private_destinations
                .as_deref()
                .unwrap_or_default(),
        ),
    };

    let mut hosts = StaticHosts::default();
    for h in &raw.static_hosts {
        let Some(name) = &h.name else { continue };
        let normalised = match normalize_host(&name.value) {
            Ok(Host::Name(n)) => n,
            _ => {
                src.error(
                    name.offset,
                    &name.field,
                    format!("`{}` is not a host name", name.value),
                    None,
                );
                continue;
            }
        };
        if hosts.get(&normalised).is_some() {
            src.error(
                name.offset,
                &name.field,
                format!("`{normalised}` is listed twice"),
                None,
            );
            continue;
        }
        if h.addresses.is_empty() {
            src.error(
                name.offset,
                &name.field.replace(".name", ".addresses"),
                "needs at least one address",
                Some("write e.g. addresses = [\"127.0.0.1\"]"),
            );
            continue;
        }
        let mut addresses = Vec::new();
        for a in &h.addresses {
            match a.value.parse::<IpAddr>() {
                Ok(ip) => addresses.push(ip),
                Err(_) => src.error(
                    a.offset,
                    &a.field,
                    format!("`{}` is not an IP address", a.value),
                    None,
                ),
            }
        }
        hosts.insert(normalised, addresses);
    }
    (settings, hosts)
}

/// `allowed_private_destinations`: address blocks inside the private and shared ranges, or —
/// for a lab or the side-by-side benchmarks, whose origin is on this machine — inside loopback
/// (`validate` warns about those). Link-local, unspecified and public addresses are not the
/// school's to open, and Lychgate's own listeners stay refused whatever is listed.
fn private_destinations(src: &mut Source<'_>, values: &[Located<String>]) -> Vec<Cidr> {
    let ranges = private_ranges();
    let loopback: [Cidr; 2] = ["127.0.0.0/8", "::1/128"]
        .map(|r| r.parse().unwrap_or_else(|_| unreachable!("valid CIDR {r}")));
    let mut out = Vec::new();
    for v in values {
        let cidr: Cidr = match v.value.parse() {
            Ok(c) => c,
            Err(e) => {
                src.error(v.offset, &v.field, e.to_string(), None);
                continue;
            }
        };
        let inside = ranges
            .iter()
            .chain(loopback.iter())
            .any(|r| r.contains(cidr.addr()) && cidr.prefix() >= r.prefix());
        if inside {
            out.push(cidr);
        } else {
            src.error(
                v.offset,
                &v.field,
                format!("`{}` is not inside a private or shared range", v.value),
                Some(
                    "only blocks inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 \
                     or fc00::/7 (or, for a lab, loopback) can be opened; link-local, public and \
                     the gateway's own addresses never can",
                ),
            );
        }
    }
    out
}

/// An address a listener may use, for the optional listeners.
pub fn optional_socket(
    src: &mut Source<'_>,
    value: Option<&Located<String>>,
) -> Option<SocketAddr> {
    let v = value?;
    match v.value.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            src.error(
                v.offset,
                &v.field,
                format!("`{}` is not an address and port", v.value),
                Some("write e.g. `127.0.0.1:3129` or `[::1]:3129`"),
            );
            None
        }
    }
}
