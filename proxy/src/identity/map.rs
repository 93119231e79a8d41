//! The identity map: address → user bindings made by login scripts, for transparent mode where
//! browsers never send proxy credentials.
//!
//! It must not become a way round the filter, so every binding goes through [`IdentityMap::bind`]
//! and its scope rules: a `classroom` token may bind only the calling machine's own address and
//! only users outside staff groups; a `login-server` token may bind any address to any user.
//! Bindings expire (default 1 h, capped at `max_binding_ttl`, default 12 h); expired bindings
//! are ignored at once and purged on the next change. The table is bounded: when full of live
//! bindings a new one is refused rather than silently dropping someone else's.

use super::AccountType;
use super::tokens::TokenScope;
use crate::clock::SharedClock;
use lychgate_classifier::policy::{GroupId, GroupKind};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Limits for the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSettings {
    /// TTL when a request gives none (`identity.default_binding_ttl`, seconds, default 3600).
    pub default_ttl: Duration,
    /// Longest TTL granted; longer requests are cut to it (`identity.max_binding_ttl`, seconds,
    /// default 43200 = 12 h, a school day with clubs).
    pub max_ttl: Duration,
    /// Most bindings held (`identity.max_bindings`, default 65536).
    pub max_bindings: usize,
}

impl Default for MapSettings {
    fn default() -> Self {
        Self {
            default_ttl: Duration::from_secs(3600),
            max_ttl: Duration::from_secs(12 * 3600),
            max_bindings: 65_536,
        }
    }
}

/// One binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Bound user.
    pub user: Arc<str>,
    /// The user's group when bound.
    pub group: GroupId,
    /// The user's account type when bound.
    pub account_type: AccountType,
    /// When it lapses.
    pub expires: Instant,
    /// Name of the token that made it.
    pub bound_by: Arc<str>,
    /// That token's scope (a reload re-checks it against the user's new group).
    pub scope: TokenScope,
}

/// A user as the map needs to know them to apply the scope rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindUser {
    /// Login name.
    pub name: Arc<str>,
    /// Group.
    pub group: GroupId,
    /// The group's kind (staff users are off limits to classroom tokens).
    pub kind: GroupKind,
    /// Account type.
    pub account_type: AccountType,
}

/// A bind or unbind request that passed token checking.
#[derive(Debug, Clone)]
pub struct BindRequest {
    /// The token's scope.
    pub scope: TokenScope,
    /// The token's name (recorded in the binding).
    pub token: Arc<str>,
    /// The address the request came from.
    pub caller: IpAddr,
    /// The user to bind.
    pub user: BindUser,
    /// The address to bind.
    pub ip: IpAddr,
    /// Requested lifetime; `None` for the default.
    pub ttl: Option<Duration>,
}

/// Why a bind or unbind was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindRefusal {
    /// A classroom token asked for an address other than its own.
    #[error("a classroom token may only bind its own address ({caller}), not {ip}")]
    NotOwnAddress {
        /// Caller.
        caller: IpAddr,
        /// Requested address.
        ip: IpAddr,
    },
    /// A classroom token asked for a staff user.
    #[error("a classroom token may not bind staff user `{0}`")]
    StaffUser(Arc<str>),
    /// The table is full of live bindings.
    #[error("the identity map is full ({0} bindings)")]
    Full(usize),
    /// The address is not a school client's: outside every configured network, or
    /// unspecified, multicast or broadcast.
    #[error("{0} is not a client address in any of the school's networks")]
    NotSchoolAddress(IpAddr),
    /// Unbind of an address not bound to that user.
    #[error("{ip} is not bound to `{user}`")]
    NotBound {
        /// Address.
        ip: IpAddr,
        /// User.
        user: Arc<str>,
    },
}

/// What a successful bind did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    /// The lifetime granted (after the cap).
    pub ttl: Duration,
    /// The user previously bound to that address, if any (and still live).
    pub replaced: Option<Arc<str>>,
}

/// Address → user bindings.
#[derive(Debug)]
pub struct IdentityMap {
    /// Time for expiry.
    clock: SharedClock,
    /// Limits.
    settings: MapSettings,
    /// Canonical address → binding.
    bindings: RwLock<HashMap<IpAddr, Binding>>,
    /// Kept beside the table so the per-request lookup can skip the lock when nothing is bound
    /// (proxy-authenticated and network-only schools).
    count: AtomicUsize,
}

