//! Weighted phrases, e2guardian style, with evasion normalisation and safeguarding concerns.
//!
//! Every phrase has a weight, an optional category and an optional safeguarding [`Theme`] and a
//! [`Severity`]. Negative weights are "good context": `scunthorpe` or `killer whale` keep a search
//! clean that a rude substring or `kill` would otherwise flag. A combination phrase (several
//! parts) scores only when every part occurs in the text.
//!
//! All phrase parts go into one `aho-corasick` automaton (a DFA for ordinary list sizes, a
//! contiguous NFA for very large ones) searched with overlapping matches, so every phrase is seen.
//! **Each distinct phrase counts once per text**, however often it occurs, as e2guardian does for
//! search terms: "die die die" weighs what "die" weighs. Texts and phrases go through the same
//! evasion normalisation ([`normalise`] module, `docs/phrases.md`) so `su1c1de`, `s.u.i.c.i.d.e`
//! and `suuuicide` read `suicide`. A phrase written with spaces at its ends (`< sex >`) matches
//! whole words only; without (`<sex>`) it matches anywhere, even inside a word.
//!
//! Scoring: a category's score is the sum of the weights of its matched phrases, negative ones
//! included; a theme's score likewise. A negative phrase with no category (or no theme) counts
//! against every category (or theme) that matched something. A theme whose score reaches the
//! concern threshold ([`DEFAULT_CONCERN_THRESHOLD`] unless set) and has at least one positive
//! phrase raises a [`ConcernHit`]. Scans allocate nothing once the [`PhraseScratch`] is warm.

mod inflect;
mod normalise;
mod text_speak;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::category::{CategoryId, MAX_CATEGORIES};
use crate::concern::{Severity, Theme};
use crate::source::SourceRef;

use normalise::{NormBuffers, normalise_into, normalise_phrase};

/// The evasion-normalised form of a text or phrase, without the spaces at its ends: what the
/// automaton sees (`normalise("Su1c1de!!")` is `"suicide"`). For `explain` and list checks.
pub fn normalise(text: &str) -> String {
    normalise_phrase(text)
}

/// Index of a phrase in its [`PhraseSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhraseId(pub u32);

/// What a phrase means when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhraseMeta {
    /// Weight added to its category's (and theme's) score; negative for "good context".
    pub weight: i32,
    /// Category whose score it adds to. For a negative phrase, `None` means every category.
    pub category: Option<CategoryId>,
    /// Safeguarding theme. For a negative phrase, `None` means every theme.
    pub theme: Option<Theme>,
    /// Severity of a concern it raises.
    pub severity: Severity,
    /// Where it was read.
    pub source: SourceRef,
}

/// Which scores a phrase counts towards. A list line naming two categories but one theme adds
/// two entries; the second must count for its category only, or the theme would count it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhraseScope {
    /// Counts towards its theme (or, negative with no theme, every theme).
    pub theme: bool,
    /// Counts towards its category (or, negative with no category, every category).
    pub category: bool,
}

impl PhraseScope {
    /// Counts towards both: what [`PhraseSetBuilder::add`] uses.
    pub const BOTH: PhraseScope = PhraseScope {
        theme: true,
        category: true,
    };
}

impl Default for PhraseScope {
    fn default() -> Self {
        PhraseScope::BOTH
    }
}

/// A concern raised by a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcernHit {
    /// Theme.
    pub theme: Theme,
    /// Highest severity among the theme's matched phrases.
    pub severity: Severity,
    /// The heaviest matched phrase of the theme.
    pub phrase: PhraseId,
    /// The theme's total score.
    pub score: i32,
}

/// Capacity of the fixed arrays in a [`ScanSummary`].
pub const SCAN_SLOTS: usize = 8;

/// The theme score at which a concern is raised unless the builder is told otherwise. Shipped
/// lists weigh a phrase that is a concern on its own at 100 or more and a weaker hint at 20–40, so
/// one clear phrase, or two or three hints of the same theme, raise a concern.
pub const DEFAULT_CONCERN_THRESHOLD: i32 = 50;

/// Most parts a combination phrase may have; a phrase with more never matches.
pub const MAX_PHRASE_PARTS: usize = 64;

