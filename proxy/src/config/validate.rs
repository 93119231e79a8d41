//! Stage two: the raw config checked for meaning (names resolve, times parse, lists load,
//! nothing allows illegal content) and turned into the typed [`Config`] with its compiled
//! [`Policy`]. Every problem is recorded; the config is only returned when there are none.

use super::raw::{RawConfig, RawGroup, RawList};
use super::reader::{Located, Source, closest};
use super::sections;
use super::serving::{self, ProxySettings, StaticHosts};
use super::{ConfigOrigin, builtin};
use crate::identity::{AccountType, GroupInfo, School};
use crate::net::Cidr;
use jiff::tz::TimeZone;
use lychgate_classifier::category::{Categories, CategoryId, CategorySet};
use lychgate_classifier::lists::{ListFormat, SkipCounts};
use lychgate_classifier::policy::{
    Action, GroupId, GroupKind, GroupPolicy, ListOrigin, Policy, PolicyBuilder, WindowRule,
    YoutubeRestrict,
};
use lychgate_classifier::source::{ListId, ListWarning, SourceRef};
use lychgate_classifier::time::TimeWindow;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Listener addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Explicit web proxy.
    pub proxy: SocketAddr,
    /// Filtering DNS server (UDP and TCP on each).
    pub dns: Vec<SocketAddr>,
    /// Metrics, health and admin API.
    pub admin: SocketAddr,
    /// Transparent port-80 listener (nftables redirects the LAN's port 80 here).
    pub transparent_http: Option<SocketAddr>,
    /// Transparent port-443 listener (SNI peek and splice).
    pub transparent_https: Option<SocketAddr>,
}

/// A client network and its group.
#[derive(Debug, Clone)]
pub struct Network {
    /// Address block.
    pub cidr: Cidr,
    /// Group of its clients.
    pub group: GroupId,
    /// Description.
    pub name: String,
    /// Clients here must sign in to the proxy (`Proxy-Authorization`).
    pub auth_required: bool,
    /// Proxy connections only this network's clients may use (`reserved_connections`, by
    /// default an even share of half of `[proxy] max_connections`).
    pub reserved_connections: usize,
}

/// What the config says about a group beyond its filtering policy.
#[derive(Debug, Clone, Copy)]
pub struct GroupMeta {
    /// Identity strength of its logins.
    pub account_type: AccountType,
    /// Staff, pupils or guests.
    pub kind: GroupKind,
    /// When the request log cannot be written: block (true) or serve unlogged (false).
    pub fail_closed: bool,
    /// TLS connections without a server name (SNI): decided on the address alone, or refused.
    pub no_sni: Action,
    /// Bytes inside a CONNECT tunnel that are not TLS.
    pub non_tls_tunnel: Action,
}

/// What loading one list produced.
#[derive(Debug, Clone)]
pub struct ListSummary {
    /// The list.
    pub list: ListId,
    /// Domain entries.
    pub domains: usize,
    /// URL entries.
    pub urls: usize,
    /// Regex entries.
    pub regexes: usize,
    /// Lines skipped on purpose.
    pub skipped: usize,
    /// Lines skipped on purpose, per reason.
    pub skips: SkipCounts,
    /// Adblock exceptions kept.
    pub exceptions: usize,
    /// Bad lines (every one, not only those with a warning kept).
    pub bad_lines: usize,
    /// Warnings of this list kept in [`Config::list_warnings`] (a summary included).
    kept_warnings: usize,
}

