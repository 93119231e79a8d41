//! `lychgate check-config`: load everything `run` loads (the config and its lists, then the
//! users file, identity tokens, DNS upstream CA file, review store and request log folder, as
//! [`crate::preflight`]), then print a summary a technician can read.

use super::{EXIT_CONFIG, EXIT_LIST_DATA, load_config};
use crate::config::Config;
use lychgate_classifier::category::CategoryId;
use lychgate_classifier::policy::Action;
use std::fmt::Write as _;
use std::path::Path;

pub(super) fn check(path: Option<&Path>, strict: bool) -> anyhow::Result<u8> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    // What `run` would refuse to start with goes into the same exit code as a bad config.
    let problems = crate::preflight::preflight(&config, crate::clock::system());
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        eprintln!(
            "{} problem{} found: `lychgate run` would not start",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        return Ok(EXIT_CONFIG);
    }
    print!("{}", summary(&config));
    for w in &config.warnings {
        println!("warning: {w}");
    }
    let bad = &config.list_warnings;
    let bad_lines = config.bad_list_lines;
    if bad_lines > 0 {
        let label = if strict { "error" } else { "warning" };
        for w in bad.iter().take(50) {
            eprintln!("{label}: {w}");
        }
        if bad_lines > 50 {
            eprintln!("{label}: ... and {} more bad list lines", bad_lines - 50);
        }
        println!(
            "{} bad list line{} {}",
            bad_lines,
            if bad_lines == 1 { "" } else { "s" },
            if strict {
                "(--strict: failing)"
            } else {
                "(skipped; --strict makes them errors)"
            }
        );
        if strict {
            return Ok(EXIT_LIST_DATA);
        }
    }
    debug_assert_ne!(EXIT_CONFIG, 0);
    Ok(0)
}

/// The human summary: source, lists, groups, load time and memory.
pub(super) fn summary(config: &Config) -> String {
    let p = &config.policy;
    let cats = p.categories();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "config: {} (ok)",
        config.origin.display_path().display()
    );
    let _ = writeln!(out, "time zone: {}", config.timezone_name);
    let _ = writeln!(
        out,
        "listen: proxy {}, dns {}, admin {}",
        config.listen.proxy,
        config
            .listen
            .dns
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        config.listen.admin
    );
    let _ = writeln!(out, "lists:");
    out.push_str(&list_rows(config, "  "));
    let _ = writeln!(
        out,
        "index: {} distinct domains in {:.1} MiB ({:.1} bytes/domain); {} URL entries; {} regex rules; {} phrases; {} essential entries; {} illegal entries",
        p.domain_index().len(),
        p.domain_index().heap_bytes() as f64 / (1024.0 * 1024.0),
        if p.domain_index().is_empty() {
            0.0
        } else {
            p.domain_index().heap_bytes() as f64 / p.domain_index().len() as f64
        },
        p.url_entries(),
        p.regex_rules(),
        p.phrases().len(),
        p.essential_entries(),
        p.illegal_entries(),
    );
    let _ = writeln!(out, "groups:");
    for (i, g) in p.groups().iter().enumerate() {
        let meta = config.groups[i];
        let blocked: Vec<&str> = g
            .blocked
            .iter()
            .filter(|c| *c != CategoryId::ILLEGAL)
            .map(|c| cats.name(c))
            .collect();
        let _ = writeln!(
            out,
            "  {} (kind {}; logins: {}){}{}",
            g.name,
            g.kind.name(),
            meta.account_type.name(),
            if i == config.default_group.0 as usize {
                " [default group]"
            } else {
                ""
            },
            if g.allow_list_only {
                " [allow-list only]"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "    blocked: illegal{}{}",
            if blocked.is_empty() { "" } else { ", " },
            blocked.join(", ")
        );
        if !g.allowed.is_empty() {
            let allowed: Vec<&str> = g.allowed.iter().map(|c| cats.name(c)).collect();
            let _ = writeln!(out, "    allowed: {}", allowed.join(", "));
        }
        for w in &g.windows {
            let names: Vec<&str> = w.categories.iter().map(|c| cats.name(c)).collect();
            let _ = writeln!(
                out,
                "    timed: {} {} {}",
                w.action,
                names.join(", "),
                w.window
            );
        }
        let overrides: Vec<_> = p
            .overrides()
            .iter()
            .filter(|o| o.group.0 as usize == i)
            .collect();
        for o in overrides {
            let _ = writeln!(
                out,
                "    override: {} {} ({})",
                o.action, o.pattern, o.reason
            );
        }
        let _ = writeln!(
            out,
            "    ip addresses: {}; look-alikes: {}; safesearch: {}; youtube: {}; phrase threshold: {}",
            g.ip_literal,
            if g.block_homographs {
                Action::Block
            } else {
                Action::Allow
            },
            if g.safe_search { "on" } else { "off" },
            g.youtube.name(),
            g.phrase_threshold
        );
    }
    let _ = writeln!(out, "networks: {}", config.networks.len());
    let _ = writeln!(
        out,
        "loaded in {:.0} ms",
        config.load_time.as_secs_f64() * 1000.0
    );
    out
}

/// One line per loaded list: category, entry counts, bad lines, source. Shared by
/// `check-config` and `lists stats`.
pub(super) fn list_rows(config: &Config, indent: &str) -> String {
    let p = &config.policy;
    let mut out = String::new();
    for s in &config.lists {
        let l = p.list(s.list);
        let _ = writeln!(
            out,
            "{indent}{:<14} {:>8} domains {:>6} urls {:>4} regexes {:>5} skipped {:>4} bad  {}",
            l.category.map_or("-", |c| p.categories().name(c)),
            s.domains,
            s.urls,
            s.regexes,
            s.skipped,
            s.bad_lines,
            l.origin.display_path().display()
        );
        // Why lines were skipped: cosmetic rules are expected, lost malware hosts are not.
        let mut parts = Vec::new();
        if s.skipped > 0 {
            let reasons: Vec<String> = s
                .skips
                .nonzero()
                .map(|(reason, n)| format!("{n} {}", reason.name()))
                .collect();
            parts.push(format!("skipped: {}", reasons.join(", ")));
        }
        if s.exceptions > 0 {
            parts.push(format!("exceptions kept: {}", s.exceptions));
        }
        if !parts.is_empty() {
            let _ = writeln!(out, "{indent}  {}", parts.join("; "));
        }
    }
    out
}
