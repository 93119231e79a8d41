//! Block reference codes: the short id on every log line that a child reads out to a teacher
//! from the block page, and that the safeguarding lead then finds in the log.

/// Crockford's base-32 alphabet: no `I`, `L`, `O` or `U`, so a code read aloud or copied by hand
/// by a seven-year-old cannot be confused with `1`, `0` or a rude word.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of a reference code: 8 characters = 40 random bits. Short enough for a child to copy;
/// two requests share a code about once in a million, and the time and client on the line tell
/// such a pair apart.
pub const REFERENCE_LEN: usize = 8;

/// A new random reference code, e.g. `K7QF2M9X`.
///
/// One per request, so no system call each time: the per-thread ChaCha generator
/// (`rand::rng()`, seeded from the OS and reseeded as it goes). A predictable stream would let
/// anyone who sees one code work out the next ones, and review tickets are keyed by these codes.
pub fn new_reference() -> String {
    use rand::Rng as _;
    encode(rand::rng().next_u64())
}

fn encode(bits: u64) -> String {
    (0..REFERENCE_LEN)
        .rev()
        .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
        .collect()
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

    /// The SplitMix64 finaliser the codes used to come from, and its inverse.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unmix(mut z: u64) -> u64 {
        let inverse = |c: u64| {
            (0..6).fold(c, |i, _| {
                i.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(i)))
            })
        };
        z ^= (z >> 31) ^ (z >> 62);
        z = z.wrapping_mul(inverse(0x94D0_49BB_1331_11EB));
        z ^= (z >> 27) ^ (z >> 54);
        z = z.wrapping_mul(inverse(0xBF58_476D_1CE4_E5B9));
        z ^ (z >> 30) ^ (z >> 60)
    }

    fn bits(code: &str) -> u64 {
        code.bytes().fold(0, |acc, c| {
            (acc << 5) | ALPHABET.iter().position(|a| *a == c).unwrap() as u64
        })
    }

    #[test]
    fn one_code_does_not_reveal_the_next() {
        assert_eq!(unmix(mix(0x0123_4567_89AB_CDEF)), 0x0123_4567_89AB_CDEF);
        // A code carries 40 of a SplitMix64 output's 64 bits: trying the 2^24 missing ones
        // recovers the generator's state, which then predicts the next codes. From a
        // cryptographic generator, no candidate predicts two more codes (odds 2^-56).
        let codes: Vec<u64> = (0..3).map(|_| bits(&new_reference())).collect();
        let mask = (1u64 << 40) - 1;
        let predicted = (0..1u64 << 24).any(|high| {
            let state = unmix((high << 40) | codes[0]);
            let next = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            mix(next) & mask == codes[1]
                && mix(next.wrapping_add(0x9E37_79B9_7F4A_7C15)) & mask == codes[2]
        });
        assert!(!predicted, "reference codes are predictable from one code");
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
