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

/// One suffix of a host (`host[start..]`) and its key, so every table a request consults can
/// share one hashing pass instead of hashing each suffix again per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuffixKey {
    /// Byte offset of the suffix in the host.
    pub start: usize,
    /// [`base_key`] of the suffix.
    pub key: u64,
}

/// Fills `out` with the keys of every suffix of a normalised host (lower-case, no trailing
/// dot), longest first. Reuses `out`'s capacity: no allocation once it has grown to the longest
/// host seen.
pub fn suffix_keys_into(host: &str, out: &mut Vec<SuffixKey>) {
    out.clear();
    let bytes = trim_root(host).as_bytes();
    let mut start = 0;
    loop {
        out.push(SuffixKey {
            start,
            key: base_key(&bytes[start..]),
        });
        match bytes[start..].iter().position(|&b| b == b'.') {
            Some(dot) => start += dot + 1,
            None => break,
        }
    }
}

/// `HashMap` hasher for keys that already are good 64-bit hashes: it passes them through.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; fold anything else rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type PassThrough = std::hash::BuildHasherDefault<KeyHasher>;

/// Names kept in full, found by their [`base_key`] (so a request hashes each suffix once for
/// every table) and confirmed on the full string (so a hash collision can never match).
#[derive(Debug)]
pub(crate) struct KeyedNames<T> {
    map: HashMap<u64, Vec<(Box<str>, T)>, PassThrough>,
}

impl<T> Default for KeyedNames<T> {
    fn default() -> Self {
        KeyedNames {
            map: HashMap::default(),
        }
    }
}

impl<T: Default> KeyedNames<T> {
    /// The value for a normalised name, created empty if new.
    pub(crate) fn entry(&mut self, name: &str) -> &mut T {
        let bucket = self.map.entry(base_key(name.as_bytes())).or_default();
        let i = match bucket.iter().position(|(n, _)| &**n == name) {
            Some(i) => i,
            None => {
                bucket.push((name.into(), T::default()));
                bucket.len() - 1
            }
        };
        &mut bucket[i].1
    }
}

impl<T> KeyedNames<T> {
    /// The entry for `name`, whose key is `key`.
    #[inline]
    pub(crate) fn get(&self, name: &str, key: u64) -> Option<(&str, &T)> {
        if self.map.is_empty() {
            return None;
        }
        self.map
            .get(&key)?
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(n, v)| (&**n, v))
    }

    /// The entry for `name`, hashing it.
    pub(crate) fn get_name(&self, name: &str) -> Option<(&str, &T)> {
        self.get(name, base_key(name.as_bytes()))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = (&str, &T)> {
        self.map.values().flatten().map(|(n, v)| (&**n, v))
    }

    /// Every entry matching a suffix of `host`, longest suffix first, with the suffix's index
    /// (0 = the whole host). `keys` come from [`suffix_keys_into`] for this host.
    pub(crate) fn suffix_matches<'a>(
        &'a self,
        host: &'a str,
        keys: &'a [SuffixKey],
    ) -> impl Iterator<Item = (usize, &'a str, &'a T)> + 'a {
        let host = trim_root(host);
        let keys = if self.map.is_empty() { &[][..] } else { keys };
        keys.iter().enumerate().filter_map(move |(i, k)| {
            host.get(k.start..)
                .and_then(|suffix| self.get(suffix, k.key))
                .map(|(n, v)| (i, n, v))
        })
    }

    /// The same, hashing each suffix as it goes (for callers without precomputed keys).
    pub(crate) fn suffix_matches_hashing<'a>(
        &'a self,
        host: &'a str,
    ) -> impl Iterator<Item = (usize, &'a str, &'a T)> + 'a {
        let host = if self.map.is_empty() {
            ""
        } else {
            trim_root(host)
        };
        suffixes(host)
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .filter_map(move |(i, s)| self.get_name(s).map(|(n, v)| (i, n, v)))
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
    names: KeyedNames<Vec<(MatchScope, V)>>,
    len: usize,
}

