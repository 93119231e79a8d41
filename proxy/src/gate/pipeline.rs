//! The phases every request goes through, written once for every entry point: identify, decide,
//! the fail-closed check, record (or summarise), and the unlogged fallback.

use super::Gate;
use super::context::{Outcome, RequestContext};
use super::snapshot::Snapshot;
use crate::identity::{AuthError, ClientIdentity};
use crate::log::{Flag, RefusedReason, RequestRecord, Ticket};
use lychgate_classifier::policy::{Action, Decision, GroupId, Request, Rule, Scratch};
use lychgate_classifier::time::LocalTime;
use std::cell::{Cell, RefCell};
use std::time::Instant;

thread_local! {
    /// One scratch per worker thread, so deciding allocates nothing once warm.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// The last local time worked out on this thread: (snapshot generation, Unix second, time).
    static LOCAL_TIME: Cell<Option<(u64, i64, LocalTime)>> = const { Cell::new(None) };
}

/// Runs `f` with this worker thread's decision scratch.
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}

/// The school's local time for deciding, worked out once a second per thread rather than per
/// request (windows are minutes wide; the zone lookup is not free at 50,000 questions a
/// second). Keyed by the snapshot's generation, so a new policy's zone applies at once.
pub fn local_time(snapshot: &Snapshot, at: jiff::Timestamp) -> LocalTime {
    let key = (snapshot.generation, at.as_second());
    LOCAL_TIME.with(|last| match last.get() {
        Some((generation, second, t)) if (generation, second) == key => t,
        _ => {
            let t = snapshot.config.policy.local_time(at);
            last.set(Some((key.0, key.1, t)));
            t
        }
    })
}

/// Decides `request` for `group` at `at` with this thread's scratch, recording nothing: for
/// callers that keep their own facts (the DNS server's fast path).
pub fn decide_at(
    snapshot: &Snapshot,
    group: GroupId,
    at: LocalTime,
    request: &Request<'_>,
) -> Decision {
    with_scratch(|s| snapshot.config.policy.decide(group, at, request, s))
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

impl Gate {
    /// Who is asking: proxy sign-in when given (or required by the client's network), else by
    /// address (device, identity map, network, default group), on the request's snapshot.
    ///
    /// Only an explicit-proxy client can sign in (`SignIn::Possible`): a browser behind the
    /// transparent listeners does not know a proxy is there, so a 407 would only break the page.
    /// Those clients are identified by address, which includes the identity map that a login
    /// script fills — the way to name users on an `auth = "required"` network in transparent
    /// mode.
    pub async fn identify(
        &self,
        ctx: &RequestContext,
        proxy_authorization: Option<&[u8]>,
        sign_in: SignIn,
    ) -> Result<ClientIdentity, IdentifyError> {
        let identities = &ctx.snapshot().identities;
        if sign_in == SignIn::Impossible {
            return Ok(identities.by_address(ctx.client));
        }
        if let Some(header) = proxy_authorization {
            return identities
                .by_proxy_auth(ctx.client, header)
                .await
                .map_err(IdentifyError::Auth);
        }
        if identities.auth_required(ctx.client) {
            return Err(IdentifyError::AuthRequired);
        }
        Ok(identities.by_address(ctx.client))
    }

    /// Decides a request for a group now, on the request's snapshot; records the decision's
    /// facts in `ctx`.
    pub fn decide(
        &self,
        ctx: &mut RequestContext,
        group: GroupId,
        request: &Request<'_>,
    ) -> Decision {
        let snapshot = ctx.snapshot();
        let policy = &snapshot.config.policy;
        let at = local_time(snapshot, self.clock.wall());
        let started = Instant::now();
        let (decision, search) = with_scratch(|scratch| {
            let d = policy.decide(group, at, request, scratch);
            let search =
                (d.search.is_some() && !scratch.terms.is_empty()).then(|| scratch.terms.clone());
            (d, search)
        });
        self.metrics
            .decision_seconds
            .observe(started.elapsed().as_secs_f64());
        let rule =
            (!matches!(decision.rule, Rule::Default)).then(|| policy.describe(group, &decision));
        if search.is_some() {
            ctx.search = search;
        }
        ctx.category_id = decision.category;
        if rule.is_some() {
            ctx.rule = rule;
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
        let fail_closed = ctx.snapshot().config.fails_closed(group);
        if !fail_closed {
            ctx.flag(Flag::FailOpen);
        }
        fail_closed
    }

    /// Writes the request's log record and counts it, returning once the line is in the log
    /// file (so what the caller sends next cannot outlive it in a crash). Waits while the log
    /// queue is full (backpressure) rather than dropping the record.
    pub async fn record(&self, ctx: RequestContext) {
        self.count(&ctx);
        if let Some(ticket) = self.queue(ctx.into_record()).await {
            ticket.committed().await;
        }
    }

    /// Queues a finished record, waiting while the log queue is full (backpressure), and gives
    /// back its ticket to wait on before the answer goes out. `None` once shutdown has closed
    /// the log: the record then went to the last resort, as for the writer's own overflow —
    /// stderr (journald), marked so it can be found.
    pub async fn queue(&self, record: RequestRecord) -> Option<Ticket> {
        match self.log.write(record).await {
            Ok(ticket) => Some(ticket),
            Err(closed) => {
                write_unlogged(&closed.0);
                None
            }
        }
    }

    /// Counts a request refused before it was served (from outside the networks, unreadable)
    /// in the metrics and in the summary lines, instead of writing a line of its own.
    pub fn summarise(&self, ctx: RequestContext, reason: RefusedReason) {
        self.count(&ctx);
        let record = ctx.into_record();
        self.refused
            .add(&crate::log::Refused::of_record(&record, reason));
    }

    /// Queues a record from a place that cannot wait (a drop): into the queue if there is room,
    /// else from a task that waits for room, else (no runtime: the daemon is stopping) stderr.
    pub fn record_detached(&self, record: RequestRecord) {
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

    /// Counts a finished request in the metrics (`lychgate_requests_total`).
    pub fn count(&self, ctx: &RequestContext) {
        let Some(kind) = ctx.kind.index() else {
            return;
        };
        ctx.snapshot().request_counters.count(
            kind,
            ctx.outcome.index(),
            ctx.group_id.map(|g| usize::from(g.0)),
            ctx.category_id.map(|c| usize::from(c.0)),
        );
    }
}

/// Writes a record that can no longer reach the log file to stderr, marked as the writer marks
/// its own overflow, so `journalctl -u lychgate | grep lychgate-unlogged` finds it.
pub fn write_unlogged(record: &RequestRecord) {
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
