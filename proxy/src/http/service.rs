//! One HTTP request through the proxy, in named phases: read the target, identify the client,
//! decide, then block (page), refuse (error page) or forward to the origin — and one log record
//! for every outcome. Serves the explicit proxy (absolute-URI requests) and the transparent
//! port-80 listener (origin-form requests with a `Host` header) alike.

use super::body::{Committed, Counted, OnBodyEnd, ResponseBody, UpstreamBody};
use super::framing_guard::FramingAlarm;
use super::headers::{self, FramingError};
use super::state::ProxyState;
use super::upstream::UpstreamFailure;
use super::{own_pages, tunnel};
use crate::gate::limits::ConnectionSlot;
use crate::gate::snapshot::Snapshot;
use crate::gate::{IdentifyError, SignIn};
use crate::gate::{Outcome, RequestContext, TrafficKind};
use crate::identity::AuthError;
use crate::log::Flag;
use crate::pages::{self, Audience, BlockPageInput, ErrorKind, Page};
use crate::safe_search;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use lychgate_classifier::host::normalize_url;
use lychgate_classifier::policy::{GroupId, GroupKind, RequestKind};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// A response to a client.
pub type ProxyResponse = Response<Counted<ResponseBody>>;

/// How the connection reached Lychgate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A browser configured to use the proxy.
    Explicit,
    /// Port 80 redirected by the gateway's nftables rules.
    Transparent {
        /// Where the client was really going (`SO_ORIGINAL_DST`); `None` when the connection
        /// was not redirected (a client that connected to the listener directly).
        original_dst: Option<SocketAddr>,
    },
}

/// Facts about the client connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    /// The client's address.
    pub client: SocketAddr,
    /// How it reached Lychgate.
    pub mode: Mode,
}

impl Connection {
    /// The proxy credentials a request on this connection may offer, and whether its client
    /// can sign in at all: only an explicit-proxy browser knows a proxy is there.
    pub fn sign_in(&self, headers: &http::HeaderMap) -> (Option<Vec<u8>>, SignIn) {
        match self.mode {
            Mode::Explicit => (
                headers
                    .get(header::PROXY_AUTHORIZATION)
                    .map(|v| v.as_bytes().to_vec()),
                SignIn::Possible,
            ),
            Mode::Transparent { .. } => (None, SignIn::Impossible),
        }
    }
}

/// The request's target before normalisation.
struct RawTarget {
    host: String,
    port: u16,
    path_and_query: String,
    /// The `Host` header the origin gets: the authority decided on.
    host_header: HeaderValue,
}

/// hyper's entry point: never fails; every problem becomes a page and a log record.
pub async fn handle(
    state: Arc<ProxyState>,
    conn: Connection,
    framing: FramingAlarm,
    slot: Arc<ConnectionSlot>,
    req: Request<Incoming>,
) -> Result<ProxyResponse, Infallible> {
    let mut ctx = state.gate.begin(TrafficKind::Http, conn.client.ip());
    ctx.arm(&state.gate);
    ctx.method = req.method().as_str().to_string();
    ctx.host = req.uri().host().unwrap_or_default().to_string();
    if framing.raised() {
        let mut response = framing_refused(&state, ctx, FramingError::LengthAndChunked).await;
        // The connection's byte stream cannot be trusted any more: close it.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(response);
    }
    if req.method() == Method::CONNECT {
        return Ok(match conn.mode {
            Mode::Explicit => tunnel::connect(state, conn, ctx, slot, req).await,
            Mode::Transparent { .. } => {
                bad_request(
                    &state,
                    ctx,
                    "CONNECT is for browsers set up to use the proxy",
                )
                .await
            }
        });
    }
    Ok(serve_http(state, conn, ctx, req).await)
}

