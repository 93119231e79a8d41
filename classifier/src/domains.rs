//! Domain index. CONTRACT STUB: replaced by the real implementation.

use crate::category::{CategoryId, CategorySet};
use std::collections::HashMap;

/// Whether an entry matches only the name itself or also every name below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchScope {
    /// Only this exact name.
    Exact,
    /// This name and all its subdomains.
    Subdomains,
}

/// Suffixes of a host from the whole host down to the last label.
pub fn suffixes(host: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(host);
    std::iter::from_fn(move || {
        let cur = next?;
        next = cur.find('.').map(|i| &cur[i + 1..]);
        Some(cur)
    })
}

/// Builds a [`DomainIndex`].
#[derive(Debug, Default)]
pub struct DomainIndexBuilder {
    entries: Vec<(String, MatchScope, CategoryId)>,
}

impl DomainIndexBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a normalised domain.
    pub fn insert(&mut self, domain: &str, scope: MatchScope, category: CategoryId) {
        self.entries.push((domain.to_string(), scope, category));
    }
    /// Number of insertions so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Builds the index.
    pub fn build(self) -> DomainIndex {
        let mut map: HashMap<(String, bool), CategorySet> = HashMap::new();
        for (d, s, c) in self.entries {
            map.entry((d, s == MatchScope::Exact))
                .or_default()
                .insert(c);
        }
        DomainIndex { map }
    }
}

/// Compact domain → categories index.
#[derive(Debug, Default)]
pub struct DomainIndex {
    map: HashMap<(String, bool), CategorySet>,
}

impl DomainIndex {
    /// Categories of every entry matching the host or one of its parent domains.
    pub fn lookup(&self, host: &str) -> CategorySet {
        let mut set = CategorySet::EMPTY;
        for (i, s) in suffixes(host).enumerate() {
            if let Some(c) = self.map.get(&(s.to_string(), false)) {
                set = set.union(*c);
            }
            if i == 0 {
                if let Some(c) = self.map.get(&(s.to_string(), true)) {
                    set = set.union(*c);
                }
            }
        }
        set
    }
    /// Distinct entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        0
    }
}

/// A match in a [`DomainTable`].
#[derive(Debug)]
pub struct DomainMatch<'a, V> {
    /// The entry's domain.
    pub domain: &'a str,
    /// The entry's scope.
    pub scope: MatchScope,
    /// The entry's value.
    pub value: &'a V,
}

/// Full-entry domain table for small sensitive lists: every hit is confirmed on the full name.
#[derive(Debug)]
pub struct DomainTable<V> {
    map: HashMap<Box<str>, Vec<(MatchScope, V)>>,
}

impl<V> Default for DomainTable<V> {
    fn default() -> Self {
        DomainTable {
            map: HashMap::new(),
        }
    }
}

impl<V> DomainTable<V> {
    /// Adds an entry.
    pub fn insert(&mut self, domain: &str, scope: MatchScope, value: V) {
        self.map
            .entry(domain.into())
            .or_default()
            .push((scope, value));
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// All entries matching the host, most specific (longest domain) first.
    pub fn matches<'a>(&'a self, host: &'a str) -> impl Iterator<Item = DomainMatch<'a, V>> + 'a {
        suffixes(host).enumerate().flat_map(move |(i, s)| {
            self.map
                .get_key_value(s)
                .into_iter()
                .flat_map(move |(k, v)| {
                    v.iter()
                        .filter(move |(scope, _)| i == 0 || *scope == MatchScope::Subdomains)
                        .map(move |(scope, value)| DomainMatch {
                            domain: k,
                            scope: *scope,
                            value,
                        })
                })
        })
    }
}
