//! `lychgate run` as a library function: bind every listener, start the request log, build the
//! shared state, serve until told to stop, then drain in-flight requests and flush the log.
//! Tests and the CLI call the same [`run`].

use crate::admin::{self, AdminState};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::gate::limits::ConnectionLimits;
use crate::gate::{BuildEnv, Gate, Snapshot};
use crate::http::destination::{self, DestinationPolicy};
use crate::http::server::{self, ListenerKind};
use crate::http::state::ProxyState;
use crate::http::upstream::{self, Resolver};
use crate::identity::IdentityMetrics;
use crate::log::{LogMetrics, RequestLog};
use crate::metrics::ProxyMetrics;
use crate::review::{
    DEFAULT_TICKET_CAPACITY, DEFAULT_TICKET_TTL, ReviewMetrics, ReviewStore, ReviewTickets,
};
use crate::tls::TlsPeekMetrics;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long in-flight requests get to finish at shutdown.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The request log could not be opened: Lychgate does not serve unlogged.
    #[error("request log: {0}")]
    Log(#[from] crate::log::LogError),
    /// The users file or identity settings are unusable.
    #[error("identity: {0}")]
    Identity(String),
    /// The review store could not be opened.
    #[error("review requests: {0}")]
    Reviews(String),
    /// The DNS upstreams could not be set up (DNS-over-TLS certificates).
    #[error("DNS upstreams: {0}")]
    DnsUpstream(String),
}

/// The addresses actually bound (port 0 in config becomes a real port here).
#[derive(Debug, Clone)]
pub struct Bound {
    /// Explicit proxy.
    pub proxy: SocketAddr,
    /// Admin API.
    pub admin: SocketAddr,
    /// Transparent port-80 listener.
    pub transparent_http: Option<SocketAddr>,
    /// Transparent port-443 listener.
    pub transparent_https: Option<SocketAddr>,
    /// DNS server addresses (UDP and TCP on each).
    pub dns: Vec<SocketAddr>,
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, DaemonError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Bind { what, addr, source })
}

fn local(l: &TcpListener, fallback: SocketAddr) -> SocketAddr {
    l.local_addr().unwrap_or(fallback)
}

/// Where allowed DNS questions go: the configured upstreams, else the system's resolvers
/// without any that are Lychgate's own DNS addresses (a gateway whose resolv.conf names itself).
pub(crate) fn dns_upstreams(
    settings: &crate::config::DnsSettings,
    own: &[SocketAddr],
) -> Result<crate::dns::upstream::Upstreams, DaemonError> {
    use crate::config::UpstreamSpec;
    let specs: Vec<UpstreamSpec> = match &settings.upstreams {
        Some(list) => list.clone(),
        None => {
            // Read like every other file Lychgate is pointed at: a regular file, bounded.
            let resolv_conf = std::path::Path::new("/etc/resolv.conf");
            let text = lychgate_classifier::files::read_regular_text(resolv_conf, 1024 * 1024)
                .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read /etc/resolv.conf: DNS questions that need an upstream will get SERVFAIL until [dns] upstreams is set");
                String::new()
            });
            let (usable, own_listeners) = crate::dns::resolv_conf::upstreams_from(&text, own);
            for a in own_listeners {
                tracing::warn!(nameserver = %a, "/etc/resolv.conf names Lychgate's own DNS address; it is not used as an upstream (that would be a loop)");
            }
            if usable.is_empty() {
                tracing::warn!(
                    "no usable nameserver in /etc/resolv.conf: set [dns] upstreams, or allowed DNS questions get SERVFAIL"
                );
            }
            usable.into_iter().map(UpstreamSpec::Plain).collect()
        }
    };
    crate::dns::upstream::Upstreams::new(
        &specs,
        settings.upstream_timeout,
        settings.upstream_ca_file.as_deref(),
    )
    .map_err(DaemonError::DnsUpstream)
}

