//! Who is browsing: client address → static device → identity-map binding → client network →
//! `default_group`, or a proxy login (`Proxy-Authorization: Basic`) checked against the users
//! file. The answer is a [`ClientIdentity`]: group for the policy, and `user` / `device` /
//! `account_type` for the request log, so a shared class login or a weak Year 1 login is
//! logged as what it is.
//!
//! - [`account`] — [`AccountType`], how surely a login is one person;
//! - [`users_file`] — the users file format, loading, atomic rewriting;
//! - [`hashing`] — argon2id parameters, hashing and verification;
//! - [`directory`] — the [`DirectoryBackend`] trait (users file today; LDAP/AD later);
//! - [`auth`] — proxy authentication with a success cache and per-client failure limits;
//! - [`rate_limit`] — failure counting per client (address, or IPv6 /64);
//! - [`verifier`] — the few threads that run argon2, each reusing its working memory;
//! - [`tokens`] and [`map`] — the identity map for transparent mode and its scoped tokens;
//! - [`endpoint`] — the `POST /identity` admin request handler and its audit record;
//! - [`metrics`] — counters.

pub mod account;
pub mod auth;
pub mod directory;
pub mod endpoint;
pub mod hashing;
pub mod map;
pub mod metrics;
pub mod rate_limit;
pub mod tokens;
pub mod users_file;
pub mod verifier;

pub use account::AccountType;
pub use auth::{AuthError, AuthSettings, ProxyAuth};
pub use directory::{DirectoryBackend, DirectoryError, DirectoryUser, UsersFileDirectory};
pub use endpoint::{BindAudit, IdentityResponse};
pub use map::{IdentityMap, MapSettings};
pub use metrics::IdentityMetrics;
pub use tokens::{TokenScope, TokenSpec};
pub use users_file::UsersFile;

use crate::clock::SharedClock;
use crate::net::Cidr;
use lychgate_classifier::policy::{GroupId, GroupKind};
use map::{Binding, canonical_ip, check_scope};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

/// How a client was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentitySource {
    /// By a client network (CIDR) in the config.
    Network,
    /// By a static device entry for its address.
    Device,
    /// By a proxy login.
    ProxyAuth,
    /// By an identity-map binding made by a login script.
    IdentityMap,
    /// Nothing matched: `default_group`.
    Default,
}

impl IdentitySource {
    /// Name as written in logs.
    pub const fn name(self) -> &'static str {
        match self {
            IdentitySource::Network => "network",
            IdentitySource::Device => "device",
            IdentitySource::ProxyAuth => "proxy-auth",
            IdentitySource::IdentityMap => "identity-map",
            IdentitySource::Default => "default",
        }
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who a client is, as far as the gateway can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// Client address (IPv4-mapped IPv6 shown as IPv4).
    pub ip: IpAddr,
    /// Login name, when known.
    pub user: Option<Arc<str>>,
    /// Static device name, when the address is one.
    pub device: Option<Arc<str>>,
    /// Policy group.
    pub group: GroupId,
    /// How surely `user` is one person (`None` when identified by address only).
    pub account_type: AccountType,
    /// How the identity was found.
    pub source: IdentitySource,
}

/// A fixed address with a name (`[[identity.device]]`): the head's laptop, a library PC, the
/// interactive whiteboard's machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticDevice {
    /// Its address (`ip`).
    pub ip: IpAddr,
    /// Name for logs (`name`).
    pub name: String,
    /// Group (`group`); when absent, the user's group if `user` is set, else the address's
    /// network group.
    pub group: Option<GroupId>,
    /// The person who uses it (`user`, a users-file login), logged as that user.
    pub user: Option<String>,
}

