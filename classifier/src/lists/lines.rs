//! Shared line reading and per-load bookkeeping for every list format.

use super::{ListSink, LoadStats};
use crate::domains::MatchScope;
use crate::source::ListWarning;
use std::borrow::Cow;
use std::path::Path;

/// Warnings kept per load; past this, one summary warning counts the rest.
pub(crate) const MAX_WARNINGS: usize = 1000;

/// Longest excerpt of a bad line quoted in a warning.
const MAX_QUOTE: usize = 80;

/// Calls `f(line_number, text)` for every line of `bytes`: a leading UTF-8 BOM is dropped, `\n`
/// and `\r\n` both end a line, and bytes that are not UTF-8 are replaced with U+FFFD (every
/// parser rejects a content line containing U+FFFD with a warning, so comments in another
/// encoding cost nothing).
pub(crate) fn for_each_line(bytes: &[u8], mut f: impl FnMut(u32, Cow<'_, str>)) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.is_empty() {
        return;
    }
    // Valid UTF-8 (the usual case) is checked once for the whole file, not line by line.
    if let Ok(text) = std::str::from_utf8(bytes) {
        let body = text.strip_suffix('\n').unwrap_or(text);
        for (i, raw) in body.split('\n').enumerate() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            f(line_number(i), Cow::Borrowed(raw));
        }
        return;
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        f(line_number(i), String::from_utf8_lossy(raw));
    }
}

fn line_number(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

/// Quotes (part of) a line for a warning message.
pub(crate) fn quote(s: &str) -> String {
    if s.chars().count() <= MAX_QUOTE {
        format!("`{s}`")
    } else {
        let head: String = s.chars().take(MAX_QUOTE).collect();
        format!("`{head}…`")
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
    pub(crate) fn skip(&mut self) {
        self.stats.skipped += 1;
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
        for_each_line(b, |n, t| v.push((n, t.into_owned())));
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
}
