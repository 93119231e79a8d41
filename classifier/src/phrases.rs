//! Weighted phrases. CONTRACT STUB: replaced by the real implementation.

use crate::category::CategoryId;
use crate::concern::{Severity, Theme};
use crate::source::SourceRef;

/// Index of a phrase in its [`PhraseSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhraseId(pub u32);

/// What a phrase means when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhraseMeta {
    /// Weight added to its category's (and theme's) score; negative for "good context".
    pub weight: i32,
    /// Category whose score it adds to.
    pub category: Option<CategoryId>,
    /// Safeguarding theme.
    pub theme: Option<Theme>,
    /// Severity of a concern it raises.
    pub severity: Severity,
    /// Where it was read.
    pub source: SourceRef,
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

/// Result of scanning one text: fixed-size, so a scan allocates nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanSummary {
    /// Per-category scores (only categories with a matched phrase), `category_len` used.
    pub categories: [(CategoryId, i32); SCAN_SLOTS],
    /// Used entries of `categories`.
    pub category_len: usize,
    /// Concerns raised, `concern_len` used.
    pub concerns: [Option<ConcernHit>; SCAN_SLOTS],
    /// Used entries of `concerns`.
    pub concern_len: usize,
}

/// Reusable buffers for scanning.
#[derive(Debug, Default)]
pub struct PhraseScratch {
    text: String,
}

/// Builds a [`PhraseSet`].
#[derive(Debug, Default)]
pub struct PhraseSetBuilder {
    phrases: Vec<(Vec<String>, PhraseMeta)>,
}

impl PhraseSetBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a phrase, or an all-of combination when `parts` has more than one element.
    pub fn add(&mut self, parts: &[&str], meta: PhraseMeta) -> PhraseId {
        self.phrases
            .push((parts.iter().map(|s| s.to_string()).collect(), meta));
        PhraseId(self.phrases.len() as u32 - 1)
    }
    /// Builds the set.
    pub fn build(self) -> PhraseSet {
        PhraseSet {
            phrases: self.phrases,
        }
    }
}

/// A compiled set of weighted phrases.
#[derive(Debug, Default)]
pub struct PhraseSet {
    phrases: Vec<(Vec<String>, PhraseMeta)>,
}

impl PhraseSet {
    /// Number of phrases.
    pub fn len(&self) -> usize {
        self.phrases.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }
    /// The phrase's text as written in its list (combos joined by `,`).
    pub fn text(&self, id: PhraseId) -> &str {
        self.phrases[id.0 as usize].0.first().map_or("", |s| s)
    }
    /// The phrase's meaning.
    pub fn meta(&self, id: PhraseId) -> &PhraseMeta {
        &self.phrases[id.0 as usize].1
    }
    /// Scans a text (evasion-normalised first).
    pub fn scan(&self, text: &str, scratch: &mut PhraseScratch) -> ScanSummary {
        scratch.text.clear();
        scratch.text.push_str(text);
        ScanSummary::default()
    }
}
