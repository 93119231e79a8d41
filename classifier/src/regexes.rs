//! Regex rules. CONTRACT STUB: replaced by the real implementation.

use crate::category::{CategoryId, CategorySet};
use crate::source::SourceRef;

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
        self.rules.push((pattern.into(), category, source));
        Ok(())
    }
    /// Compiles all patterns into one matcher.
    pub fn build(self) -> Result<RegexRules, RegexError> {
        Ok(RegexRules { rules: self.rules })
    }
}

/// Many patterns matched in one pass.
#[derive(Debug, Default)]
pub struct RegexRules {
    rules: Vec<(String, CategoryId, SourceRef)>,
}

/// Reusable matching state.
#[derive(Debug, Default)]
pub struct RegexScratch {}

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
    /// Fresh scratch for this rule set.
    pub fn scratch(&self) -> RegexScratch {
        RegexScratch {}
    }
    /// Matches a text.
    pub fn matches(&self, _text: &str, _scratch: &mut RegexScratch) -> RegexHits {
        RegexHits::default()
    }
}
