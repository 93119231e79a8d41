//! Regex rules (squidGuard/UT1 `expressions` files, a school's own URL patterns) matched in one
//! pass: every pattern is compiled into a single `regex-automata` meta regex
//! ([`meta::Regex::new_many`]-style, with [`MatchKind::All`]), and one overlapping search says
//! which patterns match. Matching allocates nothing once a [`RegexScratch`] exists.
//!
//! Decisions a list author should know:
//!
//! - **Case-insensitive by default.** URL regex lists are written for lower-case URLs and hosts
//!   arrive lower-cased, but paths and queries keep the case the browser sent, so a pattern
//!   `porn` also matches `/PORN/`. A pattern can opt out with `(?-i)`.
//! - **Unicode-aware**, as in the `regex` crate: `.` is a character, `\w` and `\d` are Unicode
//!   classes (write `[0-9]` or `(?-u:\w)` for ASCII ones; they are also much smaller).
//! - **Unanchored**: a pattern matches anywhere in the text unless it uses `^`/`$`.
//! - **Size limits.** Each pattern is checked on its own when added, so a bad one is reported
//!   with its list line and the rest still load. A pattern whose compiled automaton
//!   (Thompson NFA) would exceed [`PATTERN_SIZE_LIMIT`] bytes (e.g. `\w{1000}`), or that nests
//!   groups deeper than [`NEST_LIMIT`], is rejected as too expensive; the whole set is limited to
//!   [`SET_SIZE_LIMIT`] bytes.
//! - **Speed.** A text that matches no rule costs one `is_match` (literal prefilter, stops
//!   early); only texts that match something pay for the overlapping search that finds every
//!   matching rule. That search runs on regex-automata's lazy DFA only when its `hybrid`
//!   feature is enabled; the workspace currently enables `meta` without `hybrid`, so it falls
//!   back to the PikeVM (measured: ~12 µs instead of ~0.35 µs for 10 patterns on a 30-byte
//!   URL). Adding `"hybrid"` (and `"dfa-onepass"`, `"nfa-backtrack"`) to the workspace's
//!   `regex-automata` features fixes that with no code change.
//! - **Patterns that match the empty string are rejected** (`a*`, `.*`, `^`, empty lines): they
//!   match every URL, which in a block list is never what was meant.

use std::sync::{Arc, Weak};

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, PatternSet};

use crate::category::{CategoryId, CategorySet};
use crate::source::SourceRef;

/// Largest compiled automaton (Thompson NFA, in bytes) one pattern may need.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Largest compiled automaton (in bytes) the whole rule set may need.
pub const SET_SIZE_LIMIT: usize = 64 << 20;

/// Deepest nesting of groups and repetitions in one pattern.
pub const NEST_LIMIT: u32 = 64;

/// A bad pattern.
#[derive(Debug, Clone, thiserror::Error)]
#[error("bad regular expression `{pattern}`: {message}")]
pub struct RegexError {
    /// The pattern.
    pub pattern: String,
    /// The parser's complaint.
    pub message: String,
}

/// Builds a [`RegexRules`].
#[derive(Debug, Default)]
pub struct RegexRulesBuilder {
    rules: Vec<(String, CategoryId, SourceRef)>,
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new()
        .case_insensitive(true)
        .nest_limit(NEST_LIMIT)
}

fn meta_config(nfa_limit: usize) -> meta::Config {
    meta::Config::new()
        .match_kind(MatchKind::All)
        .nfa_size_limit(Some(nfa_limit))
}

fn compile(patterns: &[&str], nfa_limit: usize) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(meta_config(nfa_limit))
        .build_many(patterns)
        .map_err(|e| {
            if e.size_limit().is_some() {
                format!("too expensive to match (compiled size over {nfa_limit} bytes): {e}")
            } else {
                e.to_string()
            }
        })
}

