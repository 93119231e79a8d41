//! Search query extraction. CONTRACT STUB: replaced by the real implementation.

/// A recognised search request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchMatch {
    /// Engine or site name, e.g. `google`.
    pub engine: &'static str,
    /// A suggestion/autocomplete endpoint: terms may be half-typed prefixes.
    pub suggest: bool,
}

/// If the URL is a search, writes the decoded terms into `terms` and says which engine.
pub fn extract(
    _host: &str,
    _path: &str,
    _query: Option<&str>,
    terms: &mut String,
) -> Option<SearchMatch> {
    terms.clear();
    None
}
