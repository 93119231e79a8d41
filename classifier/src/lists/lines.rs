//! Shared line reading and per-load bookkeeping for every list format.

use super::{ListSink, LoadStats, SkipReason};
use crate::domains::MatchScope;
use crate::source::ListWarning;
use crate::urls::PathMatch;
use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

/// Warnings kept per load; past this, one summary warning counts the rest.
pub(crate) const MAX_WARNINGS: usize = 1000;

/// Longest excerpt of a bad line quoted in a warning.
const MAX_QUOTE: usize = 80;

/// The lines of a list, read one at a time so a big list is never held whole in memory: a
/// leading UTF-8 BOM is dropped, `\n` and `\r\n` both end a line, and bytes that are not UTF-8
/// are replaced with U+FFFD (every parser rejects a content line containing U+FFFD with a
/// warning, so comments in another encoding cost nothing).
pub(crate) struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    read: usize,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(reader: R) -> Self {
        Lines {
            reader,
            buf: Vec::new(),
            read: 0,
        }
    }

    /// The next line and its 1-based number, or `None` at the end.
    pub(crate) fn next_line(&mut self) -> std::io::Result<Option<(u32, Cow<'_, str>)>> {
        self.buf.clear();
        if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
            return Ok(None);
        }
        let mut raw: &[u8] = &self.buf;
        if self.read == 0 {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
            if raw.is_empty() {
                return Ok(None);
            }
        }
        self.read += 1;
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(raw),
        };
        Ok(Some((line_number(self.read - 1), text)))
    }
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Quotes (part of) a line for a warning message. Control and bidirectional-override characters
/// are escaped (`\u{1b}`): a binary file must not send escape sequences to the technician's
/// terminal, nor reorder what it shows.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_QUOTE) + 2);
    out.push('`');
    for (i, c) in s.chars().enumerate() {
        if i == MAX_QUOTE {
            out.push('…');
            break;
        }
        push_shown(&mut out, c);
    }
    out.push('`');
    out
}

/// Pushes `c`, escaped when a terminal would act on it instead of showing it.
pub(crate) fn push_shown(out: &mut String, c: char) {
    let acts = c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if acts {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

/// One file being loaded: where warnings point, where entries go, what was counted.
pub(crate) struct Ctx<'a> {
    pub(crate) path: &'a Path,
    pub(crate) sink: &'a mut dyn ListSink,
    pub(crate) stats: &'a mut LoadStats,
    /// Warnings not kept because of [`MAX_WARNINGS`].
    pub(crate) dropped: &'a mut usize,
}

impl Ctx<'_> {
    pub(crate) fn warn(&mut self, line: u32, message: impl Into<String>) {
        self.stats.bad_lines += 1;
        if self.stats.warnings.len() < MAX_WARNINGS {
            self.stats.warnings.push(ListWarning {
                path: self.path.to_path_buf(),
                line,
                message: message.into(),
            });
        } else {
            *self.dropped += 1;
        }
    }
    pub(crate) fn domain(&mut self, domain: &str, scope: MatchScope, line: u32) {
        self.sink.domain(domain, scope, line);
        self.stats.domains += 1;
    }
    pub(crate) fn url(&mut self, host: &str, path: &str, line: u32) {
        self.sink.url(host, path, line);
        self.stats.urls += 1;
    }
    pub(crate) fn url_with(&mut self, host: &str, path: &str, how: PathMatch, line: u32) {
        self.sink.url_with(host, path, how, line);
        self.stats.urls += 1;
    }
    pub(crate) fn domain_prefix(&mut self, prefix: &str, line: u32) {
        self.sink.domain_prefix(prefix, line);
        self.stats.domains += 1;
    }
    pub(crate) fn exception_domain(&mut self, domain: &str, line: u32) {
        self.sink.exception_domain(domain, line);
        self.stats.exceptions += 1;
    }
    pub(crate) fn exception_url(&mut self, host: &str, path: &str, how: PathMatch, line: u32) {
        self.sink.exception_url(host, path, how, line);
        self.stats.exceptions += 1;
    }
    pub(crate) fn regex(&mut self, pattern: &str, line: u32) {
        if pattern.contains('\u{FFFD}') {
            self.warn(
                line,
                "regular expression is not valid UTF-8 (wrong file encoding?); entry ignored",
            );
            return;
        }
        self.sink.regex(pattern, line);
        self.stats.regexes += 1;
    }
    pub(crate) fn skip(&mut self, reason: SkipReason) {
        self.stats.skipped += 1;
        self.stats.skips.add(reason);
    }
    /// Normalises a domain and hands it to the sink, or warns.
    pub(crate) fn domain_or_warn(&mut self, raw: &str, scope: MatchScope, line: u32) -> bool {
        match super::normalize_list_domain(raw) {
            Ok(d) => {
                self.domain(&d, scope, line);
                true
            }
            Err(e) => {
                self.warn(line, e.to_string());
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &[u8]) -> Vec<(u32, String)> {
        let mut v = Vec::new();
        let mut lines = Lines::new(b);
        while let Some((n, t)) = lines.next_line().unwrap() {
            v.push((n, t.into_owned()));
        }
        v
    }

    #[test]
    fn bom_crlf_and_bad_bytes() {
        assert_eq!(
            lines(b"\xEF\xBB\xBFa\r\nb\n\nc\xff"),
            [
                (1, "a".to_string()),
                (2, "b".to_string()),
                (3, String::new()),
                (4, "c\u{FFFD}".to_string())
            ]
        );
        assert!(lines(b"").is_empty());
        assert_eq!(lines(b"x\n"), [(1, "x".to_string())]);
        assert_eq!(lines(b"\r\n"), [(1, String::new())]);
    }

    #[test]
    fn a_bom_alone_is_no_line() {
        assert!(lines(b"\xEF\xBB\xBF").is_empty());
        assert_eq!(lines(b"\xEF\xBB\xBF\n"), [(1, String::new())]);
    }

    #[test]
    fn quotes_escape_what_a_terminal_would_act_on() {
        assert_eq!(quote("a\u{1b}[2Jb"), "`a\\u{1b}[2Jb`");
        assert_eq!(quote("x\u{202E}y\u{7}"), "`x\\u{202e}y\\u{7}`");
        assert_eq!(quote("ok.example"), "`ok.example`");
        let long = "a".repeat(100);
        assert_eq!(quote(&long), format!("`{}…`", "a".repeat(MAX_QUOTE)));
    }
}