async fn serve_http(
    state: Arc<ProxyState>,
    conn: Connection,
    mut ctx: RequestContext,
    req: Request<Incoming>,
) -> ProxyResponse {
    // Phase 1: the target.
    let target = match read_target(&req, conn.mode) {
        Ok(Some(t)) => t,
        Ok(None) => return own_pages::serve_local(&state, conn, ctx, req).await,
        Err(reason) => return bad_request(&state, ctx, reason).await,
    };
    ctx.host.clone_from(&target.host);
    ctx.port = target.port;
    let snapshot = Arc::clone(ctx.snapshot());
    let config = &snapshot.config;
    let service_host = &config.proxy.service_host;
    let wpad = matches!(conn.mode, Mode::Transparent { .. })
        && (target.host == "wpad" || target.host.starts_with("wpad."))
        && target.path_and_query.starts_with("/wpad.dat");
    if wpad || target.host.eq_ignore_ascii_case(service_host) {
        return own_pages::serve(&state, conn, ctx, req, &target.path_and_query).await;
    }
    if let Err(e) = headers::check_framing(req.headers()) {
        return framing_refused(&state, ctx, e).await;
    }
    if headers::via_loops(req.headers(), &config.proxy.via) {
        ctx.flag(Flag::ViaLoop);
        return bad_request(
            &state,
            ctx,
            "the request has already passed through this proxy (a forwarding loop)",
        )
        .await;
    }

    // Phase 2: who.
    let (auth_header, sign_in) = conn.sign_in(req.headers());
    let identity = match state
        .gate
        .identify(&ctx, auth_header.as_deref(), sign_in)
        .await
    {
        Ok(id) => id,
        Err(e) => return identify_failed(&state, ctx, e).await,
    };
    let group = identity.group;
    ctx.set_identity(identity);

    // Phase 3: decide.
    let url_text = if target.host.contains(':') {
        format!("http://[{}]{}", target.host, target.path_and_query)
    } else {
        format!("http://{}{}", target.host, target.path_and_query)
    };
    let normalised = match normalize_url(&url_text) {
        Ok(u) => u,
        Err(e) => {
            return bad_request(&state, ctx, &format!("the address cannot be read: {e}")).await;
        }
    };
    let target_view = lychgate_classifier::policy::Target::from_url(normalised);
    let request = target_view.request(RequestKind::Http);
    ctx.host.clear();
    ctx.host.push_str(request.host);
    ctx.path = request.path.to_string();
    ctx.query = request.query.map(str::to_string);
    let decision = state.gate.decide(&mut ctx, group, &request);
    if state.gate.log_blocks(&mut ctx, group) {
        ctx.flag(Flag::FailClosed);
        ctx.outcome = Outcome::Error;
        let page = error_page(&state, &ctx, &ErrorKind::LoggingUnavailable);
        return page_response(&state, ctx, page).await;
    }
    if ctx.outcome == Outcome::Block {
        let shown = shown_url("http", &target.host, target.port, &target.path_and_query);
        let page = block_page(&state, &ctx, group, &shown, decision.category);
        return page_response(&state, ctx, page).await;
    }

    // Phase 4: forward.
    forward(state, conn, ctx, req, target, group).await
}

/// Reads host, port and path: from the absolute URI (explicit) or the `Host` header
/// (transparent). `Ok(None)`: an origin-form request to the explicit port, for Lychgate itself.
fn read_target(req: &Request<Incoming>, mode: Mode) -> Result<Option<RawTarget>, &'static str> {
    let uri = req.uri();
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query
    } else {
        format!("/{path_and_query}")
    };
    match mode {
        Mode::Explicit => {
            let Some(authority) = uri.authority() else {
                return Ok(None);
            };
            match uri.scheme_str() {
                Some("http") | None => {}
                Some(_) => {
                    return Err(
                        "only http:// addresses can be sent to the proxy as a plain request; https goes through CONNECT",
                    );
                }
            }
            if authority.as_str().contains('@') {
                return Err("the address must not carry a user name or password");
            }
            // The client's own `Host` headers are ignored: the origin must see the host that
            // was decided on, not another one a CDN would route by.
            let host_header = HeaderValue::from_str(authority.as_str())
                .map_err(|_| "the address cannot be forwarded")?;
            let port = plain_port(authority)?.unwrap_or(80);
            Ok(Some(RawTarget {
                host_header,
                host: authority
                    .host()
                    .trim_matches(['[', ']'])
                    .to_ascii_lowercase(),
                port,
                path_and_query,
            }))
        }
        Mode::Transparent { original_dst } => {
            // The decision is made on one `Host`; an origin could route by another.
            let mut hosts = req.headers().get_all(header::HOST).iter();
            let (first, second) = (hosts.next(), hosts.next());
            if second.is_some() {
                return Err("the request has more than one Host header");
            }
            let host_header = match first.map(HeaderValue::to_str) {
                Some(Ok(h)) => h.to_string(),
                Some(Err(_)) => return Err("the Host header is not readable"),
                None => match uri.authority() {
                    Some(a) => a.as_str().to_string(),
                    None => return Err("the request has no Host header"),
                },
            };
            let authority: http::uri::Authority = host_header
                .parse()
                .map_err(|_| "the Host header is not a host name")?;
            if authority.as_str().contains('@') {
                return Err("the Host header must not carry a user name or password");
            }
            let host_header = HeaderValue::from_str(authority.as_str())
                .map_err(|_| "the Host header is not a host name")?;
            let default_port = original_dst.map_or(80, |d| d.port());
            let port = plain_port(&authority)?.unwrap_or(default_port);
            Ok(Some(RawTarget {
                host_header,
                host: authority
                    .host()
                    .trim_matches(['[', ']'])
                    .to_ascii_lowercase(),
                port,
                path_and_query,
            }))
        }
    }
}

