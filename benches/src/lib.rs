//! Deterministic data for Lychgate's benchmarks: synthetic domains, URL mixes, phrase and regex
//! rule sets, all from a seeded generator so every run (and every machine) measures the same
//! work. No `rand` dependency: a SplitMix64 stream is all that is needed.

use lychgate_classifier::category::{Categories, CategoryId, CategorySet};
use lychgate_classifier::lists::ListFormat;
use lychgate_classifier::policy::{GroupKind, GroupPolicy, ListOrigin, PolicyBuilder};

/// SplitMix64: tiny, fast, and good enough to spread synthetic names.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

const SYLLABLES: &[&str] = &[
    "ba", "be", "bi", "bo", "ca", "ce", "co", "da", "de", "di", "do", "fa", "fe", "ga", "go", "ka",
    "ke", "ki", "la", "le", "li", "lo", "ma", "me", "mi", "mo", "na", "ne", "ni", "no", "pa", "pe",
    "pi", "po", "ra", "re", "ri", "ro", "sa", "se", "si", "so", "ta", "te", "ti", "to", "va", "ve",
    "vi", "za", "zo", "tra", "pro", "lin", "mar", "dor", "zan", "quo", "xel", "nix", "ster",
];
const TLDS: &[&str] = &[
    "com", "com", "com", "net", "org", "co.uk", "info", "xyz", "ru", "de", "io", "top", "online",
    "site", "club",
];
const SUBS: &[&str] = &[
    "www", "m", "cdn", "img", "api", "static", "ads", "mail", "app", "media",
];

fn word(rng: &mut Rng, lo: usize, hi: usize) -> String {
    let n = lo + rng.below(hi - lo + 1);
    (0..n)
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
        .collect()
}

/// `n` distinct synthetic registrable domains (`word.tld`), deterministic for a seed.
pub fn domains(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut d = word(&mut rng, 2, 4);
        if rng.chance(0.3) {
            d.push_str(&rng.below(1000).to_string());
        }
        d.push('.');
        d.push_str(TLDS[rng.below(TLDS.len())]);
        if seen.insert(d.clone()) {
            out.push(d);
        }
    }
    out
}

/// The URL mix used by the decide benchmark.
#[derive(Debug, Clone)]
pub struct UrlMix {
    /// Full URLs, in request order.
    pub urls: Vec<String>,
    /// Share of requests whose host (or a parent) is on the blocked list.
    pub listed_share: f64,
    /// Share of requests that are searches.
    pub search_share: f64,
    /// Distinct hosts in the mix.
    pub distinct_hosts: usize,
}

/// A mix of `requests` URLs over `hosts` distinct hosts: about 30% on the blocked list (some as
/// subdomains), 15% searches on real engines, the rest unlisted sites with varied paths.
pub fn url_mix(blocked: &[String], hosts: usize, requests: usize, seed: u64) -> UrlMix {
    let mut rng = Rng::new(seed);
    let mut host_pool = Vec::with_capacity(hosts);
    let mut listed = Vec::with_capacity(hosts);
    for _ in 0..hosts {
        if rng.chance(0.3) {
            let base = &blocked[rng.below(blocked.len())];
            let h = if rng.chance(0.5) {
                format!("{}.{base}", SUBS[rng.below(SUBS.len())])
            } else {
                base.clone()
            };
            host_pool.push(h);
            listed.push(true);
        } else {
            // A hyphen: `domains()` never makes one, so an "unlisted" host is never listed by chance.
            let name = format!("{}-{}", word(&mut rng, 1, 3), word(&mut rng, 1, 2));
            host_pool.push(format!(
                "{}.{name}.{}",
                SUBS[rng.below(SUBS.len())],
                TLDS[rng.below(TLDS.len())]
            ));
            listed.push(false);
        }
    }
    let searches = [
        "https://www.google.co.uk/search?q=",
        "https://www.bing.com/search?q=",
        "https://duckduckgo.com/?q=",
        "https://www.youtube.com/results?search_query=",
        "https://www.kiddle.co/s.php?q=",
    ];
    let terms = [
        "volcano+facts+for+kids",
        "how+to+draw+a+cat",
        "times+tables+games",
        "roman+soldiers+homework",
        "why+is+the+sky+blue",
        "how+to+kill+weeds",
        "minecraft+skins",
        "i+want+to+die",
        "best+football+goals",
        "how+do+volcanoes+erupt",
    ];
    let mut urls = Vec::with_capacity(requests);
    let (mut n_listed, mut n_search) = (0usize, 0usize);
    for _ in 0..requests {
        if rng.chance(0.15) {
            n_search += 1;
            urls.push(format!(
                "{}{}",
                searches[rng.below(searches.len())],
                terms[rng.below(terms.len())]
            ));
            continue;
        }
        let i = rng.below(host_pool.len());
        n_listed += usize::from(listed[i]);
        let path = match rng.below(4) {
            0 => "/".to_string(),
            1 => format!("/{}/{}.html", word(&mut rng, 1, 2), word(&mut rng, 1, 3)),
            2 => format!("/{}?id={}", word(&mut rng, 1, 2), rng.below(100_000)),
            _ => format!("/static/{}.js", word(&mut rng, 2, 3)),
        };
        urls.push(format!("http://{}{path}", host_pool[i]));
    }
    UrlMix {
        urls,
        listed_share: n_listed as f64 / requests as f64,
        search_share: n_search as f64 / requests as f64,
        distinct_hosts: hosts,
    }
}