/// A checked configuration with its compiled policy.
#[derive(Debug)]
pub struct Config {
    /// Where it was read from.
    pub origin: ConfigOrigin,
    /// IANA name of the time zone.
    pub timezone_name: String,
    /// Group of unknown clients.
    pub default_group: GroupId,
    /// Listener addresses.
    pub listen: Listen,
    /// Client networks.
    pub networks: Vec<Network>,
    /// Per group (index = [`GroupId`]).
    pub groups: Vec<GroupMeta>,
    /// The compiled policy.
    pub policy: Policy,
    /// Per list load figures.
    pub lists: Vec<ListSummary>,
    /// Bad list lines (warnings; errors under `--strict`), the first of them per list.
    pub list_warnings: Vec<ListWarning>,
    /// Bad list lines in all: [`Config::list_warnings`] keeps only the first thousand per list.
    pub bad_list_lines: usize,
    /// Things that work but deserve a look (no illegal list, lax default group ...).
    pub warnings: Vec<String>,
    /// How the web proxy serves.
    pub proxy: ProxySettings,
    /// Names answered from config.
    pub static_hosts: StaticHosts,
    /// How the DNS server answers.
    pub dns: super::dns::DnsSettings,
    /// Where review requests are kept.
    pub state_dir: PathBuf,
    /// The request log's settings.
    pub log: crate::log::LogSettings,
    /// Identification settings.
    pub identity: crate::identity::IdentitySettings,
    /// Block page look and review form.
    pub block_page: sections::BlockPage,
    /// Every key as written or defaulted, for change control ([`Config::keys`]).
    keys: super::ConfigKeys,
    /// Time to load and compile.
    pub load_time: Duration,
}

impl Config {
    /// What identification needs: every group's name, kind and login account type, the client
    /// networks and the default group.
    pub fn school(&self) -> School {
        School {
            groups: self
                .policy
                .groups()
                .iter()
                .enumerate()
                .map(|(i, g)| GroupInfo {
                    name: std::sync::Arc::from(g.name.as_str()),
                    kind: g.kind,
                    account_type: self
                        .groups
                        .get(i)
                        .map_or(AccountType::None, |m| m.account_type),
                })
                .collect(),
            networks: self.networks.iter().map(|n| (n.cidr, n.group)).collect(),
            default_group: self.default_group,
        }
    }

    /// The config key by key (dotted path, canonical TOML value; secrets by fingerprint), in
    /// file order; [`super::ConfigKeys::diff`] names the keys two configs disagree on.
    pub fn keys(&self) -> &super::ConfigKeys {
        &self.keys
    }

    /// Whether a client address is inside a configured `[[network]]`: Lychgate serves no one
    /// else (never an open proxy or resolver).
    pub fn serves(&self, ip: std::net::IpAddr) -> bool {
        self.networks.iter().any(|n| n.cidr.contains(ip))
    }

    /// The index in `networks` of the most specific network holding a client address.
    pub fn network_of(&self, ip: std::net::IpAddr) -> Option<usize> {
        self.networks
            .iter()
            .enumerate()
            .filter(|(_, n)| n.cidr.contains(ip))
            .max_by_key(|(_, n)| n.cidr.prefix())
            .map(|(i, _)| i)
    }

    /// Whether a group's requests stop while the request log cannot be written (an unknown
    /// group does); otherwise they are served and flagged `fail_open`.
    pub fn fails_closed(&self, group: GroupId) -> bool {
        self.groups
            .get(usize::from(group.0))
            .is_none_or(|g| g.fail_closed)
    }

    /// The group of a client address, by the most specific network; `default_group` otherwise.
    pub fn group_for(&self, ip: std::net::IpAddr) -> GroupId {
        self.network_of(ip)
            .map_or(self.default_group, |i| self.networks[i].group)
    }
}

/// Each network's share of `[proxy] max_connections`: as written (range-checked), or an even
/// share of half the total; together they must leave the total intact.
fn settle_reserves(
    src: &mut Source<'_>,
    networks: &mut [Network],
    written: &[Option<&Located<i64>>],
    max_connections: usize,
) {
    let fair = crate::net::fair_reserve(max_connections, networks.len());
    // A sum too large is reported at the largest reserve written, the likeliest to change.
    let mut largest_written: Option<(usize, &Located<i64>)> = None;
    for (network, written) in networks.iter_mut().zip(written) {
        network.reserved_connections = match written {
            Some(v) => {
                let reserve = serving::number(Some(v), fair);
                if largest_written.is_none_or(|(largest, _)| reserve > largest) {
                    largest_written = Some((reserve, *v));
                }
                reserve
            }
            None => fair,
        };
    }
    let total: usize = networks.iter().map(|n| n.reserved_connections).sum();
    if let Some((_, v)) = largest_written.filter(|_| total > max_connections) {
        src.error(
            v.offset,
            &v.field,
            format!(
                "the networks reserve {total} connections in all, more than `[proxy] max_connections` ({max_connections})"
            ),
            Some("lower the reserves, or raise `max_connections`; a network without `reserved_connections` reserves an even share of half of `max_connections`"),
        );
    }
}

