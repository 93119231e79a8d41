//! Reaching origins: name resolution (static overrides first, then the system resolver — no
//! traffic leaves the machine unless a client asked), the destination policy applied to every
//! address resolved, the shared keep-alive pool whose connector dials exactly the checked
//! addresses, and the classification of upstream failures into what the 502/504 page and the
//! metrics say.

use super::destination::{DestinationPolicy, DestinationRefusal, Trust, canonical};
use crate::config::StaticHosts;
use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// Why an origin could not be reached, as the client, logs and metrics are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The name does not resolve.
    Dns,
    /// The origin refused the connection.
    Refused,
    /// Connecting or waiting for the response took too long.
    Timeout,
    /// The destination policy refuses the address (Lychgate itself, loopback, the school's
    /// private network ...): never dialled.
    Destination(DestinationRefusal),
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
            UpstreamFailure::Destination(_) => "destination",
            UpstreamFailure::Other => "other",
        }
    }

    /// Every label of `lychgate_upstream_errors_total`, for pre-registering metrics (a refused
    /// destination is counted in `lychgate_destination_refused_total` instead).
    pub const ALL: [UpstreamFailure; 4] = [
        UpstreamFailure::Dns,
        UpstreamFailure::Refused,
        UpstreamFailure::Timeout,
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
            if let Some(c) = err.downcast_ref::<ConnectError>() {
                return c.failure();
            }
            if let Some(r) = err.downcast_ref::<ResolveError>() {
                return r.failure();
            }
            if let Some(io) = err.downcast_ref::<io::Error>() {
                return Self::from_io(io);
            }
            cur = err.source();
        }
        UpstreamFailure::Other
    }
}

/// A name could not be turned into addresses the proxy may dial.
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
    /// The name resolves to an address the destination policy refuses.
    #[error("`{name}` resolves to {addr}, {}", reason.describe())]
    Refused {
        /// The name.
        name: String,
        /// The first refused address.
        addr: SocketAddr,
        /// Why.
        reason: DestinationRefusal,
    },
}

impl ResolveError {
    /// What the client and the metrics are told.
    pub fn failure(&self) -> UpstreamFailure {
        match self {
            ResolveError::Refused { reason, .. } => UpstreamFailure::Destination(*reason),
            ResolveError::Lookup { .. } | ResolveError::NoAddresses { .. } => UpstreamFailure::Dns,
        }
    }
}

/// Connecting to an origin failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No checked address to dial.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// Every address failed; the last error.
    #[error("cannot connect to {addr}: {source}")]
    Io {
        /// The last address tried.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Connecting took longer than `connect_timeout_seconds`.
    #[error("connecting to {addr} timed out")]
    Timeout {
        /// The last address tried.
        addr: SocketAddr,
    },
    /// The URI has no host (hyper hands the connector only absolute URIs).
    #[error("the address has no host")]
    NoHost,
}

impl ConnectError {
    /// What the client and the metrics are told.
    pub fn failure(&self) -> UpstreamFailure {
        match self {
            ConnectError::Resolve(r) => r.failure(),
            ConnectError::Io { source, .. } => UpstreamFailure::from_io(source),
            ConnectError::Timeout { .. } => UpstreamFailure::Timeout,
            ConnectError::NoHost => UpstreamFailure::Other,
        }
    }
}

/// Resolves names — `[[static_host]]` first, then the system resolver (getaddrinfo, which
/// reads `/etc/hosts` and `/etc/resolv.conf`) — and checks every address against the
/// destination policy. The only way the proxy turns a name into addresses to dial.
#[derive(Debug, Clone)]
pub struct Resolver {
    static_hosts: Arc<StaticHosts>,
    policy: Arc<DestinationPolicy>,
}

impl Resolver {
    /// A resolver with these overrides, checking addresses against `policy`.
    pub fn new(static_hosts: Arc<StaticHosts>, policy: DestinationPolicy) -> Self {
        Resolver {
            static_hosts,
            policy: Arc::new(policy),
        }
    }

    /// The addresses of `name` (a normalised host name or an IP literal) on `port`, each one
    /// allowed by the destination policy; any refused address refuses the name (as the DNS
    /// server's rebinding check refuses the whole answer).
    pub async fn resolve(&self, name: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let (addrs, trust) = self.lookup(name, port).await?;
        self.check_all(name, &addrs, trust)?;
        Ok(addrs)
    }

    /// The addresses of `name` on `port`, not checked: only for comparing with a transparent
    /// connection's original destination, which is then checked with [`Self::check_address`].
    pub async fn addresses(&self, name: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        Ok(self.lookup(name, port).await?.0)
    }

