//! URL lists: host + path-prefix entries (squidGuard `urls` files, IWF-style full URLs,
//! `example.com/path` lines in native lists).
//!
//! An entry `(host, path)` matches a request when the request's host is `host` or one of its
//! subdomains, and the request's path (which may carry a `?query`) starts with `path` at a
//! boundary:
//! - `/bad` matches `/bad`, `/bad/x`, `/bad?q=1` and `/bad#f`, but not `/badger`;
//! - an entry ending in `/` (including `/` itself) matches everything below it;
//! - an entry with a query (`/watch?v=abc`) matches that query exactly or followed by `&…`/`#…`.
//!
//! Paths are compared case-sensitively, byte for byte: normalise them (percent-decoding, dot
//! segments) the same way on both sides.
//!
//! Adblock URL rules (`||host/path`) follow adblock semantics instead ([`PathMatch::Adblock`]):
//! a plain prefix (`/ads` matches `/adsbygoogle.js`), compared ASCII case-insensitively unless
//! the rule says `$match-case`; a trailing `^` requires a separator (anything but a letter,
//! digit, `_`, `-`, `.` or `%`) or the end after the prefix, a trailing `|` the end itself.

use crate::domains::{KeyedNames, SuffixKey};

/// How an entry's path is compared with a request's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathMatch {
    /// Lychgate's own rule (native, squidGuard, plain lists): segment boundaries, case-sensitive.
    Segment,
    /// An adblock rule: a prefix, then what [`PathEnd`] allows.
    Adblock {
        /// What may follow the prefix.
        end: PathEnd,
        /// `$match-case`: compare case-sensitively.
        match_case: bool,
    },
}

/// What an adblock URL rule allows after its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathEnd {
    /// Anything (no anchor).
    Any,
    /// A trailing `^`: a separator character or the end of the URL.
    Separator,
    /// A trailing `|`: the end of the URL.
    End,
}

/// Whether an adblock URL rule's path matches a request path (see the module docs).
pub fn adblock_path_matches(entry: &str, path: &str, end: PathEnd, match_case: bool) -> bool {
    let Some(head) = path.get(..entry.len()) else {
        return false;
    };
    let same = if match_case {
        head == entry
    } else {
        head.eq_ignore_ascii_case(entry)
    };
    if !same {
        return false;
    }
    let rest = &path.as_bytes()[entry.len()..];
    match end {
        PathEnd::Any => true,
        PathEnd::End => rest.is_empty(),
        PathEnd::Separator => rest.first().is_none_or(|&b| is_adblock_separator(b)),
    }
}

/// The adblock `^`: any character but a letter, a digit, or one of `_-.%`.
fn is_adblock_separator(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'%'))
}

/// A match in a [`UrlTable`].
#[derive(Debug)]
pub struct UrlMatch<'a, V> {
    /// The entry's host.
    pub host: &'a str,
    /// The entry's path prefix (starts with `/`).
    pub path: &'a str,
    /// The entry's value.
    pub value: &'a V,
}

/// Host + path-prefix entries; a host entry also covers its subdomains. Hosts are kept in full
/// and found by their suffix keys (see [`crate::domains::suffix_keys_into`]).
#[derive(Debug)]
pub struct UrlTable<V> {
    /// Per host, its entries with the longest path first.
    hosts: KeyedNames<Vec<(Box<str>, PathMatch, V)>>,
    len: usize,
}

impl<V> Default for UrlTable<V> {
    fn default() -> Self {
        UrlTable {
            hosts: KeyedNames::default(),
            len: 0,
        }
    }
}

/// Whether an entry path matches a request path (see the module docs).
pub fn path_matches(entry: &str, path: &str) -> bool {
    let Some(rest) = path.strip_prefix(entry) else {
        return false;
    };
    if rest.is_empty() || entry.ends_with('/') {
        return true;
    }
    let next = rest.as_bytes()[0];
    if entry.contains('?') {
        matches!(next, b'&' | b'#')
    } else {
        matches!(next, b'/' | b'?' | b'#')
    }
}

impl<V> UrlTable<V> {
    /// Adds an entry matched by [`PathMatch::Segment`]; a missing leading `/` is added to `path`.
    pub fn insert(&mut self, host: &str, path: &str, value: V) {
        self.insert_with(host, path, PathMatch::Segment, value);
    }

    /// Adds an entry whose path is compared as `how` says; a missing leading `/` is added.
    pub fn insert_with(&mut self, host: &str, path: &str, how: PathMatch, value: V) {
        let host = host.strip_suffix('.').unwrap_or(host);
        let lower;
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = host.to_ascii_lowercase();
            lower.as_str()
        } else {
            host
        };
        let path: Box<str> = if path.starts_with('/') {
            path.into()
        } else {
            format!("/{path}").into()
        };
        let entries = self.hosts.entry(host);
        let at = entries.partition_point(|(p, _, _)| p.len() >= path.len());
        entries.insert(at, (path, how, value));
        self.len += 1;
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Whether any entry is for this exact host (DNS must not block a whole domain for a URL entry).
    pub fn has_host(&self, host: &str) -> bool {
        self.hosts
            .get_name(host.strip_suffix('.').unwrap_or(host))
            .is_some()
    }
    /// Entries matching host (or a parent) and path, most specific first (longest host, then
    /// longest path). Does not allocate.
    pub fn matches<'a>(
        &'a self,
        host: &'a str,
        path: &'a str,
    ) -> impl Iterator<Item = UrlMatch<'a, V>> + 'a {
        self.hosts
            .suffix_matches_hashing(host)
            .flat_map(move |(_, h, v)| expand_url_entries(h, v, path))
    }
    /// [`UrlTable::matches`] with the host's suffix keys already computed.
    pub fn matches_keyed<'a>(
        &'a self,
        host: &'a str,
        path: &'a str,
        keys: &'a [SuffixKey],
    ) -> impl Iterator<Item = UrlMatch<'a, V>> + 'a {
        self.hosts
            .suffix_matches(host, keys)
            .flat_map(move |(_, h, v)| expand_url_entries(h, v, path))
    }
    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = UrlMatch<'_, V>> + '_ {
        self.hosts.values().flat_map(|(host, v)| {
            v.iter().map(move |(p, _, value)| UrlMatch {
                host,
                path: p,
                value,
            })
        })
    }
}