impl RegexRulesBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a pattern (checked now, so the error can name its line).
    pub fn add(
        &mut self,
        pattern: &str,
        category: CategoryId,
        source: SourceRef,
    ) -> Result<(), RegexError> {
        let err = |message: String| RegexError {
            pattern: pattern.to_string(),
            message,
        };
        let regex = compile(&[pattern], PATTERN_SIZE_LIMIT).map_err(err)?;
        if regex.is_match("") {
            return Err(err(
                "matches the empty string, so it would match every URL".into()
            ));
        }
        self.rules.push((pattern.into(), category, source));
        Ok(())
    }
    /// Number of patterns added so far.
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    /// True when no pattern has been added.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    /// Compiles all patterns into one matcher.
    pub fn build(self) -> Result<RegexRules, RegexError> {
        let regex = if self.rules.is_empty() {
            None
        } else {
            let patterns: Vec<&str> = self.rules.iter().map(|(p, _, _)| p.as_str()).collect();
            Some(
                compile(&patterns, SET_SIZE_LIMIT).map_err(|message| RegexError {
                    pattern: format!("<all {} patterns together>", patterns.len()),
                    message,
                })?,
            )
        };
        Ok(RegexRules {
            regex,
            rules: self.rules,
            identity: Arc::new(()),
        })
    }
}

/// Many patterns matched in one pass.
#[derive(Debug)]
pub struct RegexRules {
    /// All patterns as one regex; `None` when there are none.
    regex: Option<Regex>,
    /// Pattern `i` of `regex` is `rules[i]`.
    rules: Vec<(String, CategoryId, SourceRef)>,
    /// Ties a scratch to the rule set it was made for: a scratch made for another rule set
    /// (after a reload) is rebuilt rather than used with the wrong regex.
    identity: Arc<()>,
}

impl Default for RegexRules {
    fn default() -> Self {
        RegexRules {
            regex: None,
            rules: Vec::new(),
            identity: Arc::new(()),
        }
    }
}

/// Reusable matching state: the regex engines' caches and the set of matching patterns.
/// Keep one per thread (or per connection) and pass it to [`RegexRules::matches`]; a scratch
/// made for another rule set, or a `RegexScratch::default()`, is rebuilt on first use.
#[derive(Debug)]
pub struct RegexScratch {
    owner: Weak<()>,
    cache: Option<meta::Cache>,
    patterns: PatternSet,
}

impl Default for RegexScratch {
    fn default() -> Self {
        RegexScratch {
            owner: Weak::new(),
            cache: None,
            patterns: PatternSet::new(0),
        }
    }
}

/// Result of matching one text.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegexHits {
    /// Categories of every matching rule.
    pub categories: CategorySet,
    /// The first matching rule (lowest index).
    pub first: Option<(CategoryId, SourceRef)>,
}

impl RegexRules {
    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
    /// Rule `index` (in the order added): pattern, category and source.
    pub fn rule(&self, index: usize) -> Option<(&str, CategoryId, SourceRef)> {
        self.rules.get(index).map(|(p, c, s)| (p.as_str(), *c, *s))
    }
    /// Fresh scratch for this rule set.
    pub fn scratch(&self) -> RegexScratch {
        RegexScratch {
            owner: Arc::downgrade(&self.identity),
            cache: self.regex.as_ref().map(Regex::create_cache),
            patterns: PatternSet::new(self.rules.len()),
        }
    }
    /// Matches a text.
    pub fn matches(&self, text: &str, scratch: &mut RegexScratch) -> RegexHits {
        let mut hits = RegexHits::default();
        let Some(regex) = &self.regex else {
            return hits;
        };
        self.search(regex, text, scratch);
        if scratch.patterns.is_empty() {
            // Walking an empty set still visits every pattern's slot: skip it.
            return hits;
        }
        for id in scratch.patterns.iter() {
            let (_, category, source) = &self.rules[id.as_usize()];
            hits.categories.insert(*category);
            hits.first.get_or_insert((*category, *source));
        }
        hits
    }
    /// Every matching rule, in index order, for `lychgate explain` (allocates).
    pub fn explain(&self, text: &str) -> Vec<(usize, &str, CategoryId, SourceRef)> {
        let Some(regex) = &self.regex else {
            return Vec::new();
        };
        let mut scratch = self.scratch();
        self.search(regex, text, &mut scratch);
        scratch
            .patterns
            .iter()
            .map(|id| {
                let (p, c, s) = &self.rules[id.as_usize()];
                (id.as_usize(), p.as_str(), *c, *s)
            })
            .collect()
    }

