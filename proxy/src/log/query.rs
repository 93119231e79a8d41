//! How much of a URL's query string the log keeps (GDPR data minimisation): query strings carry
//! session ids, e-mail addresses and whatever a form held, while the safeguarding duty needs only
//! what was searched for.

use super::record::RequestRecord;
use std::fmt;
use std::str::FromStr;

/// The `[log] query` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLogging {
    /// `full`: keep the query string and the search terms.
    Full,
    /// `search-terms-only` (the default): drop the query string, keep the search terms the
    /// classifier extracted, which the Suspicious Search report and concerns depend on.
    #[default]
    SearchTermsOnly,
    /// `none`: drop both. Concerns (theme and severity, never text) and the decision remain, so
    /// alerts still work, but the report cannot quote what was typed.
    None,
}

impl QueryLogging {
    /// Name as written in config.
    pub const fn name(self) -> &'static str {
        match self {
            QueryLogging::Full => "full",
            QueryLogging::SearchTermsOnly => "search-terms-only",
            QueryLogging::None => "none",
        }
    }

    /// Removes from `record` what this mode does not keep. The path is kept in every mode: it is
    /// what identifies the page, and the block-list match was made on it.
    pub fn apply(self, record: &mut RequestRecord) {
        match self {
            QueryLogging::Full => {}
            QueryLogging::SearchTermsOnly => record.query = None,
            QueryLogging::None => {
                record.query = None;
                record.search = None;
            }
        }
        // An empty query is no query: one spelling in the log, not two.
        if record.query.as_deref() == Some("") {
            record.query = None;
        }
    }
}

impl fmt::Display for QueryLogging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `[log] query` value that is not one of the three modes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a query logging mode: write `full`, `search-terms-only` or `none`")]
pub struct QueryLoggingError(pub String);

impl FromStr for QueryLogging {
    type Err = QueryLoggingError;
    fn from_str(s: &str) -> Result<Self, QueryLoggingError> {
        match s {
            "full" => Ok(QueryLogging::Full),
            "search-terms-only" => Ok(QueryLogging::SearchTermsOnly),
            "none" => Ok(QueryLogging::None),
            other => Err(QueryLoggingError(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::tests::sample;
    use super::*;

    #[test]
    fn modes_keep_what_they_say() {
        let mut full = sample(1);
        QueryLogging::Full.apply(&mut full);
        assert_eq!(full.query.as_deref(), Some("q=how+to+tie+a+knot&sid=12345"));
        assert_eq!(full.search.as_deref(), Some("how to tie a knot"));

        let mut terms = sample(1);
        QueryLogging::SearchTermsOnly.apply(&mut terms);
        assert_eq!(terms.query, None);
        assert_eq!(terms.search.as_deref(), Some("how to tie a knot"));
        assert_eq!(terms.path.as_deref(), Some("/search/1"));

        let mut none = sample(1);
        QueryLogging::None.apply(&mut none);
        assert_eq!((none.query, none.search), (None, None));
        assert_eq!(none.path.as_deref(), Some("/search/1"));
    }

    #[test]
    fn empty_query_is_null() {
        let mut r = sample(1);
        r.query = Some(String::new());
        QueryLogging::Full.apply(&mut r);
        assert_eq!(r.query, None);
    }

    #[test]
    fn names_round_trip_and_default_is_search_terms_only() {
        for m in [
            QueryLogging::Full,
            QueryLogging::SearchTermsOnly,
            QueryLogging::None,
        ] {
            assert_eq!(m.name().parse::<QueryLogging>(), Ok(m));
        }
        assert_eq!(QueryLogging::default(), QueryLogging::SearchTermsOnly);
        assert!("search_terms_only".parse::<QueryLogging>().is_err());
    }
}