/// Result of scanning one text: fixed-size, so a scan allocates nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanSummary {
    /// Per-category scores (only categories with a matched phrase), `category_len` used, highest
    /// score first. With more than [`SCAN_SLOTS`] categories matched, the lowest are left out.
    pub categories: [(CategoryId, i32); SCAN_SLOTS],
    /// Used entries of `categories`.
    pub category_len: usize,
    /// Concerns raised, `concern_len` used, most severe (then highest score) first.
    pub concerns: [Option<ConcernHit>; SCAN_SLOTS],
    /// Used entries of `concerns`.
    pub concern_len: usize,
}

impl ScanSummary {
    /// The used category scores.
    pub fn category_scores(&self) -> &[(CategoryId, i32)] {
        &self.categories[..self.category_len]
    }
    /// The score of one category (0 when nothing of it matched).
    pub fn category_score(&self, id: CategoryId) -> i32 {
        self.category_scores()
            .iter()
            .find(|(c, _)| *c == id)
            .map_or(0, |(_, s)| *s)
    }
    /// The concerns raised.
    pub fn concern_hits(&self) -> impl Iterator<Item = ConcernHit> + '_ {
        self.concerns[..self.concern_len].iter().flatten().copied()
    }
    /// The concern of one theme, if raised.
    pub fn concern(&self, theme: Theme) -> Option<ConcernHit> {
        self.concern_hits().find(|c| c.theme == theme)
    }
    /// True when at least one concern was raised.
    pub fn has_concern(&self) -> bool {
        self.concern_len > 0
    }
}

/// Reusable buffers for scanning: keep one per thread (or per connection) and pass it to every
/// [`PhraseSet::scan`]. It may be shared between different sets.
#[derive(Debug, Default)]
pub struct PhraseScratch {
    /// The normalised text of the last scan.
    text: String,
    norm: NormBuffers,
    /// Scan generation stamp per phrase, so nothing needs clearing between scans.
    stamp: Vec<u32>,
    /// Parts seen per phrase in the current generation.
    seen: Vec<u64>,
    generation: u32,
    /// Phrases completed in this scan.
    matched: Vec<u32>,
    /// Per byte of `text`, the index of the word it is in (only when a set has windows).
    word_at: Vec<u16>,
    /// Per windowed phrase, the word where each part last started.
    window_pos: Vec<[u16; MAX_WINDOW_PARTS]>,
}

impl PhraseScratch {
    /// An empty scratch; it grows on first use.
    pub fn new() -> Self {
        Self::default()
    }
    /// The normalised text of the last scan (spaces at both ends), for `explain` and tests.
    pub fn normalised(&self) -> &str {
        &self.text
    }
    /// The phrases matched by the last scan, in the order they completed.
    pub fn matched(&self) -> impl Iterator<Item = PhraseId> + '_ {
        self.matched.iter().map(|&i| PhraseId(i))
    }
}

/// The phrase set could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("cannot compile the phrase automaton: {0}")]
pub struct PhraseBuildError(#[from] aho_corasick::BuildError);

/// How a rule's parts match, beyond the plain phrase: see [`PhraseSetBuilder::add_rule`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleOptions {
    /// Words also match their English inflections (`hits` matches `hitting`, `hit`).
    pub inflect: bool,
    /// For a combination: every part must start within this many words of the others (`0`:
    /// anywhere in the text). Only for combinations of at most [`MAX_WINDOW_PARTS`] parts.
    pub window: u16,
}

/// Most parts of a combination that can have a window; a larger one matches anywhere.
pub const MAX_WINDOW_PARTS: usize = 8;

/// One phrase or rule as added.
#[derive(Debug)]
struct Entry {
    /// Per part, its alternatives (more than one for a word class such as `@adult`).
    parts: Vec<Vec<String>>,
    /// As written in the list, for `explain`.
    label: Box<str>,
    meta: PhraseMeta,
    scope: PhraseScope,
    options: RuleOptions,
}

/// Builds a [`PhraseSet`].
#[derive(Debug)]
pub struct PhraseSetBuilder {
    entries: Vec<Entry>,
    thresholds: [i32; Theme::ALL.len()],
    joined_aliases: bool,
}

impl Default for PhraseSetBuilder {
    fn default() -> Self {
        PhraseSetBuilder {
            entries: Vec::new(),
            thresholds: [DEFAULT_CONCERN_THRESHOLD; Theme::ALL.len()],
            joined_aliases: true,
        }
    }
}

fn theme_index(t: Theme) -> usize {
    t as usize
}

