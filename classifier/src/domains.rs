//! Domain lists in memory: the compact hashed [`DomainIndex`] for the big category lists
//! (millions of entries) and the full-entry [`DomainTable`] for small sensitive lists.
//!
//! # The compact index
//!
//! A [`DomainIndex`] stores no names at all. Each entry is the 64-bit xxh3 hash of its
//! normalised domain with the lowest bit replaced by the scope (`0` = the domain and all its
//! subdomains, `1` = [`MatchScope::Exact`]), so both variants of one name sit next to each other
//! in sort order and one search finds both. Keys live in one sorted `Vec<u64>`; a parallel
//! `Vec<u16>` holds, for each key, an index into an interned table of the distinct
//! [`CategorySet`]s (most domains are in exactly one category, so that table is tiny). A radix
//! table maps the top bits of a hash to the start of its run of keys, so a lookup is a binary
//! search over a handful of keys. That is 10 bytes per entry plus well under one byte of radix
//! table: about 10.5 bytes per domain, against hundreds for a `HashSet<String>`.
//!
//! [`DomainIndex::lookup`] hashes every suffix of the host (`a.b.example.co.uk`,
//! `b.example.co.uk`, `example.co.uk`, `co.uk`, `uk`) and unions the categories of every
//! matching entry; an `Exact` entry only matches the whole host. It never allocates.
//!
//! ## Hash collisions
//!
//! Because names are not stored, two different names with the same 63-bit hash are
//! indistinguishable. A collision can only ever make an *unlisted* name look listed (never hide
//! a listed one), and the chance per looked-up suffix is about `n / 2^63` for an index of `n`
//! entries: with 2 million entries, around one false match in 4.6 × 10¹² lookups — far below
//! any other source of error in a filter. That is acceptable for category blocking, and not for
//! the lists where a false match would matter (allow lists, per-group overrides, the illegal
//! list): those use [`DomainTable`], which keeps every name and confirms each hit on the full
//! string.
//!
//! Hosts handed to [`DomainIndex::lookup`] and [`DomainTable::matches`] are expected to be
//! normalised (lower-case ASCII, punycode, no trailing dot). Both also cope with upper-case
//! ASCII and one trailing dot without allocating, as a safety net.

use crate::category::{CategoryId, CategorySet};
use std::collections::HashMap;
use xxhash_rust::xxh3::xxh3_64;

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

/// Longest name the index hashes case-insensitively without allocating (DNS names are ≤ 253).
const MAX_NAME: usize = 255;

/// Strips one trailing dot.
fn trim_root(host: &str) -> &str {
    host.strip_suffix('.').unwrap_or(host)
}

/// The key of a name: its hash with the low bit cleared (the [`MatchScope::Subdomains`] key;
/// the `Exact` key is this `| 1`).
fn base_key(name: &[u8]) -> u64 {
    xxh3_64(name) & !1
}

fn scope_bit(scope: MatchScope) -> u64 {
    match scope {
        MatchScope::Subdomains => 0,
        MatchScope::Exact => 1,
    }
}

/// The index key of a name and scope.
fn key_of(domain: &str, scope: MatchScope) -> u64 {
    let name = trim_root(domain);
    let key = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        base_key(name.to_ascii_lowercase().as_bytes())
    } else {
        base_key(name.as_bytes())
    };
    key | scope_bit(scope)
}

/// Builds a [`DomainIndex`]. Names are hashed as they are inserted, so the builder holds
/// 16 bytes per insertion and never the names themselves.
#[derive(Debug, Default)]
pub struct DomainIndexBuilder {
    entries: Vec<(u64, CategoryId)>,
}

