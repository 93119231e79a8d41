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

use crate::domains::suffixes;
use std::collections::HashMap;

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

/// Host + path-prefix entries; a host entry also covers its subdomains.
#[derive(Debug)]
pub struct UrlTable<V> {
    /// Per host: entries sorted by path length, longest first (ties in insertion order).
    map: HashMap<Box<str>, Vec<(Box<str>, V)>>,
}

impl<V> Default for UrlTable<V> {
    fn default() -> Self {
        UrlTable {
            map: HashMap::new(),
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
    /// Adds an entry; `path` starts with `/` (one is added if missing; empty means `/`).
    /// The host is stored lower-cased without a trailing dot.
    pub fn insert(&mut self, host: &str, path: &str, value: V) {
        let host = host.strip_suffix('.').unwrap_or(host);
        let host: Box<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            host.to_ascii_lowercase().into()
        } else {
            host.into()
        };
        let path: Box<str> = if path.starts_with('/') {
            path.into()
        } else {
            format!("/{path}").into()
        };
        let entries = self.map.entry(host).or_default();
        let at = entries.partition_point(|(p, _)| p.len() >= path.len());
        entries.insert(at, (path, value));
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Whether any entry is for this exact host (DNS must not block a whole domain for a URL entry).
    pub fn has_host(&self, host: &str) -> bool {
        self.map
            .contains_key(host.strip_suffix('.').unwrap_or(host))
    }
    /// Entries matching host (or a parent) and path, most specific first (longest host, then path).
    /// Does not allocate; the host must be lower-case (one trailing dot is ignored).
    pub fn matches<'a>(
        &'a self,
        host: &'a str,
        path: &'a str,
    ) -> impl Iterator<Item = UrlMatch<'a, V>> + 'a {
        let host = host.strip_suffix('.').unwrap_or(host);
        suffixes(host).flat_map(move |s| {
            self.map
                .get_key_value(s)
                .into_iter()
                .flat_map(move |(k, v)| {
                    v.iter()
                        .filter(move |(p, _)| path_matches(p, path))
                        .map(move |(p, value)| UrlMatch {
                            host: k,
                            path: p,
                            value,
                        })
                })
        })
    }
    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = UrlMatch<'_, V>> + '_ {
        self.map.iter().flat_map(|(k, v)| {
            v.iter().map(move |(p, value)| UrlMatch {
                host: k,
                path: p,
                value,
            })
        })
    }
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