fn source_ref(line: usize) -> SourceRef {
    SourceRef {
        list: ListId(0),
        line: u32::try_from(line).unwrap_or(u32::MAX),
    }
}

fn hint_for(name: &str, known: &[&str]) -> String {
    match closest(name, known) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("known: {}", known.join(", ")),
    }
}

/// Checks the raw config and builds the typed one. Problems go into `src.errors`.
pub fn validate(
    src: &mut Source<'_>,
    raw: RawConfig,
    origin: ConfigOrigin,
    base_dir: &Path,
) -> Option<Config> {
    let started = Instant::now();

    let tz_name = raw
        .timezone
        .as_ref()
        .map_or("Europe/London".to_string(), |t| t.value.clone());
    let timezone = match TimeZone::get(&tz_name) {
        Ok(tz) => tz,
        Err(e) => {
            let offset = raw.timezone.as_ref().map_or(0, |t| t.offset);
            src.error(
                offset,
                "timezone",
                format!("unknown time zone `{tz_name}`: {e}"),
                Some("an IANA name such as `Europe/London`"),
            );
            TimeZone::UTC
        }
    };

    let timezone_for_log = timezone.clone();
    let mut categories = lychgate_classifier::category::Categories::default();
    for c in &raw.categories {
        if let Some(name) = &c.name {
            let sensitive = c.sensitive.as_ref().is_some_and(|s| s.value);
            if let Err(e) = categories.add_custom(&name.value, sensitive) {
                src.error(name.offset, &name.field, e.to_string(), None);
            }
        }
    }
    let category_names: Vec<String> = categories
        .ids()
        .map(|id| categories.name(id).to_string())
        .collect();
    let known_categories: Vec<&str> = category_names.iter().map(String::as_str).collect();

    let config_path = origin.display_path();
    let mut builder = PolicyBuilder::new(categories, timezone, config_path);
    let mut summaries = Vec::new();
    let mut has_illegal_list = false;

    for list in &raw.lists {
        if let Some(summary) = load_list(src, &mut builder, list, &known_categories, base_dir) {
            has_illegal_list |= builder.list(summary.list).category == Some(CategoryId::ILLEGAL);
            summaries.push(summary);
        }
    }

    for entry in &raw.phrase_lists {
        load_phrase_entry(src, &mut builder, entry, base_dir);
    }

    // Groups.
    let mut group_names: Vec<String> = Vec::new();
    let mut metas = Vec::new();
    for g in &raw.groups {
        if group_names.contains(&g.name.value) {
            src.error(g.name.offset, &g.name.field, "group defined twice", None);
            continue;
        }
        let (policy, meta) = read_group(src, &builder, g, &known_categories);
        match builder.add_group(policy) {
            Ok(id) => {
                group_names.push(g.name.value.clone());
                metas.push(meta);
                for o in &g.overrides {
                    add_override(src, &mut builder, id, o);
                }
            }
            Err(e) => src.error(g.offset, &g.name.field, e.to_string(), None),
        }
    }
    let known_groups: Vec<&str> = group_names.iter().map(String::as_str).collect();
    let mut group_id = |src: &mut Source<'_>, name: &Located<String>| -> Option<GroupId> {
        match known_groups.iter().position(|g| *g == name.value) {
            Some(i) => Some(GroupId(i as u16)),
            None => {
                src.error(
                    name.offset,
                    &name.field,
                    format!("unknown group `{}`", name.value),
                    Some(&hint_for(&name.value, &known_groups)),
                );
                None
            }
        }
    };

    // A missing `default_group` is reported by the reader: the key is declared required.
    let default_group = raw
        .default_group
        .as_ref()
        .and_then(|name| group_id(src, name));

    let mut networks = Vec::new();
    // Each kept network's `reserved_connections` as written, settled once `[proxy]` is read.
    let mut reserves_written: Vec<Option<&Located<i64>>> = Vec::new();
    let mut seen_networks: Vec<(Cidr, usize)> = Vec::new();
    for n in &raw.networks {
        let cidr = n.cidr.as_ref().and_then(|c| {
            let parsed = c.value.parse::<Cidr>();
            // Host bits are an error, but the block they truncate to still takes part in the
            // duplicate check, so `10.0.3.0/24` and `10.0.3.5/24` are also reported together.
            let block = match &parsed {
                Ok(cidr) => *cidr,
                Err(e) => {
                    src.error(c.offset, &c.field, e.to_string(), None);
                    e.truncated()?
                }
            };
            // The most specific network wins; two entries for the same block would leave the
            // group to file order, which nobody reading the config would guess.
            match seen_networks.iter().find(|(seen, _)| *seen == block) {
                Some((_, first)) => {
                    src.error(
                        c.offset,
                        &c.field,
                        format!("network `{block}` is listed twice (first on line {first})"),
                        None,
                    );
                    None
                }
                None => {
                    seen_networks.push((block, c.line));
                    parsed.ok()
                }
            }
        });
        // A network without a group is served (it is one of the school's) with the default group:
        // e.g. the guest Wi-Fi, whose devices nobody has identified.
        let group = match &n.group {
            Some(g) => group_id(src, g),
            None => default_group,
        };
        let auth_required = match n.auth.as_ref().map(|a| a.value.as_str()) {
            None | Some("optional") => false,
            Some("required") => true,
            Some(other) => {
                if let Some(a) = &n.auth {
                    src.error(
                        a.offset,
                        &a.field,
                        format!("`{other}` is neither `required` nor `optional`"),
                        None,
                    );
                }
                false
            }
        };
        if let (Some(cidr), Some(group)) = (cidr, group) {
            networks.push(Network {
                cidr,
                group,
                name: n
                    .name
                    .as_ref()
                    .map_or_else(String::new, |s| s.value.clone()),
                auth_required,
                reserved_connections: 0,
            });
            reserves_written.push(n.reserved_connections.as_ref());
        }
    }

    let listen = Listen {
        proxy: socket(src, raw.listen.proxy.as_ref(), "127.0.0.1:3128"),
        dns: dns_sockets(src, raw.listen.dns.as_deref()),
        admin: socket(src, raw.listen.admin.as_ref(), "127.0.0.1:9090"),
        transparent_http: serving::optional_socket(src, raw.listen.transparent_http.as_ref()),
        transparent_https: serving::optional_socket(src, raw.listen.transparent_https.as_ref()),
    };
    let (proxy, static_hosts) = serving::validate(src, &raw.serving);
    settle_reserves(src, &mut networks, &reserves_written, proxy.max_connections);
    let dns = super::dns::validate(src, &raw.dns, base_dir);
    let mut sections = sections::validate(
        src,
        &raw.sections,
        base_dir,
        timezone_for_log.clone(),
        &mut group_id,
    );
    sections.identity.require_auth_for = networks
        .iter()
        .filter(|n| n.auth_required)
        .map(|n| n.cidr)
        .collect();

    if !src.errors.is_empty() {
        return None;
    }
    let default_group = default_group?;
    let list_warnings: Vec<ListWarning> = builder.warnings().to_vec();
    // Warnings not from a list's own lines (regex rules that do not compile, phrase lists) are
    // one bad line each; a list's own count includes the lines past its kept warnings.
    let kept_from_lists: usize = summaries.iter().map(|s| s.kept_warnings).sum();
    let bad_list_lines = list_warnings.len().saturating_sub(kept_from_lists)
        + summaries.iter().map(|s| s.bad_lines).sum::<usize>();
    let policy = match builder.build() {
        Ok(p) => p,
        Err(e) => {
            src.error(0, "", e.to_string(), None);
            return None;
        }
    };

    let mut warnings = Vec::new();
    if !has_illegal_list {
        warnings.push(
            "no `illegal` list is configured: add the IWF URL list (and the police terrorism list) as \
             [[list]] category = \"illegal\" — see docs/configuration.md"
                .to_string(),
        );
    }
    for block in proxy
        .allowed_private_destinations
        .iter()
        .filter(|c| c.addr().is_loopback())
    {
        warnings.push(format!(
            "[proxy] allowed_private_destinations opens loopback `{block}`: every client can reach \
             services on the gateway itself through the proxy (Lychgate's own listeners stay \
             refused); list loopback only in a lab or for the side-by-side benchmarks"
        ));
    }
    let default = policy.group(default_group);
    for (i, g) in policy.groups().iter().enumerate() {
        if g.kind != GroupKind::Pupil || i == default_group.0 as usize {
            continue;
        }
        for why in less_strict(policy.categories(), default, g) {
            warnings.push(format!(
                "default_group `{}` is less strict than pupil group `{}`: {why}",
                default.name, g.name
            ));
        }
    }

    Some(Config {
        origin,
        timezone_name: tz_name,
        default_group,
        listen,
        networks,
        groups: metas,
        policy,
        lists: summaries,
        list_warnings,
        bad_list_lines,
        warnings,
        proxy,
        static_hosts,
        dns,
        state_dir: sections.state_dir,
        log: sections.log,
        identity: sections.identity,
        block_page: sections.block_page,
        keys: super::ConfigKeys(std::mem::take(&mut src.values)),
        load_time: started.elapsed(),
    })
}

