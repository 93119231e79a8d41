//! The admin listener (loopback by default): Prometheus metrics, health and readiness probes,
//! and the identity-map endpoint that login scripts call to bind a user to an address.

use crate::gate::{Gate, Outcome, TrafficKind};
use crate::log::Flag;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::registry::Registry;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

/// Largest identity request body.
const MAX_IDENTITY_BODY: usize = 4096;

/// What the admin listener serves from.
#[derive(Debug)]
pub struct AdminState {
    /// Every metric.
    pub registry: Registry,
    /// The gate (identities, log health, shutdown).
    pub gate: Arc<Gate>,
}

/// Serves the admin API until shutdown.
pub async fn serve(state: Arc<AdminState>, listener: TcpListener, tracker: TaskTracker) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = state.gate.shutdown.cancelled() => break,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let state = Arc::clone(&state);
        tracker.spawn(async move {
            let svc_state = Arc::clone(&state);
            let svc = service_fn(move |req| route(Arc::clone(&svc_state), peer, req));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10));
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = state.gate.shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
        });
    }
}

fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

async fn route(
    state: Arc<AdminState>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let plain = "text/plain; charset=utf-8";
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            crate::metrics::render(&state.registry),
        ),
        (&Method::GET, "/healthz") => text(StatusCode::OK, plain, "ok\n"),
        (&Method::GET, "/readyz") => {
            if state.gate.log.is_healthy() {
                text(
                    StatusCode::OK,
                    plain,
                    "ready: policy loaded, request log writable\n",
                )
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    plain,
                    "not ready: the request log cannot be written\n",
                )
            }
        }
        (&Method::POST, "/identity") => identity(&state, peer, req).await,
        (_, "/metrics" | "/healthz" | "/readyz" | "/identity") => text(
            StatusCode::METHOD_NOT_ALLOWED,
            plain,
            "method not allowed\n",
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            plain,
            "not found: /metrics, /healthz, /readyz, POST /identity\n",
        ),
    })
}

async fn identity(
    state: &AdminState,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes().to_vec());
    let body = match Limited::new(req.into_body(), MAX_IDENTITY_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "application/json",
                "{\"error\":\"body too large\"}\n",
            );
        }
    };
    let gate = &state.gate;
    // Every binding and refusal goes into the request log, the school's record, as an
    // administrative event (`type: "admin"`) decided on the snapshot current now.
    let mut ctx = gate.begin(TrafficKind::Admin, peer.ip());
    let outcome = ctx
        .snapshot()
        .identities
        .handle_identity_post(token.as_deref(), peer.ip(), &body)
        .await;
    let reason = if outcome.status.is_success() {
        "bound"
    } else {
        "refused"
    };
    gate.metrics
        .identity_bindings
        .get_or_create(&crate::metrics::ReasonLabel { reason })
        .inc();
    ctx.method = "POST".to_string();
    ctx.host = "identity".to_string();
    ctx.path = "/identity".to_string();
    ctx.status = outcome.status.as_u16();
    ctx.outcome = if outcome.status.is_success() {
        Outcome::Allow
    } else {
        Outcome::Block
    };
    ctx.rule = Some(outcome.audit.summary());
    ctx.flag(Flag::IdentityBinding);
    gate.record(ctx).await;
    let mut response = text(outcome.status, "application/json", outcome.body);
    if let Some(secs) = outcome.retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    response
}