    fn search(&self, regex: &Regex, text: &str, scratch: &mut RegexScratch) {
        // The scratch's `Weak` keeps the identity allocation alive, so its address cannot have
        // been reused by another rule set: equal pointers mean the same rule set. (No
        // `upgrade()`: that would bump a shared reference count on every request.)
        let ours = std::ptr::eq(scratch.owner.as_ptr(), Arc::as_ptr(&self.identity));
        if !ours || scratch.cache.is_none() {
            *scratch = self.scratch();
        }
        scratch.patterns.clear();
        if let Some(cache) = scratch.cache.as_mut() {
            let input = Input::new(text);
            // Most texts match no rule. `is_match` can stop at the first match and use the
            // literal prefilter, while the overlapping search has to find every pattern, so
            // ask the cheap question first. (With regex-automata's `hybrid` feature the
            // overlapping search runs on the lazy DFA; without it, on the much slower PikeVM:
            // see the note at the top of this file.)
            if regex.is_match_with(cache, &input) {
                regex.which_overlapping_matches_with(cache, &input, &mut scratch.patterns);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ListId;
    use proptest::prelude::*;

    fn src(line: u32) -> SourceRef {
        SourceRef {
            list: ListId(7),
            line,
        }
    }

    fn rules(patterns: &[(&str, u8)]) -> RegexRules {
        let mut b = RegexRulesBuilder::new();
        for (i, &(p, c)) in patterns.iter().enumerate() {
            b.add(p, CategoryId(c), src(i as u32 + 1)).unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn union_of_categories_and_lowest_index_first() {
        let r = rules(&[
            ("casino", 6),
            ("poker", 6),
            ("porn", 2),
            ("(?:^|\\.)bet", 6),
            ("xxx", 2),
            ("proxy", 12),
        ]);
        let mut s = r.scratch();
        let h = r.matches("www.example.com/free-poker-porn", &mut s);
        assert_eq!(
            h.categories.iter().map(|c| c.0).collect::<Vec<_>>(),
            vec![2, 6]
        );
        assert_eq!(h.first, Some((CategoryId(6), src(2))));
        let h = r.matches("xxx.example/porn", &mut s);
        assert_eq!(h.categories, CategorySet::one(CategoryId(2)));
        assert_eq!(h.first, Some((CategoryId(2), src(3))));
        let h = r.matches("bet.example/", &mut s);
        assert_eq!(h.first, Some((CategoryId(6), src(4))));
        let h = r.matches("alphabet.example/", &mut s);
        assert!(h.categories.is_empty() && h.first.is_none());
        let h = r.matches("www.bbc.co.uk/bitesize", &mut s);
        assert!(h.categories.is_empty() && h.first.is_none());
        let e = r.explain("poker-proxy");
        assert_eq!(
            e.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>(),
            vec![(1, "poker"), (5, "proxy")]
        );
    }

    #[test]
    fn shareable_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<RegexRules>();
        send::<RegexScratch>();
    }

    #[test]
    fn bad_patterns_are_named() {
        let mut b = RegexRulesBuilder::new();
        let e = b.add("(unclosed", CategoryId(2), src(1)).unwrap_err();
        assert_eq!(e.pattern, "(unclosed");
        assert!(e.to_string().contains("`(unclosed`"), "{e}");
        let e = b.add("a{2,1}", CategoryId(2), src(2)).unwrap_err();
        assert_eq!(e.pattern, "a{2,1}");
        assert!(b.is_empty());
    }

    #[test]
    fn expensive_and_match_everything_patterns_are_rejected() {
        let mut b = RegexRulesBuilder::new();
        let e = b.add(r"\w{1000}", CategoryId(2), src(1)).unwrap_err();
        assert!(e.message.contains("too expensive"), "{e}");
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(b.add(&deep, CategoryId(2), src(2)).is_err());
        for p in ["", "a*", ".*", "^", "(?:x|)"] {
            let e = b.add(p, CategoryId(2), src(3)).unwrap_err();
            assert!(e.message.contains("every URL"), "{p}: {e}");
        }
        b.add(r"[a-z]{5}[0-9]{3}", CategoryId(2), src(4)).unwrap();
        b.add(r"(?-u:\w){50}", CategoryId(2), src(5)).unwrap();
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn case_insensitive_unless_opted_out() {
        let r = rules(&[("porn", 2), ("(?-i)Casino", 6)]);
        let mut s = r.scratch();
        assert_eq!(
            r.matches("example.com/PORN", &mut s).first,
            Some((CategoryId(2), src(1)))
        );
        assert!(r.matches("example.com/casino", &mut s).first.is_none());
        assert_eq!(
            r.matches("example.com/Casino", &mut s).first,
            Some((CategoryId(6), src(2)))
        );
    }

    #[test]
    fn empty_set_and_foreign_scratch() {
        let empty = RegexRulesBuilder::new().build().unwrap();
        assert!(empty.is_empty());
        let mut s = empty.scratch();
        let h = empty.matches("anything", &mut s);
        assert!(h.first.is_none() && h.categories.is_empty());
        assert!(
            RegexRules::default()
                .matches("x", &mut RegexScratch::default())
                .first
                .is_none()
        );

        let a = rules(&[("alpha", 2)]);
        let b = rules(&[("beta", 3), ("alpha", 4)]);
        let mut s = a.scratch();
        assert_eq!(
            a.matches("alpha", &mut s).first,
            Some((CategoryId(2), src(1)))
        );
        // A scratch made for `a` used with `b` (as after a reload) is rebuilt, not misused.
        assert_eq!(
            b.matches("alpha", &mut s).first,
            Some((CategoryId(4), src(2)))
        );
        assert_eq!(b.matches("beta alpha", &mut s).categories.len(), 2);
        let mut fresh = RegexScratch::default();
        assert_eq!(
            b.matches("beta", &mut fresh).first,
            Some((CategoryId(3), src(1)))
        );
    }

    /// 100 generated patterns over a small alphabet, so random texts match some of them.
    fn hundred_patterns() -> Vec<String> {
        const FRAGMENTS: &[&str] = &[
            "ab",
            "cd",
            "x",
            "yz",
            "a.b",
            "[0-9]+",
            "(ab|cd)",
            "x?y",
            "z{2}",
            "/ab",
            r"\.c",
            "d$",
            "^a",
            "[^a]b",
            "b+",
            "(?-i)A",
            "c[xyz]",
            "[a-c]{2,3}",
            r"\d",
            "y.*z",
            "B",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::new();
        let mut b = RegexRulesBuilder::new();
        while out.len() < 100 {
            let n = 1 + next() % 3;
            let p: String = (0..n)
                .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
                .collect();
            if b.add(&p, CategoryId(0), src(0)).is_ok() {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn one_set_behaves_like_separate_regexes() {
        // Compiled once; proptest only varies the texts.
        let patterns = hundred_patterns();
        let mut b = RegexRulesBuilder::new();
        for (i, p) in patterns.iter().enumerate() {
            b.add(p, CategoryId((i % 40) as u8), src(i as u32 + 1))
                .unwrap();
        }
        let set = b.build().unwrap();
        let separate: Vec<Regex> = patterns
            .iter()
            .map(|p| compile(&[p.as_str()], PATTERN_SIZE_LIMIT).unwrap())
            .collect();
        let scratch = std::cell::RefCell::new(set.scratch());
        let matched = std::cell::Cell::new(0usize);
        let unmatched = std::cell::Cell::new(0usize);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
        runner
            .run(&"[abcdxyzAB0-9./]{0,24}", |text| {
                let want: Vec<usize> = (0..100)
                    .filter(|&i| separate[i].is_match(text.as_str()))
                    .collect();
                matched.set(matched.get() + want.len());
                unmatched.set(unmatched.get() + 100 - want.len());
                let got: Vec<usize> = set.explain(&text).iter().map(|m| m.0).collect();
                prop_assert_eq!(&got, &want, "text {:?}", text);
                let hits = set.matches(&text, &mut scratch.borrow_mut());
                let mut cats = CategorySet::EMPTY;
                want.iter()
                    .for_each(|&i| cats.insert(CategoryId((i % 40) as u8)));
                prop_assert_eq!(hits.categories, cats);
                prop_assert_eq!(
                    hits.first,
                    want.first()
                        .map(|&i| (CategoryId((i % 40) as u8), src(i as u32 + 1)))
                );
                Ok(())
            })
            .unwrap();
        // The generated patterns are a meaningful test: texts match some, not all.
        let (matched, unmatched) = (matched.get(), unmatched.get());
        assert!(matched > 500 && unmatched > 500, "{matched} {unmatched}");
    }
}