async fn forward(
    state: Arc<ProxyState>,
    conn: Connection,
    mut ctx: RequestContext,
    req: Request<Incoming>,
    target: RawTarget,
    group: GroupId,
) -> ProxyResponse {
    let snapshot = Arc::clone(ctx.snapshot());
    let config = &snapshot.config;
    let redirected = safe_search::redirect(config.policy.group(group), &ctx.host);
    if redirected.is_some() {
        ctx.flag(Flag::SafeSearch);
    }
    // Where to connect: the SafeSearch front end, the verified original destination
    // (transparent, checked here), or the host asked for. The by-name pool's connector resolves
    // its authority and checks every address against the destination policy before it dials.
    let mut pool = &state.client.by_name;
    let authority = match (conn.mode, redirected) {
        (_, Some(safe)) => authority_text(safe, target.port),
        (
            Mode::Transparent {
                original_dst: Some(dst),
            },
            None,
        ) => match state.resolver.addresses(&target.host, dst.port()).await {
            Ok(addrs) if addrs.iter().any(|a| a.ip() == dst.ip()) => {
                if let Err(e) = state.resolver.check_address(&target.host, dst) {
                    return upstream_failed(&state, ctx, e.failure()).await;
                }
                pool = &state.client.checked_address;
                dst.to_string()
            }
            Ok(_) => {
                ctx.flag(Flag::HostMismatch);
                ctx.outcome = Outcome::Block;
                ctx.rule = Some(format!(
                    "Host `{}` does not resolve to the address the client connected to ({})",
                    target.host,
                    dst.ip()
                ));
                return bad_request(
                    &state,
                    ctx,
                    "the site's name does not match the address the device connected to",
                )
                .await;
            }
            Err(e) => {
                let failure = UpstreamFailure::classify(&e);
                return upstream_failed(&state, ctx, failure).await;
            }
        },
        _ => authority_text(&target.host, target.port),
    };
    let uri: Uri = match format!("http://{authority}{}", target.path_and_query).parse() {
        Ok(u) => u,
        Err(_) => return bad_request(&state, ctx, "the address cannot be forwarded").await,
    };

    let (mut parts, body) = req.into_parts();
    let version = parts.version;
    headers::strip_hop_by_hop(&mut parts.headers);
    // After the hop-by-hop removal (`Connection: host` must not drop it): exactly one `Host`,
    // the authority that was decided on (RFC 9112 §3.2.2), whatever the client sent.
    parts.headers.insert(header::HOST, target.host_header);
    headers::add_via(&mut parts.headers, version, &config.proxy.via);
    parts.uri = uri;
    parts.version = http::Version::HTTP_11;
    let upstream_req = Request::from_parts(parts, UpstreamBody::new(body, ctx.body_counter()));

    let sent = std::time::Instant::now();
    let result =
        tokio::time::timeout(config.proxy.response_timeout, pool.request(upstream_req)).await;
    let response = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let failure = UpstreamFailure::classify(&e);
            return upstream_failed(&state, ctx, failure).await;
        }
        Err(_) => return upstream_failed(&state, ctx, UpstreamFailure::Timeout).await,
    };
    state
        .gate
        .metrics
        .upstream_seconds
        .observe(sent.elapsed().as_secs_f64());
    let (mut parts, body) = response.into_parts();
    headers::strip_hop_by_hop(&mut parts.headers);
    headers::add_via(&mut parts.headers, parts.version, &config.proxy.via);
    parts.version = version;
    ctx.status = parts.status.as_u16();
    let done = finisher(&state, ctx).await;
    Response::from_parts(parts, Counted::new(ResponseBody::Origin(body), done))
}

