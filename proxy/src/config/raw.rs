//! Stage one: the TOML tree read into plain structs that remember where every value was, with
//! every structural problem (unknown key, wrong type, missing field) recorded, not just the first.

use super::reader::{Fields, Located, Source};
use toml::de::DeTable;

/// `[listen]`.
#[derive(Debug, Default)]
pub struct RawListen {
    /// Explicit proxy address.
    pub proxy: Option<Located<String>>,
    /// DNS address.
    pub dns: Option<Vec<Located<String>>>,
    /// Admin listener address.
    pub admin: Option<Located<String>>,
    /// Transparent port-80 listener address.
    pub transparent_http: Option<Located<String>>,
    /// Transparent port-443 listener address.
    pub transparent_https: Option<Located<String>>,
}

/// One `[[list]]`.
#[derive(Debug)]
pub struct RawList {
    /// Name shown in reports.
    pub name: Option<Located<String>>,
    /// Category the entries go into.
    pub category: Option<Located<String>>,
    /// `builtin:NAME` or a path relative to the config file.
    pub path: Option<Located<String>>,
    /// List format.
    pub format: Option<Located<String>>,
}

/// One `[[category]]` (a school's own category).
#[derive(Debug)]
pub struct RawCategory {
    /// Its name.
    pub name: Option<Located<String>>,
    /// Never named to children.
    pub sensitive: Option<Located<bool>>,
}

/// One `[[network]]`.
#[derive(Debug)]
pub struct RawNetwork {
    /// Address block.
    pub cidr: Option<Located<String>>,
    /// Group of its clients.
    pub group: Option<Located<String>>,
    /// Description.
    pub name: Option<Located<String>>,
    /// `required` or `optional` proxy sign-in.
    pub auth: Option<Located<String>>,
    /// Proxy connections kept for this network's clients alone.
    pub reserved_connections: Option<Located<i64>>,
}

/// One `[[groups.NAME.window]]`.
#[derive(Debug)]
pub struct RawWindow {
    /// Days, e.g. `Mon-Fri`.
    pub days: Option<Located<String>>,
    /// `HH:MM-HH:MM`.
    pub time: Option<Located<String>>,
    /// Categories allowed while open.
    pub allow: Vec<Located<String>>,
    /// Categories blocked while open.
    pub block: Vec<Located<String>>,
    /// Line of the window table.
    pub line: usize,
    /// Byte offset of the window table.
    pub offset: usize,
    /// Dotted path.
    pub field: String,
}

/// One `[[groups.NAME.override]]`.
#[derive(Debug)]
pub struct RawOverride {
    /// `allow` or `block`.
    pub action: Option<Located<String>>,
    /// A host (with subdomains) or `=host` (exactly).
    pub host: Option<Located<String>>,
    /// A URL prefix `host/path`.
    pub url: Option<Located<String>>,
    /// Why.
    pub reason: Option<Located<String>>,
    /// Line of the override table.
    pub line: usize,
    /// Byte offset of the table.
    pub offset: usize,
    /// Dotted path.
    pub field: String,
}

/// One `[groups.NAME]`.
#[derive(Debug)]
pub struct RawGroup {
    /// The group's name.
    pub name: Located<String>,
    /// staff / pupil / guest.
    pub kind: Option<Located<String>>,
    /// individual / shared / weak / none.
    pub account_type: Option<Located<String>>,
    /// Categories blocked.
    pub block: Vec<Located<String>>,
    /// Categories allowed.
    pub allow: Vec<Located<String>>,
    /// Only allowed categories pass.
    pub allow_list_only: Option<Located<bool>>,
    /// allow / block.
    pub ip_literal: Option<Located<String>>,
    /// allow / block.
    pub look_alikes: Option<Located<String>>,
    /// SafeSearch.
    pub safe_search: Option<Located<bool>>,
    /// off / moderate / strict.
    pub youtube: Option<Located<String>>,
    /// Phrase score threshold.
    pub phrase_threshold: Option<Located<i64>>,
    /// Block rather than serve unlogged.
    pub fail_closed: Option<Located<bool>>,
    /// allow / block TLS without a server name.
    pub no_sni: Option<Located<String>>,
    /// allow / block non-TLS bytes in a CONNECT tunnel.
    pub non_tls_tunnel: Option<Located<String>>,
    /// Time windows.
    pub windows: Vec<RawWindow>,
    /// Overrides.
    pub overrides: Vec<RawOverride>,
    /// Byte offset of the group table.
    pub offset: usize,
}