/// `listen.dns`: one address or several; `127.0.0.1:5300` when absent.
fn dns_sockets(src: &mut Source<'_>, values: Option<&[Located<String>]>) -> Vec<SocketAddr> {
    let Some(values) = values else {
        return vec![SocketAddr::from(([127, 0, 0, 1], 5300))];
    };
    if values.is_empty() {
        src.error(
            0,
            "listen.dns",
            "lists no address",
            Some("write e.g. dns = \"10.0.0.1:53\""),
        );
    }
    values
        .iter()
        .filter_map(|v| serving::optional_socket(src, Some(v)))
        .collect()
}

fn socket(src: &mut Source<'_>, value: Option<&Located<String>>, default: &str) -> SocketAddr {
    let fallback: SocketAddr = default
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    match value {
        None => fallback,
        Some(v) => v.value.parse().unwrap_or_else(|_| {
            src.error(
                v.offset,
                &v.field,
                format!("`{}` is not an address and port", v.value),
                Some("write e.g. `127.0.0.1:3128` or `[::1]:3128`"),
            );
            fallback
        }),
    }
}

fn resolve_category(
    src: &mut Source<'_>,
    builder: &PolicyBuilder,
    name: &Located<String>,
    known: &[&str],
) -> Option<CategoryId> {
    let id = builder.categories().id(&name.value);
    if id.is_none() {
        src.error(
            name.offset,
            &name.field,
            format!("unknown category `{}`", name.value),
            Some(&hint_for(&name.value, known)),
        );
    }
    id
}