    /// Checks one address the proxy was told to connect to (a transparent connection's
    /// original destination, which `name` resolves to): trusted when `name` is a
    /// `[[static_host]]` that lists it.
    pub fn check_address(&self, name: &str, dst: SocketAddr) -> Result<(), ResolveError> {
        let ip = canonical(dst.ip());
        let listed = self
            .static_hosts
            .get(name)
            .is_some_and(|ips| ips.iter().any(|a| canonical(*a) == ip));
        let trust = if listed {
            Trust::StaticHost
        } else {
            Trust::Untrusted
        };
        self.check_all(name, &[dst], trust)
    }

    fn check_all(
        &self,
        name: &str,
        addrs: &[SocketAddr],
        trust: Trust,
    ) -> Result<(), ResolveError> {
        for addr in addrs {
            if let Err(reason) = self.policy.check(*addr, trust) {
                return Err(ResolveError::Refused {
                    name: name.to_string(),
                    addr: *addr,
                    reason,
                });
            }
        }
        Ok(())
    }

    /// The addresses of a name on `port`: an IP literal as itself, then `[[static_host]]`,
    /// then the system resolver; with how far they are trusted (only a static host's own
    /// addresses are: an IP literal is whatever the client wrote).
    async fn lookup(
        &self,
        name: &str,
        port: u16,
    ) -> Result<(Vec<SocketAddr>, Trust), ResolveError> {
        let (addrs, trust): (Vec<SocketAddr>, Trust) =
            if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
                (vec![SocketAddr::new(ip, port)], Trust::Untrusted)
            } else if let Some(ips) = self.static_hosts.get(name) {
                (
                    ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
                    Trust::StaticHost,
                )
            } else {
                let found = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|source| ResolveError::Lookup {
                        name: name.to_string(),
                        source,
                    })?
                    .collect();
                (found, Trust::Untrusted)
            };
        if addrs.is_empty() {
            return Err(ResolveError::NoAddresses {
                name: name.to_string(),
            });
        }
        Ok((addrs, trust))
    }
}

/// Connects to the first of `addrs` that answers, each within `timeout`. The addresses must
/// come from [`Resolver::resolve`] (or [`Resolver::check_address`]): nothing else is dialled.
pub async fn connect_checked(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let mut last = ConnectError::NoHost;
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(60));
                let _ = socket2::SockRef::from(&s).set_tcp_keepalive(&keepalive);
                return Ok(s);
            }
            Ok(Err(source)) => {
                last = ConnectError::Io {
                    addr: *addr,
                    source,
                }
            }
            Err(_) => last = ConnectError::Timeout { addr: *addr },
        }
    }
    Err(last)
}

/// The pools' connector: dials exactly the addresses the [`Resolver`] checked — so the address
/// checked is the address connected to.
#[derive(Debug, Clone)]
pub struct CheckedConnector {
    resolver: Resolver,
    connect_timeout: Duration,
    checks: Checks,
}

/// Where a connector's addresses are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Here: the URI's host is resolved and checked.
    Here,
    /// By the caller, who put the checked address in the URI as an IP literal (a transparent
    /// connection's original destination, checked with [`Resolver::check_address`] for the
    /// name the client asked for). Anything but a literal is refused.
    ByCaller,
}

impl tower_service::Service<Uri> for CheckedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let host = uri.host().ok_or(ConnectError::NoHost)?;
            let port = uri.port_u16().unwrap_or(80);
            let addrs = match this.checks {
                Checks::Here => this.resolver.resolve(host, port).await?,
                Checks::ByCaller => match host.trim_matches(['[', ']']).parse::<IpAddr>() {
                    Ok(ip) => vec![SocketAddr::new(ip, port)],
                    Err(_) => return Err(ConnectError::NoHost),
                },
            };
            let stream = connect_checked(&addrs, this.connect_timeout).await?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// The shared upstream pool for forwarded HTTP requests.
pub type UpstreamClient = Client<CheckedConnector, super::body::UpstreamBody>;

/// The two pools: one resolving and checking each origin's name itself, one for addresses the
/// caller checked (transparent connections' original destinations).
#[derive(Debug, Clone)]
pub struct UpstreamPools {
    /// Resolves and checks the URI's host.
    pub by_name: UpstreamClient,
    /// Dials the IP literal in the URI, already checked by the caller.
    pub checked_address: UpstreamClient,
}

/// Builds the pooled clients.
pub fn pools(
    resolver: Resolver,
    connect_timeout: Duration,
    idle_per_host: usize,
    idle_timeout: Duration,
) -> UpstreamPools {
    let build = |checks| {
        client(
            CheckedConnector {
                resolver: resolver.clone(),
                connect_timeout,
                checks,
            },
            idle_per_host,
            idle_timeout,
        )
    };
    UpstreamPools {
        by_name: build(Checks::Here),
        checked_address: build(Checks::ByCaller),
    }
}

fn client(
    connector: CheckedConnector,
    idle_per_host: usize,
    idle_timeout: Duration,
) -> UpstreamClient {
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(idle_per_host)
        .pool_idle_timeout(idle_timeout)
        .set_host(false)
        .build(connector)
}
