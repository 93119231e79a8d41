//! The `[log]`, `[identity]` and `[block_page]` sections and the top-level `state_dir`: read
//! (stage one) and checked into the settings each module defines (stage two). Relative data
//! paths (`log.dir`, `state_dir`) are resolved against the directory Lychgate runs in, so the
//! default config works from a checkout; `identity.users_file` and `block_page.logo` against
//! the config file's folder, like list paths. Production configs use absolute paths.

use super::reader::{Fields, Located, Source};
use crate::identity::{IdentitySettings, StaticDevice, TokenScope, TokenSpec};
use crate::log::{LogSettings, QueryLogging};
use crate::pages::{BlockPageSettings, Branding, DEFAULT_PAGES_BASE_URL, REVIEW_PATH};
use lychgate_classifier::policy::GroupId;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The sections as written.
#[derive(Debug, Default)]
pub struct RawSections {
    /// `state_dir`.
    pub state_dir: Option<Located<String>>,
    /// `[log]`.
    pub log: RawLog,
    /// `[identity]`.
    pub identity: RawIdentity,
    /// `[block_page]`.
    pub block_page: RawBlockPage,
}

/// `[log]` as written.
#[derive(Debug, Default)]
pub struct RawLog {
    /// Folder.
    pub dir: Option<Located<String>>,
    /// File name stem.
    pub file_stem: Option<Located<String>>,
    /// Days kept.
    pub retention_days: Option<Located<i64>>,
    /// `full`, `search-terms-only` or `none`.
    pub query: Option<Located<String>>,
    /// Queue capacity.
    pub queue_capacity: Option<Located<i64>>,
    /// Largest batch.
    pub batch_max: Option<Located<i64>>,
    /// Seconds between summary lines of refused traffic.
    pub summary_interval_seconds: Option<Located<i64>>,
    /// Most milliseconds between a write and its fsync (0: every batch).
    pub fsync_interval_ms: Option<Located<i64>>,
}

/// One `[[identity.device]]`.
#[derive(Debug)]
pub struct RawDevice {
    /// Address.
    pub ip: Option<Located<String>>,
    /// Name.
    pub name: Option<Located<String>>,
    /// Group.
    pub group: Option<Located<String>>,
    /// User.
    pub user: Option<Located<String>>,
}

/// One `[[identity.token]]`.
#[derive(Debug)]
pub struct RawToken {
    /// Name.
    pub name: Option<Located<String>>,
    /// Scope.
    pub scope: Option<Located<String>>,
    /// argon2id hash.
    pub hash: Option<Located<String>>,
}

/// `[identity]` as written.
#[derive(Debug, Default)]
pub struct RawIdentity {
    /// Users file.
    pub users_file: Option<Located<String>>,
    /// Seconds a verified login is remembered.
    pub auth_cache_seconds: Option<Located<i64>>,
    /// Failed logins allowed per client per window.
    pub failure_limit: Option<Located<i64>>,
    /// Window, seconds.
    pub failure_window_seconds: Option<Located<i64>>,
    /// Default identity-map binding life, seconds.
    pub default_binding_seconds: Option<Located<i64>>,
    /// Longest identity-map binding, seconds.
    pub max_binding_seconds: Option<Located<i64>>,
    /// Static devices.
    pub devices: Vec<RawDevice>,
    /// Identity-map tokens.
    pub tokens: Vec<RawToken>,
}

/// `[block_page]` as written.
#[derive(Debug, Default)]
pub struct RawBlockPage {
    /// School name.
    pub school_name: Option<Located<String>>,
    /// Logo path.
    pub logo: Option<Located<String>>,
    /// `#rrggbb`.
    pub primary_colour: Option<Located<String>>,
    /// `#rrggbb`.
    pub background_colour: Option<Located<String>>,
    /// Who to ask.
    pub contact: Option<Located<String>>,
    /// The instruction to pupils.
    pub pupil_message: Option<Located<String>>,
    /// Offer review requests to staff.
    pub review: Option<Located<bool>>,
    /// Base URL of Lychgate's own pages.
    pub pages_url: Option<Located<String>>,
}