/// Identity settings: the `[identity]` table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentitySettings {
    /// `users_file`: the proxy logins file, relative to the config's folder (proposed default
    /// when absent: none, so no proxy logins). The CLI defaults to `config/users`.
    pub users_file: Option<PathBuf>,
    /// `[[identity.device]]` entries: `ip`, `name`, optional `group`, optional `user`.
    pub devices: Vec<StaticDevice>,
    /// `[[identity.token]]` entries: `name`, `scope` (`classroom` / `login-server`), `hash`.
    pub tokens: Vec<TokenSpec>,
    /// `auth_cache_ttl` (s, 300), `auth_cache_size` (10000), `failure_limit` (5),
    /// `failure_window` (s, 60), `failure_clients` (4096), `max_concurrent_verifications` (2).
    pub auth: AuthSettings,
    /// `default_binding_ttl` (s, 3600), `max_binding_ttl` (s, 43200), `max_bindings` (65536).
    pub map: MapSettings,
    /// `require_auth_for = ["10.0.2.0/24", ...]`: clients in these networks must log in to the
    /// proxy (answer 407 without credentials); elsewhere a login is optional and address
    /// identity applies. Default: none.
    pub require_auth_for: Vec<Cidr>,
    /// `listen`: an extra listener serving only `POST /identity`, for classroom machines that
    /// must reach the identity map but not metrics or the rest of the admin API (e.g.
    /// `"10.0.3.1:9091"`). Default: none, the endpoint is on the admin listener only.
    pub listen: Option<SocketAddr>,
}

/// What identification needs from the config: every group (by id), the client networks and
/// the default group (see `Config::school`).
#[derive(Debug, Clone)]
pub struct School {
    /// Every group, indexed by `GroupId`.
    pub groups: Vec<GroupInfo>,
    /// Client networks and their groups.
    pub networks: Vec<(Cidr, GroupId)>,
    /// Group of everyone else.
    pub default_group: GroupId,
}

/// What a group means to identification.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    /// Group name, as users-file and directory entries name it.
    pub name: Arc<str>,
    /// Staff, pupil or guest (classroom tokens may not bind staff).
    pub kind: GroupKind,
    /// The group's login account type.
    pub account_type: AccountType,
}

/// A resolved static device.
#[derive(Debug, Clone)]
struct DeviceIdentity {
    /// Device name.
    name: Arc<str>,
    /// Its user, if configured.
    user: Option<Arc<str>>,
    /// Resolved group.
    group: GroupId,
    /// The user's account type, or `none`.
    account_type: AccountType,
}