impl DomainIndexBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty builder with room for `n` insertions.
    pub fn with_capacity(n: usize) -> Self {
        DomainIndexBuilder {
            entries: Vec::with_capacity(n),
        }
    }
    /// Adds a normalised domain (lower-case ASCII/punycode; upper case and one trailing dot are
    /// tolerated). Inserting the same name and scope again adds the category to its set.
    pub fn insert(&mut self, domain: &str, scope: MatchScope, category: CategoryId) {
        self.entries.push((key_of(domain, scope), category));
    }
    /// Number of insertions so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Builds the index: sorts, merges duplicate entries' categories, interns category sets.
    pub fn build(self) -> DomainIndex {
        let mut entries = self.entries;
        entries.sort_unstable_by_key(|e| e.0);

        let mut keys: Vec<u64> = Vec::with_capacity(entries.len());
        let mut merged: Vec<CategorySet> = Vec::with_capacity(entries.len());
        for (key, cat) in entries {
            match keys.last() {
                Some(&last) if last == key => {
                    if let Some(set) = merged.last_mut() {
                        set.insert(cat);
                    }
                }
                _ => {
                    keys.push(key);
                    merged.push(CategorySet::one(cat));
                }
            }
        }
        keys.shrink_to_fit();

        let mut sets: Vec<CategorySet> = Vec::new();
        let mut interned: HashMap<CategorySet, usize> = HashMap::new();
        let mut set_ids: Vec<usize> = Vec::with_capacity(merged.len());
        for set in merged {
            let id = *interned.entry(set).or_insert_with(|| {
                sets.push(set);
                sets.len() - 1
            });
            set_ids.push(id);
        }
        sets.shrink_to_fit();
        let ids = if sets.len() <= usize::from(u16::MAX) + 1 {
            SetIds::Narrow(set_ids.into_iter().map(|i| i as u16).collect())
        } else {
            // More distinct category combinations than a u16 can name: only possible with
            // dozens of overlapping custom categories. Stay correct, at 2 more bytes per entry.
            SetIds::Wide(set_ids.into_iter().map(|i| i as u32).collect())
        };

        let radix_bits = radix_bits_for(keys.len());
        let buckets = 1usize << radix_bits;
        let mut radix = vec![0u32; buckets + 1];
        // radix[b] = index of the first key whose bucket is ≥ b.
        let mut k = 0usize;
        for (b, slot) in radix.iter_mut().enumerate().take(buckets) {
            while k < keys.len() && bucket_of(keys[k], radix_bits) < b {
                k += 1;
            }
            *slot = k as u32;
        }
        radix[buckets] = keys.len() as u32;

        DomainIndex {
            keys,
            ids,
            sets,
            radix,
            radix_bits,
        }
    }
}

/// About 4–8 keys per radix bucket, at most 2^20 buckets.
fn radix_bits_for(n: usize) -> u32 {
    let log2 = usize::BITS - n.leading_zeros(); // ⌈log2(n + 1)⌉
    log2.saturating_sub(3).min(20)
}

fn bucket_of(key: u64, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (key >> (64 - bits)) as usize
    }
}

/// Per-key index into the interned category sets.
#[derive(Debug)]
enum SetIds {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Default for SetIds {
    fn default() -> Self {
        SetIds::Narrow(Vec::new())
    }
}

/// Compact domain → categories index (see the module docs for layout and collision odds).
pub struct DomainIndex {
    /// Sorted, distinct keys (hash with the scope in bit 0).
    keys: Vec<u64>,
    /// Parallel to `keys`: index into `sets`.
    ids: SetIds,
    /// Distinct category sets.
    sets: Vec<CategorySet>,
    /// `radix[b]..radix[b + 1]` is the run of keys whose top `radix_bits` bits are `b`.
    radix: Vec<u32>,
    radix_bits: u32,
}

impl std::fmt::Debug for DomainIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A summary: the keys of a real index are millions of meaningless numbers.
        f.debug_struct("DomainIndex")
            .field("entries", &self.keys.len())
            .field("category_sets", &self.sets)
            .field("radix_bits", &self.radix_bits)
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

impl Default for DomainIndex {
    fn default() -> Self {
        DomainIndexBuilder::new().build()
    }
}

impl DomainIndex {
    /// Categories of every entry matching the host or one of its parent domains. An `Exact`
    /// entry only matches the whole host. Does not allocate.
    pub fn lookup(&self, host: &str) -> CategorySet {
        if self.keys.is_empty() {
            return CategorySet::EMPTY;
        }
        let host = trim_root(host);
        let bytes = host.as_bytes();
        if bytes.iter().any(u8::is_ascii_uppercase) && bytes.len() <= MAX_NAME {
            let mut buf = [0u8; MAX_NAME];
            let lower = &mut buf[..bytes.len()];
            lower.copy_from_slice(bytes);
            lower.make_ascii_lowercase();
            self.lookup_bytes(lower)
        } else {
            self.lookup_bytes(bytes)
        }
    }

