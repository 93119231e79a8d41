//! List loaders for the formats schools already have (see `docs/lists.md` for every format).
//!
//! Every loader reads one file (or one squidGuard category folder), hands each entry to a
//! [`ListSink`] with its line number, and collects bad lines as [`ListWarning`]s instead of
//! stopping: a typo on line 9,000 must not lose the other 8,999 entries. Only failing to read the
//! file at all is a [`ListError`], and so is a file that is not a list: anything but a regular
//! file, one over [`MAX_LIST_BYTES`], a binary file (a NUL byte), or mostly garbage (more bad
//! lines than good ones, once there are [`MIN_BAD_LINES_FOR_GARBAGE`] bad lines). No input makes
//! a loader panic, and files are read line by line, never whole.
//!
//! All formats share the same line handling: a UTF-8 byte-order mark is ignored, lines may end
//! in `\n` or `\r\n`, and bytes that are not UTF-8 are decoded lossily; a comment in another
//! encoding is harmless, and an entry line with such bytes is reported and ignored.
//!
//! Domains reach the sink normalised by [`normalize_list_domain`]: lower-case ASCII, IDNs in
//! punycode, no trailing dot.

pub mod phrases;

use crate::domains::MatchScope;
use crate::files::{self, FileError, MAX_LIST_BYTES};
use crate::source::ListWarning;
use crate::urls::PathMatch;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

mod adblock;
mod hosts;
mod lines;
mod native;
mod plain;
mod squidguard;

pub use squidguard::SquidGuardFile;

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
    /// Every format, in documentation order.
    pub const ALL: [ListFormat; 5] = [
        ListFormat::Native,
        ListFormat::Plain,
        ListFormat::Hosts,
        ListFormat::Adblock,
        ListFormat::SquidGuard,
    ];

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

    /// The name as written in config (inverse of [`ListFormat::from_name`]).
    pub fn name(self) -> &'static str {
        match self {
            ListFormat::Native => "native",
            ListFormat::Plain => "plain",
            ListFormat::Hosts => "hosts",
            ListFormat::Adblock => "adblock",
            ListFormat::SquidGuard => "squidguard",
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
    /// A host + path entry whose path is compared as `how` says (adblock `||host/path` rules).
    /// Sinks that only count or find entries may keep the default, an ordinary URL entry.
    fn url_with(&mut self, host: &str, path: &str, how: PathMatch, line: u32) {
        let _ = how;
        self.url(host, path, line);
    }
    /// An adblock `||name.` rule: every host in which the labels of `prefix` (normalised, no
    /// trailing dot) start a label and are followed by at least one more label
    /// (`adservice.google` → `adservice.google.com`, `x.adservice.google.co.uk`). Sinks that
    /// only count or find domains may keep the default, which ignores it.
    fn domain_prefix(&mut self, prefix: &str, line: u32) {
        let _ = (prefix, line);
    }
    /// An adblock exception `@@||domain^`: the domain and its subdomains are carved out of the
    /// blocks of the list's category. The default ignores it.
    fn exception_domain(&mut self, domain: &str, line: u32) {
        let _ = (domain, line);
    }
    /// An adblock exception `@@||host/path`: matching requests are carved out of the blocks of
    /// the list's category. The default ignores it.
    fn exception_url(&mut self, host: &str, path: &str, how: PathMatch, line: u32) {
        let _ = (host, path, how, line);
    }
    /// Called before the entries of each file: once for a single-file list, and once per file
    /// present in a squidGuard folder (`domains`, `urls`, `expressions`), so line numbers can be
    /// tied to the right file. The default does nothing.
    fn begin_file(&mut self, path: &Path) {
        let _ = path;
    }
}

