//! Tunnels: CONNECT through the explicit proxy and transparent port-443 connections. Both read
//! the client's TLS ClientHello before any byte reaches the origin, so the server name (SNI) is
//! decided on — a CONNECT to an allowed name whose SNI names a blocked host (domain fronting)
//! is refused — and then splice bytes both ways without terminating TLS.

use super::body::{Counted, ResponseBody};
use super::service::{self, Connection, NoRecord, ProxyResponse};
use super::state::ProxyState;
use super::upstream::{UpstreamFailure, connect_checked};
use crate::gate::limits::ConnectionSlot;
use crate::gate::{Outcome, RequestContext, TrafficKind};
use crate::log::Flag;
use crate::safe_search;
use crate::tls::alert::{AlertDescription, alert_record};
use crate::tls::{HelloError, read_client_hello};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use lychgate_classifier::host::{Host, normalize_host};
use lychgate_classifier::policy::{
    Action, Decision, GroupId, Request as PolicyRequest, RequestKind,
};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the first bytes of a tunnel were.
enum FirstBytes {
    /// A ClientHello, with its server name if any.
    Tls(Option<String>),
    /// Something else.
    NotTls,
    /// Broken, too large or too slow.
    Unreadable(&'static str),
}

/// Reads until the ClientHello is complete (or clearly is not one), within the time allowed.
async fn read_hello<S: AsyncRead + Unpin>(
    state: &ProxyState,
    stream: &mut S,
    buf: &mut Vec<u8>,
    timeout: std::time::Duration,
) -> FirstBytes {
    match tokio::time::timeout(timeout, read_client_hello(stream, buf)).await {
        Ok(result) => {
            state.tls_metrics.record(&result);
            match result {
                Ok(info) => FirstBytes::Tls(info.sni),
                Err(HelloError::NotTls) => FirstBytes::NotTls,
                Err(HelloError::Malformed(_)) => FirstBytes::Unreadable("malformed ClientHello"),
                Err(HelloError::Closed(0)) => {
                    FirstBytes::Unreadable("client closed before sending anything")
                }
                Err(HelloError::Closed(_)) => {
                    FirstBytes::Unreadable("client closed mid-ClientHello")
                }
                Err(HelloError::Io(_)) => FirstBytes::Unreadable("error reading the ClientHello"),
            }
        }
        Err(_) => {
            state.tls_metrics.record_timeout();
            FirstBytes::Unreadable("no ClientHello in time")
        }
    }
}

/// Normalises a host name from a CONNECT authority or SNI.
fn normalised_host(host: &str) -> Option<String> {
    match normalize_host(host.trim_matches(['[', ']'])) {
        Ok(Host::Name(n)) => Some(n),
        Ok(Host::Ip(ip)) => Some(ip.to_string()),
        Err(_) => None,
    }
}

fn decide_host(
    state: &ProxyState,
    ctx: &mut RequestContext,
    group: GroupId,
    host: &str,
) -> Decision {
    let request = PolicyRequest {
        host,
        ip: host.parse().ok(),
        path: "/",
        query: None,
        kind: RequestKind::HostOnly,
    };
    state.gate.decide(ctx, group, &request)
}

/// `CONNECT host:port`: decided on the authority, answered 200, then decided again on the SNI.
pub async fn connect(
    state: Arc<ProxyState>,
    conn: Connection,
    mut ctx: RequestContext,
    slot: Arc<ConnectionSlot>,
    req: Request<Incoming>,
) -> ProxyResponse {
    ctx.kind = TrafficKind::Connect;
    ctx.scheme = "https";
    let Some(authority) = req.uri().authority().cloned() else {
        return service::bad_request(&state, ctx, "CONNECT needs host:port").await;
    };
    let port = match service::plain_port(&authority) {
        Ok(Some(port)) => port,
        Ok(None) => return service::bad_request(&state, ctx, "CONNECT needs host:port").await,
        Err(reason) => return service::bad_request(&state, ctx, reason).await,
    };
    let Some(host) = normalised_host(authority.host()) else {
        return service::bad_request(&state, ctx, "CONNECT names no valid host").await;
    };
    ctx.host.clone_from(&host);
    ctx.port = port;
    ctx.authority = Some(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    });
    let (auth, sign_in) = conn.sign_in(req.headers());
    let identity = match state.gate.identify(&ctx, auth.as_deref(), sign_in).await {
        Ok(i) => i,
        Err(e) => return service::identify_failed(&state, ctx, e).await,
    };
    let group = identity.group;
    ctx.set_identity(identity);

