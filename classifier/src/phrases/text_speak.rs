//! Text-speak and common child misspellings, read as the words they stand for before matching,
//! so a list says `kill yourself` once and `kill urself`, `every1 h8s me` and `skool` still match.
//!
//! The table is applied to whole tokens as typed (lower-cased, apostrophes dropped), *before* the
//! leet map, so `every1` reads `everyone` rather than `everyi`, and once more after it, so a
//! text normalised twice reads the same (`8c` reads `bc`, then `because`). One-letter entries (`u`, `r`, `y`,
//! `n`) apply only to a letter standing alone or beside one other (`u r`), never inside a
//! spelt-out run (`s u i c i d e`). Phrases go through the same step, so a list may use either
//! spelling. Review rule: add a form only when it has no other common meaning a child would
//! search for in any of the languages the lists cover (`da` is Polish and Romanian "yes", so it
//! is absent).

/// `(as typed, read as)`, sorted by the first column (a test checks it). No entry reads as a
/// one-letter word, which could join a spelt-out run the next time the text is normalised.
pub(crate) const TEXT_SPEAK: &[(&str, &str)] = &[
    ("2day", "today"),
    ("2moro", "tomorrow"),
    ("2nite", "tonight"),
    ("4ever", "forever"),
    ("abt", "about"),
    ("any1", "anyone"),
    ("b4", "before"),
    ("bc", "because"),
    ("bcoz", "because"),
    ("bcuz", "because"),
    ("becoz", "because"),
    ("becuz", "because"),
    ("bf", "boyfriend"),
    ("bulling", "bullying"),
    ("bullys", "bullies"),
    ("coz", "because"),
    ("cuz", "because"),
    ("dosent", "doesnt"),
    ("dosnt", "doesnt"),
    ("dunno", "dont know"),
    ("every1", "everyone"),
    ("everyday", "every day"),
    ("evry", "every"),
    ("evry1", "everyone"),
    ("evryday", "every day"),
    ("evryone", "everyone"),
    ("fone", "phone"),
    ("gf", "girlfriend"),
    ("gonna", "going to"),
    ("gotta", "got to"),
    ("gr8", "great"),
    ("h8", "hate"),
    ("h8ed", "hated"),
    ("h8s", "hates"),
    ("hav", "have"),
    ("kno", "know"),
    ("l8r", "later"),
    ("lyk", "like"),
    ("m8", "mate"),
    ("m8s", "mates"),
    ("msg", "message"),
    ("msgs", "messages"),
    ("n", "and"),
    ("ne1", "anyone"),
    ("nite", "night"),
    ("no1", "no one"),
    ("nobdy", "nobody"),
    ("pic", "picture"),
    ("pics", "pictures"),
    ("pix", "pictures"),
    ("pls", "please"),
    ("plz", "please"),
    ("ppl", "people"),
    ("r", "are"),
    ("skl", "school"),
    ("skool", "school"),
    ("some1", "someone"),
    ("sum1", "someone"),
    ("sumone", "someone"),
    ("sumthing", "something"),
    ("tonite", "tonight"),
    ("txt", "text"),
    ("u", "you"),
    ("ur", "your"),
    ("urself", "yourself"),
    ("vid", "video"),
    ("vids", "videos"),
    ("wanna", "want to"),
    ("wat", "what"),
    ("wen", "when"),
    ("wiv", "with"),
    ("wot", "what"),
    ("y", "why"),
    ("ya", "you"),
    ("yr", "your"),
];

/// The longest first column, so longer tokens skip the lookup.
pub(crate) const LONGEST: usize = 8;
const _: () = assert!(LONGEST <= 8, "keys are packed into a u64");

/// What a token (lower case, apostrophes dropped, leet symbols at its ends trimmed) reads as.
pub(crate) fn read_as(token: &str) -> Option<&'static str> {
    read_as_bytes(token.as_bytes())
}

/// [`read_as`] on bytes. Every scanned text's tokens are looked up (the ASCII fast path asks
/// first), so keys are packed into integers: a miss costs a few integer comparisons, not string
/// comparisons.
pub(crate) fn read_as_bytes(token: &[u8]) -> Option<&'static str> {
    // Most tokens are ruled out by their length and first byte alone.
    let (&first, len) = (token.first()?, token.len());
    if len > LONGEST || !(b'0'..=b'z').contains(&first) || FIRST[len] & (1 << (first - b'0')) == 0 {
        return None;
    }
    let key = pack(token)?;
    let table = packed();
    table
        .binary_search_by_key(&key, |&(k, _)| k)
        .ok()
        .map(|i| table[i].1)
}

/// Per key length, the first bytes keys of that length start with (bit `b - b'0'`).
const FIRST: [u128; LONGEST + 1] = {
    let mut t = [0u128; LONGEST + 1];
    let mut i = 0;
    while i < TEXT_SPEAK.len() {
        let k = TEXT_SPEAK[i].0.as_bytes();
        t[k.len()] |= 1 << (k[0] - b'0');
        i += 1;
    }
    t
};

/// Up to [`LONGEST`] bytes as one integer (keys hold no NUL, so the padding is unambiguous).
fn pack(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > LONGEST {
        return None;
    }
    let mut buf = [0u8; 8];
    buf[..token.len()].copy_from_slice(token);
    Some(u64::from_be_bytes(buf))
}

/// [`TEXT_SPEAK`] packed and sorted by key.
fn packed() -> &'static [(u64, &'static str)] {
    static PACKED: std::sync::LazyLock<Vec<(u64, &'static str)>> = std::sync::LazyLock::new(|| {
        let mut v: Vec<(u64, &'static str)> = TEXT_SPEAK
            .iter()
            .map(|(k, r)| (pack(k.as_bytes()).expect("keys are 1 to 8 bytes"), *r))
            .collect();
        v.sort_unstable_by_key(|&(k, _)| k);
        v
    });
    &PACKED
}

/// Whether a one-letter token (after collapsing) is read as a word when it stands alone.
pub(crate) fn letter_is_word(c: char) -> bool {
    matches!(c, 'n' | 'r' | 'u' | 'y')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_plain() {
        assert!(TEXT_SPEAK.windows(2).all(|w| w[0].0 < w[1].0));
        for (k, v) in TEXT_SPEAK {
            assert!(k.len() <= LONGEST, "{k}");
            assert!(
                k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{k}"
            );
            assert!(
                v.bytes().all(|b| b.is_ascii_lowercase() || b == b' '),
                "{v}"
            );
            assert!(v.split(' ').all(|w| w.len() > 1), "{v}");
            if k.len() == 1 {
                assert!(letter_is_word(k.chars().next().unwrap()), "{k}");
            }
        }
        for c in 'a'..='z' {
            assert_eq!(letter_is_word(c), read_as(&c.to_string()).is_some(), "{c}");
        }
    }
}