fn resolve_set(
    src: &mut Source<'_>,
    builder: &PolicyBuilder,
    names: &[Located<String>],
    known: &[&str],
) -> CategorySet {
    let mut set = CategorySet::EMPTY;
    for n in names {
        if let Some(id) = resolve_category(src, builder, n, known) {
            set.insert(id);
        }
    }
    set
}

fn load_list(
    src: &mut Source<'_>,
    builder: &mut PolicyBuilder,
    list: &RawList,
    known: &[&str],
    base_dir: &Path,
) -> Option<ListSummary> {
    let category = resolve_category(src, builder, list.category.as_ref()?, known)?;
    let path = list.path.as_ref()?;
    let format = match &list.format {
        None => ListFormat::Native,
        Some(f) => match ListFormat::from_name(&f.value) {
            Some(fmt) => fmt,
            None => {
                src.error(
                    f.offset,
                    &f.field,
                    format!("unknown list format `{}`", f.value),
                    Some("native, plain, hosts, adblock or squidguard"),
                );
                return None;
            }
        },
    };
    let origin = if let Some(name) = path.value.strip_prefix("builtin:") {
        match builtin::list(name) {
            Some((shown, text)) => ListOrigin::Embedded { name: shown, text },
            None => {
                let names = builtin::list_names();
                src.error(
                    path.offset,
                    &path.field,
                    format!("no list `{name}` is shipped with Lychgate"),
                    Some(&hint_for(name, &names)),
                );
                return None;
            }
        }
    } else {
        let full = base_dir.join(&path.value);
        if is_missing(&full) {
            src.error(
                path.offset,
                &path.field,
                format!("list `{}` not found", full.display()),
                Some("paths are relative to the config file's folder"),
            );
            return None;
        }
        ListOrigin::File(full)
    };
    let name = list
        .name
        .as_ref()
        .map_or_else(|| path.value.clone(), |n| n.value.clone());
    match builder.add_list(&name, category, origin, format) {
        Ok((id, stats)) => Some(ListSummary {
            list: id,
            domains: stats.domains,
            urls: stats.urls,
            regexes: stats.regexes,
            skipped: stats.skipped,
            skips: stats.skips,
            exceptions: stats.exceptions,
            bad_lines: stats.bad_lines,
            kept_warnings: stats.warnings.len(),
        }),
        Err(e) => {
            src.error(path.offset, &path.field, e.to_string(), None);
            None
        }
    }
}