impl PhraseSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a phrase, or an all-of combination when `parts` has more than one element.
    pub fn add(&mut self, parts: &[&str], meta: PhraseMeta) -> PhraseId {
        self.add_scoped(parts, meta, PhraseScope::BOTH)
    }
    /// Adds a phrase that counts towards its theme or its category only.
    pub fn add_scoped(&mut self, parts: &[&str], meta: PhraseMeta, scope: PhraseScope) -> PhraseId {
        let alternatives: Vec<Vec<String>> = parts.iter().map(|p| vec![p.to_string()]).collect();
        self.add_rule(
            &alternatives,
            &parts.join(","),
            meta,
            scope,
            RuleOptions::default(),
        )
    }
    /// Adds a phrase whose words also match their English inflections (`< my dad hits me >` also
    /// matches `my dad hitting me`): a list's `#inflect: on`. See `docs/phrases.md`.
    pub fn add_inflected(
        &mut self,
        parts: &[&str],
        meta: PhraseMeta,
        scope: PhraseScope,
    ) -> PhraseId {
        let alternatives: Vec<Vec<String>> = parts.iter().map(|p| vec![p.to_string()]).collect();
        let options = RuleOptions {
            inflect: true,
            window: 0,
        };
        self.add_rule(&alternatives, &parts.join(","), meta, scope, options)
    }
    /// Adds a rule: every part must occur (any order), a part matching when any of its
    /// alternatives does (a word class such as `@adult` = `dad`, `mum`, `uncle` ...). `label` is
    /// the rule as written, for `explain`.
    pub fn add_rule(
        &mut self,
        parts: &[Vec<String>],
        label: &str,
        meta: PhraseMeta,
        scope: PhraseScope,
        options: RuleOptions,
    ) -> PhraseId {
        self.entries.push(Entry {
            parts: parts.to_vec(),
            label: label.into(),
            meta,
            scope,
            options,
        });
        PhraseId(self.entries.len() as u32 - 1)
    }
    /// Number of phrases added so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Sets the concern threshold of every theme (default [`DEFAULT_CONCERN_THRESHOLD`]).
    pub fn set_concern_threshold(&mut self, threshold: i32) -> &mut Self {
        self.thresholds = [threshold; Theme::ALL.len()];
        self
    }
    /// Sets the concern threshold of one theme.
    pub fn set_theme_threshold(&mut self, theme: Theme, threshold: i32) -> &mut Self {
        self.thresholds[theme_index(theme)] = threshold;
        self
    }
    /// Whether a phrase of several words also matches its words run together (`kill myself` also
    /// matches `killmyself`). On by default; only for phrases of at least six letters.
    pub fn set_joined_aliases(&mut self, on: bool) -> &mut Self {
        self.joined_aliases = on;
        self
    }
    /// Builds the set.
    ///
    /// # Panics
    /// Only if the automaton cannot be built at all, which needs more than 2³² automaton states;
    /// use [`PhraseSetBuilder::try_build`] to handle that case.
    pub fn build(self) -> PhraseSet {
        self.try_build()
            .expect("phrase automaton exceeds 2^32 states")
    }

    /// Builds the set, reporting an automaton that cannot be built.
    pub fn try_build(self) -> Result<PhraseSet, PhraseBuildError> {
        let n = self.entries.len();
        let mut patterns: Vec<String> = Vec::new();
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        let mut pattern_targets: Vec<Vec<(u32, u8)>> = Vec::new();
        let mut full = Vec::with_capacity(n);
        let mut texts = Vec::with_capacity(n);
        let mut metas = Vec::with_capacity(n);
        let mut scopes = Vec::with_capacity(n);
        let mut window_slot = Vec::with_capacity(n);
        let mut windows = Vec::new();
        // Forms the lists wrote themselves keep the weight written for them: an inflection of
        // another phrase that reads the same (`hurting myself` 100 from `hurt myself` 40, `die`
        // from `dying`) is not added, or one word would count twice.
        let written: std::collections::HashSet<String> =
            if self.entries.iter().any(|e| e.options.inflect) {
                self.entries
                    .iter()
                    .flat_map(|e| e.parts.iter().flatten())
                    .flat_map(|p| compile_part(p, false, false, None))
                    .collect()
            } else {
                Default::default()
            };
        // An inflection reached from two written forms (`died` from `die` and from `dying`)
        // belongs to the first, for the same reason.
        let mut owners: std::collections::HashMap<String, String> = Default::default();
        for (pid, entry) in self.entries.into_iter().enumerate() {
            let Entry {
                parts,
                label,
                meta,
                scope,
                options,
            } = entry;
            texts.push(label);
            metas.push(meta);
            scopes.push(scope);
            let windowed = options.window > 0 && (2..=MAX_WINDOW_PARTS).contains(&parts.len());
            window_slot.push(if windowed {
                windows.push(options.window);
                windows.len() as u32 - 1
            } else {
                NO_WINDOW
            });
            let usable = !parts.is_empty() && parts.len() <= MAX_PHRASE_PARTS;
            let compiled: Vec<Vec<String>> = parts
                .iter()
                .map(|alternatives| {
                    let mut all = Vec::new();
                    for p in alternatives {
                        let mut variants =
                            compile_part(p, self.joined_aliases, options.inflect, Some(&written));
                        if options.inflect
                            && let Some(own) = variants.first().cloned()
                        {
                            variants.retain(|v| {
                                owners.entry(v.clone()).or_insert_with(|| own.clone()) == &own
                            });
                        }
                        for v in variants {
                            if !all.contains(&v) {
                                all.push(v);
                            }
                        }
                    }
                    all
                })
                .collect();
            if !usable || compiled.iter().any(Vec::is_empty) {
                full.push(0);
                continue;
            }
            full.push(if parts.len() == MAX_PHRASE_PARTS {
                u64::MAX
            } else {
                (1u64 << parts.len()) - 1
            });
            for (part, variants) in compiled.into_iter().enumerate() {
                for v in variants {
                    let next = patterns.len();
                    let pi = *index.entry(v.clone()).or_insert(next);
                    if pi == next {
                        patterns.push(v);
                        pattern_targets.push(Vec::new());
                    }
                    let t = (pid as u32, part as u8);
                    if !pattern_targets[pi].contains(&t) {
                        pattern_targets[pi].push(t);
                    }
                }
            }
        }
        let mut target_start = Vec::with_capacity(pattern_targets.len() + 1);
        let mut targets = Vec::new();
        for t in &pattern_targets {
            target_start.push(targets.len() as u32);
            targets.extend_from_slice(t);
        }
        target_start.push(targets.len() as u32);
        let total: usize = patterns.iter().map(String::len).sum();
        let preferred = if total <= 200_000 {
            AhoCorasickKind::DFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let build = |kind| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(Some(kind))
                .build(&patterns)
        };
        let automaton = match build(preferred) {
            Ok(a) => a,
            Err(_) => match build(AhoCorasickKind::ContiguousNFA) {
                Ok(a) => a,
                Err(_) => build(AhoCorasickKind::NoncontiguousNFA)?,
            },
        };
        Ok(PhraseSet {
            automaton,
            target_start,
            targets,
            full,
            texts,
            metas,
            scopes,
            window_slot,
            windows,
            thresholds: self.thresholds,
        })
    }
}