/// `n` synthetic weighted phrases in Lychgate's native phrase format, one theme and category.
pub fn phrase_list(n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::from("#category: adult\n#theme: adult\n#severity: advisory\n");
    for _ in 0..n {
        let w = 10 + rng.below(90);
        if rng.chance(0.2) {
            out.push_str(&format!(
                "<{}>,<{}><{w}>\n",
                word(&mut rng, 2, 3),
                word(&mut rng, 2, 3)
            ));
        } else {
            out.push_str(&format!(
                "<{} {}><{w}>\n",
                word(&mut rng, 2, 3),
                word(&mut rng, 2, 3)
            ));
        }
    }
    out
}

/// `n` URL entries (`host/path`) in native format over the given domains.
pub fn url_list(blocked: &[String], n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for _ in 0..n {
        out.push_str(&format!(
            "www.{}/{}/\n",
            blocked[rng.below(blocked.len())],
            word(&mut rng, 1, 3)
        ));
    }
    out
}

/// `n` regex rules of the kinds URL lists carry (keywords in host or path).
pub fn regex_list(n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    for i in 0..n {
        let w = word(&mut rng, 2, 3);
        let line = match i % 4 {
            0 => format!("regex:(^|\\.){w}[0-9]*\\.(com|net)/"),
            1 => format!("regex:/{w}/[a-z]+\\.php"),
            2 => format!("regex:[?&]{w}=[0-9]{{3,}}"),
            _ => format!("regex:^[a-z]+-{w}\\."),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Loads a phrase list text into a policy under construction (the classifier's own loader).
pub fn load_phrases(
    builder: &mut lychgate_classifier::policy::PolicyBuilder,
    name: &'static str,
    text: &'static str,
) {
    let origin = lychgate_classifier::policy::ListOrigin::Embedded { name, text };
    let _list = builder
        .add_phrase_list(name, origin)
        .expect("phrase list id");
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The decide benchmark's policy: 1M domains (adult), 10k URL entries (gambling), 100 regex
/// rules (malware), 5k weighted phrases, and one group `pupils` blocking those categories.
pub fn bench_policy(blocked: &[String]) -> lychgate_classifier::policy::Policy {
    let mut b = PolicyBuilder::new(
        Categories::default(),
        jiff::tz::TimeZone::UTC,
        "bench.toml".into(),
    );
    let adult = CategoryId(2);
    let domains_text = leak(blocked.join("\n"));
    b.add_list(
        "domains",
        adult,
        ListOrigin::Embedded {
            name: "bench/domains",
            text: domains_text,
        },
        ListFormat::Native,
    )
    .expect("domains");
    let urls = leak(url_list(blocked, 10_000, 5));
    b.add_list(
        "urls",
        CategoryId(6),
        ListOrigin::Embedded {
            name: "bench/urls",
            text: urls,
        },
        ListFormat::Native,
    )
    .expect("urls");
    let regexes = leak(regex_list(100, 6));
    b.add_list(
        "regexes",
        CategoryId(7),
        ListOrigin::Embedded {
            name: "bench/regexes",
            text: regexes,
        },
        ListFormat::Native,
    )
    .expect("regexes");
    let phrases = leak(phrase_list(5_000, 7));
    load_phrases(&mut b, "bench/phrases", phrases);
    let mut pupils = GroupPolicy::new("pupils", GroupKind::Pupil);
    pupils.blocked = CategorySet::one(adult)
        .union(CategorySet::one(CategoryId(6)))
        .union(CategorySet::one(CategoryId(7)));
    b.add_group(pupils).expect("group");
    b.build().expect("policy builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_deterministic() {
        assert_eq!(domains(1000, 7), domains(1000, 7));
        assert_ne!(domains(10, 7), domains(10, 8));
        let d = domains(5000, 1);
        let m1 = url_mix(&d, 1000, 5000, 3);
        let m2 = url_mix(&d, 1000, 5000, 3);
        assert_eq!(m1.urls, m2.urls);
        assert!(
            m1.listed_share > 0.15 && m1.listed_share < 0.35,
            "{}",
            m1.listed_share
        );
        assert!(
            m1.search_share > 0.1 && m1.search_share < 0.2,
            "{}",
            m1.search_share
        );
    }

    #[test]
    fn domains_are_distinct() {
        let d = domains(20_000, 42);
        let set: std::collections::HashSet<_> = d.iter().collect();
        assert_eq!(set.len(), d.len());
    }
}