/// Serves until `shutdown` is cancelled. `on_ready` is called once every listener is bound.
/// Each `hangup` notification (SIGHUP) opens the request log again at its path, for log tools
/// that rotate the file and then signal; nothing else changes until live reload exists.
pub async fn run(
    config: Config,
    clock: SharedClock,
    shutdown: CancellationToken,
    hangup: Arc<Notify>,
    on_ready: impl FnOnce(&Bound),
) -> Result<(), DaemonError> {
    let proxy_listener = bind("proxy", config.listen.proxy).await?;
    let admin_listener = bind("admin", config.listen.admin).await?;
    let http_listener = match config.listen.transparent_http {
        Some(a) => Some(bind("transparent_http", a).await?),
        None => None,
    };
    let tls_listener = match config.listen.transparent_https {
        Some(a) => Some(bind("transparent_https", a).await?),
        None => None,
    };
    let dns_sockets = crate::dns::listen::bind(&config.listen.dns, config.dns.udp_sockets)
        .map_err(|(addr, source)| DaemonError::Bind {
            what: "dns",
            addr,
            source,
        })?;
    let bound = Bound {
        proxy: local(&proxy_listener, config.listen.proxy),
        admin: local(&admin_listener, config.listen.admin),
        transparent_http: http_listener
            .as_ref()
            .map(|l| local(l, config.listen.proxy)),
        transparent_https: tls_listener.as_ref().map(|l| local(l, config.listen.proxy)),
        dns: dns_sockets.addresses(),
    };
    // Every listener (DNS over UDP and TCP included) is Lychgate's own: never a destination.
    let own_listeners: Vec<SocketAddr> = [bound.proxy, bound.admin]
        .into_iter()
        .chain(bound.transparent_http)
        .chain(bound.transparent_https)
        .chain(bound.dns.iter().copied())
        .collect();
    let destinations = DestinationPolicy::new(
        own_listeners,
        destination::interface_addresses(),
        config.proxy.allowed_private_destinations.clone(),
    );

    let mut registry = Registry::default();
    let metrics = Arc::new(ProxyMetrics::default());
    metrics.register(&mut registry);
    // Every refusal reason exported from the start, so a rate of zero is visible before the
    // first.
    for reason in destination::DestinationRefusal::ALL {
        metrics
            .destination_refused
            .get_or_create(&crate::metrics::ReasonLabel {
                reason: reason.label(),
            })
            .inc_by(0);
    }
    let log_metrics = LogMetrics::default();
    log_metrics.register(&mut registry);
    let (log, log_task) = RequestLog::start(config.log.clone(), Arc::clone(&clock), log_metrics)?;

    let identity_metrics = Arc::new(IdentityMetrics::new());
    identity_metrics.register(&mut registry);
    let env = BuildEnv {
        clock: Arc::clone(&clock),
        identity_metrics,
        requests: metrics.requests.clone(),
    };
    let first =
        Snapshot::build(config, None, &env).map_err(|e| DaemonError::Identity(e.to_string()))?;
    let config = &first.config;
    let reviews =
        ReviewStore::open(&config.state_dir).map_err(|e| DaemonError::Reviews(e.to_string()))?;
    let review_metrics = ReviewMetrics::new();
    review_metrics.register(&mut registry);
    let tls_metrics = TlsPeekMetrics::new();
    tls_metrics.register(&mut registry);
    let review_tickets = ReviewTickets::new(
        Arc::clone(&clock),
        DEFAULT_TICKET_TTL,
        DEFAULT_TICKET_CAPACITY,
    );

    let resolver = Resolver::new(Arc::new(config.static_hosts.clone()), destinations);
    let client = upstream::pools(
        resolver.clone(),
        config.proxy.connect_timeout,
        config.proxy.pool_idle_per_host,
        config.proxy.pool_idle_timeout,
    );
    let limits = ConnectionLimits::new(
        config.proxy.max_connections,
        config.proxy.max_connections_per_client,
        config
            .networks
            .iter()
            .map(|n| n.reserved_connections)
            .collect(),
    );
    let dns_metrics = Arc::new(crate::dns::DnsMetrics::new(
        config
            .policy
            .groups()
            .iter()
            .map(|g| g.name.clone())
            .collect(),
    ));
    dns_metrics.register(&mut registry);
    let dns_upstreams = dns_upstreams(&config.dns, &bound.dns)?;
    let summary_interval = config.log.summary_interval;
    let gate = Arc::new(Gate::new(first, log, metrics, clock, shutdown.clone()));
    let state = Arc::new(ProxyState {
        gate: Arc::clone(&gate),
        client,
        resolver,
        transparent_http_port: bound.transparent_http.map(|a| a.port()),
        reviews: Arc::new(reviews),
        pac_proxy: bound.proxy.to_string(),
        review_tickets,
        review_metrics,
        tls_metrics,
        limits,
    });
    let dns = Arc::new(crate::dns::DnsServer::new(
        Arc::clone(&gate),
        dns_upstreams,
        dns_metrics,
    ));
    let admin_state = Arc::new(AdminState {
        registry,
        gate: Arc::clone(&gate),
    });

    let tracker = gate.tasks.clone();
    let listeners = TaskTracker::new();
    listeners.spawn(server::serve(
        Arc::clone(&state),
        proxy_listener,
        ListenerKind::Explicit,
        tracker.clone(),
    ));
    if let Some(l) = http_listener {
        listeners.spawn(server::serve(
            Arc::clone(&state),
            l,
            ListenerKind::TransparentHttp,
            tracker.clone(),
        ));
    }
    if let Some(l) = tls_listener {
        listeners.spawn(server::serve(
            Arc::clone(&state),
            l,
            ListenerKind::TransparentTls,
            tracker.clone(),
        ));
    }
    crate::dns::listen::serve(dns, dns_sockets, &listeners, &tracker, &shutdown);
    listeners.spawn(admin::serve(admin_state, admin_listener, tracker.clone()));
    listeners.spawn(reopen_log_on_hangup(
        Arc::clone(&gate),
        hangup,
        shutdown.clone(),
    ));
    listeners.spawn(write_summaries_every(
        Arc::clone(&gate),
        summary_interval,
        shutdown.clone(),
    ));
    on_ready(&bound);

    shutdown.cancelled().await;
    listeners.close();
    listeners.wait().await;
    tracker.close();
    if tokio::time::timeout(DRAIN_TIME, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after {DRAIN_TIME:?}; closing them");
    }
    // The refusals counted since the last summary, now that nothing more can be refused, then
    // every record queued so far reaches the file before the daemon exits.
    write_summaries(&gate).await;
    drop(state);
    drop(gate);
    if let Err(e) = log_task.shutdown().await {
        tracing::error!(error = %e, "the request log did not close cleanly");
    }
    Ok(())
}

/// Writes the summary lines of refused traffic every `interval` until shutdown (the last ones
/// are written by [`run`] once every listener has stopped, so none is lost or split).
async fn write_summaries_every(gate: Arc<Gate>, interval: Duration, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => write_summaries(&gate).await,
            () = shutdown.cancelled() => return,
        }
    }
}

/// One line per client and reason counted since the last call, through the log's queue
/// (waiting for room like any record), or to stderr once the log has closed.
async fn write_summaries(gate: &Gate) {
    for line in gate.refused.drain() {
        if let Err(closed) = gate.log.write(line).await {
            crate::gate::write_unlogged(&closed.0);
        }
    }
}

/// Opens the request log again at its path on every hangup until shutdown. The writer also
/// notices a moved file by itself; this is for tools that rotate and then send SIGHUP.
async fn reopen_log_on_hangup(gate: Arc<Gate>, hangup: Arc<Notify>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = hangup.notified() => {}
        }
        match gate.log.reopen().await {
            Ok(()) => tracing::info!("SIGHUP: the request log was opened again at its path"),
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: cannot open the request log again at its path")
            }
        }
    }
}
