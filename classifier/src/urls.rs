//! URL lists: host + path-prefix entries. CONTRACT STUB: replaced by the real implementation.

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
    map: HashMap<Box<str>, Vec<(Box<str>, V)>>,
}

impl<V> Default for UrlTable<V> {
    fn default() -> Self {
        UrlTable {
            map: HashMap::new(),
        }
    }
}

impl<V> UrlTable<V> {
    /// Adds an entry; `path` starts with `/`.
    pub fn insert(&mut self, host: &str, path: &str, value: V) {
        self.map
            .entry(host.into())
            .or_default()
            .push((path.into(), value));
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
        self.map.contains_key(host)
    }
    /// Entries matching host (or a parent) and path, most specific first (longest host, then path).
    pub fn matches<'a>(
        &'a self,
        host: &'a str,
        path: &'a str,
    ) -> impl Iterator<Item = UrlMatch<'a, V>> + 'a {
        suffixes(host).flat_map(move |s| {
            self.map
                .get_key_value(s)
                .into_iter()
                .flat_map(move |(k, v)| {
                    v.iter()
                        .filter(move |(p, _)| path.starts_with(&**p))
                        .map(move |(p, value)| UrlMatch {
                            host: k,
                            path: p,
                            value,
                        })
                })
        })
    }
}
