//! The policy: groups × categories × time windows → [`Decision`].
//!
//! A [`Policy`] is an immutable value built once by [`PolicyBuilder`] (from config, off the hot
//! path) and then shared by every request; the daemon swaps a whole new one in on reload.
//! [`Policy::decide`] allocates nothing once its [`Scratch`] is warm: reasons and rules are ids
//! into the policy, not fresh strings.
//!
//! # Precedence (highest first)
//! 1. **Illegal** (IWF / police lists): blocked for every group. No config can allow it.
//! 2. **Essential services** (sign-in, updates, the school's services, help lines): allowed.
//! 3. **Overrides** of the client's group, the most specific first: a URL entry (host + path)
//!    beats a domain entry, a longer domain beats a shorter one, and deny beats allow at equal
//!    specificity.
//! 4. **IP-literal hosts** (`http://1.2.3.4/` in any notation): the group's `ip_literal` action.
//! 5. **Look-alike hosts** (IDN homographs of a listed domain): blocked for groups that ask.
//! 6. **Time windows** of the group that are open now and cover one of the request's categories;
//!    a blocking window beats an allowing one.
//! 7. **Categories**: if any of the request's categories is blocked for the group, block (every
//!    category is reported). A request's categories are those of its host (domain lists), its
//!    URL (URL lists, regex rules) and its words (weighted phrases over search terms or the URL).
//! 8. **Allow-list-only** groups (Reception): anything not allowed above is blocked.
//! 9. Otherwise allowed.
//!
//! Safeguarding concerns are found by the phrase scan whatever the action: no override, window
//! or allow ever silences a concern.

use crate::category::{Categories, CategoryId, CategorySet};
use crate::domain_prefixes::DomainPrefixTable;
use crate::domains::{
    DomainIndex, DomainIndexBuilder, DomainTable, MatchScope, SuffixKey, suffix_keys_into, suffixes,
};
use crate::host::{self, Host, HostError, NormalizedUrl};
use crate::lists::phrases::{PhraseLoadStats, load_phrases, load_phrases_str};
use crate::lists::{self, ListError, ListFormat, ListSink, LoadStats};
use crate::phrases::{
    ConcernHit, PhraseId, PhraseScratch, PhraseSet, PhraseSetBuilder, SCAN_SLOTS,
};
use crate::regexes::{RegexRules, RegexRulesBuilder, RegexScratch};
use crate::search::{self, SearchMatch};
use crate::source::{ListId, ListWarning, SourceRef};
use crate::time::{LocalTime, TimeWindow};
use crate::urls::{PathMatch, UrlTable};
use jiff::tz::TimeZone;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What to do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Let it through.
    Allow,
    /// Refuse it (block page, NXDOMAIN ...).
    Block,
}

impl Action {
    /// `allow` or `block`.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Index of a group in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupId(pub u16);

/// What kind of people a group holds; later features (block-page wording, fail-closed logging)
/// depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// Adults employed by the school.
    Staff,
    /// Children.
    Pupil,
    /// Visitors and unknown devices.
    Guest,
}

impl GroupKind {
    /// Canonical name as written in config.
    pub const fn name(self) -> &'static str {
        match self {
            GroupKind::Staff => "staff",
            GroupKind::Pupil => "pupil",
            GroupKind::Guest => "guest",
        }
    }
}

/// YouTube restriction enforced for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YoutubeRestrict {
    /// No restriction.
    #[default]
    Off,
    /// `restrictmoderate.youtube.com`.
    Moderate,
    /// `restrict.youtube.com`.
    Strict,
}

impl YoutubeRestrict {
    /// Name as written in config.
    pub const fn name(self) -> &'static str {
        match self {
            YoutubeRestrict::Off => "off",
            YoutubeRestrict::Moderate => "moderate",
            YoutubeRestrict::Strict => "strict",
        }
    }
}

/// One time-window rule of a group.
#[derive(Debug, Clone)]
pub struct WindowRule {
    /// When it applies.
    pub window: TimeWindow,
    /// The categories it covers.
    pub categories: CategorySet,
    /// Whether it allows or blocks them while open.
    pub action: Action,
    /// Where it was written (config file line; list 0 is the config).
    pub source: SourceRef,
}

/// The filtering policy of one group.
#[derive(Debug, Clone)]
pub struct GroupPolicy {
    /// Name as written in config.
    pub name: String,
    /// Staff, pupil or guest.
    pub kind: GroupKind,
    /// Categories blocked at all times (outside windows that allow them).
    pub blocked: CategorySet,
    /// Categories explicitly allowed (used by `allow_list_only` groups).
    pub allowed: CategorySet,
    /// Only allowed categories, essential services and allow overrides pass.
    pub allow_list_only: bool,
    /// What to do with URLs whose host is an IP literal.
    pub ip_literal: Action,
    /// Block mixed-script look-alikes (IDN homographs) of listed domains.
    pub block_homographs: bool,
    /// Phrase score at or above which a request counts as in a phrase's category.
    pub phrase_threshold: i32,
    /// Force SafeSearch on search engines.
    pub safe_search: bool,
    /// YouTube restricted mode.
    pub youtube: YoutubeRestrict,
    /// Time windows, in config order.
    pub windows: Vec<WindowRule>,
}

impl GroupPolicy {
    /// What a group id unknown to the policy decides with: a guest group that lets only
    /// essential services through and blocks everything else (every category, IP literals,
    /// look-alikes), with SafeSearch and strict YouTube on — it fails closed.
    pub fn unknown() -> Self {
        GroupPolicy {
            blocked: CategorySet(u64::MAX),
            allow_list_only: true,
            ip_literal: Action::Block,
            youtube: YoutubeRestrict::Strict,
            ..GroupPolicy::new("unknown", GroupKind::Guest)
        }
    }