    let snapshot = Arc::clone(ctx.snapshot());
    let config = &snapshot.config;
    if !config.proxy.connect_ports.contains(&port) {
        ctx.outcome = Outcome::Block;
        ctx.rule = Some(format!("port {port} is not an allowed CONNECT port"));
        ctx.flag(Flag::PortNotAllowed);
        state.gate.metrics.count_tunnel("port_refused");
        let url = service::shown_url("https", &host, port, "/");
        let page = service::block_page(&state, &ctx, group, &url, None);
        return service::page_response(&state, ctx, page).await;
    }
    let decision = decide_host(&state, &mut ctx, group, &host);
    let decision_category = decision.category;
    if decision.action == Action::Block {
        state.gate.metrics.count_tunnel("blocked");
        // Browsers do not show a proxy's body for a refused CONNECT; curl and logs do.
        let url = service::shown_url("https", &host, port, "/");
        let page = service::block_page(&state, &ctx, group, &url, decision_category);
        return service::page_response(&state, ctx, page).await;
    }
    if state.gate.log_blocks(&mut ctx, group) {
        ctx.flag(Flag::FailClosed);
        ctx.outcome = Outcome::Error;
        let page = service::error_page(&state, &ctx, &crate::pages::ErrorKind::LoggingUnavailable);
        return service::page_response(&state, ctx, page).await;
    }

    // The destination is resolved and checked before the 200, so a refused or unknown one gets
    // a page the client can show; the tunnel then dials exactly these addresses (unless the
    // SNI names another host, which is then resolved and checked in its turn).
    let checked = if safe_search::redirect(config.policy.group(group), &host).is_some() {
        None
    } else {
        match state.resolver.resolve(&host, port).await {
            Ok(addrs) => Some(addrs),
            Err(e) => {
                let failure = e.failure();
                if let UpstreamFailure::Destination(_) = failure {
                    state.gate.metrics.count_tunnel("destination_refused");
                }
                return service::upstream_failed(&state, ctx, failure).await;
            }
        }
    };

    let state2 = Arc::clone(&state);
    // The tunnel outlives the HTTP exchange: it keeps the connection's slot (limits, gauge)
    // and is tracked, so shutdown waits for it and its record reaches the log.
    state.gate.tasks.spawn(async move {
        let _slot = slot;
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let client = TokioIo::new(upgraded);
                run_tunnel(state2, ctx, group, client, host, port, None, checked).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "CONNECT upgrade failed");
                ctx.flag(Flag::UpgradeFailed);
                ctx.outcome = Outcome::Error;
                state2.gate.record(ctx).await;
            }
        }
    });
    ctx_free_response()
}

fn ctx_free_response() -> ProxyResponse {
    Response::builder()
        .status(StatusCode::OK)
        .body(Counted::new(ResponseBody::empty(), Box::new(NoRecord)))
        .unwrap_or_else(|_| Response::new(Counted::new(ResponseBody::empty(), Box::new(NoRecord))))
}

/// A transparent port-443 connection: peek the SNI, decide, verify the destination, splice.
pub async fn transparent_tls(
    state: Arc<ProxyState>,
    client: TcpStream,
    peer: SocketAddr,
    original_dst: Option<SocketAddr>,
) {
    let mut ctx = state.gate.begin(TrafficKind::Tls, peer.ip());
    ctx.scheme = "https";
    ctx.port = original_dst.map_or(443, |d| d.port());
    let group = ctx.identify_by_address();
    let host = original_dst.map_or_else(String::new, |d| d.ip().to_string());
    let port = ctx.port;
    run_tunnel(state, ctx, group, client, host, port, original_dst, None).await;
}