/// The automaton patterns for one part: the normalised part (with a space at each end the list
/// wrote one), for a phrase of several words the words run together, and with `inflected` the
/// part's English inflections ([`inflect`]) except those in `written`.
fn compile_part(
    part: &str,
    joined_aliases: bool,
    inflected: bool,
    written: Option<&std::collections::HashSet<String>>,
) -> Vec<String> {
    let lead = part.starts_with(char::is_whitespace);
    let trail = part.ends_with(char::is_whitespace);
    let core = normalise_phrase(part);
    if core.is_empty() {
        return Vec::new();
    }
    let wrap = |s: &str| {
        let mut p = String::with_capacity(s.len() + 2);
        if lead {
            p.push(' ');
        }
        p.push_str(s);
        if trail {
            p.push(' ');
        }
        p
    };
    let mut out = vec![wrap(&core)];
    if inflected {
        for v in inflect::variants(&core, !trail).into_iter().skip(1) {
            let pattern = wrap(&v);
            if !written.is_some_and(|w| w.contains(&pattern)) {
                out.push(pattern);
            }
        }
    }
    if joined_aliases && core.contains(' ') {
        let mut joined = String::with_capacity(core.len());
        let mut last = ' ';
        for c in core.chars().filter(|&c| c != ' ') {
            if c == last && c.is_alphabetic() {
                continue;
            }
            joined.push(c);
            last = c;
        }
        if joined.chars().filter(|c| c.is_alphabetic()).count() >= 6 {
            out.push(wrap(&joined));
        }
    }
    out
}