fn load_phrase_entry(
    src: &mut Source<'_>,
    builder: &mut PolicyBuilder,
    entry: &Located<String>,
    base_dir: &Path,
) {
    let items: Vec<(String, ListOrigin)> = if let Some(name) = entry.value.strip_prefix("builtin:")
    {
        let all = builtin::phrase_lists(name);
        if all.is_empty() {
            src.error(
                entry.offset,
                &entry.field,
                format!("no phrase list `{name}` is shipped with Lychgate"),
                Some("`builtin:phrases` loads them all"),
            );
            return;
        }
        all.into_iter()
            .map(|(n, shown, text)| (n.to_string(), ListOrigin::Embedded { name: shown, text }))
            .collect()
    } else {
        let full = base_dir.join(&entry.value);
        if is_missing(&full) {
            src.error(
                entry.offset,
                &entry.field,
                format!("phrase list `{}` not found", full.display()),
                Some("paths are relative to the config file's folder"),
            );
            return;
        }
        vec![(entry.value.clone(), ListOrigin::File(full))]
    };
    for (name, origin) in items {
        match super::phrases::load(builder, &name, origin) {
            Ok(()) => {}
            Err(e) => src.error(entry.offset, &entry.field, e, None),
        }
    }
}

/// Only a path that really does not exist is "not found": a symlink loop, a permission problem
/// or a file that is not a list is left to the loader, whose error names the cause.
fn is_missing(path: &Path) -> bool {
    std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

fn parse_action(src: &mut Source<'_>, v: Option<&Located<String>>, default: Action) -> Action {
    match v {
        None => default,
        Some(v) => match v.value.as_str() {
            "allow" => Action::Allow,
            "block" => Action::Block,
            other => {
                src.error(
                    v.offset,
                    &v.field,
                    format!("`{other}` is neither `allow` nor `block`"),
                    None,
                );
                default
            }
        },
    }
}

fn read_group(
    src: &mut Source<'_>,
    builder: &PolicyBuilder,
    g: &RawGroup,
    known: &[&str],
) -> (GroupPolicy, GroupMeta) {
    let kind = match g.kind.as_ref().map(|k| k.value.as_str()) {
        Some("staff") => GroupKind::Staff,
        Some("guest") => GroupKind::Guest,
        Some("pupil") | None => GroupKind::Pupil,
        Some(other) => {
            let k = g.kind.as_ref().map_or(0, |k| k.offset);
            src.error(
                k,
                &format!("{}.kind", g.name.field),
                format!("unknown kind `{other}`"),
                Some("staff, pupil or guest"),
            );
            GroupKind::Pupil
        }
    };
    let account_type = match g.account_type.as_ref().map(|a| a.value.as_str()) {
        None if kind == GroupKind::Guest => AccountType::None,
        None | Some("individual") => AccountType::Individual,
        Some("shared") => AccountType::Shared,
        Some("weak") => AccountType::Weak,
        Some("none") => AccountType::None,
        Some(other) => {
            let a = g.account_type.as_ref().map_or(0, |a| a.offset);
            src.error(
                a,
                &format!("{}.account_type", g.name.field),
                format!("unknown account type `{other}`"),
                Some("individual, shared, weak or none"),
            );
            AccountType::Individual
        }
    };
    let mut p = GroupPolicy::new(&g.name.value, kind);
    p.blocked = resolve_set(src, builder, &g.block, known);
    p.allowed = resolve_set(src, builder, &g.allow, known);
    for a in &g.allow {
        if a.value == "illegal" {
            src.error(
                a.offset,
                &a.field,
                "the `illegal` category is blocked for everyone and cannot be allowed",
                None,
            );
        }
    }
    // Reported above; dropped so the rest of the group (and what refers to it) is still checked.
    p.allowed = CategorySet(p.allowed.0 & !CategorySet::one(CategoryId::ILLEGAL).0);
    p.blocked.insert(CategoryId::ILLEGAL);
    p.allow_list_only = g.allow_list_only.as_ref().is_some_and(|b| b.value);
    p.ip_literal = parse_action(
        src,
        g.ip_literal.as_ref(),
        if kind == GroupKind::Staff {
            Action::Allow
        } else {
            Action::Block
        },
    );
    p.block_homographs = parse_action(
        src,
        g.look_alikes.as_ref(),
        if kind == GroupKind::Staff {
            Action::Allow
        } else {
            Action::Block
        },
    ) == Action::Block;
    if let Some(s) = &g.safe_search {
        p.safe_search = s.value;
    }
    p.youtube = match g.youtube.as_ref().map(|y| y.value.as_str()) {
        None | Some("off") => YoutubeRestrict::Off,
        Some("moderate") => YoutubeRestrict::Moderate,
        Some("strict") => YoutubeRestrict::Strict,
        Some(other) => {
            let y = g.youtube.as_ref().map_or(0, |y| y.offset);
            src.error(
                y,
                &format!("{}.youtube", g.name.field),
                format!("unknown YouTube mode `{other}`"),
                Some("off, moderate or strict"),
            );
            YoutubeRestrict::Off
        }
    };
    // The reader has checked it against its declared range.
    if let Some(t) = g
        .phrase_threshold
        .as_ref()
        .and_then(|t| i32::try_from(t.value).ok())
    {
        p.phrase_threshold = t;
    }
    for w in &g.windows {
        let days = w.days.as_ref().map_or("daily", |d| d.value.as_str());
        let window = match &w.time {
            Some(t) => match TimeWindow::parse(days, &t.value) {
                Ok(win) => Some(win),
                Err(e) => {
                    let (off, field) = match e {
                        lychgate_classifier::time::TimeError::BadDays(_) => w
                            .days
                            .as_ref()
                            .map_or((t.offset, &t.field), |d| (d.offset, &d.field)),
                        _ => (t.offset, &t.field),
                    };
                    src.error(off, field, e.to_string(), None);
                    None
                }
            },
            None => None,
        };
        if w.allow.is_empty() == w.block.is_empty() {
            src.error(
                w.offset,
                &w.field,
                "a window needs either `allow` or `block` (a list of categories), not both",
                None,
            );
            continue;
        }
        let (names, action) = if w.allow.is_empty() {
            (&w.block, Action::Block)
        } else {
            (&w.allow, Action::Allow)
        };
        for n in names {
            if action == Action::Allow && n.value == "illegal" {
                src.error(
                    n.offset,
                    &n.field,
                    "the `illegal` category is blocked for everyone and cannot be allowed",
                    None,
                );
            }
        }
        let mut categories = resolve_set(src, builder, names, known);
        if action == Action::Allow {
            categories = CategorySet(categories.0 & !CategorySet::one(CategoryId::ILLEGAL).0);
        }
        if let Some(window) = window {
            p.windows.push(WindowRule {
                window,
                categories,
                action,
                source: source_ref(w.line),
            });
        }
    }
    // Pupils and guests fail safe: an unreadable handshake or an unwritable log blocks.
    let strict_default = if kind == GroupKind::Staff {
        Action::Allow
    } else {
        Action::Block
    };
    let meta = GroupMeta {
        account_type,
        kind,
        fail_closed: g
            .fail_closed
            .as_ref()
            .map_or(kind != GroupKind::Staff, |b| b.value),
        no_sni: parse_action(src, g.no_sni.as_ref(), strict_default),
        non_tls_tunnel: parse_action(src, g.non_tls_tunnel.as_ref(), strict_default),
    };
    (p, meta)
}

fn add_override(
    src: &mut Source<'_>,
    builder: &mut PolicyBuilder,
    group: GroupId,
    o: &super::raw::RawOverride,
) {
    let action = parse_action(src, o.action.as_ref(), Action::Allow);
    let pattern = match (&o.host, &o.url) {
        (Some(h), None) => h,
        (None, Some(u)) => u,
        _ => {
            src.error(o.offset, &o.field, "an override needs exactly one of `host` or `url`", Some("`host = \"example.com\"` covers its subdomains; `url = \"example.com/path\"` a part of a site"));
            return;
        }
    };
    let Some(reason) = o.reason.as_ref().filter(|r| !r.value.trim().is_empty()) else {
        src.error(o.offset, &o.field, "an override needs a `reason`", Some("say why, e.g. `reason = \"used in Year 4 science\"`: it is shown by explain and kept in the change log"));
        return;
    };
    if let Err(e) = builder.add_override(
        group,
        action,
        &pattern.value,
        &reason.value,
        source_ref(pattern.line),
    ) {
        src.error(pattern.offset, &pattern.field, e.to_string(), None);
    }
}

/// Ways in which `default` lets through something `pupil` does not.
fn less_strict(categories: &Categories, default: &GroupPolicy, pupil: &GroupPolicy) -> Vec<String> {
    let mut why = Vec::new();
    // What the default group lets through of what the pupil group blocks: an allow-list-only
    // default group blocks every category it does not allow, listed as blocked or not.
    let passes = |g: &GroupPolicy, c: CategoryId| {
        !g.blocked.contains(c) && (!g.allow_list_only || g.allowed.contains(c))
    };
    let missing = CategorySet(
        pupil
            .blocked
            .iter()
            .filter(|&c| passes(default, c))
            .fold(0, |bits, c| bits | CategorySet::one(c).0),
    );
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|c| categories.name(c)).collect();
        why.push(format!(
            "it does not block {} that the pupil group blocks",
            names.join(", ")
        ));
    }
    if pupil.allow_list_only && !default.allow_list_only {
        why.push("the pupil group is allow-list-only and the default group is not".into());
    }
    if pupil.allow_list_only && default.allow_list_only {
        let wider: Vec<&str> = default
            .allowed
            .iter()
            .filter(|&c| !pupil.allowed.contains(c))
            .map(|c| categories.name(c))
            .collect();
        if !wider.is_empty() {
            why.push(format!(
                "it allows {} that the allow-list-only pupil group does not",
                wider.join(", ")
            ));
        }
    }
    if pupil.ip_literal == Action::Block && default.ip_literal == Action::Allow {
        why.push("it allows bare IP addresses".into());
    }
    if pupil.block_homographs && !default.block_homographs {
        why.push("it allows look-alike addresses".into());
    }
    if pupil.safe_search && !default.safe_search {
        why.push("it does not enforce SafeSearch".into());
    }
    if default.windows.iter().any(|w| w.action == Action::Allow) {
        why.push("it has time windows that allow categories".into());
    }
    why
}