/// An address as the map keys it: IPv4-mapped IPv6 addresses are their IPv4 selves.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl IdentityMap {
    /// An empty map.
    pub fn new(settings: MapSettings, clock: SharedClock) -> Self {
        Self {
            clock,
            settings,
            bindings: RwLock::new(HashMap::new()),
            count: AtomicUsize::new(0),
        }
    }

    /// The limits in force.
    pub fn settings(&self) -> &MapSettings {
        &self.settings
    }

    /// The live binding of `ip`, if any. Hot path: one atomic load when the map is empty,
    /// else a short read lock and `Arc` clones.
    pub fn get(&self, ip: IpAddr) -> Option<Binding> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let ip = canonical_ip(ip);
        let now = self.clock.now();
        let bindings = self.bindings.read().unwrap_or_else(|e| e.into_inner());
        bindings.get(&ip).filter(|b| b.expires > now).cloned()
    }

    /// Applies the scope rules, then binds `request.user` to `request.ip`.
    pub fn bind(&self, request: &BindRequest) -> Result<Bound, BindRefusal> {
        let ip = canonical_ip(request.ip);
        let caller = canonical_ip(request.caller);
        check_scope(request.scope, caller, ip, &request.user)?;
        let ttl = request
            .ttl
            .unwrap_or(self.settings.default_ttl)
            .min(self.settings.max_ttl);
        let now = self.clock.now();
        let mut bindings = self.bindings.write().unwrap_or_else(|e| e.into_inner());
        if bindings.len() >= self.settings.max_bindings && !bindings.contains_key(&ip) {
            bindings.retain(|_, b| b.expires > now);
            if bindings.len() >= self.settings.max_bindings {
                self.count.store(bindings.len(), Ordering::Relaxed);
                return Err(BindRefusal::Full(bindings.len()));
            }
        }
        let previous = bindings.insert(
            ip,
            Binding {
                user: request.user.name.clone(),
                group: request.user.group,
                account_type: request.user.account_type,
                expires: now + ttl,
                bound_by: request.token.clone(),
                scope: request.scope,
            },
        );
        self.count.store(bindings.len(), Ordering::Relaxed);
        Ok(Bound {
            ttl,
            replaced: previous.filter(|b| b.expires > now).map(|b| b.user),
        })
    }

    /// Removes the binding of `ip` to `user`, under the same scope rules as binding.
    pub fn unbind(
        &self,
        scope: TokenScope,
        caller: IpAddr,
        user: &BindUser,
        ip: IpAddr,
    ) -> Result<(), BindRefusal> {
        let ip = canonical_ip(ip);
        check_scope(scope, canonical_ip(caller), ip, user)?;
        let now = self.clock.now();
        let mut bindings = self.bindings.write().unwrap_or_else(|e| e.into_inner());
        let matches = bindings
            .get(&ip)
            .is_some_and(|b| b.user == user.name && b.expires > now);
        let result = if matches {
            bindings.remove(&ip);
            Ok(())
        } else {
            Err(BindRefusal::NotBound {
                ip,
                user: user.name.clone(),
            })
        };
        bindings.retain(|_, b| b.expires > now);
        self.count.store(bindings.len(), Ordering::Relaxed);
        result
    }

    /// Drops expired bindings; returns how many remain.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let mut bindings = self.bindings.write().unwrap_or_else(|e| e.into_inner());
        bindings.retain(|_, b| b.expires > now);
        self.count.store(bindings.len(), Ordering::Relaxed);
        bindings.len()
    }

    /// Live bindings (for an admin listing or carrying bindings over a reload).
    pub fn live(&self) -> Vec<(IpAddr, Binding)> {
        let now = self.clock.now();
        let bindings = self.bindings.read().unwrap_or_else(|e| e.into_inner());
        bindings
            .iter()
            .filter(|(_, b)| b.expires > now)
            .map(|(ip, b)| (*ip, b.clone()))
            .collect()
    }

    /// Puts a binding back as it was (a reload carrying bindings over), without scope checks:
    /// it passed them when it was made. Ignored when expired or when the map is full.
    pub fn restore(&self, ip: IpAddr, binding: Binding) {
        let now = self.clock.now();
        let mut bindings = self.bindings.write().unwrap_or_else(|e| e.into_inner());
        if binding.expires > now && bindings.len() < self.settings.max_bindings {
            bindings.insert(canonical_ip(ip), binding);
        }
        self.count.store(bindings.len(), Ordering::Relaxed);
    }

    /// Bindings held, expired ones included until purged.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The scope rules, shared by bind, unbind and reloads.