/// A compiled set of weighted phrases.
#[derive(Debug, Clone)]
pub struct PhraseSet {
    automaton: AhoCorasick,
    /// `targets[target_start[p]..target_start[p + 1]]` are the (phrase, part) of pattern `p`.
    target_start: Vec<u32>,
    targets: Vec<(u32, u8)>,
    /// Bit mask of all parts per phrase (0: the phrase can never match).
    full: Vec<u64>,
    texts: Vec<Box<str>>,
    metas: Vec<PhraseMeta>,
    scopes: Vec<PhraseScope>,
    /// Per phrase, its index in `windows`, or [`NO_WINDOW`].
    window_slot: Vec<u32>,
    /// The window (in words) of each windowed combination.
    windows: Vec<u16>,
    thresholds: [i32; Theme::ALL.len()],
}

/// A phrase with no window.
const NO_WINDOW: u32 = u32::MAX;

/// Set in a windowed phrase's `seen` mask once it has matched.
const WINDOW_DONE: u64 = 1 << 63;

impl Default for PhraseSet {
    fn default() -> Self {
        PhraseSetBuilder::new().build()
    }
}

#[derive(Clone, Copy)]
struct ThemeAcc {
    score: i32,
    positive: bool,
    severity: Severity,
    best: u32,
    best_weight: i32,
}

impl PhraseSet {
    /// Number of phrases.
    pub fn len(&self) -> usize {
        self.metas.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }
    /// The phrase's text as written in its list (combos joined by `,`).
    pub fn text(&self, id: PhraseId) -> &str {
        self.texts.get(id.0 as usize).map_or("", |s| s)
    }
    /// The phrase's meaning.
    pub fn meta(&self, id: PhraseId) -> &PhraseMeta {
        &self.metas[id.0 as usize]
    }
    /// Heap bytes of the compiled automaton and its tables (issue 14 budgets phrase memory at
    /// 32 MB), and whether the automaton is a DFA (the fast kind; past 200 kB of patterns it is a
    /// contiguous NFA, several times slower to search).
    pub fn memory_usage(&self) -> (usize, bool) {
        let tables = self.target_start.len() * 4
            + self.targets.len() * 8
            + self.full.len() * 8
            + self.texts.iter().map(|t| t.len() + 16).sum::<usize>()
            + self.metas.len() * std::mem::size_of::<PhraseMeta>();
        (
            self.automaton.memory_usage() + tables,
            self.automaton.kind() == AhoCorasickKind::DFA,
        )
    }
    /// The concern threshold of a theme.
    pub fn concern_threshold(&self, theme: Theme) -> i32 {
        self.thresholds[theme_index(theme)]
    }
    /// Scans a text (evasion-normalised first).
    pub fn scan(&self, text: &str, scratch: &mut PhraseScratch) -> ScanSummary {
        normalise_into(text, &mut scratch.text, &mut scratch.norm);
        scratch.matched.clear();
        // Most texts (nearly every URL) match nothing at all: a plain search says so more cheaply
        // than the overlapping pass, which is then needed only for the few that match.
        if !self.automaton.is_match(scratch.text.as_bytes()) {
            return ScanSummary::default();
        }
        let n = self.metas.len();
        if scratch.stamp.len() < n {
            scratch.stamp.resize(n, 0);
            scratch.seen.resize(n, 0);
        }
        scratch.generation = scratch.generation.wrapping_add(1);
        if scratch.generation == 0 {
            scratch.stamp.iter_mut().for_each(|s| *s = 0);
            scratch.generation = 1;
        }
        let generation = scratch.generation;
        if !self.windows.is_empty() {
            if scratch.window_pos.len() < self.windows.len() {
                scratch
                    .window_pos
                    .resize(self.windows.len(), [0; MAX_WINDOW_PARTS]);
            }
            scratch.word_at.clear();
            let mut word = 0u16;
            for &b in scratch.text.as_bytes() {
                // A space belongs to the word after it, as a pattern's leading space does.
                word = word.saturating_add(u16::from(b == b' '));
                scratch.word_at.push(word);
            }
        }
        for m in self
            .automaton
            .find_overlapping_iter(scratch.text.as_bytes())
        {
            let p = m.pattern().as_usize();
            let (start, end) = (
                self.target_start[p] as usize,
                self.target_start[p + 1] as usize,
            );
            for &(pid, part) in &self.targets[start..end] {
                let i = pid as usize;
                if scratch.stamp[i] != generation {
                    scratch.stamp[i] = generation;
                    scratch.seen[i] = 0;
                }
                let before = scratch.seen[i];
                let full = self.full[i];
                let slot = self.window_slot[i];
                if slot == NO_WINDOW {
                    if before == full {
                        continue;
                    }
                    let now = before | (1u64 << part);
                    scratch.seen[i] = now;
                    if now == full {
                        scratch.matched.push(pid);
                    }
                    continue;
                }
                // A windowed combination: where each part last started; it matches when all
                // parts have occurred and the latest occurrences start within the window.
                if before & WINDOW_DONE != 0 {
                    continue;
                }
                let now = before | (1u64 << part);
                scratch.seen[i] = now;
                let pos = &mut scratch.window_pos[slot as usize];
                pos[part as usize] = scratch.word_at.get(m.start()).copied().unwrap_or(0);
                if now == full {
                    let used = &pos[..full.count_ones() as usize];
                    let (lo, hi) = used
                        .iter()
                        .fold((u16::MAX, 0), |(lo, hi), &w| (lo.min(w), hi.max(w)));
                    if hi - lo <= self.windows[slot as usize] {
                        scratch.seen[i] = now | WINDOW_DONE;
                        scratch.matched.push(pid);
                    }
                }
            }
        }
        self.summarise(&scratch.matched)
    }