    /// Looks up every suffix of the host in batches: first every suffix's hash and radix bucket,
    /// then every bucket's search. The suffixes are independent, so doing each phase for all
    /// of them at once lets the CPU overlap their cache misses instead of waiting for each in
    /// turn (a lookup is memory-bound: the keys are megabytes, the host is a few suffixes).
    fn lookup_bytes(&self, host: &[u8]) -> CategorySet {
        const BATCH: usize = 8;
        let mut set = CategorySet::EMPTY;
        let mut start = Some(0usize);
        let mut first = true;
        while start.is_some() {
            let mut keys = [0u64; BATCH];
            let mut runs = [(0usize, 0usize); BATCH];
            let mut count = 0;
            while let Some(s) = start.filter(|_| count < BATCH) {
                let suffix = &host[s..];
                keys[count] = base_key(suffix);
                start = suffix
                    .iter()
                    .position(|&b| b == b'.')
                    .map(|dot| s + dot + 1);
                count += 1;
            }
            for (run, &key) in runs.iter_mut().zip(&keys).take(count) {
                let b = bucket_of(key, self.radix_bits);
                *run = (self.radix[b] as usize, self.radix[b + 1] as usize);
            }
            for (i, (&key, &(lo, hi))) in keys.iter().zip(&runs).take(count).enumerate() {
                set = set.union(self.probe(key, lo, hi, first && i == 0));
            }
            first = false;
        }
        set
    }

    /// Categories of the entries for one name in the run `lo..hi` of its bucket: the subdomain
    /// entry, plus the exact entry when `whole_host`.
    fn probe(&self, base: u64, lo: usize, hi: usize, whole_host: bool) -> CategorySet {
        let run = &self.keys[lo..hi];
        let i = run.partition_point(|&k| k < base);
        let mut set = CategorySet::EMPTY;
        for (j, &k) in run.iter().enumerate().skip(i).take(2) {
            if k == base || (whole_host && k == base | 1) {
                set = set.union(self.set_at(lo + j));
            }
        }
        set
    }

    fn set_at(&self, i: usize) -> CategorySet {
        let id = match &self.ids {
            SetIds::Narrow(v) => usize::from(v[i]),
            SetIds::Wide(v) => v[i] as usize,
        };
        self.sets[id]
    }

    /// Whether an entry exists for exactly this name and scope (no suffix matching).
    pub fn contains(&self, domain: &str, scope: MatchScope) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        let key = key_of(domain, scope);
        let bucket = bucket_of(key, self.radix_bits);
        let run = &self.keys[self.radix[bucket] as usize..self.radix[bucket + 1] as usize];
        run.binary_search(&key).is_ok()
    }

