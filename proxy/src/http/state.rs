//! What every connection shares: the policy snapshot, identities, the request log, metrics, the
//! upstream pool and the page settings — plus the phases every request goes through
//! (identify, decide, record), written once for the explicit, transparent and tunnel paths.

use super::context::{Outcome, RequestContext};
use super::destination::DestinationRefusal;
use super::limits::ConnectionLimits;
use super::upstream::{Resolver, UpstreamFailure, UpstreamPools};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::identity::{AuthError, ClientIdentity, Identities};
use crate::log::Flag;
use crate::log::LogHandle;
use crate::metrics::ProxyMetrics;
use crate::pages::Branding;
use crate::review::ReviewStore;
use arc_swap::ArcSwap;
use lychgate_classifier::policy::{Action, Decision, GroupId, Request, Rule, Scratch};
use std::cell::RefCell;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

thread_local! {
    /// One scratch per worker thread, so deciding allocates nothing once warm.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this worker thread's decision scratch (the DNS server decides with it too).
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}

/// Shared by every connection.
#[derive(Debug)]
pub struct ProxyState {
    /// The current configuration and compiled policy (swapped whole on reload).
    pub config: ArcSwap<Config>,
    /// Who clients are.
    pub identities: Identities,
    /// The request log.
    pub log: LogHandle,
    /// Refused traffic (rate-limited, unreadable, outsiders), counted for the summary lines
    /// instead of a line each.
    pub refused: Arc<crate::log::RefusedSummary>,
    /// Metrics.
    pub metrics: Arc<ProxyMetrics>,
    /// `lychgate_requests_total`, by index.
    pub request_counters: crate::metrics::RequestCounters,
    /// Group names by id, shared by every request's context.
    pub group_names: Vec<Arc<str>>,
    /// ClientHello peek outcomes.
    pub tls_metrics: crate::tls::TlsPeekMetrics,
    /// Review forms submitted, by outcome.
    pub review_metrics: crate::review::ReviewMetrics,
    /// Review tickets issued with staff block pages, redeemed by `POST /review`.
    pub review_tickets: crate::review::ReviewTickets,
    /// Time.
    pub clock: SharedClock,
    /// The upstream pools.
    pub client: UpstreamPools,
    /// Name resolution.
    pub resolver: Resolver,
    /// Block and error page look.
    pub branding: Branding,
    /// Where `Request a review` base URL points (None: no review form).
    pub review_url: Option<String>,
    /// Review requests from block pages.
    pub reviews: Arc<ReviewStore>,
    /// The explicit proxy's address as PAC files give it (the bound address, or the configured
    /// one when it names a host clients can reach).
    pub pac_proxy: String,
    /// Open connection counts.
    pub limits: ConnectionLimits,
    /// Every connection and tunnel task, so shutdown can wait for them.
    pub tasks: tokio_util::task::TaskTracker,
    /// Cancelled when the daemon stops: open tunnels close.
    pub shutdown: CancellationToken,
}

/// Whether the client can answer a proxy sign-in challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// Explicit proxy: the browser knows it talks to a proxy.
    Possible,
    /// Transparent listeners: it does not.
    Impossible,
}

/// Why a client could not be identified.
#[derive(Debug)]
pub enum IdentifyError {
    /// The network needs sign-in and none was given.
    AuthRequired,
    /// Sign-in failed or was refused.
    Auth(AuthError),
}

impl ProxyState {
    /// Who is asking: proxy sign-in when given (or required by the client's network), else by
    /// address (device, identity map, network, default group).
    ///
    /// Only an explicit-proxy client can sign in (`SignIn::Possible`): a browser behind the
    /// transparent listeners does not know a proxy is there, so a 407 would only break the page.
    /// Those clients are identified by address, which includes the identity map that a login
    /// script fills — the way to name users on an `auth = "required"` network in transparent
    /// mode.
    pub async fn identify(
        &self,
        client: IpAddr,
        proxy_authorization: Option<&[u8]>,
        sign_in: SignIn,
    ) -> Result<ClientIdentity, IdentifyError> {
        if sign_in == SignIn::Impossible {
            return Ok(self.identities.by_address(client));
        }
        if let Some(header) = proxy_authorization {
            return self
                .identities
                .by_proxy_auth(client, header)
                .await
                .map_err(IdentifyError::Auth);
        }
        if self.identities.auth_required(client) {
            return Err(IdentifyError::AuthRequired);
        }
        Ok(self.identities.by_address(client))
    }

    /// Decides a request for a group now; records the decision's facts in `ctx`.
    pub fn decide(
        &self,
        ctx: &mut RequestContext,
        group: GroupId,
        request: &Request<'_>,
    ) -> Decision {
        let config = self.config.load();
        let policy = &config.policy;
        let at = policy.local_time(self.clock.wall());
        let started = Instant::now();
        let decision = SCRATCH.with(|s| {
            let mut scratch = s.borrow_mut();
            let d = policy.decide(group, at, request, &mut scratch);
            if d.search.is_some() && !scratch.terms.is_empty() {
                ctx.search = Some(scratch.terms.clone());
            }
            d
        });
        self.metrics
            .decision_seconds
            .observe(started.elapsed().as_secs_f64());
        ctx.category_id = decision.category;
        if !matches!(decision.rule, Rule::Default) {
            ctx.rule = Some(policy.describe(group, &decision));
        }
        ctx.concerns = decision.concerns().map(|c| (c.theme, c.severity)).collect();
        ctx.outcome = match decision.action {
            Action::Allow => Outcome::Allow,
            Action::Block => Outcome::Block,
        };
        decision
    }

