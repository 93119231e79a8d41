//! Reaching origins: name resolution (static overrides first, then the system resolver — no
//! traffic leaves the machine unless a client asked), the shared keep-alive pool, and the
//! classification of upstream failures into what the 502/504 page and the metrics say.

use crate::config::StaticHosts;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Why an origin could not be reached, as the client, logs and metrics are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The name does not resolve.
    Dns,
    /// The origin refused the connection.
    Refused,
    /// Connecting or waiting for the response took too long.
    Timeout,
    /// The name points back at Lychgate itself.
    Loop,
    /// Anything else (reset, malformed response ...).
    Other,
}

impl UpstreamFailure {
    /// Label for metrics and logs.
    pub const fn name(self) -> &'static str {
        match self {
            UpstreamFailure::Dns => "dns",
            UpstreamFailure::Refused => "refused",
            UpstreamFailure::Timeout => "timeout",
            UpstreamFailure::Loop => "loop",
            UpstreamFailure::Other => "other",
        }
    }

    /// Every label, for pre-registering metrics.
    pub const ALL: [UpstreamFailure; 5] = [
        UpstreamFailure::Dns,
        UpstreamFailure::Refused,
        UpstreamFailure::Timeout,
        UpstreamFailure::Loop,
        UpstreamFailure::Other,
    ];

    /// Classifies an I/O error from connecting.
    pub fn from_io(e: &io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => UpstreamFailure::Refused,
            io::ErrorKind::TimedOut => UpstreamFailure::Timeout,
            _ => UpstreamFailure::Other,
        }
    }

    /// Classifies an error from the pooled client by walking its sources.
    pub fn classify(e: &(dyn std::error::Error + 'static)) -> Self {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(r) = err.downcast_ref::<ResolveError>() {
                return match r {
                    ResolveError::Loop { .. } => UpstreamFailure::Loop,
                    _ => UpstreamFailure::Dns,
                };
            }
            if let Some(io) = err.downcast_ref::<io::Error>() {
                return Self::from_io(io);
            }
            // HttpConnector reports its own connect timeout as a plain message.
            if err.to_string().contains("timed out") {
                return UpstreamFailure::Timeout;
            }
            cur = err.source();
        }
        UpstreamFailure::Other
    }
}

/// A name could not be turned into addresses.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The resolver had no answer.
    #[error("cannot resolve `{name}`: {source}")]
    Lookup {
        /// The name.
        name: String,
        /// Why.
        source: io::Error,
    },
    /// The resolver answered nothing.
    #[error("`{name}` has no addresses")]
    NoAddresses {
        /// The name.
        name: String,
    },
    /// The name resolves to one of Lychgate's own listening sockets.
    #[error("`{name}` points at Lychgate itself ({addr})")]
    Loop {
        /// The name.
        name: String,
        /// The address.
        addr: SocketAddr,
    },
}

/// Lychgate's own listening sockets, so that a request cannot be sent back into Lychgate.
#[derive(Debug, Clone, Default)]
pub struct OwnSockets(Arc<std::sync::RwLock<Vec<SocketAddr>>>);

impl OwnSockets {
    /// Records a bound listener.
    pub fn add(&self, addr: SocketAddr) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).push(addr);
    }

    /// Whether a port is one of Lychgate's listening ports (so a name on it needs the loop check).
    pub fn has_port(&self, port: u16) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|l| l.port() == port)
    }

    /// Whether a destination is one of Lychgate's listeners (a wildcard listener matches any
    /// loopback or unspecified address on its port).
    pub fn contains(&self, dst: SocketAddr) -> bool {
        let own = self.0.read().unwrap_or_else(|e| e.into_inner());
        own.iter().any(|l| {
            l.port() == dst.port()
                && (l.ip() == dst.ip()
                    || (l.ip().is_unspecified()
                        && (dst.ip().is_loopback() || dst.ip().is_unspecified())))
        })
    }
}

/// Resolves names: `[[static_host]]` first, then the system resolver (getaddrinfo, which
/// reads `/etc/hosts` and `/etc/resolv.conf`).
#[derive(Debug, Clone)]
pub struct Resolver {
    static_hosts: Arc<StaticHosts>,
    own: OwnSockets,
}

impl Resolver {
    /// A resolver with these overrides, refusing Lychgate's own sockets.
    pub fn new(static_hosts: Arc<StaticHosts>, own: OwnSockets) -> Self {
        Resolver { static_hosts, own }
    }

    /// The addresses of `name` (a normalised host name or an IP literal) on `port`.
    pub async fn resolve(&self, name: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let mut addrs = self.lookup(name).await?;
        for a in &mut addrs {
            a.set_port(port);
        }
        if let Some(addr) = addrs.iter().find(|a| self.own.contains(**a)) {
            return Err(ResolveError::Loop {
                name: name.to_string(),
                addr: *addr,
            });
        }
        Ok(addrs)
    }

    /// The addresses of a name (port 0): an IP literal as itself, then `[[static_host]]`, then
    /// the system resolver.
    async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let addrs: Vec<SocketAddr> = if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>()
        {
            vec![SocketAddr::new(ip, 0)]
        } else if let Some(ips) = self.static_hosts.get(name) {
            ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect()
        } else {
            tokio::net::lookup_host((name, 0))
                .await
                .map_err(|source| ResolveError::Lookup {
                    name: name.to_string(),
                    source,
                })?
                .collect()
        };
        if addrs.is_empty() {
            return Err(ResolveError::NoAddresses {
                name: name.to_string(),
            });
        }
        Ok(addrs)
    }

    /// Whether a port is one of Lychgate's listening ports.
    pub fn port_is_own(&self, port: u16) -> bool {
        self.own.has_port(port)
    }
}

/// hyper-util's connector asks for names without ports; the port is set by the connector.
impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = ResolveError;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = self.clone();
        Box::pin(async move {
            // Port 0 here: HttpConnector replaces it with the URI's port. The loop check
            // therefore runs again, with the real port, in the request handler.
            let addrs = resolver.lookup(name.as_str()).await?;
            Ok(addrs.into_iter())
        })
    }
}

/// The shared upstream pool for forwarded HTTP requests.
pub type UpstreamClient = Client<HttpConnector<Resolver>, super::body::UpstreamBody>;

/// Builds the pooled client.
pub fn client(
    resolver: Resolver,
    connect_timeout: Duration,
    idle_per_host: usize,
    idle_timeout: Duration,
) -> UpstreamClient {
    let mut connector = HttpConnector::new_with_resolver(resolver);
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    connector.enforce_http(true);
    connector.set_keepalive(Some(Duration::from_secs(60)));
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(idle_per_host)
        .pool_idle_timeout(idle_timeout)
        .set_host(false)
        .build(connector)
}