/// Stage one.
pub fn read(src: &mut Source<'_>, top: &mut Fields<'_, '_>) -> RawSections {
    let mut raw = RawSections {
        state_dir: top.string(src, "state_dir"),
        ..RawSections::default()
    };
    if let Some(mut t) = top.table(src, "log") {
        raw.log = RawLog {
            dir: t.string(src, "dir"),
            file_stem: t.string(src, "file_stem"),
            retention_days: t.integer(src, "retention_days"),
            query: t.string(src, "query"),
            queue_capacity: t.integer(src, "queue_capacity"),
            batch_max: t.integer(src, "batch_max"),
            summary_interval_seconds: t.integer(src, "summary_interval_seconds"),
            fsync_interval_ms: t.integer(src, "fsync_interval_ms"),
        };
        t.finish(src);
    }
    if let Some(mut t) = top.table(src, "identity") {
        raw.identity = RawIdentity {
            users_file: t.string(src, "users_file"),
            auth_cache_seconds: t.integer(src, "auth_cache_seconds"),
            failure_limit: t.integer(src, "failure_limit"),
            failure_window_seconds: t.integer(src, "failure_window_seconds"),
            default_binding_seconds: t.integer(src, "default_binding_seconds"),
            max_binding_seconds: t.integer(src, "max_binding_seconds"),
            devices: Vec::new(),
            tokens: Vec::new(),
        };
        for mut d in t.tables(src, "device") {
            raw.identity.devices.push(RawDevice {
                ip: d.string(src, "ip"),
                name: d.string(src, "name"),
                group: d.string(src, "group"),
                user: d.string(src, "user"),
            });
            d.finish(src);
        }
        for mut k in t.tables(src, "token") {
            raw.identity.tokens.push(RawToken {
                name: k.string(src, "name"),
                scope: k.string(src, "scope"),
                hash: k.string(src, "hash"),
            });
            k.finish(src);
        }
        t.finish(src);
    }
    if let Some(mut t) = top.table(src, "block_page") {
        raw.block_page = RawBlockPage {
            school_name: t.string(src, "school_name"),
            logo: t.string(src, "logo"),
            primary_colour: t.string(src, "primary_colour"),
            background_colour: t.string(src, "background_colour"),
            contact: t.string(src, "contact"),
            pupil_message: t.string(src, "pupil_message"),
            review: t.boolean(src, "review"),
            pages_url: t.string(src, "pages_url"),
        };
        t.finish(src);
    }
    raw
}

/// The block page's checked settings.
#[derive(Debug, Clone)]
pub struct BlockPage {
    /// The look.
    pub branding: Branding,
    /// Where staff review forms post (`None`: no review form).
    pub review_url: Option<String>,
    /// `pages_url` was left to its default, which names no port.
    pub default_pages_url: bool,
}

impl BlockPage {
    /// Where the review form posts, once the listeners are bound. The default pages URL names
    /// no port: that reaches Lychgate through the explicit proxy (which answers its service
    /// host on any port), but a browser in transparent mode connects to the gateway itself,
    /// and traffic to the gateway is not redirected, so the default takes the transparent
    /// HTTP listener's port when that is not 80.
    pub fn review_url_for(&self, transparent_http_port: Option<u16>) -> Option<String> {
        let url = self.review_url.as_deref()?;
        match transparent_http_port {
            Some(port) if self.default_pages_url && port != 80 => {
                Some(format!("{DEFAULT_PAGES_BASE_URL}:{port}{REVIEW_PATH}"))
            }
            _ => Some(url.to_string()),
        }
    }
}

/// The checked sections.
#[derive(Debug, Clone)]
pub struct Sections {
    /// Where review requests (and later the event store) are kept.
    pub state_dir: PathBuf,
    /// The request log.
    pub log: LogSettings,
    /// Identification.
    pub identity: IdentitySettings,
    /// The block page.
    pub block_page: BlockPage,
}

/// A number the reader has checked against its declared range.
fn given(v: Option<&Located<i64>>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v.value).ok())
}

