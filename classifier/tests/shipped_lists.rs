//! Every list Lychgate ships loads with zero bad lines, and the essential-services list does
//! not quietly open a category list's entries.

use lychgate_classifier::category::BUILTIN;
use lychgate_classifier::domains::MatchScope;
use lychgate_classifier::lists::{self, ListFormat, ListSink};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Default)]
struct Collect(Vec<String>, usize);

impl ListSink for Collect {
    fn domain(&mut self, domain: &str, scope: MatchScope, _line: u32) {
        self.0.push(match scope {
            MatchScope::Exact => format!("={domain}"),
            MatchScope::Subdomains => domain.to_string(),
        });
    }
    fn url(&mut self, _: &str, _: &str, _: u32) {
        self.1 += 1;
    }
    fn regex(&mut self, _: &str, _: u32) {
        self.1 += 1;
    }
}

fn blocklists() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../blocklists")
}

#[test]
fn every_shipped_category_list_loads_cleanly() {
    let mut by_category = BTreeMap::new();
    for cat in BUILTIN.iter().filter(|c| c.name != "illegal") {
        let path = blocklists().join(cat.name).join("domains");
        let mut sink = Collect::default();
        let stats =
            lists::load(&path, ListFormat::Native, &mut sink).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            stats.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            stats.warnings
        );
        assert!(!sink.0.is_empty(), "{} is empty", path.display());
        assert!(
            blocklists().join(cat.name).join("README.md").is_file(),
            "{} has no README",
            cat.name
        );
        by_category.insert(cat.name, sink.0);
    }
    assert!(
        !blocklists().join("illegal").exists(),
        "the illegal list must never be shipped"
    );

    // Essential entries override every category, so none may also sit in a category list —
    // except where the list's README explains why (accounts.youtube.com: Google sign-in).
    let essential = by_category.remove("essential").expect("essential list");
    let allowed_overlap = ["=accounts.youtube.com"];
    for (cat, entries) in &by_category {
        for e in entries {
            assert!(
                !essential.contains(e) || allowed_overlap.contains(&e.as_str()),
                "`{e}` is both essential and {cat}"
            );
        }
    }
}