/// Why a valid line of a list was deliberately not loaded (see `docs/lists.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SkipReason {
    /// Adblock cosmetic, scriptlet and HTML filters (`##`, `#$#`, `$$` ...): page content a
    /// gateway never rewrites.
    Cosmetic,
    /// An adblock option that narrows the rule to some pages or clients, or turns it into
    /// something other than a block (`domain=`, `redirect`, `removeparam`, `popup` ...), or an
    /// option Lychgate does not know.
    UnsupportedOption,
    /// An adblock rule limited to resource types a proxy cannot tell apart (`$ping`,
    /// `$websocket`, `$beacon` ...): applied to the whole site it would block far more.
    ResourceType,
    /// An adblock exception (`@@`) Lychgate cannot apply without lifting far more than it
    /// means: one limited to some resource types (`@@||cdn.example^$script`), or one for every
    /// suffix of a name (`@@||name.`). Exceptions narrowed by other options count as
    /// [`SkipReason::UnsupportedOption`], unanchored ones as [`SkipReason::NotDomainAnchored`].
    Exception,
    /// An adblock rule not anchored to a domain (`ads.`, `/banner/*`, `|https://...`), or a
    /// regular-expression rule: a gateway cannot apply it to a whole domain.
    NotDomainAnchored,
    /// An adblock rule with a wildcard or a port in the host (`||ad*.example^`,
    /// `||x.example:8080^`), or a wildcard or separator inside its path
    /// (`||x.example/ad*/banner`).
    Wildcard,
    /// A hosts-file line mapping names to a real address (not a block), or one naming only
    /// the stock boilerplate names (`localhost` ...).
    NotABlock,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 7] = [
        SkipReason::Cosmetic,
        SkipReason::UnsupportedOption,
        SkipReason::ResourceType,
        SkipReason::Exception,
        SkipReason::NotDomainAnchored,
        SkipReason::Wildcard,
        SkipReason::NotABlock,
    ];

    /// A short name for reports (`check-config`).
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::Cosmetic => "cosmetic",
            SkipReason::UnsupportedOption => "unsupported option",
            SkipReason::ResourceType => "resource type a proxy cannot see",
            SkipReason::Exception => "exception",
            SkipReason::NotDomainAnchored => "not domain-anchored",
            SkipReason::Wildcard => "wildcard or port",
            SkipReason::NotABlock => "not a block",
        }
    }
}

/// Lines skipped, per [`SkipReason`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SkipCounts([usize; SkipReason::ALL.len()]);

impl SkipCounts {
    /// Lines skipped for this reason.
    pub fn get(&self, reason: SkipReason) -> usize {
        self.0[reason as usize]
    }
    /// Lines skipped for any reason.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
    /// The reasons with at least one line, with their counts, in report order.
    pub fn nonzero(&self) -> impl Iterator<Item = (SkipReason, usize)> + '_ {
        SkipReason::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }
    pub(crate) fn add(&mut self, reason: SkipReason) {
        self.0[reason as usize] += 1;
    }
    fn add_all(&mut self, other: &SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
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
    /// Lines deliberately ignored (adblock cosmetic rules, exceptions ...): the total of
    /// [`LoadStats::skips`].
    pub skipped: usize,
    /// Lines deliberately ignored, per reason.
    pub skips: SkipCounts,
    /// Exception rules kept (adblock `@@` rules that carve out the list's own blocks).
    pub exceptions: usize,
    /// Bad lines: every one, including those past the warnings kept.
    pub bad_lines: usize,
    /// Bad lines, the first [`lines::MAX_WARNINGS`] of them, then one summary warning.
    pub warnings: Vec<ListWarning>,
}

impl LoadStats {
    /// Entries of any kind handed to the sink.
    pub fn entries(&self) -> usize {
        self.domains + self.urls + self.regexes
    }

    fn add(&mut self, other: LoadStats) {
        self.domains += other.domains;
        self.urls += other.urls;
        self.regexes += other.regexes;
        self.skipped += other.skipped;
        self.skips.add_all(&other.skips);
        self.exceptions += other.exceptions;
        self.bad_lines += other.bad_lines;
        self.warnings.extend(other.warnings);
    }
}

/// A list at or above this many bad lines, with more bad lines than good ones, is refused as
/// not a list at all (a binary file, a web page, the wrong format): a few typos in a small
/// hand-written list stay warnings.
pub const MIN_BAD_LINES_FOR_GARBAGE: usize = 10;

/// A list could not be read at all, or is not a list.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// I/O failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a regular file, or too large.
    #[error("{}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: FileError,
    },
    /// A NUL byte: a binary file, not a text list.
    #[error("{}:{line}: a NUL byte: this is a binary file, not a text list", path.display())]
    Binary {
        /// The file.
        path: PathBuf,
        /// The line holding the first NUL byte.
        line: u32,
    },
    /// More bad lines than good ones.
    #[error(
        "{}: {bad} bad lines and only {good} good ones: is this the right file and format? (first: {first})",
        path.display()
    )]
    MostlyBad {
        /// The file.
        path: PathBuf,
        /// Lines that were not valid entries.
        bad: usize,
        /// Entries, and lines deliberately skipped.
        good: usize,
        /// The first bad line's warning.
        first: ListWarning,
    },
}