/// A path for messages when there is no file.
pub fn embedded_path() -> PathBuf {
    PathBuf::from("<built-in default config>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(kind: GroupKind, blocked: &[CategoryId], allow_list_only: bool) -> GroupPolicy {
        let mut g = GroupPolicy::new("g", kind);
        for &c in blocked {
            g.blocked.insert(c);
        }
        g.allow_list_only = allow_list_only;
        g
    }

    #[test]
    fn an_allow_list_only_default_group_is_judged_by_what_it_allows() {
        let cats = Categories::default();
        let [adult, games, shopping] = ["adult", "games", "shopping"].map(|n| cats.id(n).unwrap());
        let pupil = group(GroupKind::Pupil, &[adult, games, shopping], false);
        let mut guest = group(GroupKind::Guest, &[], true);
        assert!(less_strict(&cats, &guest, &pupil).is_empty());
        guest.allowed.insert(shopping);
        assert_eq!(
            less_strict(&cats, &guest, &pupil),
            ["it does not block shopping that the pupil group blocks"]
        );
        // Both allow-list-only: the default group may not allow more.
        let mut strict_pupil = group(GroupKind::Pupil, &[], true);
        assert_eq!(
            less_strict(&cats, &guest, &strict_pupil),
            ["it allows shopping that the allow-list-only pupil group does not"]
        );
        strict_pupil.allowed.insert(shopping);
        assert!(less_strict(&cats, &guest, &strict_pupil).is_empty());
        // A default group that is not allow-list-only still lets unblocked categories through.
        let lax = group(GroupKind::Guest, &[adult], false);
        assert_eq!(
            less_strict(&cats, &lax, &pupil),
            ["it does not block games, shopping that the pupil group blocks"]
        );
    }
}
