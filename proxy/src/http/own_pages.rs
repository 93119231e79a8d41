//! Requests Lychgate answers itself: the PAC file (`/proxy.pac` on the proxy port, `/wpad.dat`
//! on the port-80 listener for DNS-based WPAD) and the pages at the reserved service host
//! (`lychgate.internal` by default), where staff block pages post their review requests.

use super::body::ResponseBody;
use super::service::{self, Connection, Mode, ProxyResponse, page_response};
use super::state::ProxyState;
use crate::gate::{Outcome, RequestContext, TrafficKind};
use crate::log::Flag;
use crate::pages;
use crate::review::{self, ReviewOutcome, ReviewRequest};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use std::sync::Arc;

/// An origin-form request: only the PAC file lives here.
pub async fn serve_local(
    state: &Arc<ProxyState>,
    conn: Connection,
    ctx: RequestContext,
    req: Request<Incoming>,
) -> ProxyResponse {
    let path = req.uri().path().to_string();
    serve(state, conn, ctx, req, &path).await
}

/// A request for Lychgate's own pages.
pub async fn serve(
    state: &Arc<ProxyState>,
    conn: Connection,
    mut ctx: RequestContext,
    req: Request<Incoming>,
    path_and_query: &str,
) -> ProxyResponse {
    let path = path_and_query.split('?').next().unwrap_or("/");
    ctx.path = path.to_string();
    ctx.outcome = Outcome::Allow;
    ctx.flag(Flag::LychgatePage);
    match (req.method(), path) {
        (&Method::GET | &Method::HEAD, "/proxy.pac" | "/wpad.dat") => {
            pac(state, conn, ctx, req).await
        }
        (&Method::POST, pages::REVIEW_PATH) => review(state, conn, ctx, req).await,
        (_, "/proxy.pac" | "/wpad.dat" | pages::REVIEW_PATH) => {
            let page = service::status_page(state, &ctx, StatusCode::METHOD_NOT_ALLOWED);
            page_response(state, ctx, page).await
        }
        _ => {
            if matches!(conn.mode, Mode::Explicit) && req.uri().authority().is_none() {
                ctx.outcome = Outcome::Error;
                return service::bad_request(
                    state,
                    ctx,
                    "this is a web proxy: set it as the browser's proxy rather than visiting it",
                )
                .await;
            }
            let page = service::status_page(state, &ctx, StatusCode::NOT_FOUND);
            page_response(state, ctx, page).await
        }
    }
}

async fn pac(
    state: &Arc<ProxyState>,
    conn: Connection,
    mut ctx: RequestContext,
    req: Request<Incoming>,
) -> ProxyResponse {
    let config = &ctx.snapshot().config;
    // The proxy address browsers should use: the one this request reached, if it named it.
    let proxy = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| matches!(conn.mode, Mode::Explicit) && h.contains(':'))
        .map_or_else(|| state.pac_proxy.clone(), str::to_string);
    let networks: Vec<crate::net::Cidr> = config.networks.iter().map(|n| n.cidr).collect();
    match pages::render_pac(&proxy, &networks, &[]) {
        Ok(text) => {
            ctx.status = 200;
            let done = service::finisher(state, ctx).await;
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, pages::PAC_CONTENT_TYPE)
                .header(header::CACHE_CONTROL, "max-age=300")
                .body(super::body::Counted::new(ResponseBody::page(text), done))
                .unwrap_or_else(|_| {
                    Response::new(super::body::Counted::new(
                        ResponseBody::empty(),
                        Box::new(service::NoRecord),
                    ))
                })
        }
        Err(e) => {
            let reason = format!("the PAC file cannot be written: {e}");
            service::bad_request(state, ctx, &reason).await
        }
    }
}

async fn review(
    state: &Arc<ProxyState>,
    conn: Connection,
    mut ctx: RequestContext,
    req: Request<Incoming>,
) -> ProxyResponse {
    // A review request is an administrative event tied to a client, logged as `admin`.
    ctx.kind = TrafficKind::Admin;
    ctx.method = "POST".to_string();
    let (auth, sign_in) = conn.sign_in(req.headers());
    // A failed sign-in still gets an answer: the submitter is then known by address only.
    let identity = match state.gate.identify(&ctx, auth.as_deref(), sign_in).await {
        Ok(identity) => identity,
        Err(_) => ctx.snapshot().identities.by_address(conn.client.ip()),
    };
    let group = identity.group;
    ctx.set_group(group);
    // Review requests are for staff: a pupil's "unblock this" goes to their teacher in person.
    if service::audience(ctx.snapshot(), group) != pages::Audience::Staff {
        ctx.outcome = Outcome::Block;
        ctx.rule = Some("review requests are for staff".to_string());
        ctx.identity = Some(identity);
        let page = service::error_page(state, &ctx, &pages::ErrorKind::ReviewForStaffOnly);
        return page_response(state, ctx, page).await;
    }
    let body = match Limited::new(req.into_body(), review::MAX_FORM_BYTES)
        .collect()
        .await
    {
        Ok(b) => {
            let body = b.to_bytes();
            ctx.bytes_in = body.len() as u64;
            body
        }
        Err(_) => {
            state.review_metrics.observe(ReviewOutcome::Invalid);
            ctx.identity = Some(identity);
            let page = service::status_page(state, &ctx, StatusCode::PAYLOAD_TOO_LARGE);
            return page_response(state, ctx, page).await;
        }
    };
    let form = match review::parse_review_form(&body) {
        Ok(f) => f,
        Err(e) => {
            state.review_metrics.observe(ReviewOutcome::Invalid);
            ctx.identity = Some(identity);
            let reason = format!("the review form is incomplete: {e}");
            return service::bad_request(state, ctx, &reason).await;
        }
    };
    let ticket = match state.review_tickets.redeem(
        &form.reference,
        conn.client.ip(),
        identity.user.as_deref(),
    ) {
        Ok(t) => t,
        Err(e) => {
            state.review_metrics.observe(ReviewOutcome::Invalid);
            ctx.identity = Some(identity);
            let reason = format!("this review request cannot be accepted: {e}");
            return service::bad_request(state, ctx, &reason).await;
        }
    };
    let snapshot = Arc::clone(ctx.snapshot());
    let config = &snapshot.config;
    let wall = state.gate.clock.wall();
    let reference = form.reference.clone();
    let request = ReviewRequest::from_ticket(wall, form, ticket);
    ctx.identity = Some(identity);
    ctx.rule = Some(format!("review requested for block {reference}"));
    ctx.flag(Flag::ReviewRequest);
    let store = Arc::clone(&state.reviews);
    // The store fsyncs each request: off the async workers.
    let appended = tokio::task::spawn_blocking(move || store.append(&request))
        .await
        .unwrap_or_else(|e| {
            Err(review::ReviewStoreError::Write {
                path: state.reviews.path().to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })
        });
    match appended {
        Ok(()) => {
            state.review_metrics.observe(ReviewOutcome::Recorded);
            let time = wall.to_zoned_datetime(config.policy.timezone().clone());
            let page = pages::render_review_thanks(&config.block_page.branding, &reference, &time);
            page_response(state, ctx, page).await
        }
        Err(e) => {
            state.review_metrics.observe(ReviewOutcome::StoreFailed);
            tracing::error!(error = %e, "cannot record a review request");
            ctx.outcome = Outcome::Error;
            let page = service::error_page(state, &ctx, &pages::ErrorKind::LoggingUnavailable);
            page_response(state, ctx, page).await
        }
    }
}