    /// Whether a group's requests must stop because the request log cannot be written; a
    /// fail-open group's request is served and flagged `fail_open`.
    pub fn log_blocks(&self, ctx: &mut RequestContext, group: GroupId) -> bool {
        if self.log.is_healthy() {
            return false;
        }
        let fail_closed = self.config.load().fails_closed(group);
        if !fail_closed {
            ctx.flag(crate::log::Flag::FailOpen);
        }
        fail_closed
    }

    /// Writes the request's log record and counts it, returning once the line is in the log
    /// file (so what the caller sends next cannot outlive it in a crash). Waits while the log
    /// queue is full (backpressure) rather than dropping the record.
    pub async fn record(&self, ctx: RequestContext) {
        self.count(&ctx);
        let record = ctx.into_record(&self.config.load());
        match self.log.write(record).await {
            Ok(ticket) => ticket.committed().await,
            // Only after shutdown has closed the log: the last resort, as for the writer's own
            // overflow, is stderr (journald), marked so it can be found.
            Err(closed) => write_unlogged(&closed.0),
        }
    }

    /// Counts a request refused before it was served (from outside the networks, unreadable)
    /// in the metrics and in the summary lines, instead of writing a line of its own.
    pub fn summarise(&self, ctx: RequestContext, reason: crate::log::RefusedReason) {
        self.count(&ctx);
        let record = ctx.into_record(&self.config.load());
        self.refused
            .add(&crate::log::Refused::of_record(&record, reason));
    }

    /// Records that the origin could not be reached: counted by kind, flagged, an error. A
    /// refused destination is a block instead: counted by reason, flagged
    /// `destination_refused` (and `loop` when it is Lychgate itself), the reason in `rule`.
    pub fn upstream_failed(&self, ctx: &mut RequestContext, failure: UpstreamFailure) {
        if let UpstreamFailure::Destination(reason) = failure {
            self.metrics
                .destination_refused
                .get_or_create(&crate::metrics::ReasonLabel {
                    reason: reason.label(),
                })
                .inc();
            ctx.outcome = Outcome::Block;
            ctx.flag(Flag::DestinationRefused);
            if reason == DestinationRefusal::OwnListener {
                ctx.flag(Flag::Loop);
            }
            ctx.rule = Some(format!(
                "destination refused ({}): {}",
                reason.label(),
                reason.describe()
            ));
            return;
        }
        self.metrics
            .upstream_errors
            .get_or_create(&crate::metrics::KindLabel {
                kind: failure.name(),
            })
            .inc();
        ctx.outcome = Outcome::Error;
        ctx.flag(match failure {
            UpstreamFailure::Dns => Flag::UpstreamDns,
            UpstreamFailure::Refused => Flag::UpstreamRefused,
            UpstreamFailure::Timeout => Flag::UpstreamTimeout,
            UpstreamFailure::Destination(_) => Flag::DestinationRefused,
            UpstreamFailure::Other => Flag::UpstreamError,
        });
    }

    /// Queues a record from a place that cannot wait (a drop): into the queue if there is room,
    /// else from a task that waits for room, else (no runtime: the daemon is stopping) stderr.
    pub fn record_detached(&self, record: crate::log::RequestRecord) {
        match self.log.try_write(record) {
            Ok(_) => {}
            Err(back) => match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    let log = self.log.clone();
                    handle.spawn(async move {
                        if let Err(closed) = log.write(*back.0).await {
                            write_unlogged(&closed.0);
                        }
                    });
                }
                Err(_) => write_unlogged(&back.0),
            },
        }
    }

    /// Counts a finished request in the metrics.
    pub fn count(&self, ctx: &RequestContext) {
        self.request_counters.count(
            ctx.kind.index(),
            ctx.outcome.index(),
            ctx.group_id.map(|g| usize::from(g.0)),
            ctx.category_id.map(|c| usize::from(c.0)),
        );
    }

    /// Sets who the request is for: the group's id and (shared, never reallocated) name.
    pub fn set_group(&self, ctx: &mut RequestContext, group: GroupId) {
        ctx.group_id = Some(group);
        ctx.group = self.group_names.get(usize::from(group.0)).cloned();
    }
}

/// Writes a record that can no longer reach the log file to stderr, marked as the writer marks
/// its own overflow, so `journalctl -u lychgate | grep lychgate-unlogged` finds it.
pub fn write_unlogged(record: &crate::log::RequestRecord) {
    let mut line = Vec::new();
    match record.write_line(&mut line) {
        Ok(()) => eprint!(
            "{}{}",
            crate::log::STDERR_PREFIX,
            String::from_utf8_lossy(&line)
        ),
        Err(e) => {
            tracing::error!(reference = %record.id, error = %e, "a request record could not be written")
        }
    }
}