/// The whole file, read but not yet checked for meaning.
#[derive(Debug, Default)]
pub struct RawConfig {
    /// IANA time zone.
    pub timezone: Option<Located<String>>,
    /// Group for unknown clients.
    pub default_group: Option<Located<String>>,
    /// Listener addresses.
    pub listen: RawListen,
    /// Category lists.
    pub lists: Vec<RawList>,
    /// Phrase lists.
    pub phrase_lists: Vec<Located<String>>,
    /// School-defined categories.
    pub categories: Vec<RawCategory>,
    /// Networks.
    pub networks: Vec<RawNetwork>,
    /// Groups, in file order.
    pub groups: Vec<RawGroup>,
    /// `[proxy]` and `[[static_host]]`.
    pub serving: super::serving::RawServing,
    /// `state_dir`, `[log]`, `[identity]`, `[block_page]`.
    pub sections: super::sections::RawSections,
    /// `[dns]`.
    pub dns: super::dns::RawDns,
}

/// Parses the TOML text and reads it into a [`RawConfig`]; problems go into `src.errors`.
pub fn read(src: &mut Source<'_>, text: &str) -> RawConfig {
    let (doc, parse_errors) = DeTable::parse_recoverable(text);
    for e in parse_errors {
        let offset = e.span().map_or(0, |s| s.start);
        src.error(offset, "", format!("TOML syntax: {}", e.message()), None);
    }
    let mut top = Fields::new(doc.get_ref(), "", 0, &crate::config::schema::TOP);
    let mut raw = RawConfig {
        timezone: top.string(src, "timezone"),
        default_group: top.string(src, "default_group"),
        ..RawConfig::default()
    };
    if let Some(mut t) = top.table(src, "listen") {
        raw.listen = RawListen {
            proxy: t.string(src, "proxy"),
            dns: t.one_or_more_strings(src, "dns"),
            admin: t.string(src, "admin"),
            transparent_http: t.string(src, "transparent_http"),
            transparent_https: t.string(src, "transparent_https"),
        };
        t.finish(src);
    }
    for mut t in top.tables(src, "list") {
        raw.lists.push(RawList {
            name: t.string(src, "name"),
            category: t.string(src, "category"),
            path: t.string(src, "path"),
            format: t.string(src, "format"),
        });
        t.finish(src);
    }
    if let Some(mut t) = top.table(src, "phrases") {
        raw.phrase_lists = t.strings(src, "lists").unwrap_or_default();
        t.finish(src);
    }
    for mut t in top.tables(src, "category") {
        raw.categories.push(RawCategory {
            name: t.string(src, "name"),
            sensitive: t.boolean(src, "sensitive"),
        });
        t.finish(src);
    }
    for mut t in top.tables(src, "network") {
        raw.networks.push(RawNetwork {
            cidr: t.string(src, "cidr"),
            group: t.string(src, "group"),
            name: t.string(src, "name"),
            auth: t.string(src, "auth"),
            reserved_connections: t.integer(src, "reserved_connections"),
        });
        t.finish(src);
    }
    for (name, fields) in top.entries(src, "groups") {
        if let Some(g) = fields {
            raw.groups.push(read_group(src, name, g));
        }
    }
    raw.serving = super::serving::read(src, &mut top);
    raw.sections = super::sections::read(src, &mut top);
    raw.dns = super::dns::read(src, &mut top);
    top.finish(src);
    raw
}

fn read_group(src: &mut Source<'_>, name: Located<String>, mut t: Fields<'_, '_>) -> RawGroup {
    let offset = t.offset();
    let mut g = RawGroup {
        name,
        kind: t.string(src, "kind"),
        account_type: t.string(src, "account_type"),
        block: t.strings(src, "block").unwrap_or_default(),
        allow: t.strings(src, "allow").unwrap_or_default(),
        allow_list_only: t.boolean(src, "allow_list_only"),
        ip_literal: t.string(src, "ip_literal"),
        look_alikes: t.string(src, "look_alikes"),
        safe_search: t.boolean(src, "safe_search"),
        youtube: t.string(src, "youtube"),
        phrase_threshold: t.integer(src, "phrase_threshold"),
        fail_closed: t.boolean(src, "fail_closed"),
        no_sni: t.string(src, "no_sni"),
        non_tls_tunnel: t.string(src, "non_tls_tunnel"),
        windows: Vec::new(),
        overrides: Vec::new(),
        offset,
    };
    for mut w in t.tables(src, "window") {
        let (offset, field) = (w.offset(), w.path().to_string());
        g.windows.push(RawWindow {
            days: w.string(src, "days"),
            time: w.string(src, "time"),
            allow: w.strings(src, "allow").unwrap_or_default(),
            block: w.strings(src, "block").unwrap_or_default(),
            line: src.line_of(offset),
            offset,
            field,
        });
        w.finish(src);
    }
    for mut o in t.tables(src, "override") {
        let (offset, field) = (o.offset(), o.path().to_string());
        g.overrides.push(RawOverride {
            action: o.string(src, "action"),
            host: o.string(src, "host"),
            url: o.string(src, "url"),
            reason: o.string(src, "reason"),
            line: src.line_of(offset),
            offset,
            field,
        });
        o.finish(src);
    }
    t.finish(src);
    g
}