/// Identity settings that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The users file.
    #[error(transparent)]
    UsersFile(#[from] users_file::UsersFileError),
    /// The tokens.
    #[error("{0}")]
    Tokens(#[from] tokens::TokenConfigErrors),
    /// A static device.
    #[error("identity device {ip} (`{name}`): {why}")]
    Device {
        /// Its address.
        ip: IpAddr,
        /// Its name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The directory could not answer while resolving devices.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// No random key for the fingerprint caches.
    #[error(transparent)]
    Hash(#[from] hashing::HashError),
    /// The argon2 threads could not start.
    #[error(transparent)]
    Verifier(#[from] verifier::VerifierError),
}

/// Client identification for the daemon: built from [`IdentitySettings`] and the [`School`],
/// rebuilt on reload ([`Identities::carry_over`] keeps live identity-map bindings).
pub struct Identities {
    /// Static devices by canonical address.
    devices: HashMap<IpAddr, DeviceIdentity>,
    /// Client networks from the config.
    networks: Vec<(Cidr, GroupId)>,
    /// Group of everyone else.
    default_group: GroupId,
    /// Per group (index = `GroupId`).
    groups: Vec<GroupInfo>,
    /// Networks whose clients must log in.
    require_auth_for: Vec<Cidr>,
    /// Proxy logins.
    auth: ProxyAuth,
    /// Identity-map tokens.
    tokens: tokens::Tokens,
    /// Identity-map bindings.
    map: IdentityMap,
    /// Counters.
    metrics: Arc<IdentityMetrics>,
    /// Time for audit records.
    clock: SharedClock,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("devices", &self.devices.len())
            .field("networks", &self.networks.len())
            .field("default_group", &self.default_group)
            .field("tokens", &self.tokens)
            .field("bindings", &self.map.len())
            .finish_non_exhaustive()
    }
}

/// Loads the directory named by the settings: the users file (its path already resolved
/// against the config's folder by the config loader), or an empty one when none is configured.
pub fn load_directory(
    settings: &IdentitySettings,
    school: &School,
) -> Result<Arc<dyn DirectoryBackend>, users_file::UsersFileError> {
    let file = match &settings.users_file {
        Some(path) => {
            let names: Vec<&str> = school.groups.iter().map(|g| &*g.name).collect();
            UsersFile::load(path, &names)?
        }
        None => UsersFile::empty(std::path::Path::new("(no users file)")),
    };
    Ok(Arc::new(UsersFileDirectory::new(file)))
}

impl Identities {
    /// Builds identification from settings, the school's groups and networks, and a directory
    /// (see [`load_directory`]). `metrics` are shared so they survive reloads.
    pub fn new(
        settings: &IdentitySettings,
        school: &School,
        directory: Arc<dyn DirectoryBackend>,
        clock: SharedClock,
        metrics: Arc<IdentityMetrics>,
    ) -> Result<Self, IdentityError> {
        let groups = school.groups.clone();
        let networks = school.networks.clone();
        let verifiers = Arc::new(verifier::Verifiers::new(
            settings.auth.max_concurrent_verifications,
        )?);
        let mut identities = Self {
            devices: HashMap::new(),
            networks,
            default_group: school.default_group,
            groups,
            require_auth_for: settings.require_auth_for.clone(),
            tokens: tokens::Tokens::new(
                &settings.tokens,
                clock.clone(),
                settings.auth.failure_limit,
                settings.auth.failure_window,
                verifiers.clone(),
            )?,
            auth: ProxyAuth::new(
                directory.clone(),
                settings.auth.clone(),
                clock.clone(),
                metrics.clone(),
                verifiers,
            )?,
            map: IdentityMap::new(settings.map.clone(), clock.clone()),
            metrics,
            clock,
        };
        for d in &settings.devices {
            let ip = canonical_ip(d.ip);
            let bad = |why: String| IdentityError::Device {
                ip,
                name: d.name.clone(),
                why,
            };
            if identities.devices.contains_key(&ip) {
                return Err(bad("address listed twice".into()));
            }
            if d.group.is_some_and(|g| identities.group(g).is_none()) {
                return Err(bad("unknown group".into()));
            }
            let device = match &d.user {
                Some(name) => {
                    let user = directory
                        .lookup(name)?
                        .ok_or_else(|| bad(format!("unknown user `{name}`")))?;
                    let user_group = identities
                        .group_id(&user.group)
                        .ok_or_else(|| bad(format!("user's group `{}` is unknown", user.group)))?;
                    let group = d.group.unwrap_or(user_group);
                    DeviceIdentity {
                        name: Arc::from(d.name.as_str()),
                        user: Some(user.name.clone()),
                        group,
                        account_type: identities.account_type_of(&user, group),
                    }
                }
                None => DeviceIdentity {
                    name: Arc::from(d.name.as_str()),
                    user: None,
                    group: d.group.unwrap_or_else(|| identities.network_group(ip).0),
                    account_type: AccountType::None,
                },
            };
            identities.devices.insert(ip, device);
        }
        Ok(identities)
    }

    /// The identity of a client that has not logged in to the proxy: static device, then
    /// identity-map binding, then client network, then `default_group`. Runs on every
    /// request: no allocation beyond `Arc` clones.
    pub fn by_address(&self, ip: IpAddr) -> ClientIdentity {
        let ip = canonical_ip(ip);
        if let Some(d) = self.device(ip) {
            return ClientIdentity {
                ip,
                user: d.user.clone(),
                device: Some(d.name.clone()),
                group: d.group,
                account_type: d.account_type,
                source: IdentitySource::Device,
            };
        }
        if let Some(b) = self.map.get(ip) {
            return ClientIdentity {
                ip,
                user: Some(b.user),
                device: None,
                group: b.group,
                account_type: b.account_type,
                source: IdentitySource::IdentityMap,
            };
        }
        let (group, source) = self.network_group(ip);
        ClientIdentity {
            ip,
            user: None,
            device: None,
            group,
            account_type: AccountType::None,
            source,
        }
    }

    /// The identity of a client that sent `Proxy-Authorization` (the header's value): the
    /// login's group and account type, plus the device name if the address is a static device.
    pub async fn by_proxy_auth(
        &self,
        ip: IpAddr,
        header: &[u8],
    ) -> Result<ClientIdentity, AuthError> {
        let ip = canonical_ip(ip);
        let user = self.auth.authenticate(ip, header).await?;
        let group = self
            .group_id(&user.group)
            .ok_or_else(|| AuthError::UnknownGroup(user.group.to_string()))?;
        Ok(ClientIdentity {
            ip,
            account_type: self.account_type_of(&user, group),
            user: Some(user.name),
            device: self.device(ip).map(|d| d.name.clone()),
            group,
            source: IdentitySource::ProxyAuth,
        })
    }

    /// Whether a client at `ip` must log in to the proxy (`require_auth_for`).
    pub fn auth_required(&self, ip: IpAddr) -> bool {
        let ip = canonical_ip(ip);
        self.require_auth_for.iter().any(|c| c.contains(ip))
    }

    /// The proxy-login checker (to swap the directory after the users file changes).
    pub fn proxy_auth(&self) -> &ProxyAuth {
        &self.auth
    }

    /// The identity map.
    pub fn map(&self) -> &IdentityMap {
        &self.map
    }

    /// Drops expired bindings; the daemon calls this every minute or so.
    pub fn purge_expired(&self) {
        let left = self.map.purge_expired();
        self.metrics.map_bindings.set(left as i64);
    }

    /// Copies live bindings from the identities being replaced by a reload, re-resolving each
    /// user's group in this config and re-checking the token scope it was made under (a user
    /// moved into a staff group loses a classroom binding). Returns how many were dropped.
    pub fn carry_over(&self, old: &Identities) -> usize {
        let mut dropped = 0;
        let directory = self.auth.backend();
        for (ip, b) in old.map.live() {
            let resolved = directory
                .lookup(&b.user)
                .ok()
                .flatten()
                .and_then(|u| self.bind_user(&u));
            let kept = resolved
                .filter(|u| check_scope(b.scope, ip, ip, u).is_ok() && self.bindable(ip).is_ok());
            match kept {
                Some(u) => self.map.restore(
                    ip,
                    Binding {
                        user: u.name,
                        group: u.group,
                        account_type: u.account_type,
                        ..b
                    },
                ),
                None => {
                    tracing::info!(ip = %ip, user = %b.user, "identity binding dropped on reload: user or group gone");
                    dropped += 1;
                }
            }
        }
        self.metrics.map_bindings.set(self.map.len() as i64);
        dropped
    }

    /// Whether `ip` may be bound in the identity map: a single client address inside a
    /// configured network. Checked for every scope: a login-server token binding `0.0.0.0` or
    /// an address outside the school would make a binding no client can own.
    fn bindable(&self, ip: IpAddr) -> Result<(), map::BindRefusal> {
        let ip = canonical_ip(ip);
        let special = ip.is_unspecified()
            || ip.is_multicast()
            || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
        let in_network = self.networks.iter().any(|(c, _)| c.contains(ip));
        if special || !in_network {
            return Err(map::BindRefusal::NotSchoolAddress(ip));
        }
        Ok(())
    }

    fn device(&self, ip: IpAddr) -> Option<&DeviceIdentity> {
        if self.devices.is_empty() {
            None
        } else {
            self.devices.get(&ip)
        }
    }

    /// Most specific client network, like [`Config::group_for`].
    fn network_group(&self, ip: IpAddr) -> (GroupId, IdentitySource) {
        self.networks
            .iter()
            .filter(|(c, _)| c.contains(ip))
            .max_by_key(|(c, _)| c.prefix())
            .map_or((self.default_group, IdentitySource::Default), |(_, g)| {
                (*g, IdentitySource::Network)
            })
    }

    fn group(&self, id: GroupId) -> Option<&GroupInfo> {
        self.groups.get(id.0 as usize)
    }

    fn group_id(&self, name: &str) -> Option<GroupId> {
        self.groups
            .iter()
            .position(|g| &*g.name == name)
            .map(|i| GroupId(i as u16))
    }

    /// A login's account type: its own, else its group's; a login is never `none`.
    fn account_type_of(&self, user: &DirectoryUser, group: GroupId) -> AccountType {
        match user.account_type {
            Some(t) => t,
            None => match self.group(group).map(|g| g.account_type) {
                Some(AccountType::None) | None => AccountType::Individual,
                Some(t) => t,
            },
        }
    }

    fn bind_user(&self, user: &DirectoryUser) -> Option<map::BindUser> {
        let group = self.group_id(&user.group)?;
        Some(map::BindUser {
            name: user.name.clone(),
            group,
            kind: self.group(group)?.kind,
            account_type: self.account_type_of(user, group),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::Config;
    use crate::identity::hashing::{HashParams, hash_secret_with};
    use base64::Engine as _;
    use std::path::Path;
    use std::time::Duration;

    /// A small config: staff, ks1 (shared), year1 (weak), guest (default), with networks.
    pub(crate) fn config() -> Config {
        let text = r#"
timezone = "Europe/London"
default_group = "guest"

[groups.staff]
kind = "staff"
account_type = "individual"

[groups.ks1]
kind = "pupil"
account_type = "shared"

[groups.year1]
kind = "pupil"
account_type = "weak"

[groups.guest]
kind = "guest"
account_type = "none"

[[network]]
cidr = "10.0.3.0/24"
group = "ks1"

[[network]]
cidr = "10.0.1.0/24"
group = "staff"
"#;
        crate::config::load_str(
            text,
            crate::config::ConfigOrigin::File("test.toml".into()),
            Path::new("."),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    pub(crate) fn users() -> Arc<dyn DirectoryBackend> {
        let groups = ["staff", "ks1", "year1", "guest"];
        let h = |p: &str| hash_secret_with(p.as_bytes(), &HashParams::for_tests()).unwrap();
        let mut f = UsersFile::empty(Path::new("users"));
        f.add("mrs.khan", "staff", None, &h("staffpw"), &groups)
            .unwrap();
        f.add("oak-class", "ks1", None, &h("acorn"), &groups)
            .unwrap();
        f.add("lion", "year1", None, &h("roar"), &groups).unwrap();
        Arc::new(UsersFileDirectory::new(f))
    }

    pub(crate) fn token(name: &str, scope: TokenScope, secret: &str) -> TokenSpec {
        TokenSpec {
            name: name.into(),
            scope,
            hash: hash_secret_with(secret.as_bytes(), &HashParams::for_tests()).unwrap(),
        }
    }

    pub(crate) fn identities(settings: &IdentitySettings) -> (Identities, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        let ids = Identities::new(
            settings,
            &config().school(),
            users(),
            clock.clone(),
            Arc::new(IdentityMetrics::new()),
        )
        .unwrap();
        (ids, clock)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn group(ids: &Identities, name: &str) -> GroupId {
        ids.group_id(name).unwrap()
    }

    fn settings() -> IdentitySettings {
        IdentitySettings {
            devices: vec![
                StaticDevice {
                    ip: ip("10.0.3.50"),
                    name: "whiteboard-3".into(),
                    group: None,
                    user: Some("mrs.khan".into()),
                },
                StaticDevice {
                    ip: ip("10.0.9.9"),
                    name: "library-pc".into(),
                    group: None,
                    user: None,
                },
            ],
            tokens: vec![token("dc01", TokenScope::LoginServer, "srv")],
            ..IdentitySettings::default()
        }
    }

    #[test]
    fn by_address_prefers_device_then_binding_then_network_then_default() {
        let (ids, _) = identities(&settings());
        let staff = group(&ids, "staff");
        let ks1 = group(&ids, "ks1");
        let guest = group(&ids, "guest");

        let d = ids.by_address(ip("10.0.3.50"));
        assert_eq!(d.source, IdentitySource::Device);
        assert_eq!(d.device.as_deref(), Some("whiteboard-3"));
        assert_eq!(d.user.as_deref(), Some("mrs.khan"));
        assert_eq!((d.group, d.account_type), (staff, AccountType::Individual));

        let lib = ids.by_address(ip("10.0.9.9"));
        assert_eq!((lib.source, lib.group), (IdentitySource::Device, guest));
        assert_eq!(lib.account_type, AccountType::None);

        let n = ids.by_address(ip("::ffff:10.0.3.7"));
        assert_eq!(n.ip, ip("10.0.3.7"));
        assert_eq!(
            (n.source, n.group, n.user),
            (IdentitySource::Network, ks1, None)
        );

        let u = ids.by_address(ip("192.168.5.5"));
        assert_eq!((u.source, u.group), (IdentitySource::Default, guest));

        // A binding beats the network, but not a static device.
        let lion = ids
            .bind_user(&ids.auth.backend().lookup("lion").unwrap().unwrap())
            .unwrap();
        for target in ["10.0.3.7", "10.0.3.50"] {
            ids.map
                .bind(&map::BindRequest {
                    scope: TokenScope::LoginServer,
                    token: "dc01".into(),
                    caller: ip("10.0.0.2"),
                    user: lion.clone(),
                    ip: ip(target),
                    ttl: None,
                })
                .unwrap();
        }
        let b = ids.by_address(ip("10.0.3.7"));
        assert_eq!(b.source, IdentitySource::IdentityMap);
        assert_eq!(b.user.as_deref(), Some("lion"));
        assert_eq!(
            (b.group, b.account_type),
            (group(&ids, "year1"), AccountType::Weak)
        );
        assert_eq!(
            ids.by_address(ip("10.0.3.50")).source,
            IdentitySource::Device
        );
    }

    #[tokio::test]
    async fn proxy_logins_carry_group_account_type_and_device() {
        let (ids, _) = identities(&settings());
        let header = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        let oak = ids
            .by_proxy_auth(ip("10.0.9.9"), header("oak-class:acorn").as_bytes())
            .await
            .unwrap();
        assert_eq!(oak.source, IdentitySource::ProxyAuth);
        assert_eq!(oak.user.as_deref(), Some("oak-class"));
        assert_eq!(oak.device.as_deref(), Some("library-pc"));
        assert_eq!(
            (oak.group, oak.account_type),
            (group(&ids, "ks1"), AccountType::Shared)
        );
        assert!(matches!(
            ids.by_proxy_auth(ip("10.0.9.9"), header("oak-class:oak").as_bytes())
                .await,
            Err(AuthError::BadCredentials)
        ));
    }

    #[test]
    fn auth_requirement_follows_networks() {
        let mut s = settings();
        s.require_auth_for = vec!["10.0.2.0/24".parse().unwrap()];
        let (ids, _) = identities(&s);
        assert!(ids.auth_required(ip("10.0.2.9")));
        assert!(ids.auth_required(ip("::ffff:10.0.2.9")));
        assert!(!ids.auth_required(ip("10.0.3.9")));
    }

    #[test]
    fn bad_devices_are_refused() {
        let mut s = settings();
        s.devices.push(StaticDevice {
            ip: ip("10.0.3.51"),
            name: "x".into(),
            group: None,
            user: Some("nobody".into()),
        });
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        let err = Identities::new(
            &s,
            &config().school(),
            users(),
            clock,
            Arc::new(IdentityMetrics::new()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown user `nobody`"), "{err}");
    }

    #[test]
    fn reload_keeps_live_bindings_and_rechecks_scope() {
        let (old, clock) = identities(&settings());
        let oak = old
            .bind_user(&old.auth.backend().lookup("oak-class").unwrap().unwrap())
            .unwrap();
        old.map
            .bind(&map::BindRequest {
                scope: TokenScope::Classroom,
                token: "pcs".into(),
                caller: ip("10.0.3.7"),
                user: oak,
                ip: ip("10.0.3.7"),
                ttl: Some(Duration::from_secs(600)),
            })
            .unwrap();
        let new = Identities::new(
            &settings(),
            &config().school(),
            users(),
            clock.clone(),
            Arc::new(IdentityMetrics::new()),
        )
        .unwrap();
        assert_eq!(new.carry_over(&old), 0);
        assert_eq!(
            new.by_address(ip("10.0.3.7")).user.as_deref(),
            Some("oak-class")
        );
        clock.advance(Duration::from_secs(600));
        assert_eq!(
            new.by_address(ip("10.0.3.7")).source,
            IdentitySource::Network
        );
    }
}