    /// A group with nothing blocked: the starting point for config.
    pub fn new(name: &str, kind: GroupKind) -> Self {
        GroupPolicy {
            name: name.to_string(),
            kind,
            blocked: CategorySet::EMPTY,
            allowed: CategorySet::EMPTY,
            allow_list_only: false,
            ip_literal: Action::Allow,
            block_homographs: kind != GroupKind::Staff,
            phrase_threshold: 100,
            safe_search: kind != GroupKind::Staff,
            youtube: YoutubeRestrict::Off,
            windows: Vec::new(),
        }
    }
}

/// Index of an override in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OverrideId(pub u32);

/// A per-group allow or deny override, always with a reason.
#[derive(Debug, Clone)]
pub struct Override {
    /// The group it belongs to.
    pub group: GroupId,
    /// Allow or block.
    pub action: Action,
    /// The host (`example.com`, `=host.example.com`) or URL (`example.com/path`) as written.
    pub pattern: String,
    /// Why: shown by `explain` and in the change-control log.
    pub reason: String,
    /// Where it was written.
    pub source: SourceRef,
}

/// Where a list's text comes from.
#[derive(Debug, Clone)]
pub enum ListOrigin {
    /// A file (or squidGuard folder) on disk.
    File(PathBuf),
    /// Text compiled into the binary (the shipped lists of the built-in default config).
    Embedded {
        /// The name it is shown under, e.g. `blocklists/adult/domains`.
        name: &'static str,
        /// The list text.
        text: &'static str,
    },
    /// Rules written in the config file itself.
    Config(PathBuf),
}

impl ListOrigin {
    /// The path shown in messages.
    pub fn display_path(&self) -> &Path {
        match self {
            ListOrigin::File(p) | ListOrigin::Config(p) => p,
            ListOrigin::Embedded { name, .. } => Path::new(name),
        }
    }
}

/// A loaded list.
#[derive(Debug, Clone)]
pub struct ListInfo {
    /// Name (config key or file name).
    pub name: String,
    /// Where it comes from.
    pub origin: ListOrigin,
    /// Its format.
    pub format: ListFormat,
    /// Category of its entries (`None` for the config itself and phrase lists).
    pub category: Option<CategoryId>,
    /// Entries it contributed.
    pub entries: usize,
}

/// Why a [`Decision`] came out as it did: an id into the policy, never a fresh string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// On an illegal-content list. Only the list is named: IWF members keep entries confidential.
    Illegal {
        /// The list.
        list: ListId,
    },
    /// An essential service.
    Essential {
        /// The matching entry.
        source: SourceRef,
    },
    /// A group override.
    Override {
        /// The override.
        id: OverrideId,
    },
    /// The host is an IP literal.
    IpLiteral,
    /// The host is a look-alike of a listed domain.
    Homograph,
    /// A time window of the group.
    Window {
        /// The group.
        group: GroupId,
        /// Index in the group's windows.
        index: u16,
    },
    /// A domain list (the compact index keeps no line numbers; `explain` finds them).
    DomainList {
        /// The category.
        category: CategoryId,
    },
    /// A URL list entry.
    UrlList {
        /// The entry.
        source: SourceRef,
    },
    /// A regex rule.
    Regex {
        /// The rule.
        source: SourceRef,
    },
    /// Weighted phrases over the search terms or URL.
    Phrases {
        /// The category whose score reached the threshold.
        category: CategoryId,
    },
    /// The group allows only listed categories.
    AllowListOnly,
    /// Nothing matched.
    Default,
}

/// Capacity of [`Decision::concerns`].
pub const MAX_CONCERNS: usize = SCAN_SLOTS;

/// The outcome of [`Policy::decide`].
#[derive(Debug, Clone, Copy)]
pub struct Decision {
    /// Allow or block.
    pub action: Action,
    /// The category that decided it, if any.
    pub category: Option<CategoryId>,
    /// Every category the request is in.
    pub categories: CategorySet,
    /// The rule that decided it.
    pub rule: Rule,
    /// The search, if the request was one (terms are in the scratch's `terms`).
    pub search: Option<SearchMatch>,
    /// Safeguarding concerns, whatever the action (`concern_len` used).
    pub concerns: [Option<ConcernHit>; MAX_CONCERNS],
    /// Used entries of `concerns`.
    pub concern_len: usize,
}

impl Decision {
    /// The concerns found.
    pub fn concerns(&self) -> impl Iterator<Item = &ConcernHit> {
        self.concerns[..self.concern_len].iter().flatten()
    }
}

/// What is being decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A web request: the whole URL counts.
    Http,
    /// A DNS question or a TLS SNI: only the host is known, so URL entries (host + path) never
    /// block the whole domain.
    HostOnly,
}

/// A request as the policy sees it: a normalised host and, for web requests, path and query.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Normalised host name, or the IP address as text.
    pub host: &'a str,
    /// The IP address when the host is an IP literal.
    pub ip: Option<IpAddr>,
    /// Path starting with `/`.
    pub path: &'a str,
    /// Query string without `?`.
    pub query: Option<&'a str>,
    /// Web request or host only.
    pub kind: RequestKind,
}

/// An owned, normalised request target, for callers that start from text (CLI, tests).
#[derive(Debug, Clone)]
pub struct Target {
    /// The normalised URL.
    pub url: NormalizedUrl,
    host_text: String,
}

