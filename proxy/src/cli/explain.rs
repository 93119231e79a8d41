//! `lychgate explain`: the decision for one URL and group, with the rule and its file:line —
//! what a technician runs when a teacher asks "why is this blocked?".

use super::load_config;
use anyhow::Context as _;
use lychgate_classifier::policy::{Decision, GroupId, Policy, RequestKind, Rule, Scratch, Target};
use lychgate_classifier::time::LocalTime;
use serde::Serialize;
use std::path::Path;

/// The decision as printed by `--json` (stable field names for scripts).
#[derive(Debug, Serialize)]
struct ExplainJson<'a> {
    decision: &'a str,
    category: Option<&'a str>,
    categories: Vec<&'a str>,
    group: &'a str,
    url: String,
    host: &'a str,
    at: String,
    rule: &'static str,
    rule_location: Vec<String>,
    reason: String,
    search: Option<SearchJson<'a>>,
    concerns: Vec<ConcernJson<'a>>,
}

#[derive(Debug, Serialize)]
struct SearchJson<'a> {
    engine: &'a str,
    terms: &'a str,
    suggest: bool,
}

#[derive(Debug, Serialize)]
struct ConcernJson<'a> {
    theme: &'static str,
    severity: &'static str,
    phrase: &'a str,
    score: i32,
}

fn rule_name(rule: &Rule) -> &'static str {
    match rule {
        Rule::Illegal { .. } => "illegal",
        Rule::Essential { .. } => "essential",
        Rule::Override { .. } => "override",
        Rule::IpLiteral => "ip-literal",
        Rule::Homograph => "look-alike",
        Rule::Window { .. } => "time-window",
        Rule::DomainList { .. } => "domain-list",
        Rule::UrlList { .. } => "url-list",
        Rule::Regex { .. } => "regex",
        Rule::Phrases { .. } => "phrases",
        Rule::AllowListOnly => "allow-list-only",
        Rule::Default => "default",
    }
}

/// Where the deciding rule was written: its file:line, or for the compact domain index the
/// lines found by re-reading the lists of the deciding category.
fn locations(policy: &Policy, d: &Decision, host: &str) -> Vec<String> {
    if let Some(loc) = policy.rule_location(&d.rule) {
        return vec![loc];
    }
    if let Rule::DomainList { category } = d.rule {
        return policy
            .find_domain_sources(host)
            .into_iter()
            .filter(|(list, _)| policy.list(*list).category == Some(category))
            .map(|(list, line)| {
                format!(
                    "{}:{line}",
                    policy.list(list).origin.display_path().display()
                )
            })
            .collect();
    }
    Vec::new()
}

/// Parses `--at` as a civil time in the policy's zone, or takes now.
fn local_time(policy: &Policy, at: Option<&str>) -> anyhow::Result<(LocalTime, String)> {
    let zoned = match at {
        Some(text) => {
            let civil: jiff::civil::DateTime = text.parse().with_context(|| {
                format!("--at `{text}`: write a local time like 2026-11-30T12:30")
            })?;
            civil
                .to_zoned_datetime(policy.timezone().clone())
                .with_context(|| format!("--at `{text}`"))?
        }
        None => jiff::ZonedDateTime::now().with_time_zone(policy.timezone().clone()),
    };
    let lt = policy.local_time(zoned.timestamp());
    Ok((lt, zoned.strftime("%Y-%m-%dT%H:%M %Z").to_string()))
}

pub(super) fn explain(
    config: Option<&Path>,
    url: &str,
    group: &str,
    at: Option<&str>,
    json: bool,
) -> anyhow::Result<u8> {
    let config = match load_config(config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let policy = &config.policy;
    let Some(group_id) = policy.group_id(group) else {
        let names: Vec<&str> = policy.groups().iter().map(|g| g.name.as_str()).collect();
        eprintln!(
            "lychgate: unknown group `{group}`; the groups are: {}",
            names.join(", ")
        );
        return Ok(super::EXIT_CONFIG);
    };
    let target = match Target::parse(url) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("lychgate: `{url}` is not a URL or host: {e}");
            return Ok(super::EXIT_CONFIG);
        }
    };
    let (now, at_text) = local_time(policy, at)?;
    let mut scratch = Scratch::default();
    let req = target.request(RequestKind::Http);
    let d = policy.decide(group_id, now, &req, &mut scratch);
    print!(
        "{}",
        render(policy, group_id, &d, &target, &scratch, &at_text, json)?
    );
    Ok(0)
}

fn render(
    policy: &Policy,
    group: GroupId,
    d: &Decision,
    target: &Target,
    scratch: &Scratch,
    at: &str,
    json: bool,
) -> anyhow::Result<String> {
    let cats = policy.categories();
    let host = target.request(RequestKind::Http).host;
    let category = d.category.map(|c| cats.name(c));
    let locations = locations(policy, d, host);
    let url = format!(
        "{}://{}{}{}{}",
        target.url.scheme,
        host,
        target.url.port.map_or(String::new(), |p| format!(":{p}")),
        target.url.path,
        target
            .url
            .query
            .as_ref()
            .map_or(String::new(), |q| format!("?{q}"))
    );
    let out = ExplainJson {
        decision: d.action.name(),
        category,
        categories: d.categories.iter().map(|c| cats.name(c)).collect(),
        group: &policy.group(group).name,
        url,
        host,
        at: at.to_string(),
        rule: rule_name(&d.rule),
        rule_location: locations,
        reason: match (d.rule, lychgate_classifier::host::homograph_skeleton(host)) {
            // Say which listed site the address imitates: the technician needs it, and the
            // policy keeps no string for it on the request path.
            (Rule::Homograph, Some(skeleton)) => {
                format!("{} (it imitates `{skeleton}`)", policy.describe(group, d))
            }
            _ => policy.describe(group, d),
        },
        search: d.search.map(|s| SearchJson {
            engine: s.engine,
            terms: &scratch.terms,
            suggest: s.suggest,
        }),
        concerns: d
            .concerns()
            .map(|c| ConcernJson {
                theme: c.theme.name(),
                severity: c.severity.name(),
                phrase: policy.phrase_text(c.phrase).trim(),
                score: c.score,
            })
            .collect(),
    };
    if json {
        return Ok(serde_json::to_string_pretty(&out)? + "\n");
    }
    let mut s = String::new();
    // The stable first line: `decision: allow|block`, then the deciding category when there is one.
    match out.category {
        Some(c) => s += &format!("decision: {} {c}\n", out.decision),
        None => s += &format!("decision: {}\n", out.decision),
    }
    s += &format!("group: {}\n", out.group);
    s += &format!("url: {}\n", out.url);
    s += &format!("at: {}\n", out.at);
    let categories = if out.categories.is_empty() {
        "none".to_string()
    } else {
        out.categories.join(", ")
    };
    s += &format!("categories: {categories}\n");
    s += &format!("rule: {}", out.rule);
    if !out.rule_location.is_empty() {
        s += &format!(" ({})", out.rule_location.join(", "));
    }
    s += "\n";
    s += &format!("reason: {}\n", out.reason);
    if let Some(search) = &out.search {
        s += &format!(
            "search: {} \"{}\"{}\n",
            search.engine,
            search.terms,
            if search.suggest { " (suggestion)" } else { "" }
        );
    }
    for c in &out.concerns {
        s += &format!("concern: {} {} \"{}\"\n", c.theme, c.severity, c.phrase);
    }
    Ok(s)
}