/// The shared second half: first bytes, SNI decision, upstream connection, splice, record.
#[allow(clippy::too_many_arguments)]
async fn run_tunnel<S>(
    state: Arc<ProxyState>,
    mut ctx: RequestContext,
    group: GroupId,
    mut client: S,
    mut host: String,
    port: u16,
    original_dst: Option<SocketAddr>,
    mut checked: Option<Vec<SocketAddr>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let snapshot = Arc::clone(ctx.snapshot());
    let config = &snapshot.config;
    let meta = config.groups.get(group.0 as usize).copied();
    let mut first = Vec::with_capacity(2048);
    let first_kind = read_hello(&state, &mut client, &mut first, config.proxy.hello_timeout).await;
    let is_tls = matches!(first_kind, FirstBytes::Tls(_));
    let mut refuse: Option<&'static str> = None;
    match first_kind {
        FirstBytes::Tls(Some(sni)) => {
            if sni != host {
                let authority = std::mem::replace(&mut host, sni.clone());
                // The addresses checked were the authority's; the SNI's are looked up anew.
                checked = None;
                ctx.host.clone_from(&sni);
                if ctx.kind == TrafficKind::Connect {
                    ctx.flag(Flag::SniMismatch);
                    tracing::debug!(connect = %authority, sni = %sni, "CONNECT authority and SNI differ");
                }
                if decide_host(&state, &mut ctx, group, &sni).action == Action::Block {
                    refuse = Some(if ctx.kind == TrafficKind::Connect {
                        "sni_blocked"
                    } else {
                        "blocked"
                    });
                }
            }
        }
        FirstBytes::Tls(None) => {
            ctx.flag(Flag::NoSni);
            if ctx.kind == TrafficKind::Tls {
                // Only the address is known: decide on it (an IP-literal rule), then the
                // group's `no_sni` key.
                let ip_text = host.clone();
                if !ip_text.is_empty()
                    && decide_host(&state, &mut ctx, group, &ip_text).action == Action::Block
                {
                    refuse = Some("blocked");
                }
            }
            if refuse.is_none() && meta.is_some_and(|m| m.no_sni == Action::Block) {
                ctx.rule = Some("TLS without a server name (no_sni = \"block\")".to_string());
                refuse = Some("no_sni");
            }
        }
        FirstBytes::NotTls => {
            ctx.flag(Flag::NotTls);
            if ctx.kind == TrafficKind::Tls
                || meta.is_some_and(|m| m.non_tls_tunnel == Action::Block)
            {
                ctx.rule = Some(
                    "bytes in the tunnel are not TLS (non_tls_tunnel = \"block\")".to_string(),
                );
                refuse = Some("not_tls");
            }
        }
        FirstBytes::Unreadable(why) => {
            ctx.flag(Flag::BadHello);
            ctx.rule = Some(why.to_string());
            refuse = Some("bad_hello");
        }
    }
    if host.is_empty() {
        refuse.get_or_insert("no_destination");
    }
    if refuse.is_none() && state.gate.log_blocks(&mut ctx, group) {
        ctx.flag(Flag::FailClosed);
        refuse = Some("fail_closed");
    }
    if let Some(reason) = refuse {
        if ctx.outcome != Outcome::Error {
            ctx.outcome = Outcome::Block;
        }
        state.gate.metrics.count_tunnel(reason);
        // The refusal is the answer: its line is in the file before the client has it.
        state.gate.record(ctx).await;
        if is_tls {
            let alert = alert_record(AlertDescription::AccessDenied);
            let _ = client.write_all(&alert).await;
        }
        let _ = client.shutdown().await;
        return;
    }
    ctx.outcome = Outcome::Allow;

    // Where to connect.
    let redirected = safe_search::redirect(config.policy.group(group), &host);
    if redirected.is_some() {
        ctx.flag(Flag::SafeSearch);
    }
    // Every address dialled is one the resolver checked against the destination policy.
    let target: Result<Vec<SocketAddr>, UpstreamFailure> = match (original_dst, redirected) {
        (_, Some(safe)) => state
            .resolver
            .resolve(safe, port)
            .await
            .map_err(|e| e.failure()),
        (Some(dst), None) => match state.resolver.addresses(&host, dst.port()).await {
            Ok(addrs)
                if addrs.iter().any(|a| a.ip() == dst.ip()) || host == dst.ip().to_string() =>
            {
                state
                    .resolver
                    .check_address(&host, dst)
                    .map(|()| vec![dst])
                    .map_err(|e| e.failure())
            }
            Ok(_) => {
                // squid's host_verify_strict: the name must resolve to where the client was going.
                ctx.flag(Flag::HostMismatch);
                ctx.outcome = Outcome::Block;
                ctx.rule = Some(format!("`{host}` does not resolve to {}", dst.ip()));
                state.gate.metrics.count_tunnel("host_mismatch");
                state.gate.record(ctx).await;
                let _ = client
                    .write_all(&alert_record(AlertDescription::AccessDenied))
                    .await;
                return;
            }
            Err(e) => Err(e.failure()),
        },
        (None, None) => match checked {
            Some(addrs) => Ok(addrs),
            None => state
                .resolver
                .resolve(&host, port)
                .await
                .map_err(|e| e.failure()),
        },
    };
    let upstream = match target {
        Ok(addrs) => connect_checked(&addrs, config.proxy.connect_timeout)
            .await
            .map_err(|e| e.failure()),
        Err(f) => Err(f),
    };
    let mut upstream = match upstream {
        Ok(s) => s,
        Err(failure) => {
            state.upstream_failed(&mut ctx, failure);
            let alert = if let UpstreamFailure::Destination(reason) = failure {
                state.gate.metrics.count_tunnel("destination_refused");
                ctx.rule = Some(format!(
                    "destination refused ({}): {host}:{port} is {}",
                    reason.label(),
                    reason.describe()
                ));
                AlertDescription::AccessDenied
            } else {
                ctx.rule = Some(format!("cannot reach {host}:{port}: {}", failure.name()));
                AlertDescription::InternalError
            };
            state.gate.record(ctx).await;
            if is_tls {
                let _ = client.write_all(&alert_record(alert)).await;
            }
            return;
        }
    };
    // A CONNECT was answered `200`; a transparent connection never saw an HTTP status.
    if ctx.kind == TrafficKind::Connect {
        ctx.status = 200;
    }
    if upstream.write_all(&first).await.is_err() {
        ctx.outcome = Outcome::Error;
        ctx.flag(Flag::UpstreamError);
        state.gate.record(ctx).await;
        return;
    }
    ctx.bytes_in += first.len() as u64;
    state.gate.metrics.count_tunnel("opened");
    state.gate.metrics.tunnels_active.inc();
    let fail_closed = meta.is_none_or(|m| m.fail_closed);
    let (up, down, end) = splice(
        &state,
        &mut client,
        &mut upstream,
        config.proxy.tunnel_idle_timeout,
        fail_closed,
    )
    .await;
    state.gate.metrics.tunnels_active.dec();
    ctx.bytes_in += up;
    ctx.bytes_out = down;
    if let Some(flag) = end {
        ctx.flag(flag);
    }
    state.gate.record(ctx).await;
}