fn relative_to(base: &Path, p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

/// Stage two. `group_id` resolves group names (recording an error for unknown ones).
pub fn validate(
    src: &mut Source<'_>,
    raw: &RawSections,
    base_dir: &Path,
    timezone: jiff::tz::TimeZone,
    group_id: &mut dyn FnMut(&mut Source<'_>, &Located<String>) -> Option<GroupId>,
) -> Sections {
    let state_dir = raw
        .state_dir
        .as_ref()
        .map_or_else(|| PathBuf::from("var/lib"), |s| PathBuf::from(&s.value));

    // [log]
    let mut log = LogSettings {
        timezone,
        ..LogSettings::default()
    };
    let l = &raw.log;
    if let Some(d) = &l.dir {
        log.dir = PathBuf::from(&d.value);
    }
    if let Some(s) = &l.file_stem {
        log.file_stem.clone_from(&s.value);
    }
    if let Some(days) = given(l.retention_days.as_ref()) {
        log.retention_days = u32::try_from(days).unwrap_or(u32::MAX);
    }
    if let Some(q) = &l.query {
        match q.value.parse::<QueryLogging>() {
            Ok(mode) => log.query = mode,
            Err(e) => src.error(
                q.offset,
                &q.field,
                e.to_string(),
                Some("full, search-terms-only or none"),
            ),
        }
    }
    if let Some(n) = given(l.queue_capacity.as_ref()) {
        log.queue_capacity = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = given(l.batch_max.as_ref()) {
        log.batch_max = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = given(l.summary_interval_seconds.as_ref()) {
        log.summary_interval = std::time::Duration::from_secs(n);
    }
    if let Some(ms) = given(l.fsync_interval_ms.as_ref()) {
        log.fsync_interval = Duration::from_millis(ms);
    }
    if let Err(e) = log.check() {
        let at = l.dir.as_ref().map_or(0, |d| d.offset);
        src.error(at, "log", e.to_string(), None);
    }

    // [identity]
    let i = &raw.identity;
    let mut identity = IdentitySettings {
        users_file: i
            .users_file
            .as_ref()
            .map(|u| relative_to(base_dir, &u.value)),
        ..IdentitySettings::default()
    };
    if let Some(s) = given(i.auth_cache_seconds.as_ref()) {
        identity.auth.cache_ttl = Duration::from_secs(s);
    }
    if let Some(n) = given(i.failure_limit.as_ref()) {
        identity.auth.failure_limit = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(s) = given(i.failure_window_seconds.as_ref()) {
        identity.auth.failure_window = Duration::from_secs(s);
    }
    if let Some(s) = given(i.default_binding_seconds.as_ref()) {
        identity.map.default_ttl = Duration::from_secs(s);
    }
    if let Some(s) = given(i.max_binding_seconds.as_ref()) {
        identity.map.max_ttl = Duration::from_secs(s);
    }
    for d in &i.devices {
        let ip =
            d.ip.as_ref()
                .and_then(|ip| match ip.value.parse::<IpAddr>() {
                    Ok(a) => Some(a),
                    Err(_) => {
                        src.error(
                            ip.offset,
                            &ip.field,
                            format!("`{}` is not an IP address", ip.value),
                            None,
                        );
                        None
                    }
                });
        let group = d.group.as_ref().and_then(|g| group_id(src, g));
        if let (Some(ip), Some(name)) = (ip, &d.name) {
            if identity.devices.iter().any(|x| x.ip == ip) {
                if let Some(a) = &d.ip {
                    src.error(
                        a.offset,
                        &a.field,
                        format!("device address {ip} is listed twice"),
                        None,
                    );
                }
                continue;
            }
            identity.devices.push(StaticDevice {
                ip,
                name: name.value.clone(),
                group,
                user: d.user.as_ref().map(|u| u.value.clone()),
            });
        }
    }
    for t in &i.tokens {
        let scope = t
            .scope
            .as_ref()
            .and_then(|s| match s.value.parse::<TokenScope>() {
                Ok(scope) => Some(scope),
                Err(e) => {
                    src.error(
                        s.offset,
                        &s.field,
                        e.to_string(),
                        Some("`classroom` or `login-server`"),
                    );
                    None
                }
            });
        if let (Some(name), Some(scope), Some(hash)) = (&t.name, scope, &t.hash) {
            if !hash.value.starts_with("$argon2id$") {
                src.error(
                    hash.offset,
                    &hash.field,
                    "a token is configured by its argon2id hash, never in plain text",
                    Some("make one with `lychgate user token --scope classroom --name NAME`"),
                );
                continue;
            }
            identity.tokens.push(TokenSpec {
                name: name.value.clone(),
                scope,
                hash: hash.value.clone(),
            });
        }
    }

    // [block_page]
    let b = &raw.block_page;
    let mut settings = BlockPageSettings::default();
    if let Some(v) = &b.school_name {
        settings.school_name.clone_from(&v.value);
    }
    settings.logo = b.logo.as_ref().map(|l| relative_to(base_dir, &l.value));
    if let Some(v) = &b.primary_colour {
        settings.primary_colour.clone_from(&v.value);
    }
    if let Some(v) = &b.background_colour {
        settings.background_colour.clone_from(&v.value);
    }
    settings.contact = b.contact.as_ref().map(|c| c.value.clone());
    if let Some(v) = &b.pupil_message {
        settings.pupil_message.clone_from(&v.value);
    }
    if let Some(v) = &b.review {
        settings.review = v.value;
    }
    if let Some(v) = &b.pages_url {
        settings.pages_url.clone_from(&v.value);
    }
    let branding = match settings.branding() {
        Ok(b) => b,
        Err(errors) => {
            let at = b.school_name.as_ref().map_or(0, |s| s.offset);
            for e in errors {
                src.error(at, "block_page", e.to_string(), None);
            }
            Branding::default()
        }
    };
    let review_url = settings.review_action().unwrap_or(None);
    Sections {
        state_dir,
        log,
        identity,
        block_page: BlockPage {
            branding,
            review_url,
            default_pages_url: b.pages_url.is_none(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_page(review_url: Option<&str>, default_pages_url: bool) -> BlockPage {
        BlockPage {
            branding: Branding::default(),
            review_url: review_url.map(str::to_string),
            default_pages_url,
        }
    }

    #[test]
    fn the_default_review_url_follows_a_transparent_listener_off_port_80() {
        let default = block_page(Some("http://lychgate.internal/review"), true);
        assert_eq!(
            default.review_url_for(Some(3129)).as_deref(),
            Some("http://lychgate.internal:3129/review")
        );
        for port in [Some(80), None] {
            assert_eq!(
                default.review_url_for(port).as_deref(),
                Some("http://lychgate.internal/review")
            );
        }
        // A pages_url the technician wrote is theirs; no review form stays none.
        let given = block_page(Some("https://filter.school.example/review"), false);
        assert_eq!(
            given.review_url_for(Some(3129)).as_deref(),
            Some("https://filter.school.example/review")
        );
        assert_eq!(block_page(None, true).review_url_for(Some(3129)), None);
    }

    use toml::de::DeTable;

    fn check(text: &str) -> (Sections, Vec<String>) {
        let mut src = Source::new(Path::new("test.toml"), text);
        let (doc, _) = DeTable::parse_recoverable(text);
        let mut top = Fields::new(doc.get_ref(), "", 0, &crate::config::schema::TOP);
        let raw = read(&mut src, &mut top);
        let sections = validate(
            &mut src,
            &raw,
            Path::new("."),
            jiff::tz::TimeZone::UTC,
            &mut |_, _| None,
        );
        let errors = src.errors.0.iter().map(|e| e.to_string()).collect();
        (sections, errors)
    }

    #[test]
    fn fsync_interval_ms_defaults_to_a_second_and_zero_means_every_batch() {
        let (s, errors) = check("");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.log.fsync_interval, Duration::from_secs(1));
        let (s, errors) = check("[log]\nfsync_interval_ms = 0\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.log.fsync_interval, Duration::ZERO);
        let (s, errors) = check("[log]\nfsync_interval_ms = 250\n");
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(s.log.fsync_interval, Duration::from_millis(250));
    }

    #[test]
    fn a_negative_or_huge_fsync_interval_is_refused_with_its_line() {
        for bad in ["-1", "3600001"] {
            let (_, errors) = check(&format!(
                "[log]\nqueue_capacity = 10\nfsync_interval_ms = {bad}\n"
            ));
            let all = errors.join("\n");
            assert!(
                all.contains("test.toml:3") && all.contains("out of range"),
                "{all}"
            );
        }
    }
}