impl Target {
    /// Normalises a URL, a bare host or a search URL.
    pub fn parse(input: &str) -> Result<Target, HostError> {
        Ok(Target::from_url(host::normalize_url(input)?))
    }

    /// Wraps an already normalised URL.
    pub fn from_url(url: NormalizedUrl) -> Target {
        let host_text = match &url.host {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        };
        Target { url, host_text }
    }

    /// The request view for [`Policy::decide`].
    pub fn request(&self, kind: RequestKind) -> Request<'_> {
        Request {
            host: &self.host_text,
            ip: match self.url.host {
                Host::Ip(ip) => Some(ip),
                Host::Name(_) => None,
            },
            path: &self.url.path,
            query: self.url.query.as_deref(),
            kind,
        }
    }
}

/// Reusable buffers for [`Policy::decide`]; one per worker, so deciding allocates nothing once warm.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Decoded search terms of the last request, if it was a search.
    pub terms: String,
    url_text: String,
    suffix_keys: Vec<SuffixKey>,
    phrases: PhraseScratch,
    regex: Option<RegexScratch>,
}

/// Building a policy failed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A list could not be read.
    #[error(transparent)]
    List(#[from] ListError),
    /// Too many lists.
    #[error("too many lists: at most 65535")]
    TooManyLists,
    /// Too many groups.
    #[error("too many groups: at most 65535")]
    TooManyGroups,
    /// An override pattern is not a host or URL.
    #[error("override `{pattern}`: {error}")]
    BadOverride {
        /// The pattern.
        pattern: String,
        /// Why.
        error: HostError,
    },
    /// An override without a reason.
    #[error("override `{0}` has no reason: every override must say why")]
    MissingReason(String),
    /// Something tries to allow illegal content.
    #[error("{0}: the `illegal` category is blocked for everyone and cannot be allowed")]
    AllowsIllegal(String),
    /// A regex rule set could not be compiled.
    #[error(transparent)]
    Regex(#[from] crate::regexes::RegexError),
}

/// Builds a [`Policy`]. Lists are loaded as they are added; bad lines become warnings.
#[derive(Debug)]
pub struct PolicyBuilder {
    categories: Categories,
    timezone: TimeZone,
    lists: Vec<ListInfo>,
    index: DomainIndexBuilder,
    illegal_domains: DomainTable<SourceRef>,
    illegal_urls: UrlTable<SourceRef>,
    essential_domains: DomainTable<SourceRef>,
    essential_urls: UrlTable<SourceRef>,
    urls: UrlTable<(CategoryId, SourceRef)>,
    domain_prefixes: DomainPrefixTable<(CategoryId, SourceRef)>,
    exception_domains: DomainTable<CategoryId>,
    exception_urls: UrlTable<CategoryId>,
    regexes: RegexRulesBuilder,
    phrases: PhraseSetBuilder,
    groups: Vec<GroupPolicy>,
    overrides: Vec<Override>,
    override_domains: Vec<DomainTable<OverrideId>>,
    override_urls: Vec<UrlTable<OverrideId>>,
    warnings: Vec<ListWarning>,
}

/// Routes a list's entries to the structure its category needs.
struct CategorySink<'b> {
    builder: &'b mut PolicyBuilder,
    list: ListId,
    category: CategoryId,
    path: PathBuf,
}

/// A list entry's path normalised the way request paths are (`%7e` → `~`, dot segments, `//`);
/// the query, if any, is kept as written.
fn normal_entry_path(path: &str) -> String {
    let (raw_path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut normal = host::normalize_path(raw_path);
    if let Some(q) = query {
        normal.push('?');
        normal.push_str(q);
    }
    normal
}

impl ListSink for CategorySink<'_> {
    fn begin_file(&mut self, path: &Path) {
        // A squidGuard folder loads several files: regex warnings must name the right one.
        self.path = path.to_path_buf();
    }

    fn domain(&mut self, domain: &str, scope: MatchScope, line: u32) {
        let src = SourceRef {
            list: self.list,
            line,
        };
        match self.category {
            CategoryId::ILLEGAL => self.builder.illegal_domains.insert(domain, scope, src),
            CategoryId::ESSENTIAL => self.builder.essential_domains.insert(domain, scope, src),
            c => self.builder.index.insert(domain, scope, c),
        }
    }

    fn url(&mut self, host: &str, path: &str, line: u32) {
        self.url_with(host, path, PathMatch::Segment, line);
    }

    fn url_with(&mut self, host: &str, path: &str, how: PathMatch, line: u32) {
        let src = SourceRef {
            list: self.list,
            line,
        };
        let path = normal_entry_path(path);
        let path = path.as_str();
        match self.category {
            CategoryId::ILLEGAL => self.builder.illegal_urls.insert_with(host, path, how, src),
            CategoryId::ESSENTIAL => self
                .builder
                .essential_urls
                .insert_with(host, path, how, src),
            c => self.builder.urls.insert_with(host, path, how, (c, src)),
        }
    }

    fn domain_prefix(&mut self, prefix: &str, line: u32) {
        let src = SourceRef {
            list: self.list,
            line,
        };
        self.builder
            .domain_prefixes
            .insert(prefix, (self.category, src));
    }

    fn exception_domain(&mut self, domain: &str, _line: u32) {
        // Nothing is carved out of the illegal list, and essential services are never blocked.
        if !matches!(self.category, CategoryId::ILLEGAL | CategoryId::ESSENTIAL) {
            self.builder
                .exception_domains
                .insert(domain, MatchScope::Subdomains, self.category);
        }
    }

    fn exception_url(&mut self, host: &str, path: &str, how: PathMatch, _line: u32) {
        if !matches!(self.category, CategoryId::ILLEGAL | CategoryId::ESSENTIAL) {
            let path = normal_entry_path(path);
            self.builder
                .exception_urls
                .insert_with(host, &path, how, self.category);
        }
    }

    fn regex(&mut self, pattern: &str, line: u32) {
        let src = SourceRef {
            list: self.list,
            line,
        };
        if let Err(e) = self.builder.regexes.add(pattern, self.category, src) {
            self.builder.warnings.push(ListWarning {
                path: self.path.clone(),
                line,
                message: e.to_string(),
            });
        }
    }
}

