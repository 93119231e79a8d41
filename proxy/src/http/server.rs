//! The listeners: accept, refuse clients from outside the school's networks (no open proxy),
//! apply connection limits, and hand each connection to hyper (explicit and port-80) or to the
//! TLS tunnel (port 443). Each connection runs in its own task, so a panic in one is contained
//! by tokio and never takes the daemon down; shutdown lets in-flight requests finish.

use super::body::{Committed, OnBodyEnd};
use super::framing_guard::GuardedIo;
use super::service::{self, Connection, Mode};
use super::state::ProxyState;
use super::tunnel;
use crate::gate::limits::ConnectionSlot;
use crate::gate::{Outcome, RequestContext, TrafficKind};
use crate::log::{Flag, RefusedReason};
use crate::metrics::ReasonLabel;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

/// Which listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// The explicit proxy port.
    Explicit,
    /// Transparent port 80.
    TransparentHttp,
    /// Transparent port 443.
    TransparentTls,
}

/// Accepts connections until shutdown; connection tasks are tracked by `tracker`.
pub async fn serve(
    state: Arc<ProxyState>,
    listener: TcpListener,
    kind: ListenerKind,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = state.gate.shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let client = peer.ip();
        let Some(network) = state.gate.snapshot().config.network_of(client) else {
            refused(&state, "not_in_network");
            tracker.spawn(refuse_outsider(Arc::clone(&state), stream, peer, kind));
            continue;
        };
        let guard = match state.limits.admit(client, Some(network)) {
            Ok(g) => g,
            Err(r) => {
                refused(&state, r.label());
                drop(stream);
                continue;
            }
        };
        let slot = Arc::new(ConnectionSlot::new(
            guard,
            state.gate.metrics.connections_active.clone(),
        ));
        let state = Arc::clone(&state);
        tracker.spawn(async move {
            let _ = stream.set_nodelay(true);
            match kind {
                ListenerKind::Explicit => {
                    serve_http(&state, stream, peer, Mode::Explicit, slot).await;
                }
                ListenerKind::TransparentHttp => {
                    let original_dst = original_destination(&stream);
                    let mode = Mode::Transparent { original_dst };
                    serve_http(&state, stream, peer, mode, slot).await;
                }
                ListenerKind::TransparentTls => {
                    let original_dst = original_destination(&stream);
                    tunnel::transparent_tls(Arc::clone(&state), stream, peer, original_dst).await;
                    drop(slot);
                }
            }
        });
    }
}

fn refused(state: &ProxyState, reason: &'static str) {
    state
        .gate
        .metrics
        .refused
        .get_or_create(&ReasonLabel { reason })
        .inc();
}

/// Where a redirected connection was going, or `None` when it came to the listener directly.
fn original_destination(stream: &TcpStream) -> Option<SocketAddr> {
    let dst = crate::tls::original_dst::original_destination(stream).ok()?;
    // Not redirected: the kernel reports the listener's own address.
    match stream.local_addr() {
        Ok(local) if local == dst => None,
        _ => Some(dst),
    }
}

