//! List loaders. CONTRACT STUB: replaced by the real implementation.
//!
//! Every loader reads one file (or one squidGuard category folder), hands each entry to a
//! [`ListSink`] with its line number, and collects bad lines as [`ListWarning`]s instead of
//! stopping: a typo on line 9,000 must not lose the other 8,999 entries.

pub mod phrases;

use crate::domains::MatchScope;
use crate::source::ListWarning;
use std::path::{Path, PathBuf};

/// The list formats Lychgate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListFormat {
    /// Lychgate's own format (docs/lists.md).
    Native,
    /// One domain per line.
    Plain,
    /// Hosts file lines: `0.0.0.0 domain [domain ...]`.
    Hosts,
    /// Adblock-style network rules `||domain^`.
    Adblock,
    /// A squidGuard/UT1 category folder with `domains`, `urls`, `expressions`.
    SquidGuard,
}

impl ListFormat {
    /// Parses a format name as written in config.
    pub fn from_name(name: &str) -> Option<ListFormat> {
        match name {
            "native" => Some(ListFormat::Native),
            "plain" => Some(ListFormat::Plain),
            "hosts" => Some(ListFormat::Hosts),
            "adblock" => Some(ListFormat::Adblock),
            "squidguard" => Some(ListFormat::SquidGuard),
            _ => None,
        }
    }
}

/// Receives the entries of a list as they are parsed. Domains and hosts arrive normalised.
pub trait ListSink {
    /// A domain entry.
    fn domain(&mut self, domain: &str, scope: MatchScope, line: u32);
    /// A host + path-prefix entry (`path` starts with `/`).
    fn url(&mut self, host: &str, path: &str, line: u32);
    /// A regular expression entry, matched against `host/path?query`.
    fn regex(&mut self, pattern: &str, line: u32);
}

/// What a load produced.
#[derive(Debug, Default)]
pub struct LoadStats {
    /// Domain entries handed to the sink.
    pub domains: usize,
    /// URL entries.
    pub urls: usize,
    /// Regex entries.
    pub regexes: usize,
    /// Lines deliberately ignored (adblock cosmetic rules, exceptions ...).
    pub skipped: usize,
    /// Bad lines.
    pub warnings: Vec<ListWarning>,
}

/// A list could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Loads a list file (or squidGuard folder) into a sink.
pub fn load(
    path: &Path,
    format: ListFormat,
    sink: &mut dyn ListSink,
) -> Result<LoadStats, ListError> {
    let text = std::fs::read_to_string(path).map_err(|source| ListError::Io {
        path: path.into(),
        source,
    })?;
    load_str(path, &text, format, sink)
}

/// Loads list text already in memory (used for the embedded default lists); `path` names it in warnings.
pub fn load_str(
    _path: &Path,
    text: &str,
    _format: ListFormat,
    sink: &mut dyn ListSink,
) -> Result<LoadStats, ListError> {
    let mut stats = LoadStats::default();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        sink.domain(
            &l.to_ascii_lowercase(),
            MatchScope::Subdomains,
            i as u32 + 1,
        );
        stats.domains += 1;
    }
    Ok(stats)
}
