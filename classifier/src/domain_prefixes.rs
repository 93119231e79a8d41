//! Adblock `||name.` rules: "`name` followed by any suffix" (`||adservice.google.` blocks
//! `adservice.google.com` and `adservice.google.co.uk`; `||192.168.` a range of addresses).
//!
//! A prefix matches a host when its labels start at a label of the host (the start, or just
//! after a dot, as `||` says) and at least one label of the host follows them. Lookups take
//! every run of up to [`DomainPrefixTable::max_labels`] labels that is not the host's last one,
//! slicing the host without allocating: at most a few dozen hash probes, and none while the
//! table is empty (the usual case).

use std::collections::HashMap;

/// Prefix entries and their values.
#[derive(Debug)]
pub struct DomainPrefixTable<V> {
    names: HashMap<Box<str>, Vec<V>>,
    max_labels: usize,
    len: usize,
}

impl<V> Default for DomainPrefixTable<V> {
    fn default() -> Self {
        DomainPrefixTable {
            names: HashMap::new(),
            max_labels: 0,
            len: 0,
        }
    }
}

impl<V> DomainPrefixTable<V> {
    /// Adds a prefix (a normalised name: lower-case, no trailing dot). Several values for one
    /// prefix are all kept.
    pub fn insert(&mut self, prefix: &str, value: V) {
        let prefix = prefix.strip_suffix('.').unwrap_or(prefix);
        let labels = prefix.split('.').count();
        self.max_labels = self.max_labels.max(labels);
        self.names
            .entry(prefix.to_ascii_lowercase().into())
            .or_default()
            .push(value);
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
    /// Labels in the longest prefix.
    pub fn max_labels(&self) -> usize {
        self.max_labels
    }
    /// The values of every prefix the host matches (see the module docs); the host must be
    /// lower-case (one trailing dot is ignored).
    pub fn matches<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a V> + 'a {
        let host = host.strip_suffix('.').unwrap_or(host);
        // An empty table probes nothing: no label runs to try.
        let host = if self.names.is_empty() { "" } else { host };
        std::iter::once(0)
            .chain(host.match_indices('.').map(|(i, _)| i + 1))
            .flat_map(move |start| {
                // The dots after `start`: each ends a candidate, which keeps a label after it.
                host[start..]
                    .match_indices('.')
                    .take(self.max_labels)
                    .map(move |(i, _)| &host[start..start + i])
            })
            .filter_map(|candidate| self.names.get(candidate))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_needs_a_label_after_it() {
        let mut t = DomainPrefixTable::default();
        t.insert("adservice.google", 1);
        t.insert("192.168", 2);
        let hits = |h: &str| t.matches(h).copied().collect::<Vec<_>>();
        assert_eq!(hits("adservice.google.com"), [1]);
        assert_eq!(hits("adservice.google.co.uk"), [1]);
        assert_eq!(hits("www.adservice.google.de"), [1]);
        assert_eq!(hits("adservice.google"), Vec::<i32>::new());
        assert_eq!(hits("myadservice.google.com"), Vec::<i32>::new());
        assert_eq!(hits("adservice.googlex.com"), Vec::<i32>::new());
        assert_eq!(hits("google.com"), Vec::<i32>::new());
        assert_eq!(hits("192.168.1.20"), [2]);
        assert_eq!(hits("10.0.0.1"), Vec::<i32>::new());
        assert_eq!(t.len(), 2);
        assert_eq!(t.max_labels(), 2);
    }

    #[test]
    fn an_empty_table_matches_nothing() {
        let t = DomainPrefixTable::<u8>::default();
        assert_eq!(t.matches("a.b.c").count(), 0);
        assert!(t.is_empty());
    }
}
