//! Everything derived from one config, built in one place and swapped whole: the config and its
//! compiled policy, identification, the group names and metric index tables every request's
//! record uses, and the DNS server's derived tables.

use crate::clock::SharedClock;
use crate::config::{BlockedAnswer, Config};
use crate::identity::{self, Identities, IdentityError, IdentityMetrics};
use crate::metrics::{RequestCounters, RequestLabels};
use lychgate_classifier::category::CategorySet;
use lychgate_classifier::policy::{Action, Decision, GroupId, Rule};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::net::IpAddr;
use std::sync::Arc;

/// What outlives snapshots and every snapshot is built with.
#[derive(Debug, Clone)]
pub struct BuildEnv {
    /// Time, for identification's caches and audit records.
    pub clock: SharedClock,
    /// Identification's counters (kept across snapshots).
    pub identity_metrics: Arc<IdentityMetrics>,
    /// `lychgate_requests_total`, whose index table each snapshot builds for its own groups and
    /// categories.
    pub requests: Family<RequestLabels, Counter>,
}

/// A snapshot that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The users file, tokens or devices.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// One config and everything derived from it.
#[derive(Debug)]
pub struct Snapshot {
    /// 1 for the policy loaded at start, one more for each snapshot built after it.
    pub generation: u64,
    /// The config, with the compiled policy (`config.policy`), the static hosts, the block
    /// page's branding and the DNS settings.
    pub config: Config,
    /// Who clients are, by address and proxy sign-in.
    pub identities: Identities,
    /// Group names by id, shared by every request's context (never reallocated per request).
    pub group_names: Vec<Arc<str>>,
    /// `lychgate_requests_total` cells, by index of this snapshot's groups and categories.
    pub request_counters: RequestCounters,
    /// The DNS server's tables derived from the config.
    pub dns: DnsTables,
}

/// The DNS server's tables derived from the config.
#[derive(Debug)]
pub struct DnsTables {
    /// Addresses never counted as rebinding: the block page's.
    pub exempt_addresses: Vec<IpAddr>,
    /// `rule` of a block by a category list, by group and category, written once: most blocks
    /// are these, and formatting the sentence per question cost more than deciding.
    pub list_rules: Vec<Vec<String>>,
}

impl Snapshot {
    /// Builds everything derived from `config`. With a `previous` snapshot, the next
    /// generation, and live identity-map bindings are carried over from it.
    pub fn build(
        config: Config,
        previous: Option<&Snapshot>,
        env: &BuildEnv,
    ) -> Result<Snapshot, SnapshotError> {
        let identities = identities_for(&config, &env.clock, &env.identity_metrics)?;
        if let Some(previous) = previous {
            let dropped = identities.carry_over(&previous.identities);
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "identity-map bindings not carried over: their user, group or network is not in the new config"
                );
            }
        }
        let group_names: Vec<Arc<str>> = config
            .policy
            .groups()
            .iter()
            .map(|g| Arc::from(g.name.as_str()))
            .collect();
        let categories = config.policy.categories();
        let request_counters = RequestCounters::new(
            env.requests.clone(),
            group_names.iter().map(|g| g.to_string()).collect(),
            categories
                .ids()
                .map(|c| categories.name(c).to_string())
                .collect(),
        );
        let dns = DnsTables::build(&config);
        Ok(Snapshot {
            generation: previous.map_or(1, |p| p.generation + 1),
            config,
            identities,
            group_names,
            request_counters,
            dns,
        })
    }

    /// A group's name (`unknown` for an id this snapshot does not have).
    pub fn group_name(&self, group: GroupId) -> &str {
        self.group_names
            .get(usize::from(group.0))
            .map_or("unknown", |n| n)
    }
}

/// Identification for `config`: its users file loaded and its tokens and devices checked (also
/// what `check-config` runs, so it accepts exactly the configs a snapshot can be built from).
pub fn identities_for(
    config: &Config,
    clock: &SharedClock,
    metrics: &Arc<IdentityMetrics>,
) -> Result<Identities, IdentityError> {
    let school = config.school();
    let directory = identity::load_directory(&config.identity, &school)?;
    Identities::new(
        &config.identity,
        &school,
        directory,
        Arc::clone(clock),
        Arc::clone(metrics),
    )
}

impl DnsTables {
    fn build(config: &Config) -> DnsTables {
        let exempt_addresses = match config.dns.blocked_answer {
            BlockedAnswer::BlockPage { v4, v6 } => v4
                .map(IpAddr::V4)
                .into_iter()
                .chain(v6.map(IpAddr::V6))
                .collect(),
            BlockedAnswer::Nxdomain => Vec::new(),
        };
        let policy = &config.policy;
        let list_rules = (0..policy.groups().len())
            .map(|g| {
                let group = GroupId(u16::try_from(g).unwrap_or(u16::MAX));
                policy
                    .categories()
                    .ids()
                    .map(|category| {
                        let d = Decision {
                            action: Action::Block,
                            category: Some(category),
                            categories: CategorySet::one(category),
                            rule: Rule::DomainList { category },
                            search: None,
                            concerns: [None; lychgate_classifier::policy::MAX_CONCERNS],
                            concern_len: 0,
                        };
                        policy.describe(group, &d)
                    })
                    .collect()
            })
            .collect();
        DnsTables {
            exempt_addresses,
            list_rules,
        }
    }
}