/// Copies both ways until either side closes, the tunnel idles out, the daemon stops, or —
/// for fail-closed groups — the request log stops being writable.
async fn splice<C, U>(
    state: &ProxyState,
    client: &mut C,
    upstream: &mut U,
    idle: std::time::Duration,
    fail_closed: bool,
) -> (u64, u64, Option<Flag>)
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut ur, mut uw) = tokio::io::split(upstream);
    let mut up = 0u64;
    let mut down = 0u64;
    let mut cbuf = vec![0u8; 64 * 1024];
    let mut ubuf = vec![0u8; 64 * 1024];
    let mut health = state.gate.log.health();
    let mut client_open = true;
    let mut upstream_open = true;
    let end = loop {
        if !client_open && !upstream_open {
            break None;
        }
        tokio::select! {
            r = cr.read(&mut cbuf), if client_open => match r {
                Ok(0) | Err(_) => { client_open = false; let _ = uw.shutdown().await; }
                Ok(n) => { if uw.write_all(&cbuf[..n]).await.is_err() { break None; } up += n as u64; }
            },
            r = ur.read(&mut ubuf), if upstream_open => match r {
                Ok(0) | Err(_) => { upstream_open = false; let _ = cw.shutdown().await; }
                Ok(n) => { if cw.write_all(&ubuf[..n]).await.is_err() { break None; } down += n as u64; }
            },
            () = tokio::time::sleep(idle) => break Some(Flag::IdleTimeout),
            () = state.gate.shutdown.cancelled() => break Some(Flag::Shutdown),
            changed = health.changed(), if fail_closed => {
                if changed.is_err() || !*health.borrow() { break Some(Flag::FailClosed); }
            }
        }
    };
    (up, down, end)
}