    /// Distinct entries (a name listed both `Exact` and with subdomains counts twice).
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    /// Number of distinct category sets the entries use.
    pub fn distinct_category_sets(&self) -> usize {
        self.sets.len()
    }
    /// Heap bytes used (capacity of every owned buffer).
    pub fn heap_bytes(&self) -> usize {
        let ids = match &self.ids {
            SetIds::Narrow(v) => v.capacity() * 2,
            SetIds::Wide(v) => v.capacity() * 4,
        };
        self.keys.capacity() * 8
            + ids
            + self.sets.capacity() * std::mem::size_of::<CategorySet>()
            + self.radix.capacity() * 4
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
/// Domains are stored as given; insert normalised names (lower-case, punycode, no trailing dot).
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
    /// Adds an entry. Several entries for one name are all kept, in insertion order.
    pub fn insert(&mut self, domain: &str, scope: MatchScope, value: V) {
        let name = trim_root(domain);
        let key: Box<str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            name.to_ascii_lowercase().into()
        } else {
            name.into()
        };
        self.map.entry(key).or_default().push((scope, value));
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// All entries matching the host, most specific (longest domain) first; for one domain, in
    /// insertion order. An `Exact` entry only matches the whole host. Does not allocate; the
    /// host must be lower-case (one trailing dot is ignored).
    pub fn matches<'a>(&'a self, host: &'a str) -> impl Iterator<Item = DomainMatch<'a, V>> + 'a {
        suffixes(trim_root(host))
            .enumerate()
            .flat_map(move |(i, s)| {
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
    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = DomainMatch<'_, V>> + '_ {
        self.map.iter().flat_map(|(k, v)| {
            v.iter().map(move |(scope, value)| DomainMatch {
                domain: k,
                scope: *scope,
                value,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const ADULT: CategoryId = CategoryId(2);
    const GAMES: CategoryId = CategoryId(14);

    fn index(entries: &[(&str, MatchScope, CategoryId)]) -> DomainIndex {
        let mut b = DomainIndexBuilder::new();
        for (d, s, c) in entries {
            b.insert(d, *s, *c);
        }
        b.build()
    }

    #[test]
    fn suffixes_run_from_host_to_tld() {
        let v: Vec<_> = suffixes("a.b.example.co.uk").collect();
        assert_eq!(
            v,
            [
                "a.b.example.co.uk",
                "b.example.co.uk",
                "example.co.uk",
                "co.uk",
                "uk"
            ]
        );
    }

    #[test]
    fn subdomain_entries_match_below() {
        let idx = index(&[("example.co.uk", MatchScope::Subdomains, ADULT)]);
        assert_eq!(idx.lookup("example.co.uk"), CategorySet::one(ADULT));
        assert_eq!(idx.lookup("a.b.example.co.uk"), CategorySet::one(ADULT));
        assert!(idx.lookup("co.uk").is_empty());
        assert!(idx.lookup("notexample.co.uk").is_empty());
        assert!(idx.lookup("example.co.uk.evil.net").is_empty());
    }

    #[test]
    fn exact_entries_match_only_the_whole_host() {
        let idx = index(&[("example.com", MatchScope::Exact, GAMES)]);
        assert_eq!(idx.lookup("example.com"), CategorySet::one(GAMES));
        assert!(idx.lookup("www.example.com").is_empty());
        assert!(idx.contains("example.com", MatchScope::Exact));
        assert!(!idx.contains("example.com", MatchScope::Subdomains));
    }

    #[test]
    fn categories_union_over_suffixes_and_scopes() {
        let idx = index(&[
            ("example.com", MatchScope::Subdomains, ADULT),
            ("example.com", MatchScope::Exact, GAMES),
            ("games.example.com", MatchScope::Subdomains, GAMES),
            ("example.com", MatchScope::Subdomains, ADULT),
        ]);
        assert_eq!(idx.len(), 3);
        assert_eq!(
            idx.lookup("example.com"),
            CategorySet::one(ADULT).union(CategorySet::one(GAMES))
        );
        assert_eq!(idx.lookup("x.example.com"), CategorySet::one(ADULT));
        assert_eq!(
            idx.lookup("a.games.example.com"),
            CategorySet::one(ADULT).union(CategorySet::one(GAMES))
        );
    }

    #[test]
    fn long_hosts_cross_lookup_batches() {
        let idx = index(&[
            ("example.com", MatchScope::Subdomains, ADULT),
            ("a.b.c.d.e.f.g.h.i.j.example.com", MatchScope::Exact, GAMES),
        ]);
        let both = CategorySet::one(ADULT).union(CategorySet::one(GAMES));
        assert_eq!(idx.lookup("a.b.c.d.e.f.g.h.i.j.example.com"), both);
        assert_eq!(
            idx.lookup("z.a.b.c.d.e.f.g.h.i.j.example.com"),
            CategorySet::one(ADULT)
        );
        let deep = format!("{}example.com", "x.".repeat(100));
        assert_eq!(idx.lookup(&deep), CategorySet::one(ADULT));
        assert!(
            idx.lookup(&format!("{}example.org", "x.".repeat(30)))
                .is_empty()
        );
    }

    #[test]
    fn case_and_trailing_dot_are_tolerated() {
        let idx = index(&[("Example.COM.", MatchScope::Subdomains, ADULT)]);
        assert_eq!(idx.lookup("WWW.example.com."), CategorySet::one(ADULT));
        assert_eq!(idx.lookup("example.com"), CategorySet::one(ADULT));
    }

    #[test]
    fn empty_index_and_odd_hosts() {
        let idx = DomainIndex::default();
        assert!(idx.lookup("example.com").is_empty());
        let idx = index(&[("com", MatchScope::Subdomains, ADULT)]);
        for h in ["", ".", "..", "a..com", ".com", "com.", &"A".repeat(400)] {
            let _ = idx.lookup(h);
        }
        assert_eq!(idx.lookup("a..com"), CategorySet::one(ADULT));
    }

    #[test]
    fn category_sets_are_interned() {
        let mut b = DomainIndexBuilder::new();
        for i in 0..10_000 {
            b.insert(&format!("site{i}.example"), MatchScope::Subdomains, ADULT);
        }
        let idx = b.build();
        assert_eq!(idx.distinct_category_sets(), 1);
        assert!(idx.heap_bytes() <= 16 * 10_000, "{}", idx.heap_bytes());
        assert_eq!(idx.lookup("www.site9999.example"), CategorySet::one(ADULT));
    }

    #[test]
    fn table_matches_most_specific_first() {
        let mut t = DomainTable::default();
        t.insert("example.com", MatchScope::Subdomains, 1);
        t.insert("a.example.com", MatchScope::Exact, 2);
        t.insert("a.example.com", MatchScope::Subdomains, 3);
        let m: Vec<_> = t.matches("a.example.com").map(|m| *m.value).collect();
        assert_eq!(m, [2, 3, 1]);
        let m: Vec<_> = t.matches("b.a.example.com").map(|m| *m.value).collect();
        assert_eq!(m, [3, 1]);
        assert_eq!(t.matches("example.org").count(), 0);
        assert_eq!(t.len(), 3);
        assert_eq!(t.iter().count(), 3);
    }

    fn label() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "a",
            "b",
            "c",
            "example",
            "xn--bcher-kva",
            "co",
            "uk",
            "com",
        ])
        .prop_map(str::to_string)
    }

    fn domain() -> impl Strategy<Value = String> {
        prop::collection::vec(label(), 1..12).prop_map(|v| v.join("."))
    }

    proptest! {
        #[test]
        fn index_agrees_with_a_naive_model(
            entries in prop::collection::vec((domain(), any::<bool>(), 0u8..64), 0..60),
            hosts in prop::collection::vec(domain(), 1..30),
        ) {
            let mut b = DomainIndexBuilder::new();
            let mut model: HashSet<(String, bool, u8)> = HashSet::new();
            for (d, exact, c) in &entries {
                let scope = if *exact { MatchScope::Exact } else { MatchScope::Subdomains };
                b.insert(d, scope, CategoryId(*c));
                model.insert((d.clone(), *exact, *c));
            }
            let idx = b.build();
            let distinct: HashSet<_> = model.iter().map(|(d, e, _)| (d.clone(), *e)).collect();
            prop_assert_eq!(idx.len(), distinct.len());
            for h in hosts.iter().chain(entries.iter().map(|e| &e.0)) {
                let mut want = CategorySet::EMPTY;
                for (d, exact, c) in &model {
                    let hit = if *exact {
                        d == h
                    } else {
                        h == d || h.ends_with(&format!(".{d}"))
                    };
                    if hit {
                        want.insert(CategoryId(*c));
                    }
                }
                prop_assert_eq!(idx.lookup(h), want, "host {}", h);
            }
        }
    }
}
