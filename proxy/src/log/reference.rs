//! Block reference codes: the short id on every log line that a child reads out to a teacher
//! from the block page, and that the safeguarding lead then finds in the log.

use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};

/// Crockford's base-32 alphabet: no `I`, `L`, `O` or `U`, so a code read aloud or copied by hand
/// by a seven-year-old cannot be confused with `1`, `0` or a rude word.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of a reference code: 8 characters = 40 random bits. Short enough for a child to copy;
/// two requests share a code about once in a million, and the time and client on the line tell
/// such a pair apart.
pub const REFERENCE_LEN: usize = 8;

/// A new random reference code, e.g. `K7QF2M9X`.
///
/// One per request, so no system call each time: a per-thread SplitMix64 stream seeded from the
/// OS. A code is a label, not a secret — what it unlocks (a staff review ticket) is also tied to
/// the person and device it was issued to.
pub fn new_reference() -> String {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(seed());
    }
    let bits = STATE.with(|s| {
        let x = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    });
    encode(bits)
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_le_bytes(bytes),
        // The OS random source failing must not stop a request being served or logged.
        Err(_) => fallback_bits(),
    }
}

fn encode(bits: u64) -> String {
    (0..REFERENCE_LEN)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect()
}

fn fallback_bits() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState carries per-process random keys; hashing a counter gives distinct values.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// A reference code as typed by an adult, made canonical for searching: case, spaces and dashes
/// ignored, and the look-alike letters mapped the Crockford way (`O` → `0`, `I`/`L` → `1`).
/// `None` if it cannot be a reference code.
pub fn normalize_reference(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(REFERENCE_LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            ' ' | '-' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == REFERENCE_LEN).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_eight_unambiguous_characters_and_differ() {
        let a = new_reference();
        let b = new_reference();
        assert_eq!(a.len(), REFERENCE_LEN);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert!(!a.contains(['I', 'L', 'O', 'U']));
        assert_ne!(a, b);
        assert_eq!(normalize_reference(&a).as_deref(), Some(a.as_str()));
    }

    #[test]
    fn encoding_covers_all_forty_bits() {
        assert_eq!(encode(0), "00000000");
        assert_eq!(encode((1 << 40) - 1), "ZZZZZZZZ");
        assert_eq!(encode(1 << 35), "10000000");
    }

    #[test]
    fn fallback_values_differ() {
        assert_ne!(encode(fallback_bits()), encode(fallback_bits()));
    }

    #[test]
    fn typed_codes_are_normalised() {
        assert_eq!(
            normalize_reference("k7qf-2m9x").as_deref(),
            Some("K7QF2M9X")
        );
        assert_eq!(
            normalize_reference("O1IL 2345").as_deref(),
            Some("01112345")
        );
        assert_eq!(normalize_reference("K7QF2M9"), None);
        assert_eq!(normalize_reference("K7QF2M9U"), None);
        assert_eq!(normalize_reference("K7QF2M9XZ"), None);
    }
}