    fn summarise(&self, matched: &[u32]) -> ScanSummary {
        let mut summary = ScanSummary::default();
        if matched.is_empty() {
            return summary;
        }
        let mut cat_scores = [0i32; MAX_CATEGORIES];
        let mut cat_present = 0u64;
        let mut cat_all = 0i32;
        let empty = ThemeAcc {
            score: 0,
            positive: false,
            severity: Severity::Advisory,
            best: 0,
            best_weight: i32::MIN,
        };
        let mut themes = [empty; Theme::ALL.len()];
        let mut theme_all = 0i32;
        for &pid in matched {
            let meta = &self.metas[pid as usize];
            let scope = self.scopes[pid as usize];
            let w = meta.weight;
            match meta.category {
                _ if !scope.category => {}
                Some(c) if (c.0 as usize) < MAX_CATEGORIES => {
                    cat_scores[c.0 as usize] = cat_scores[c.0 as usize].saturating_add(w);
                    cat_present |= 1u64 << c.0;
                }
                Some(_) => {}
                None if w < 0 => cat_all = cat_all.saturating_add(w),
                None => {}
            }
            match meta.theme {
                _ if !scope.theme => {}
                Some(t) => {
                    let acc = &mut themes[theme_index(t)];
                    acc.score = acc.score.saturating_add(w);
                    if w > 0 {
                        if !acc.positive || meta.severity > acc.severity {
                            acc.severity = meta.severity;
                        }
                        acc.positive = true;
                        if w > acc.best_weight
                            || (w == acc.best_weight
                                && meta.severity > self.metas[acc.best as usize].severity)
                        {
                            acc.best = pid;
                            acc.best_weight = w;
                        }
                    }
                }
                None if w < 0 => theme_all = theme_all.saturating_add(w),
                None => {}
            }
        }
        // Categories, highest score first.
        let mut bits = cat_present;
        while bits != 0 {
            let c = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let entry = (CategoryId(c as u8), cat_scores[c].saturating_add(cat_all));
            insert_sorted(
                &mut summary.categories,
                &mut summary.category_len,
                entry,
                |a, b| a.1 > b.1,
            );
        }
        for (ti, acc) in themes.iter().enumerate() {
            if !acc.positive {
                continue;
            }
            let score = acc.score.saturating_add(theme_all);
            if score < self.thresholds[ti] {
                continue;
            }
            let hit = ConcernHit {
                theme: Theme::ALL[ti],
                severity: acc.severity,
                phrase: PhraseId(acc.best),
                score,
            };
            insert_sorted(
                &mut summary.concerns,
                &mut summary.concern_len,
                Some(hit),
                |a, b| match (a, b) {
                    (Some(a), Some(b)) => (a.severity, a.score) > (b.severity, b.score),
                    _ => false,
                },
            );
        }
        summary
    }
}