async fn serve_http(
    state: &Arc<ProxyState>,
    stream: TcpStream,
    peer: SocketAddr,
    mode: Mode,
    slot: Arc<ConnectionSlot>,
) {
    // The connection's own settings (header limits and timeout) come from the snapshot current
    // when it was accepted; each request on it takes the snapshot current when it arrives.
    let snapshot = state.gate.snapshot();
    let config = &snapshot.config;
    let conn = Connection { client: peer, mode };
    let (io, alarm) = GuardedIo::new(stream);
    let sent = io.sent_since_read();
    let io = TokioIo::new(io);
    let svc_state = Arc::clone(state);
    let svc = service_fn(move |req| {
        // A panic while handling a request becomes a 500 for that request only; a request
        // abandoned mid-way (the client left) is still logged by its armed context.
        let state = Arc::clone(&svc_state);
        let task = CatchPanic::new(service::handle(
            Arc::clone(&state),
            conn,
            alarm.clone(),
            Arc::clone(&slot),
            req,
        ));
        async move {
            match task.await {
                Ok(response) => response,
                Err(panic) => Ok(internal_error(&state, peer, &panic_message(&*panic)).await),
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.proxy.header_timeout)
        // The buffer cap alone lets a head that completes in the read crossing it through (up
        // to about twice the limit); max_header_size holds the parsed head — request line,
        // headers and the blank line — to exactly max_header_bytes. The number of header
        // fields is capped at hyper's default, 100 (more: 431 too; setting it would move the
        // parser's header table to the heap for every request).
        .max_buf_size(config.proxy.max_header_bytes.max(8192))
        .max_header_size(config.proxy.max_header_bytes)
        .keep_alive(true);
    let connection = builder.serve_connection(io, svc).with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        r = connection.as_mut() => r,
        () = state.gate.shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(e) = result {
        bad_connection(state, peer, &e, sent.load(Ordering::Relaxed));
    }
}

/// A request whose handler panicked: logged as an error, answered 500, the daemon carries on.
async fn internal_error(
    state: &Arc<ProxyState>,
    peer: SocketAddr,
    e: &str,
) -> service::ProxyResponse {
    tracing::error!(client = %peer.ip(), error = %e, "a request handler failed; answered 500");
    let mut ctx = state.gate.begin(TrafficKind::Http, peer.ip());
    ctx.outcome = Outcome::Error;
    ctx.rule = Some("internal error in Lychgate".to_string());
    let page = service::error_page(
        state,
        &ctx,
        &crate::pages::ErrorKind::BadRequest {
            reason: "Lychgate could not handle this request",
        },
    );
    let page = crate::pages::Page {
        status: http::StatusCode::INTERNAL_SERVER_ERROR,
        ..page
    };
    service::page_response(state, ctx, page).await
}

/// A connection hyper gave up on: a head too large or too slow, or not HTTP. hyper answers some
/// of these itself (431, 408, 400: `sent` bytes since the client's last bytes); the count and
/// the summary line are Lychgate's — refused before anything was served, so summarised like
/// other refused traffic rather than a line each.
fn bad_connection(state: &Arc<ProxyState>, peer: SocketAddr, e: &hyper::Error, sent: u64) {
    let (reason, summary) = if e.is_timeout() {
        ("header_timeout", RefusedReason::HeaderTimeout)
    } else if e.is_parse_too_large() {
        ("header_too_large", RefusedReason::HeaderTooLarge)
    } else if e.is_parse() {
        ("unparseable", RefusedReason::Unparseable)
    } else if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return;
    } else {
        tracing::debug!(error = %e, "client connection ended with an error");
        return;
    };
    state
        .gate
        .metrics
        .bad_requests
        .get_or_create(&ReasonLabel { reason })
        .inc();
    let mut ctx = state.gate.begin(TrafficKind::Http, peer.ip());
    // Only clients in a network get here: they have a group by address.
    ctx.identify_by_address();
    ctx.outcome = Outcome::Error;
    ctx.status = 400;
    ctx.bytes_out = sent;
    ctx.rule = Some(format!("bad request: {e}"));
    state.gate.summarise(ctx, summary);
}

/// Clients outside the configured networks: a 403 page on the HTTP listeners (so a technician
/// testing from the wrong VLAN sees why), a closed connection on the TLS one; counted either
/// way, and summarised per client rather than a line each (a flood must not fill the log disk).
async fn refuse_outsider(
    state: Arc<ProxyState>,
    stream: TcpStream,
    peer: SocketAddr,
    kind: ListenerKind,
) {
    if kind == ListenerKind::TransparentTls {
        let mut ctx = state.gate.begin(TrafficKind::Tls, peer.ip());
        ctx.outcome = Outcome::Block;
        ctx.flag(Flag::NotInNetwork);
        ctx.rule = Some("client is not in a configured network".to_string());
        drop(stream);
        state.gate.summarise(ctx, RefusedReason::NotInNetwork);
        return;
    }
    let svc_state = Arc::clone(&state);
    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let state = Arc::clone(&svc_state);
        async move {
            let mut ctx = state.gate.begin(TrafficKind::Http, peer.ip());
            ctx.method = req.method().as_str().to_string();
            ctx.host = req.uri().host().unwrap_or_default().to_string();
            ctx.port = req.uri().port_u16().unwrap_or(0);
            if req.method() == http::Method::CONNECT {
                ctx.kind = TrafficKind::Connect;
                ctx.scheme = "https";
            }
            ctx.outcome = Outcome::Block;
            ctx.flag(Flag::NotInNetwork);
            ctx.rule = Some("client is not in a configured network".to_string());
            let page = service::status_page(&state, &ctx, http::StatusCode::FORBIDDEN);
            ctx.status = page.status.as_u16();
            let reference = ctx.reference.clone();
            let done = Box::new(SummariseOnEnd { state, ctx });
            Ok::<_, std::convert::Infallible>(service::page_with(&reference, page, done))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(5))
        .keep_alive(false);
    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
}

/// An outsider's 403 page: once it has gone out, the request is counted in the summary.
struct SummariseOnEnd {
    state: Arc<ProxyState>,
    ctx: RequestContext,
}

impl OnBodyEnd for SummariseOnEnd {
    /// Nothing to wait for: an outsider's refusal is counted into a summary line, not written
    /// as a line of its own (docs/logging.md).
    fn finish(self: Box<Self>, bytes: u64, complete: bool) -> Option<Committed> {
        let SummariseOnEnd { state, mut ctx } = *self;
        ctx.bytes_out = bytes;
        if !complete {
            ctx.flag(Flag::ClientClosed);
        }
        state.gate.summarise(ctx, RefusedReason::NotInNetwork);
        None
    }
}

/// A future that turns a panic while polling it into an error, so one request's bug cannot take
/// down its connection's other requests (or, with `panic = "abort"`, the daemon — the release
/// profile keeps unwinding for this reason).
struct CatchPanic<F: Future> {
    inner: Pin<Box<F>>,
}

impl<F: Future> CatchPanic<F> {
    fn new(inner: F) -> Self {
        CatchPanic {
            inner: Box::pin(inner),
        }
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.get_mut().inner.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}