impl PolicyBuilder {
    /// A builder with the given categories and time zone. List 0 is the config itself.
    pub fn new(categories: Categories, timezone: TimeZone, config_path: PathBuf) -> Self {
        PolicyBuilder {
            categories,
            timezone,
            lists: vec![ListInfo {
                name: "config".into(),
                origin: ListOrigin::Config(config_path),
                format: ListFormat::Native,
                category: None,
                entries: 0,
            }],
            index: DomainIndexBuilder::new(),
            illegal_domains: DomainTable::default(),
            illegal_urls: UrlTable::default(),
            essential_domains: DomainTable::default(),
            essential_urls: UrlTable::default(),
            urls: UrlTable::default(),
            domain_prefixes: DomainPrefixTable::default(),
            exception_domains: DomainTable::default(),
            exception_urls: UrlTable::default(),
            regexes: RegexRulesBuilder::new(),
            phrases: PhraseSetBuilder::new(),
            groups: Vec::new(),
            overrides: Vec::new(),
            override_domains: Vec::new(),
            override_urls: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The categories table.
    pub fn categories(&self) -> &Categories {
        &self.categories
    }

    /// A list loaded so far.
    pub fn list(&self, id: ListId) -> &ListInfo {
        &self.lists[id.0 as usize]
    }

    fn next_list_id(&self) -> Result<ListId, PolicyError> {
        u16::try_from(self.lists.len())
            .map(ListId)
            .map_err(|_| PolicyError::TooManyLists)
    }

    /// Loads a domain/URL list into a category.
    pub fn add_list(
        &mut self,
        name: &str,
        category: CategoryId,
        origin: ListOrigin,
        format: ListFormat,
    ) -> Result<(ListId, LoadStats), PolicyError> {
        let list = self.next_list_id()?;
        let path = origin.display_path().to_path_buf();
        let mut sink = CategorySink {
            builder: self,
            list,
            category,
            path: path.clone(),
        };
        let stats = match &origin {
            ListOrigin::File(p) => lists::load(p, format, &mut sink)?,
            ListOrigin::Embedded { text, .. } => lists::load_str(&path, text, format, &mut sink)?,
            ListOrigin::Config(_) => LoadStats::default(),
        };
        // Regex compile warnings were pushed by the sink; keep the list's own warnings too, and
        // hand them back to the caller.
        let entries = stats.entries();
        self.warnings.extend(stats.warnings.iter().cloned());
        self.lists.push(ListInfo {
            name: name.to_string(),
            origin,
            format,
            category: Some(category),
            entries,
        });
        Ok((list, stats))
    }

    /// Loads a weighted phrase list (native or e2guardian format) into the policy's phrase set.
    pub fn add_phrase_list(
        &mut self,
        name: &str,
        origin: ListOrigin,
    ) -> Result<(ListId, PhraseLoadStats), PolicyError> {
        let list = self.next_list_id()?;
        let stats = match &origin {
            ListOrigin::File(p) => load_phrases(p, list, &self.categories, &mut self.phrases)?,
            ListOrigin::Embedded { name, text } => load_phrases_str(
                Path::new(name),
                text,
                list,
                &self.categories,
                &mut self.phrases,
            )?,
            ListOrigin::Config(_) => PhraseLoadStats::default(),
        };
        self.warnings.extend(stats.warnings.iter().cloned());
        self.lists.push(ListInfo {
            name: name.to_string(),
            origin,
            format: ListFormat::Native,
            category: None,
            entries: stats.entries,
        });
        Ok((list, stats))
    }

    /// Adds a group. Refuses a group that allows `illegal`.
    pub fn add_group(&mut self, group: GroupPolicy) -> Result<GroupId, PolicyError> {
        if group.allowed.contains(CategoryId::ILLEGAL)
            || group
                .windows
                .iter()
                .any(|w| w.action == Action::Allow && w.categories.contains(CategoryId::ILLEGAL))
        {
            return Err(PolicyError::AllowsIllegal(format!(
                "group `{}`",
                group.name
            )));
        }
        let id = GroupId(u16::try_from(self.groups.len()).map_err(|_| PolicyError::TooManyGroups)?);
        self.groups.push(group);
        self.override_domains.push(DomainTable::default());
        self.override_urls.push(UrlTable::default());
        Ok(id)
    }

    /// Adds an allow or deny override to a group. `pattern` is a host (`example.com` with
    /// subdomains, `=host.example.com` exactly) or a URL prefix (`example.com/path`).
    pub fn add_override(
        &mut self,
        group: GroupId,
        action: Action,
        pattern: &str,
        reason: &str,
        source: SourceRef,
    ) -> Result<OverrideId, PolicyError> {
        if reason.trim().is_empty() {
            return Err(PolicyError::MissingReason(pattern.to_string()));
        }
        let (exact, rest) = match pattern.strip_prefix('=') {
            Some(r) => (true, r),
            None => (false, pattern.strip_prefix("*.").unwrap_or(pattern)),
        };
        let target = Target::parse(rest).map_err(|error| PolicyError::BadOverride {
            pattern: pattern.to_string(),
            error,
        })?;
        let id = OverrideId(self.overrides.len() as u32);
        let mut path_and_query = target.url.path.clone();
        if let Some(q) = &target.url.query {
            path_and_query.push('?');
            path_and_query.push_str(q);
        }
        let has_path = rest.contains('/') && path_and_query != "/";
        let host = target.request(RequestKind::Http).host.to_string();
        let g = group.0 as usize;
        if has_path {
            self.override_urls[g].insert(&host, &path_and_query, id);
        } else {
            let scope = if exact {
                MatchScope::Exact
            } else {
                MatchScope::Subdomains
            };
            self.override_domains[g].insert(&host, scope, id);
        }
        self.overrides.push(Override {
            group,
            action,
            pattern: pattern.to_string(),
            reason: reason.to_string(),
            source,
        });
        Ok(id)
    }

    /// Bad list lines seen so far.
    pub fn warnings(&self) -> &[ListWarning] {
        &self.warnings
    }

    /// Finishes the policy.
    pub fn build(self) -> Result<Policy, PolicyError> {
        let regexes = self.regexes.build()?;
        Ok(Policy {
            categories: self.categories,
            timezone: self.timezone,
            lists: self.lists,
            index: self.index.build(),
            illegal_domains: self.illegal_domains,
            illegal_urls: self.illegal_urls,
            essential_domains: self.essential_domains,
            essential_urls: self.essential_urls,
            urls: self.urls,
            domain_prefixes: self.domain_prefixes,
            exception_domains: self.exception_domains,
            exception_urls: self.exception_urls,
            regexes,
            phrases: self.phrases.build(),
            groups: self.groups,
            unknown_group: GroupPolicy::unknown(),
            overrides: self.overrides,
            override_domains: self.override_domains,
            override_urls: self.override_urls,
            warnings: self.warnings,
        })
    }
}

/// The compiled, immutable filtering policy.
#[derive(Debug)]
pub struct Policy {
    categories: Categories,
    timezone: TimeZone,
    lists: Vec<ListInfo>,
    index: DomainIndex,
    illegal_domains: DomainTable<SourceRef>,
    illegal_urls: UrlTable<SourceRef>,
    essential_domains: DomainTable<SourceRef>,
    essential_urls: UrlTable<SourceRef>,
    urls: UrlTable<(CategoryId, SourceRef)>,
    /// Adblock `||name.` rules, any category (illegal and essential included).
    domain_prefixes: DomainPrefixTable<(CategoryId, SourceRef)>,
    /// Adblock `@@` exceptions: per entry, the category whose blocks it lifts.
    exception_domains: DomainTable<CategoryId>,
    exception_urls: UrlTable<CategoryId>,
    regexes: RegexRules,
    phrases: PhraseSet,
    groups: Vec<GroupPolicy>,
    /// What a group id this policy does not have decides with (see [`Policy::group`]).
    unknown_group: GroupPolicy,
    overrides: Vec<Override>,
    override_domains: Vec<DomainTable<OverrideId>>,
    override_urls: Vec<UrlTable<OverrideId>>,
    warnings: Vec<ListWarning>,
}

/// The most specific override matching a request, if any.
fn best_override(
    overrides: &[Override],
    domains: &DomainTable<OverrideId>,
    urls: &UrlTable<OverrideId>,
    req: &Request<'_>,
    target: &str,
    keys: &[SuffixKey],
) -> Option<OverrideId> {
    if req.kind == RequestKind::Http {
        // URL entries beat domain entries; among them the longest host then path comes first,
        // and deny beats allow at equal specificity.
        let mut best: Option<(usize, usize, OverrideId)> = None;
        for m in urls.matches_keyed(req.host, target, keys) {
            let key = (m.host.len(), m.path.len());
            let better = match best {
                None => true,
                Some((h, p, id)) => {
                    key > (h, p)
                        || (key == (h, p)
                            && overrides[m.value.0 as usize].action == Action::Block
                            && overrides[id.0 as usize].action == Action::Allow)
                }
            };
            if better {
                best = Some((key.0, key.1, *m.value));
            }
        }
        if let Some((_, _, id)) = best {
            return Some(id);
        }
    }
    let mut best: Option<(usize, OverrideId)> = None;
    for m in domains.matches_keyed(req.host, keys) {
        let len = m.domain.len();
        match best {
            Some((l, _)) if l > len => break,
            Some((l, id))
                if l == len
                    && !(overrides[m.value.0 as usize].action == Action::Block
                        && overrides[id.0 as usize].action == Action::Allow) => {}
            _ => best = Some((len, *m.value)),
        }
    }
    best.map(|(_, id)| id)
}

impl Policy {
    /// The categories table.
    pub fn categories(&self) -> &Categories {
        &self.categories
    }

    /// The configured time zone.
    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    /// Local time now-ish for a timestamp, in the policy's time zone.
    pub fn local_time(&self, at: jiff::Timestamp) -> LocalTime {
        crate::time::local_time(&self.timezone, at)
    }

    /// All groups.
    pub fn groups(&self) -> &[GroupPolicy] {
        &self.groups
    }

    /// A group by id. An id this policy does not have (one kept from another policy) gets the
    /// `unknown` group, which fails closed (see [`GroupPolicy::unknown`]) rather than panicking.
    pub fn group(&self, id: GroupId) -> &GroupPolicy {
        self.groups
            .get(usize::from(id.0))
            .unwrap_or(&self.unknown_group)
    }

    /// A group id by name.
    pub fn group_id(&self, name: &str) -> Option<GroupId> {
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(|i| GroupId(i as u16))
    }

    /// Loaded lists (index = [`ListId`]).
    pub fn lists(&self) -> &[ListInfo] {
        &self.lists
    }

    /// A list by id.
    pub fn list(&self, id: ListId) -> &ListInfo {
        &self.lists[id.0 as usize]
    }

    /// An override by id.
    pub fn override_rule(&self, id: OverrideId) -> &Override {
        &self.overrides[id.0 as usize]
    }

    /// All overrides.
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }

    /// The compact domain index.
    pub fn domain_index(&self) -> &DomainIndex {
        &self.index
    }

    /// The phrase set.
    pub fn phrases(&self) -> &PhraseSet {
        &self.phrases
    }

    /// The phrase text of a concern.
    pub fn phrase_text(&self, id: PhraseId) -> &str {
        self.phrases.text(id)
    }

    /// Entries of the illegal lists (domains + URLs).
    pub fn illegal_entries(&self) -> usize {
        self.illegal_domains.len() + self.illegal_urls.len()
    }

    /// Entries of the essential-services lists.
    pub fn essential_entries(&self) -> usize {
        self.essential_domains.len() + self.essential_urls.len()
    }

    /// URL-list entries (all categories but illegal and essential).
    pub fn url_entries(&self) -> usize {
        self.urls.len()
    }

    /// Regex rules.
    pub fn regex_rules(&self) -> usize {
        self.regexes.len()
    }

    /// Bad list lines seen while building.
    pub fn warnings(&self) -> &[ListWarning] {
        &self.warnings
    }

    /// Every category the host is in, by domain lists (illegal and essential included).
    pub fn host_categories(&self, host: &str) -> CategorySet {
        let mut set = self.index.lookup(host);
        for (c, _) in self.domain_prefixes.matches(host) {
            set.insert(*c);
        }
        for m in self.exception_domains.matches(host) {
            set = CategorySet(set.0 & !CategorySet::one(*m.value).0);
        }
        if self.illegal_domains.matches(host).next().is_some() {
            set.insert(CategoryId::ILLEGAL);
        }
        if self.essential_domains.matches(host).next().is_some() {
            set.insert(CategoryId::ESSENTIAL);
        }
        set
    }

    /// Whether a host name, or a parent of it, is on any list (used for look-alike checks).
    fn is_listed(&self, host: &str) -> bool {
        !self.host_categories(host).is_empty()
    }

    /// Decides a request for a group at a local time.
    pub fn decide(
        &self,
        group: GroupId,
        at: LocalTime,
        req: &Request<'_>,
        scratch: &mut Scratch,
    ) -> Decision {
        let g = self.group(group);
        let mut d = Decision {
            action: Action::Allow,
            category: None,
            categories: CategorySet::EMPTY,
            rule: Rule::Default,
            search: None,
            concerns: [None; MAX_CONCERNS],
            concern_len: 0,
        };
        let http = req.kind == RequestKind::Http;

        // `host/path?query` once: regex rules read all of it; URL entries and the phrase scan
        // read the part after the host (path and query, so an entry with a query — as IWF URLs
        // have — can match).
        scratch.url_text.clear();
        if http {
            scratch.url_text.push_str(req.host);
            scratch.url_text.push_str(req.path);
            if let Some(q) = req.query {
                scratch.url_text.push('?');
                scratch.url_text.push_str(q);
            }
        }
        let target_start = if http { req.host.len() } else { 0 };

        // Words first: concerns are raised whatever the action turns out to be.
        let mut phrase_categories = CategorySet::EMPTY;
        let mut phrase_decider = None;
        if http && !self.phrases.is_empty() {
            d.search = search::extract(req.host, req.path, req.query, &mut scratch.terms);
            let text: &str = if d.search.is_some() {
                &scratch.terms
            } else {
                &scratch.url_text[target_start..]
            };
            let scan = self.phrases.scan(text, &mut scratch.phrases);
            for &(cat, score) in &scan.categories[..scan.category_len] {
                if score >= g.phrase_threshold {
                    phrase_categories.insert(cat);
                    phrase_decider.get_or_insert(cat);
                }
            }
            d.concerns = scan.concerns;
            d.concern_len = scan.concern_len;
        } else if http {
            d.search = search::extract(req.host, req.path, req.query, &mut scratch.terms);
        }

        // Every table below looks the host's suffixes up by the same keys: hash them once.
        suffix_keys_into(req.host, &mut scratch.suffix_keys);
        let keys = &scratch.suffix_keys[..];
        let target = &scratch.url_text[target_start..];

        // Adblock `||name.` rules: rare, so the lookup is skipped while there are none.
        let mut prefix_categories = CategorySet::EMPTY;
        let mut prefix_illegal = None;
        let mut prefix_essential = None;
        for &(cat, src) in self.domain_prefixes.matches(req.host) {
            match cat {
                CategoryId::ILLEGAL => prefix_illegal = prefix_illegal.or(Some(src)),
                CategoryId::ESSENTIAL => prefix_essential = prefix_essential.or(Some(src)),
                c => prefix_categories.insert(c),
            }
        }

        // 1. Illegal content, for everyone.
        let illegal = self
            .illegal_domains
            .matches_keyed(req.host, keys)
            .next()
            .map(|m| *m.value)
            .or(prefix_illegal)
            .or_else(|| {
                if http {
                    self.illegal_urls
                        .matches_keyed(req.host, target, keys)
                        .next()
                        .map(|m| *m.value)
                } else {
                    None
                }
            });
        if let Some(src) = illegal {
            d.categories.insert(CategoryId::ILLEGAL);
            return block(
                d,
                Some(CategoryId::ILLEGAL),
                Rule::Illegal { list: src.list },
            );
        }

        // Categories whose blocks an adblock `@@` exception lifts for this request.
        let mut excepted = CategorySet::EMPTY;
        for m in self.exception_domains.matches_keyed(req.host, keys) {
            excepted.insert(*m.value);
        }
        if http {
            for m in self.exception_urls.matches_keyed(req.host, target, keys) {
                excepted.insert(*m.value);
            }
        }

        // 2. Essential services, for everyone. The most specific rule wins: an essential
        // host's URL that a URL list blocks for this group is decided like any other request
        // (the host itself, and every other URL on it, stay essential).
        let essential_url = if http {
            self.essential_urls
                .matches_keyed(req.host, target, keys)
                .next()
                .map(|m| *m.value)
        } else {
            None
        };
        let essential_host = self
            .essential_domains
            .matches_keyed(req.host, keys)
            .next()
            .map(|m| *m.value)
            .or(prefix_essential);
        let url_blocks_essential = essential_url.is_none()
            && essential_host.is_some()
            && http
            && self
                .urls
                .matches_keyed(req.host, target, keys)
                .any(|m| g.blocked.contains(m.value.0) && !excepted.contains(m.value.0));
        if let Some(source) = essential_url.or(essential_host.filter(|_| !url_blocks_essential)) {
            d.categories.insert(CategoryId::ESSENTIAL);
            d.category = Some(CategoryId::ESSENTIAL);
            d.rule = Rule::Essential { source };
            return d;
        }

        // The request's categories: host, URL entries, regex rules, phrases.
        let host_categories =
            CategorySet(self.index.lookup_keys(keys).union(prefix_categories).0 & !excepted.0);
        let mut categories = host_categories.union(phrase_categories);
        let mut url_rule = None;
        let mut regex_rule = None;
        if http {
            for m in self.urls.matches_keyed(req.host, target, keys) {
                let (cat, src) = *m.value;
                if excepted.contains(cat) {
                    continue;
                }
                categories.insert(cat);
                url_rule.get_or_insert((cat, src));
            }
            if !self.regexes.is_empty() {
                let cache = scratch.regex.get_or_insert_with(|| self.regexes.scratch());
                let hits = self.regexes.matches(&scratch.url_text, cache);
                categories = categories.union(hits.categories);
                regex_rule = hits.first;
            }
        }
        d.categories = categories;
        if url_blocks_essential {
            d.categories.insert(CategoryId::ESSENTIAL);
        }

        // 3. Overrides of the group, most specific first.
        let g_idx = usize::from(group.0);
        let group_overrides = self
            .override_domains
            .get(g_idx)
            .zip(self.override_urls.get(g_idx));
        if let Some(id) = group_overrides.and_then(|(domains, urls)| {
            best_override(&self.overrides, domains, urls, req, target, keys)
        }) {
            d.rule = Rule::Override { id };
            d.action = self.overrides[id.0 as usize].action;
            d.category = categories.first();
            return d;
        }

        // 4. IP literals.
        if req.ip.is_some() && g.ip_literal == Action::Block {
            return block(d, categories.first(), Rule::IpLiteral);
        }

        // 5. Look-alikes of listed domains (rare: only IDN hosts pay for the check).
        if g.block_homographs && req.host.contains("xn--") {
            if let Some(skeleton) = host::homograph_skeleton(req.host) {
                if skeleton != req.host && self.is_listed(&skeleton) {
                    return block(d, categories.first(), Rule::Homograph);
                }
            }
        }

        // 6. Time windows open now: they lift or add blocks for the categories they cover
        // (a blocking window beats an allowing one), and say so when they made the difference.
        let mut blocked_now = g.blocked;
        let mut allowed_now = g.allowed;
        let mut allow_window = None;
        let mut block_window = None;
        for (i, w) in g.windows.iter().enumerate() {
            if w.categories.intersection(categories).is_empty() || !w.window.contains(at) {
                continue;
            }
            match w.action {
                Action::Allow => {
                    blocked_now = CategorySet(blocked_now.0 & !w.categories.0);
                    allowed_now = allowed_now.union(w.categories);
                    allow_window.get_or_insert(i);
                }
                Action::Block => {
                    block_window.get_or_insert(i);
                }
            }
        }
        if let Some(i) = block_window {
            let w = &g.windows[i];
            return block(
                d,
                w.categories.intersection(categories).first(),
                Rule::Window {
                    group,
                    index: i as u16,
                },
            );
        }

        // 7. Categories blocked for the group.
        let blocked = categories.intersection(blocked_now);
        if let Some(cat) = blocked.first() {
            let from_elsewhere =
                |c: CategoryId| blocked.contains(c) && !host_categories.contains(c);
            let (rule, decider) = match (url_rule, regex_rule, phrase_decider) {
                (Some((c, source)), _, _) if from_elsewhere(c) => (Rule::UrlList { source }, c),
                (_, Some((c, source)), _) if from_elsewhere(c) => (Rule::Regex { source }, c),
                (_, _, Some(c)) if from_elsewhere(c) => (Rule::Phrases { category: c }, c),
                _ => (Rule::DomainList { category: cat }, cat),
            };
            return block(d, Some(decider), rule);
        }
        if let Some(i) = allow_window {
            if !categories.intersection(g.blocked).is_empty() || g.allow_list_only {
                let w = &g.windows[i];
                d.category = w.categories.intersection(categories).first();
                d.rule = Rule::Window {
                    group,
                    index: i as u16,
                };
                return d;
            }
        }

        // 8. Allow-list-only groups.
        if g.allow_list_only && categories.intersection(allowed_now).is_empty() {
            return block(d, categories.first(), Rule::AllowListOnly);
        }

        d.category = categories.first();
        d
    }

    /// Human-readable reason for a decision (allocates: for logs, the CLI and block pages).
    pub fn describe(&self, group: GroupId, d: &Decision) -> String {
        let g = self.group(group);
        let cat = |c: Option<CategoryId>| {
            c.map_or("uncategorised", |c| self.categories.name(c))
                .to_string()
        };
        match d.rule {
            Rule::Illegal { list } => {
                format!(
                    "on the illegal-content list `{}`: blocked for everyone",
                    self.list(list).name
                )
            }
            Rule::Essential { .. } => "an essential service: allowed for every group".into(),
            Rule::Override { id } => {
                let o = self.override_rule(id);
                format!(
                    "{} override `{}` for group `{}`: {}",
                    o.action, o.pattern, g.name, o.reason
                )
            }
            Rule::IpLiteral => format!(
                "group `{}` blocks web addresses that are bare IP addresses",
                g.name
            ),
            Rule::Homograph => {
                format!(
                    "the address imitates a listed site with look-alike letters (group `{}`)",
                    g.name
                )
            }
            Rule::Window { index, .. } => {
                let w = &g.windows[index as usize];
                format!(
                    "{} {} during {} for group `{}`",
                    w.action,
                    cat(d.category),
                    w.window,
                    g.name
                )
            }
            Rule::DomainList { .. } | Rule::UrlList { .. } | Rule::Regex { .. } => {
                format!(
                    "category `{}` is blocked for group `{}`",
                    cat(d.category),
                    g.name
                )
            }
            Rule::Phrases { category } => format!(
                "the words in the request score in category `{}`, which is blocked for group `{}`",
                self.categories.name(category),
                g.name
            ),
            Rule::AllowListOnly => {
                format!(
                    "group `{}` may only visit allowed categories and sites",
                    g.name
                )
            }
            Rule::Default => "no rule blocks it".into(),
        }
    }

    /// `file:line` of a rule, when it has one. The illegal lists are named, never their lines.
    pub fn rule_location(&self, rule: &Rule) -> Option<String> {
        let at = |s: &SourceRef| {
            let list = self.list(s.list);
            if s.line == 0 {
                list.origin.display_path().display().to_string()
            } else {
                format!("{}:{}", list.origin.display_path().display(), s.line)
            }
        };
        match rule {
            Rule::Illegal { list } => Some(self.list(*list).name.clone()),
            Rule::Essential { source } | Rule::UrlList { source } | Rule::Regex { source } => {
                Some(at(source))
            }
            Rule::Override { id } => Some(at(&self.override_rule(*id).source)),
            Rule::Window { group, index } => {
                Some(at(&self.group(*group).windows[*index as usize].source))
            }
            _ => None,
        }
    }

    /// The list lines that put `host` in a category: re-reads the lists (for `explain` and
    /// `lists lookup`, never on the request path). The illegal lists are reported by name only.
    pub fn find_domain_sources(&self, host: &str) -> Vec<(ListId, u32)> {
        struct Finder<'h> {
            host: &'h str,
            found: Vec<u32>,
        }
        impl ListSink for Finder<'_> {
            fn domain(&mut self, domain: &str, scope: MatchScope, line: u32) {
                let hit = match scope {
                    MatchScope::Exact => domain == self.host,
                    MatchScope::Subdomains => suffixes(self.host).any(|s| s == domain),
                };
                if hit {
                    self.found.push(line);
                }
            }
            fn domain_prefix(&mut self, prefix: &str, line: u32) {
                // Rare (a few per big list): a one-entry table says it as the policy does.
                let mut table = DomainPrefixTable::default();
                table.insert(prefix, ());
                if table.matches(self.host).next().is_some() {
                    self.found.push(line);
                }
            }
            fn url(&mut self, _: &str, _: &str, _: u32) {}
            fn regex(&mut self, _: &str, _: u32) {}
        }
        let mut out = Vec::new();
        for (i, list) in self.lists.iter().enumerate() {
            if list.category.is_none() {
                continue;
            }
            let mut f = Finder {
                host,
                found: Vec::new(),
            };
            let res = match &list.origin {
                ListOrigin::File(p) => lists::load(p, list.format, &mut f),
                ListOrigin::Embedded { name, text } => {
                    lists::load_str(Path::new(name), text, list.format, &mut f)
                }
                ListOrigin::Config(_) => continue,
            };
            if res.is_ok() {
                let id = ListId(i as u16);
                if list.category == Some(CategoryId::ILLEGAL) {
                    if !f.found.is_empty() {
                        out.push((id, 0));
                    }
                } else {
                    out.extend(f.found.into_iter().map(|l| (id, l)));
                }
            }
        }
        out
    }
}

fn block(mut d: Decision, category: Option<CategoryId>, rule: Rule) -> Decision {
    d.action = Action::Block;
    d.category = category;
    d.rule = rule;
    d
}