/// The authority's port when written as plain decimal digits (`Ok(None)`: no port). `u16`'s
/// parser also takes `+443`, which another parser on the way may read differently.
pub fn plain_port(authority: &http::uri::Authority) -> Result<Option<u16>, &'static str> {
    // The text after the host, read from the authority as written: `Authority::port` is `None`
    // for a port that is not a `u16` (`:65536`), which must not become the default port.
    let text = authority.as_str();
    let after_userinfo = text.rsplit_once('@').map_or(text, |(_, rest)| rest);
    let after_host = after_userinfo
        .get(authority.host().len()..)
        .unwrap_or_default();
    match after_host.strip_prefix(':') {
        None if after_host.is_empty() => Ok(None),
        Some("") => Ok(None),
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => digits
            .parse()
            .map(Some)
            .map_err(|_| "the port is not a port number"),
        _ => Err("the port must be written in digits only"),
    }
}

/// `host:port` for a URI, with an IPv6 address in brackets.
fn authority_text(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Who a page is for.
pub fn audience(snapshot: &Snapshot, group: GroupId) -> Audience {
    match snapshot.config.policy.group(group).kind {
        GroupKind::Staff => Audience::Staff,
        GroupKind::Pupil => Audience::Pupil,
        GroupKind::Guest => Audience::Guest,
    }
}

/// A URL as the block page and the review request show it: with its port unless it is the
/// scheme's default, so a staff member reviews the site that was really asked for.
pub fn shown_url(scheme: &str, host: &str, port: u16, path_and_query: &str) -> String {
    let default = if scheme == "https" { 443 } else { 80 };
    let bracket = host.contains(':') && !host.starts_with('[');
    let (open, close) = if bracket { ("[", "]") } else { ("", "") };
    if port == default || port == 0 {
        format!("{scheme}://{open}{host}{close}{path_and_query}")
    } else {
        format!("{scheme}://{open}{host}{close}:{port}{path_and_query}")
    }
}

/// The block page for this request, issuing a review ticket when the page offers a review.
pub fn block_page(
    state: &ProxyState,
    ctx: &RequestContext,
    group: GroupId,
    url: &str,
    category: Option<lychgate_classifier::category::CategoryId>,
) -> Page {
    let snapshot = ctx.snapshot();
    let config = &snapshot.config;
    let categories = config.policy.categories();
    let time = state
        .gate
        .clock
        .wall()
        .to_zoned_datetime(config.policy.timezone().clone());
    let user = ctx.identity.as_ref().and_then(|i| i.user.as_deref());
    let audience = audience(snapshot, group);
    // Where the form posts, from the request's snapshot (the listener's port is the one bound).
    let review_url = (audience == Audience::Staff)
        .then(|| {
            config
                .block_page
                .review_url_for(state.transparent_http_port)
        })
        .flatten();
    let review_url = review_url.as_deref();
    if review_url.is_some() {
        // The form can only ask for a review of this block, by this person, from this device.
        state.review_tickets.issue(
            &ctx.reference,
            crate::review::ReviewTicket {
                url: url.to_string(),
                client_ip: ctx.client,
                user: user.map(str::to_string),
                group: ctx.group.as_deref().unwrap_or("").to_string(),
                category: category.map(|c| categories.name(c).to_string()),
                rule: ctx.rule.clone(),
            },
        );
    }
    pages::render_block_page(
        &config.block_page.branding,
        &BlockPageInput {
            audience,
            url,
            host: &ctx.host,
            category: category.map(|c| categories.name(c)),
            category_sensitive: category.is_none_or(|c| categories.is_sensitive(c)),
            reason: ctx
                .rule
                .as_deref()
                .unwrap_or("blocked by the school's filter"),
            reference: &ctx.reference,
            time: &time,
            user,
            group: ctx.group.as_deref().unwrap_or(""),
            review_url,
        },
    )
}

/// An error page for this request.
pub fn error_page(state: &ProxyState, ctx: &RequestContext, kind: &ErrorKind<'_>) -> Page {
    let config = &ctx.snapshot().config;
    let time = state
        .gate
        .clock
        .wall()
        .to_zoned_datetime(config.policy.timezone().clone());
    pages::render_error_page(&config.block_page.branding, kind, &ctx.reference, &time)
}

/// Sends a page, and logs the request once the page has gone out.
pub async fn page_response(
    state: &Arc<ProxyState>,
    mut ctx: RequestContext,
    page: Page,
) -> ProxyResponse {
    ctx.status = page.status.as_u16();
    let reference = ctx.reference.clone();
    let done = finisher(state, ctx).await;
    page_with(&reference, page, done)
}

/// A page whose end runs `done` (which writes or counts its request).
pub fn page_with(reference: &str, page: Page, done: Box<dyn OnBodyEnd>) -> ProxyResponse {
    let mut builder = Response::builder()
        .status(page.status)
        .header("x-lychgate-reference", reference);
    for (name, value) in page.headers() {
        builder = builder.header(name, value);
    }
    let body = ResponseBody::page(page.body);
    builder
        .body(Counted::new(body, done))
        .unwrap_or_else(|_| Response::new(Counted::new(ResponseBody::empty(), Box::new(NoRecord))))
}

/// Refuses a request with 400 and the reason.
pub async fn bad_request(
    state: &Arc<ProxyState>,
    mut ctx: RequestContext,
    reason: &str,
) -> ProxyResponse {
    if ctx.outcome != Outcome::Block {
        ctx.outcome = Outcome::Error;
    }
    ctx.rule.get_or_insert_with(|| reason.to_string());
    let page = error_page(state, &ctx, &ErrorKind::BadRequest { reason });
    page_response(state, ctx, page).await
}

async fn framing_refused(
    state: &Arc<ProxyState>,
    mut ctx: RequestContext,
    e: FramingError,
) -> ProxyResponse {
    state
        .gate
        .metrics
        .bad_requests
        .get_or_create(&crate::metrics::ReasonLabel { reason: e.label() })
        .inc();
    ctx.flag(Flag::AmbiguousFraming);
    bad_request(state, ctx, e.reason()).await
}

pub async fn identify_failed(
    state: &Arc<ProxyState>,
    mut ctx: RequestContext,
    e: IdentifyError,
) -> ProxyResponse {
    ctx.outcome = Outcome::Error;
    let realm = ctx
        .snapshot()
        .config
        .block_page
        .branding
        .school_name
        .replace('"', "'");
    let (page, retry_after) = match &e {
        IdentifyError::Auth(AuthError::RateLimited) => {
            ctx.flag(Flag::AuthRateLimited);
            let secs = ctx
                .snapshot()
                .config
                .identity
                .auth
                .failure_window
                .as_secs()
                .max(1);
            (
                error_page(
                    state,
                    &ctx,
                    &ErrorKind::TooManySignInFailures {
                        retry_after_secs: secs,
                    },
                ),
                Some(secs),
            )
        }
        IdentifyError::Auth(_) => {
            ctx.flag(Flag::AuthFailed);
            (error_page(state, &ctx, &ErrorKind::ProxyAuthRequired), None)
        }
        IdentifyError::AuthRequired => {
            ctx.flag(Flag::AuthRequired);
            (error_page(state, &ctx, &ErrorKind::ProxyAuthRequired), None)
        }
    };
    let mut response = page_response(state, ctx, page).await;
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    } else if let Ok(v) =
        HeaderValue::from_str(&format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
    {
        response.headers_mut().insert(header::PROXY_AUTHENTICATE, v);
    }
    response
}

/// A 502/504 page for an origin that could not be reached.
pub async fn upstream_failed(
    state: &Arc<ProxyState>,
    mut ctx: RequestContext,
    failure: UpstreamFailure,
) -> ProxyResponse {
    state.upstream_failed(&mut ctx, failure);
    let host = ctx.host.clone();
    let kind = match failure {
        UpstreamFailure::Dns => ErrorKind::UpstreamNoSuchName { host: &host },
        UpstreamFailure::Refused => ErrorKind::UpstreamRefused { host: &host },
        UpstreamFailure::Timeout => ErrorKind::UpstreamTimeout { host: &host },
        UpstreamFailure::Destination(_) => ErrorKind::DestinationRefused { host: &host },
        UpstreamFailure::Other => ErrorKind::UpstreamUnreachable { host: &host },
    };
    let page = error_page(state, &ctx, &kind);
    page_response(state, ctx, page).await
}

/// Reserves the request's place in the log queue now — waiting if the writer is behind, which
/// slows clients rather than losing records — and writes the record when the body ends, holding
/// the body's end back until the line is in the file. A response that carries no body (`HEAD`,
/// 1xx, 204, 304: hyper sends the head alone and never reads the body) is complete with its
/// head, so its line is written and committed here, before the head is returned.
pub async fn finisher(state: &Arc<ProxyState>, ctx: RequestContext) -> Box<dyn OnBodyEnd> {
    let Some(permit) = state.gate.log.reserve().await else {
        tracing::error!(reference = %ctx.reference, "request log writer has stopped; record written to stderr");
        state.gate.count(&ctx);
        crate::gate::write_unlogged(&ctx.into_record());
        return Box::new(NoRecord);
    };
    let bodiless = ctx.method == "HEAD" || matches!(ctx.status, 100..=199 | 204 | 304);
    if bodiless {
        state.gate.count(&ctx);
        permit.send(ctx.into_record()).committed().await;
        return Box::new(NoRecord);
    }
    Box::new(RecordOnEnd {
        state: Arc::clone(state),
        ctx,
        permit,
    })
}

struct RecordOnEnd {
    state: Arc<ProxyState>,
    ctx: RequestContext,
    permit: crate::log::LogPermit,
}

impl OnBodyEnd for RecordOnEnd {
    fn finish(self: Box<Self>, bytes: u64, complete: bool) -> Option<Committed> {
        let RecordOnEnd {
            state,
            mut ctx,
            permit,
        } = *self;
        ctx.bytes_out = bytes;
        if !complete {
            ctx.flag(Flag::ClientClosed);
        }
        state.gate.count(&ctx);
        let ticket = permit.send(ctx.into_record());
        // A body cut short has no end left to hold back.
        complete.then(|| Box::pin(ticket.committed()) as Committed)
    }
}

/// For responses whose record is written elsewhere (a CONNECT's 200: the tunnel logs).
#[derive(Debug)]
pub struct NoRecord;

impl OnBodyEnd for NoRecord {
    fn finish(self: Box<Self>, _bytes: u64, _complete: bool) -> Option<Committed> {
        None
    }
}

/// A status and reason page used by own pages.
pub fn status_page(state: &ProxyState, ctx: &RequestContext, status: StatusCode) -> Page {
    let kind = match status {
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorKind::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::PayloadTooLarge,
        StatusCode::FORBIDDEN => ErrorKind::ClientNotAllowed,
        _ => ErrorKind::BadRequest {
            reason: "the request cannot be served",
        },
    };
    error_page(state, ctx, &kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(text: &str) -> Result<Option<u16>, &'static str> {
        plain_port(&text.parse().unwrap())
    }

    #[test]
    fn ports_are_plain_decimal_digits_only() {
        assert_eq!(port("example.com:443"), Ok(Some(443)));
        assert_eq!(port("[::1]:8080"), Ok(Some(8080)));
        assert_eq!(port("example.com"), Ok(None));
        assert_eq!(port("example.com:0443"), Ok(Some(443)));
        assert!(port("example.com:+443").is_err());
        assert!(port("example.com:+24643").is_err());
        assert!(port("example.com:65536").is_err());
        assert_eq!(port("example.com:"), Ok(None));
        assert_eq!(port("user@example.com:81"), Ok(Some(81)));
    }

    #[test]
    fn shown_urls_keep_a_port_that_is_not_the_default() {
        assert_eq!(
            shown_url("http", "a.example", 80, "/x"),
            "http://a.example/x"
        );
        assert_eq!(
            shown_url("http", "a.example", 8080, "/x?y"),
            "http://a.example:8080/x?y"
        );
        assert_eq!(
            shown_url("https", "a.example", 443, "/"),
            "https://a.example/"
        );
        assert_eq!(
            shown_url("https", "a.example", 8443, "/"),
            "https://a.example:8443/"
        );
        assert_eq!(shown_url("http", "::1", 81, "/"), "http://[::1]:81/");
        assert_eq!(shown_url("http", "[::1]", 80, "/"), "http://[::1]/");
    }
}
