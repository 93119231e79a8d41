//! The decision table (`tests/data/decisions.tsv`): over a hundred real URLs, listed and
//! unlisted, with the decision every group of the default config must get.

use crate::support::{data, school_config};
use lychgate::config::{ConfigOrigin, load};
use lychgate_classifier::policy::{Action, RequestKind, Scratch, Target};

const GROUPS: [&str; 6] = ["staff", "ks2", "ks1", "year1", "reception", "guest"];

#[test]
fn every_url_gets_the_expected_decision_for_every_group() {
    let (_dir, path) = school_config();
    let config = load(&ConfigOrigin::File(path)).expect("config loads");
    let policy = &config.policy;
    let text = std::fs::read_to_string(data().join("decisions.tsv")).expect("table");
    let mut failures = Vec::new();
    let mut rows = 0;
    let mut scratch = Scratch::default();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols.len(),
            4,
            "decisions.tsv:{}: expected 4 tab-separated columns",
            n + 1
        );
        let (url, at, expect, category) = (cols[0], cols[1], cols[2], cols[3]);
        rows += 1;
        let target =
            Target::parse(url).unwrap_or_else(|e| panic!("decisions.tsv:{}: {url}: {e}", n + 1));
        let civil: jiff::civil::DateTime = at.parse().expect("time");
        let zoned = civil
            .to_zoned_datetime(policy.timezone().clone())
            .expect("zoned");
        let now = policy.local_time(zoned.timestamp());
        for (i, group) in GROUPS.iter().enumerate() {
            let g = policy.group_id(group).expect("group");
            let d = policy.decide(g, now, &target.request(RequestKind::Http), &mut scratch);
            let want = if expect.as_bytes()[i] == b'A' {
                Action::Allow
            } else {
                Action::Block
            };
            let got_cat = d.category.map(|c| policy.categories().name(c));
            let cat_ok = category == "-" || d.action == Action::Allow || got_cat == Some(category);
            if d.action != want || !cat_ok {
                failures.push(format!(
                    "decisions.tsv:{}: {url} at {at} for {group}: want {want:?}{} got {:?} {:?} ({})",
                    n + 1,
                    if category == "-" { String::new() } else { format!(" {category}") },
                    d.action,
                    got_cat,
                    policy.describe(g, &d)
                ));
            }
        }
    }
    assert!(
        rows >= 100,
        "the table must keep at least 100 URLs, has {rows}"
    );
    assert!(
        failures.is_empty(),
        "{} wrong decisions:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