impl ListError {
    /// The error for a file [`files::open_regular`] refused.
    pub(crate) fn from_file(path: &Path, error: FileError) -> ListError {
        match error {
            FileError::Io(source) => ListError::Io {
                path: path.into(),
                source,
            },
            source => ListError::File {
                path: path.into(),
                source,
            },
        }
    }
}

/// Why a list entry is not a usable domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadDomain {
    /// Nothing left after trimming.
    #[error("empty domain name")]
    Empty,
    /// The line had bytes that are not UTF-8.
    #[error("{0} is not valid UTF-8 (wrong file encoding?); entry ignored")]
    NotUtf8(String),
    /// Longer than 253 characters (after punycode).
    #[error("{0} is not a valid domain name: longer than 253 characters")]
    TooLong(String),
    /// `a..b`, `.a`, or a label over 63 characters.
    #[error("{0} is not a valid domain name: {1}")]
    BadLabel(String, &'static str),
    /// A character domain names cannot hold.
    #[error("{0} is not a valid domain name: it contains {1}")]
    BadChar(String, String),
    /// An internationalised name IDNA rejects.
    #[error("{0} is not a valid internationalised domain name")]
    Idna(String),
}

/// Normalises a domain from a list: trims, strips one trailing dot, lower-cases, converts an
/// internationalised name to punycode (`idna::domain_to_ascii`), and rejects what cannot be a
/// DNS name: empty names or labels (`..`, a leading dot), labels over 63 or names over 253
/// characters, spaces and characters other than letters, digits, `-` and `_`.
/// Borrows when the name is already normal (the common case: no allocation).
pub fn normalize_list_domain(raw: &str) -> Result<Cow<'_, str>, BadDomain> {
    let s = raw.trim();
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Err(BadDomain::Empty);
    }
    if s.is_ascii() {
        // The millions of plain ASCII names in big lists: borrowed, checked in one pass.
        let name = if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        };
        check_ascii_name(&name, raw)?;
        return Ok(name);
    }
    if s.contains('\u{FFFD}') {
        return Err(BadDomain::NotUtf8(lines::quote(s)));
    }
    if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
        return Err(BadDomain::BadChar(lines::quote(s), describe_char(c)));
    }
    let name = match idna::domain_to_ascii(s) {
        Ok(mut a) => {
            if a.ends_with('.') {
                a.pop();
            }
            a
        }
        Err(_) => return Err(BadDomain::Idna(lines::quote(s))),
    };
    check_ascii_name(&name, raw)?;
    Ok(Cow::Owned(name))
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        '\t' => "a tab".to_string(),
        c if c.is_whitespace() || c.is_control() => format!("the character U+{:04X}", c as u32),
        '*' => "`*` (wildcards are only supported as a leading `*.`)".to_string(),
        c => format!("`{c}`"),
    }
}

fn check_ascii_name(name: &str, raw: &str) -> Result<(), BadDomain> {
    let shown = || lines::quote(raw.trim());
    if name.is_empty() {
        return Err(BadDomain::Empty);
    }
    if name.len() > 253 {
        return Err(BadDomain::TooLong(shown()));
    }
    let empty_label = "empty label (`..` or a leading dot)";
    let mut label = 0usize;
    for c in name.chars() {
        match c {
            '.' => {
                if label == 0 {
                    return Err(BadDomain::BadLabel(shown(), empty_label));
                }
                label = 0;
            }
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => {
                label += 1;
                if label > 63 {
                    return Err(BadDomain::BadLabel(
                        shown(),
                        "a label is longer than 63 characters",
                    ));
                }
            }
            c => return Err(BadDomain::BadChar(shown(), describe_char(c))),
        }
    }
    if label == 0 {
        return Err(BadDomain::BadLabel(shown(), empty_label));
    }
    Ok(())
}

/// Loads a list file (or squidGuard folder) into a sink. A missing or unreadable file (or
/// squidGuard folder) is an error, and so is a file that is not a list (see [`ListError`]); bad
/// lines are warnings in the returned stats.
pub fn load(
    path: &Path,
    format: ListFormat,
    sink: &mut dyn ListSink,
) -> Result<LoadStats, ListError> {
    if format == ListFormat::SquidGuard {
        return squidguard::load_folder(path, sink);
    }
    load_file(path, sink, line_parser(format))
}