/// Inserts into a fixed array kept in order by `before`, dropping the last when full.
fn insert_sorted<T: Copy>(
    slots: &mut [T; SCAN_SLOTS],
    len: &mut usize,
    item: T,
    before: impl Fn(&T, &T) -> bool,
) {
    let mut pos = *len;
    while pos > 0 && before(&item, &slots[pos - 1]) {
        pos -= 1;
    }
    if pos >= SCAN_SLOTS {
        return;
    }
    let end = (*len).min(SCAN_SLOTS - 1);
    let mut i = end;
    while i > pos {
        slots[i] = slots[i - 1];
        i -= 1;
    }
    slots[pos] = item;
    *len = (*len + 1).min(SCAN_SLOTS);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ListId;

    fn meta(weight: i32, theme: Option<Theme>, severity: Severity) -> PhraseMeta {
        PhraseMeta {
            weight,
            category: Some(CategoryId(2)),
            theme,
            severity,
            source: SourceRef {
                list: ListId(0),
                line: 0,
            },
        }
    }

    #[test]
    fn counts_each_phrase_once_and_combos_need_all_parts() {
        let mut b = PhraseSetBuilder::new();
        let die = b.add(
            &[" die "],
            meta(30, Some(Theme::Suicide), Severity::Warning),
        );
        b.add(
            &[" how ", "kill myself"],
            meta(100, Some(Theme::Suicide), Severity::Danger),
        );
        let set = b.build();
        let mut s = PhraseScratch::new();
        let r = set.scan("die die die", &mut s);
        assert_eq!(r.category_score(CategoryId(2)), 30);
        assert!(!r.has_concern());
        assert!(!set.scan("kill myself", &mut s).has_concern());
        let r = set.scan("how do i k1lllll my-self", &mut s);
        assert!(!r.has_concern(), "{}", s.normalised());
        let r = set.scan("HOW do I kill myself and die", &mut s);
        let c = r.concern(Theme::Suicide).unwrap();
        assert_eq!(c.severity, Severity::Danger);
        assert_eq!(c.score, 130);
        assert_ne!(c.phrase, die);
        assert!(set.scan("how to killmyself", &mut s).has_concern());
    }

    #[test]
    fn good_context_cancels() {
        let mut b = PhraseSetBuilder::new();
        b.add(&["cunt"], meta(100, Some(Theme::Adult), Severity::Warning));
        b.add(
            &[" scunthorpe "],
            meta(-100, Some(Theme::Adult), Severity::Advisory),
        );
        b.add(
            &[" kill "],
            meta(60, Some(Theme::Violence), Severity::Warning),
        );
        b.add(
            &[" weeds "],
            PhraseMeta {
                category: None,
                ..meta(-100, None, Severity::Advisory)
            },
        );
        let set = b.build();
        let mut s = PhraseScratch::new();
        assert!(!set.scan("scunthorpe united", &mut s).has_concern());
        assert!(set.scan("c u n t", &mut s).has_concern());
        assert!(set.scan("kill", &mut s).has_concern());
        let r = set.scan("how to kill weeds", &mut s);
        assert!(!r.has_concern());
        assert_eq!(r.category_score(CategoryId(2)), -40);
    }

    #[test]
    fn word_boundaries() {
        let mut b = PhraseSetBuilder::new();
        b.add(&[" sex "], meta(100, Some(Theme::Adult), Severity::Warning));
        let set = b.build();
        let mut s = PhraseScratch::new();
        assert!(set.scan("sex", &mut s).has_concern());
        assert!(set.scan("what is $3x", &mut s).has_concern());
        assert!(!set.scan("sexes of animals", &mut s).has_concern());
        assert!(!set.scan("sussex", &mut s).has_concern());
    }

    #[test]
    fn thresholds_and_slots() {
        let mut b = PhraseSetBuilder::new();
        for (i, t) in Theme::ALL.iter().enumerate() {
            b.add(
                &[&format!(" word{} ", (b'a' + i as u8) as char)],
                PhraseMeta {
                    category: Some(CategoryId(i as u8 + 2)),
                    ..meta(40 + i as i32, Some(*t), Severity::Advisory)
                },
            );
        }
        b.add(&[" extra "], meta(5, None, Severity::Advisory));
        b.set_concern_threshold(40);
        let set = b.build();
        let mut s = PhraseScratch::new();
        let r = set.scan(
            "worda wordb wordc wordd worde wordf wordg wordh extra",
            &mut s,
        );
        assert_eq!(r.concern_len, 8);
        assert_eq!(r.category_len, 8);
        assert_eq!(r.concerns[0].unwrap().score, 47);
        assert!(r.categories.windows(2).all(|w| w[0].1 >= w[1].1));
    }
}