pub fn check_scope(
    scope: TokenScope,
    caller: IpAddr,
    ip: IpAddr,
    user: &BindUser,
) -> Result<(), BindRefusal> {
    match scope {
        TokenScope::LoginServer => Ok(()),
        TokenScope::Classroom => {
            if ip != caller {
                Err(BindRefusal::NotOwnAddress { caller, ip })
            } else if user.kind == GroupKind::Staff {
                Err(BindRefusal::StaffUser(user.name.clone()))
            } else {
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn map() -> (IdentityMap, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        (
            IdentityMap::new(MapSettings::default(), clock.clone()),
            clock,
        )
    }

    fn pupil() -> BindUser {
        BindUser {
            name: "oak-class".into(),
            group: GroupId(2),
            kind: GroupKind::Pupil,
            account_type: AccountType::Shared,
        }
    }

    fn staff() -> BindUser {
        BindUser {
            name: "mrs.khan".into(),
            group: GroupId(0),
            kind: GroupKind::Staff,
            account_type: AccountType::Individual,
        }
    }

    fn request(scope: TokenScope, caller: &str, user: BindUser, ip: &str) -> BindRequest {
        BindRequest {
            scope,
            token: "t".into(),
            caller: caller.parse().unwrap(),
            user,
            ip: ip.parse().unwrap(),
            ttl: None,
        }
    }

    #[test]
    fn classroom_tokens_bind_only_their_own_address_and_no_staff() {
        let (m, _) = map();
        let own = request(TokenScope::Classroom, "10.0.3.7", pupil(), "10.0.3.7");
        assert_eq!(m.bind(&own).unwrap().ttl, Duration::from_secs(3600));
        let other = request(TokenScope::Classroom, "10.0.3.7", pupil(), "10.0.3.8");
        assert!(matches!(
            m.bind(&other),
            Err(BindRefusal::NotOwnAddress { .. })
        ));
        let teacher = request(TokenScope::Classroom, "10.0.3.7", staff(), "10.0.3.7");
        assert!(matches!(m.bind(&teacher), Err(BindRefusal::StaffUser(_))));
        assert_eq!(m.get("10.0.3.8".parse().unwrap()), None);
        assert_eq!(
            &*m.get("10.0.3.7".parse().unwrap()).unwrap().user,
            "oak-class"
        );
        // IPv4-mapped callers count as their IPv4 address.
        let mapped = request(
            TokenScope::Classroom,
            "::ffff:10.0.3.9",
            pupil(),
            "10.0.3.9",
        );
        assert!(m.bind(&mapped).is_ok());
    }

    #[test]
    fn login_server_binds_anyone_anywhere_and_ttl_is_capped() {
        let (m, _) = map();
        let mut r = request(TokenScope::LoginServer, "10.0.0.5", staff(), "10.0.1.40");
        r.ttl = Some(Duration::from_secs(7 * 24 * 3600));
        assert_eq!(m.bind(&r).unwrap().ttl, Duration::from_secs(12 * 3600));
        let b = m.get("10.0.1.40".parse().unwrap()).unwrap();
        assert_eq!(
            (b.group, b.account_type),
            (GroupId(0), AccountType::Individual)
        );
        // Rebinding reports whom it replaced.
        let r2 = request(TokenScope::LoginServer, "10.0.0.5", pupil(), "10.0.1.40");
        assert_eq!(m.bind(&r2).unwrap().replaced.as_deref(), Some("mrs.khan"));
    }

    #[test]
    fn bindings_expire_and_are_purged() {
        let (m, clock) = map();
        let mut r = request(TokenScope::Classroom, "10.0.3.7", pupil(), "10.0.3.7");
        r.ttl = Some(Duration::from_secs(60));
        m.bind(&r).unwrap();
        clock.advance(Duration::from_secs(59));
        assert!(m.get("10.0.3.7".parse().unwrap()).is_some());
        clock.advance(Duration::from_secs(1));
        assert!(m.get("10.0.3.7".parse().unwrap()).is_none());
        assert_eq!(m.len(), 1);
        assert_eq!(m.purge_expired(), 0);
        assert!(m.is_empty());
    }

    #[test]
    fn unbind_follows_scope_and_user() {
        let (m, _) = map();
        m.bind(&request(
            TokenScope::Classroom,
            "10.0.3.7",
            pupil(),
            "10.0.3.7",
        ))
        .unwrap();
        let ip: IpAddr = "10.0.3.7".parse().unwrap();
        assert!(matches!(
            m.unbind(
                TokenScope::Classroom,
                "10.0.3.8".parse().unwrap(),
                &pupil(),
                ip
            ),
            Err(BindRefusal::NotOwnAddress { .. })
        ));
        assert!(matches!(
            m.unbind(TokenScope::LoginServer, ip, &staff(), ip),
            Err(BindRefusal::NotBound { .. })
        ));
        m.unbind(TokenScope::Classroom, ip, &pupil(), ip).unwrap();
        assert!(m.get(ip).is_none());
    }

    #[test]
    fn a_full_map_refuses_new_addresses_but_reuses_expired_room() {
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        let m = IdentityMap::new(
            MapSettings {
                max_bindings: 2,
                ..MapSettings::default()
            },
            clock.clone(),
        );
        for ip in ["10.0.0.1", "10.0.0.2"] {
            m.bind(&request(TokenScope::LoginServer, "10.0.0.5", pupil(), ip))
                .unwrap();
        }
        let third = request(TokenScope::LoginServer, "10.0.0.5", pupil(), "10.0.0.3");
        assert_eq!(m.bind(&third), Err(BindRefusal::Full(2)));
        // Rebinding a held address is fine.
        m.bind(&request(
            TokenScope::LoginServer,
            "10.0.0.5",
            pupil(),
            "10.0.0.2",
        ))
        .unwrap();
        clock.advance(Duration::from_secs(3601));
        assert!(m.bind(&third).is_ok());
        assert_eq!(m.len(), 1);
    }
}