/// Streams one regular file of at most [`MAX_LIST_BYTES`] through a line parser.
fn load_file(
    path: &Path,
    sink: &mut dyn ListSink,
    parse: fn(&mut lines::Ctx<'_>, u32, &str),
) -> Result<LoadStats, ListError> {
    let mut file =
        files::open_regular(path, MAX_LIST_BYTES).map_err(|e| ListError::from_file(path, e))?;
    let stats = parse_file(path, &mut file, sink, parse)?;
    file.check_not_over()
        .map_err(|e| ListError::from_file(path, e))?;
    Ok(stats)
}

fn line_parser(format: ListFormat) -> fn(&mut lines::Ctx<'_>, u32, &str) {
    match format {
        ListFormat::Native => native::parse_line,
        ListFormat::Plain => plain::parse_line,
        ListFormat::Hosts => hosts::parse_line,
        ListFormat::Adblock => adblock::parse_line,
        ListFormat::SquidGuard => squidguard::parse_domains_line,
    }
}

/// Loads list text already in memory (used for the embedded default lists); `path` names it in
/// warnings. For [`ListFormat::SquidGuard`] the text is read as a category's `domains` file
/// (use [`load_squidguard_file`] for the other files).
pub fn load_str(
    path: &Path,
    text: &str,
    format: ListFormat,
    sink: &mut dyn ListSink,
) -> Result<LoadStats, ListError> {
    load_bytes(path, text.as_bytes(), format, sink)
}

/// Like [`load_str`] for raw bytes, which need not be UTF-8.
pub fn load_bytes(
    path: &Path,
    bytes: &[u8],
    format: ListFormat,
    sink: &mut dyn ListSink,
) -> Result<LoadStats, ListError> {
    parse_file(path, bytes, sink, line_parser(format))
}

/// Loads one file of a squidGuard category from memory; `path` names it in warnings.
pub fn load_squidguard_file(
    path: &Path,
    bytes: &[u8],
    file: SquidGuardFile,
    sink: &mut dyn ListSink,
) -> Result<LoadStats, ListError> {
    parse_file(path, bytes, sink, file.parser())
}

/// Runs a line parser over every line of a file and finishes the stats; refuses a binary file
/// at its first NUL byte, and a file that is mostly bad lines once it has been read.
fn parse_file(
    path: &Path,
    reader: impl std::io::BufRead,
    sink: &mut dyn ListSink,
    parse: fn(&mut lines::Ctx<'_>, u32, &str),
) -> Result<LoadStats, ListError> {
    let mut stats = LoadStats::default();
    let mut dropped = 0usize;
    sink.begin_file(path);
    {
        let mut ctx = lines::Ctx {
            path,
            sink,
            stats: &mut stats,
            dropped: &mut dropped,
        };
        let mut lines = lines::Lines::new(reader);
        while let Some((n, text)) = lines.next_line().map_err(|source| ListError::Io {
            path: path.into(),
            source,
        })? {
            if text.contains('\0') {
                return Err(ListError::Binary {
                    path: path.into(),
                    line: n,
                });
            }
            parse(&mut ctx, n, &text);
        }
    }
    let bad = stats.bad_lines;
    let good = stats.entries() + stats.skipped + stats.exceptions;
    if bad >= MIN_BAD_LINES_FOR_GARBAGE && bad > good {
        return Err(ListError::MostlyBad {
            path: path.into(),
            bad,
            good,
            first: stats.warnings.swap_remove(0),
        });
    }
    if dropped > 0 {
        stats.warnings.push(ListWarning {
            path: path.to_path_buf(),
            line: 0,
            message: format!(
                "{dropped} more bad lines not listed (only the first {} are shown)",
                lines::MAX_WARNINGS
            ),
        });
    }
    Ok(stats)
}

/// Strips a `#` comment that starts the line or follows whitespace; `#` inside a word is kept.
fn strip_hash_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// `s` without a leading `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::ListSink;
    use crate::domains::MatchScope;
    use std::path::{Path, PathBuf};

    /// One entry as a sink saw it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Entry {
        Domain(String, MatchScope, u32),
        Url(String, String, u32),
        Regex(String, u32),
        /// An adblock URL rule, with how its path is compared.
        AdblockUrl(String, String, crate::urls::PathMatch, u32),
        /// An adblock `||name.` rule.
        Prefix(String, u32),
        /// An adblock `@@` domain exception.
        ExceptDomain(String, u32),
        /// An adblock `@@` URL exception.
        ExceptUrl(String, String, u32),
    }

    impl Entry {
        pub(crate) fn sub(d: &str, line: u32) -> Entry {
            Entry::Domain(d.into(), MatchScope::Subdomains, line)
        }
        pub(crate) fn exact(d: &str, line: u32) -> Entry {
            Entry::Domain(d.into(), MatchScope::Exact, line)
        }
        pub(crate) fn url(h: &str, p: &str, line: u32) -> Entry {
            Entry::Url(h.into(), p.into(), line)
        }
        pub(crate) fn regex(r: &str, line: u32) -> Entry {
            Entry::Regex(r.into(), line)
        }
    }

    /// A sink that records everything.
    #[derive(Debug, Default)]
    pub(crate) struct Collect {
        pub(crate) entries: Vec<Entry>,
        pub(crate) files: Vec<PathBuf>,
    }

    impl ListSink for Collect {
        fn domain(&mut self, domain: &str, scope: MatchScope, line: u32) {
            self.entries.push(Entry::Domain(domain.into(), scope, line));
        }
        fn url(&mut self, host: &str, path: &str, line: u32) {
            self.entries
                .push(Entry::Url(host.into(), path.into(), line));
        }
        fn regex(&mut self, pattern: &str, line: u32) {
            self.entries.push(Entry::Regex(pattern.into(), line));
        }
        fn begin_file(&mut self, path: &Path) {
            self.files.push(path.into());
        }
        fn url_with(&mut self, host: &str, path: &str, how: crate::urls::PathMatch, line: u32) {
            self.entries
                .push(Entry::AdblockUrl(host.into(), path.into(), how, line));
        }
        fn domain_prefix(&mut self, prefix: &str, line: u32) {
            self.entries.push(Entry::Prefix(prefix.into(), line));
        }
        fn exception_domain(&mut self, domain: &str, line: u32) {
            self.entries.push(Entry::ExceptDomain(domain.into(), line));
        }
        fn exception_url(&mut self, host: &str, path: &str, _: crate::urls::PathMatch, line: u32) {
            self.entries
                .push(Entry::ExceptUrl(host.into(), path.into(), line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_domains() {
        assert_eq!(
            normalize_list_domain("Example.COM.").unwrap(),
            "example.com"
        );
        assert!(matches!(
            normalize_list_domain("example.com"),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(
            normalize_list_domain("Bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            normalize_list_domain("_dmarc.a-b.com").unwrap(),
            "_dmarc.a-b.com"
        );
        for bad in [
            "",
            ".",
            "a..b",
            ".a.com",
            "a b.com",
            "a*.com",
            "a/b",
            &"a".repeat(64),
            &format!("{}.com", "a.".repeat(130)),
            "caf\u{FFFD}.com",
            "例え ば.jp",
        ] {
            assert!(normalize_list_domain(bad).is_err(), "{bad:?}");
        }
        let msg = normalize_list_domain("a..b").unwrap_err().to_string();
        assert!(
            msg.contains("`a..b`") && msg.contains("empty label"),
            "{msg}"
        );
    }

    #[test]
    fn every_bad_line_is_counted_past_the_warnings_kept() {
        let mut text = String::new();
        for i in 0..1600 {
            text.push_str(&format!("good{i}.example\n"));
        }
        for i in 0..1500 {
            text.push_str(&format!("bad{i}..example\n"));
        }
        let mut sink = tests_support::Collect::default();
        let s = load_str(Path::new("l"), &text, ListFormat::Plain, &mut sink).unwrap();
        assert_eq!(s.bad_lines, 1500);
        assert_eq!(s.warnings.len(), lines::MAX_WARNINGS + 1);
        assert!(s.warnings.last().unwrap().message.starts_with("500 more"));
    }

    #[test]
    fn hash_comments() {
        assert_eq!(strip_hash_comment("a.com # x"), "a.com ");
        assert_eq!(strip_hash_comment("# x"), "");
        assert_eq!(strip_hash_comment("a.com/p#frag"), "a.com/p#frag");
    }

    #[test]
    fn format_names_round_trip() {
        for f in ListFormat::ALL {
            assert_eq!(ListFormat::from_name(f.name()), Some(f));
        }
    }
}
