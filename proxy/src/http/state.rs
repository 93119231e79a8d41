//! What the HTTP proxy's connections share beyond the gate: the upstream pools and resolver,
//! review tickets and the review store, the PAC address, the proxy's connection limits — and
//! the HTTP-only phase that turns an origin failure into the request's facts.

use super::destination::DestinationRefusal;
use super::upstream::{Resolver, UpstreamFailure, UpstreamPools};
use crate::gate::limits::ConnectionLimits;
use crate::gate::{Gate, Outcome, RequestContext};
use crate::log::Flag;
use crate::review::{ReviewMetrics, ReviewStore, ReviewTickets};
use std::sync::Arc;

/// Shared by every HTTP connection and tunnel.
#[derive(Debug)]
pub struct ProxyState {
    /// The snapshot, log, metrics, clock and shutdown every entry point shares.
    pub gate: Arc<Gate>,
    /// ClientHello peek outcomes.
    pub tls_metrics: crate::tls::TlsPeekMetrics,
    /// Review forms submitted, by outcome.
    pub review_metrics: ReviewMetrics,
    /// Review tickets issued with staff block pages, redeemed by `POST /review`.
    pub review_tickets: ReviewTickets,
    /// The upstream pools.
    pub client: UpstreamPools,
    /// Name resolution.
    pub resolver: Resolver,
    /// The transparent port-80 listener's bound port, which the default review address names
    /// when it is not 80.
    pub transparent_http_port: Option<u16>,
    /// Review requests from block pages.
    pub reviews: Arc<ReviewStore>,
    /// The explicit proxy's address as PAC files give it (the bound address, or the configured
    /// one when it names a host clients can reach).
    pub pac_proxy: String,
    /// Open proxy connection counts.
    pub limits: ConnectionLimits,
}

impl ProxyState {
    /// Records that the origin could not be reached: counted by kind, flagged, an error. A
    /// refused destination is a block instead: counted by reason, flagged
    /// `destination_refused` (and `loop` when it is Lychgate itself), the reason in `rule`.
    pub fn upstream_failed(&self, ctx: &mut RequestContext, failure: UpstreamFailure) {
        let metrics = &self.gate.metrics;
        if let UpstreamFailure::Destination(reason) = failure {
            metrics
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
        metrics
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
}