fn expand_url_entries<'a, V>(
    host: &'a str,
    entries: &'a [(Box<str>, PathMatch, V)],
    path: &'a str,
) -> impl Iterator<Item = UrlMatch<'a, V>> + 'a {
    entries
        .iter()
        .filter(move |(p, how, _)| match *how {
            PathMatch::Segment => path_matches(p, path),
            PathMatch::Adblock { end, match_case } => {
                adblock_path_matches(p, path, end, match_case)
            }
        })
        .map(move |(p, _, value)| UrlMatch {
            host,
            path: p,
            value,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefixes_stop_at_segment_boundaries() {
        assert!(path_matches("/bad", "/bad"));
        assert!(path_matches("/bad", "/bad/x"));
        assert!(path_matches("/bad", "/bad?x=1"));
        assert!(path_matches("/bad", "/bad#top"));
        assert!(!path_matches("/bad", "/badger"));
        assert!(!path_matches("/bad", "/ba"));
        assert!(path_matches("/bad/", "/bad/x"));
        assert!(!path_matches("/bad/", "/bad"));
        assert!(path_matches("/", "/anything"));
        assert!(path_matches("/watch?v=abc", "/watch?v=abc"));
        assert!(path_matches("/watch?v=abc", "/watch?v=abc&t=3"));
        assert!(!path_matches("/watch?v=abc", "/watch?v=abcd"));
    }

    #[test]
    fn adblock_paths_are_case_insensitive_prefixes() {
        // EasyList: `||googlesyndication.com/safeframe/`, `||google.com/pagead/` style rules.
        let any = PathEnd::Any;
        assert!(adblock_path_matches(
            "/prefix-",
            "/prefix-7.0.js",
            any,
            false
        ));
        assert!(adblock_path_matches("/path?", "/path?x=1", any, false));
        assert!(adblock_path_matches("/ads", "/adsbygoogle.js", any, false));
        assert!(adblock_path_matches("/pagead/", "/PageAd/show", any, false));
        assert!(!adblock_path_matches("/pagead/", "/PageAd/show", any, true));
        assert!(!adblock_path_matches("/ads", "/ad", any, false));
        let sep = PathEnd::Separator;
        assert!(adblock_path_matches("/ads", "/ads", sep, false));
        assert!(adblock_path_matches("/ads", "/ads/x", sep, false));
        assert!(adblock_path_matches("/ads", "/ads?x", sep, false));
        assert!(!adblock_path_matches("/ads", "/ads.js", sep, false));
        assert!(!adblock_path_matches("/ads", "/adsx", sep, false));
        assert!(adblock_path_matches("/a.js", "/A.JS", PathEnd::End, false));
        assert!(!adblock_path_matches(
            "/a.js",
            "/a.js?v=1",
            PathEnd::End,
            false
        ));
        // Multi-byte paths never split a character.
        assert!(!adblock_path_matches("/ab", "/é", any, false));
    }

    #[test]
    fn a_table_mixes_both_rules() {
        let mut t = UrlTable::default();
        t.insert("example.com", "/bad", 1);
        let how = PathMatch::Adblock {
            end: PathEnd::Any,
            match_case: false,
        };
        t.insert_with("example.com", "/ads", how, 2);
        let hits = |p: &str| {
            t.matches("example.com", p)
                .map(|m| *m.value)
                .collect::<Vec<_>>()
        };
        assert_eq!(hits("/badger"), Vec::<i32>::new());
        assert_eq!(hits("/ADS-1.js"), [2]);
        assert_eq!(hits("/bad/x"), [1]);
    }

    #[test]
    fn matches_most_specific_first() {
        let mut t = UrlTable::default();
        t.insert("example.com", "/", 1);
        t.insert("example.com", "/a/b", 2);
        t.insert("example.com", "/a", 3);
        t.insert("www.example.com", "/a", 4);
        let got: Vec<_> = t
            .matches("www.example.com", "/a/b/c")
            .map(|m| *m.value)
            .collect();
        assert_eq!(got, [4, 2, 3, 1]);
        let got: Vec<_> = t.matches("example.com", "/abc").map(|m| *m.value).collect();
        assert_eq!(got, [1]);
        assert_eq!(t.matches("example.org", "/a").count(), 0);
        assert_eq!(t.matches("notexample.com", "/a").count(), 0);
        assert!(t.has_host("example.com"));
        assert!(!t.has_host("x.example.com"));
        assert_eq!(t.len(), 4);
        assert_eq!(t.iter().count(), 4);
    }

    #[test]
    fn insert_normalises() {
        let mut t = UrlTable::default();
        t.insert("Example.COM.", "bad", ());
        let m: Vec<_> = t.matches("example.com", "/bad/1").collect();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].host, "example.com");
        assert_eq!(m[0].path, "/bad");
    }
}