impl<V> Default for DomainTable<V> {
    fn default() -> Self {
        DomainTable {
            names: KeyedNames::default(),
            len: 0,
        }
    }
}

impl<V> DomainTable<V> {
    /// Adds an entry. Several entries for one name are all kept, in insertion order.
    pub fn insert(&mut self, domain: &str, scope: MatchScope, value: V) {
        let name = trim_root(domain);
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        self.names.entry(name).push((scope, value));
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
    /// All entries matching the host, most specific (longest domain) first; for one domain, in
    /// insertion order. An `Exact` entry only matches the whole host. Does not allocate; the
    /// host must be lower-case (one trailing dot is ignored).
    pub fn matches<'a>(&'a self, host: &'a str) -> impl Iterator<Item = DomainMatch<'a, V>> + 'a {
        self.names
            .suffix_matches_hashing(host)
            .flat_map(expand_domain_entries)
    }
    /// [`DomainTable::matches`] with the host's suffix keys already computed (one hashing pass
    /// shared by every table a request consults).
    pub fn matches_keyed<'a>(
        &'a self,
        host: &'a str,
        keys: &'a [SuffixKey],
    ) -> impl Iterator<Item = DomainMatch<'a, V>> + 'a {
        self.names
            .suffix_matches(host, keys)
            .flat_map(expand_domain_entries)
    }
    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = DomainMatch<'_, V>> + '_ {
        self.names.values().flat_map(|(domain, v)| {
            v.iter().map(move |(scope, value)| DomainMatch {
                domain,
                scope: *scope,
                value,
            })
        })
    }
}

fn expand_domain_entries<'a, V>(
    (i, domain, entries): (usize, &'a str, &'a Vec<(MatchScope, V)>),
) -> impl Iterator<Item = DomainMatch<'a, V>> + 'a {
    entries
        .iter()
        .filter(move |(scope, _)| i == 0 || *scope == MatchScope::Subdomains)
        .map(move |(scope, value)| DomainMatch {
            domain,
            scope: *scope,
            value,
        })
}

/// Index lookups with precomputed suffix keys.
impl DomainIndex {
    /// [`DomainIndex::lookup`] with the host's suffix keys already computed.
    pub fn lookup_keys(&self, keys: &[SuffixKey]) -> CategorySet {
        const BATCH: usize = 8;
        if self.keys.is_empty() {
            return CategorySet::EMPTY;
        }
        let mut set = CategorySet::EMPTY;
        for (c, chunk) in keys.chunks(BATCH).enumerate() {
            // Buckets for the whole batch first, then the searches: the misses overlap.
            let mut runs = [(0usize, 0usize); BATCH];
            for (run, k) in runs.iter_mut().zip(chunk) {
                let b = bucket_of(k.key, self.radix_bits);
                *run = (self.radix[b] as usize, self.radix[b + 1] as usize);
            }
            for (i, (k, &(lo, hi))) in chunk.iter().zip(&runs).enumerate() {
                set = set.union(self.probe(k.key, lo, hi, c == 0 && i == 0));
            }
        }
        set
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
            let mut table = DomainTable::default();
            for (d, exact, c) in &entries {
                let scope = if *exact { MatchScope::Exact } else { MatchScope::Subdomains };
                b.insert(d, scope, CategoryId(*c));
                table.insert(d, scope, *c);
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
                let mut keys = Vec::new();
                suffix_keys_into(h, &mut keys);
                prop_assert_eq!(idx.lookup_keys(&keys), want, "host {} by suffix keys", h);
                let by_keys: Vec<_> = table.matches_keyed(h, &keys).map(|m| (m.domain, m.scope, *m.value)).collect();
                let hashing: Vec<_> = table.matches(h).map(|m| (m.domain, m.scope, *m.value)).collect();
                prop_assert_eq!(by_keys, hashing, "table, host {}", h);
            }
        }
    }
}
