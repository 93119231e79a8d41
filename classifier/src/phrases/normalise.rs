//! Evasion normalisation, applied identically to phrases (at build time) and to texts (at scan
//! time), so that `Su1c1de`, `s.u.i.c.i.d.e`, `suiiicide` and `suicide` all read `suicide`.
//!
//! The steps, in order (see `docs/phrases.md` for examples):
//! 1. `+` and `%20` become spaces and other `%XX` escapes are decoded (callers may pass raw query
//!    terms); undecodable bytes become separators.
//! 2. Each character is lower-cased, compatibility-decomposed (NFKD) and stripped of combining
//!    marks (`é`→`e`, full-width `ｓｅｘ`→`sex`); a few letters with no decomposition are mapped
//!    (`ł`→`l`, `ß`→`ss`, `ø`→`o` ...), and common Cyrillic/Greek look-alikes become Latin.
//! 3. The text is cut into tokens of letters, digits, apostrophes and the leet symbols `@ $ !`.
//!    Apostrophes are dropped (`don't`→`dont`); everything else is a separator.
//! 4. In a token with at least one letter, leet digits and symbols become letters
//!    (`0→o 1→i 3→e 4→a 5→s 7→t 8→b @→a $→s !→i`); a token of digits only (`2024`, `999`) is kept
//!    as a number. Leet symbols at the end of a token are separators (`help!`).
//! 5. Runs of three or more one-letter tokens are joined (`s u i c i d e`, `k-i-l-l`).
//! 6. Repeated letters are collapsed (`suiiicide`→`suicide`, `kill`→`kil`); digits are not.
//! 7. Tokens are joined by single spaces, with one space before the first and after the last,
//!    so a phrase written with spaces at its ends (`< sex >`) only matches whole words.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Reusable buffers for [`normalise_into`].
#[derive(Debug, Default, Clone)]
pub(crate) struct NormBuffers {
    /// The percent-decoded input.
    decoded: Vec<u8>,
    /// The current token, before leet mapping.
    token: String,
    /// A pending run of one-letter tokens.
    run: String,
    /// Number of tokens in `run`.
    run_len: usize,
    /// The current token after leet mapping and collapsing.
    mapped: String,
}

/// Normalises `input` into `out` (cleared first). `out` starts and ends with a space and holds
/// single spaces between tokens; an input with no tokens gives `" "`.
pub(crate) fn normalise_into(input: &str, out: &mut String, bufs: &mut NormBuffers) {
    out.clear();
    out.push(' ');
    bufs.token.clear();
    bufs.run.clear();
    bufs.run_len = 0;
    let needs_decoding = input.bytes().any(|b| b == b'%' || b == b'+');
    if needs_decoding {
        let mut decoded = std::mem::take(&mut bufs.decoded);
        percent_decode(input.as_bytes(), &mut decoded);
        for chunk in decoded.utf8_chunks() {
            for c in chunk.valid().chars() {
                feed_char(c, out, bufs);
            }
            if !chunk.invalid().is_empty() {
                end_token(out, bufs);
            }
        }
        bufs.decoded = decoded;
    } else {
        for c in input.chars() {
            feed_char(c, out, bufs);
        }
    }
    end_token(out, bufs);
    flush_run(out, bufs);
    if !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Normalises a phrase as written in a list: the result has no leading or trailing space.
pub(crate) fn normalise_phrase(phrase: &str) -> String {
    let mut out = String::new();
    let mut bufs = NormBuffers::default();
    normalise_into(phrase, &mut out, &mut bufs);
    out.trim_matches(' ').to_string()
}

/// `+` → space, `%XX` → the byte; a `%` not followed by two hex digits is kept.
fn percent_decode(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'+' {
            out.push(b' ');
        } else if b == b'%'
            && i + 2 < input.len()
            && let (Some(h), Some(l)) = (hex(input[i + 1]), hex(input[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        } else {
            out.push(b);
        }
        i += 1;
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Feeds one input character: lower case, decomposition, then classification.
#[inline]
fn feed_char(c: char, out: &mut String, bufs: &mut NormBuffers) {
    if c.is_ascii() {
        classify(c.to_ascii_lowercase(), out, bufs);
        return;
    }
    for l in c.to_lowercase() {
        if let Some(mapped) = special(l) {
            for m in mapped.chars() {
                classify(m, out, bufs);
            }
            continue;
        }
        decompose_compatible(l, |d| {
            if is_combining_mark(d) {
                return;
            }
            // Compatibility forms may decompose to upper case (e.g. some letterlike symbols).
            for dl in d.to_lowercase() {
                match special(dl) {
                    Some(mapped) => {
                        for m in mapped.chars() {
                            classify(m, out, bufs);
                        }
                    }
                    None => classify(dl, out, bufs),
                }
            }
        });
    }
}

/// Letters NFKD leaves alone, and the commonest Cyrillic and Greek look-alikes of Latin letters.
fn special(c: char) -> Option<&'static str> {
    Some(match c {
        'ł' => "l",
        'đ' | 'ð' => "d",
        'ø' => "o",
        'ħ' => "h",
        'ı' => "i",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        // Cyrillic look-alikes.
        'а' => "a",
        'е' | 'ё' => "e",
        'о' => "o",
        'р' => "p",
        'с' => "c",
        'у' => "y",
        'х' => "x",
        'і' => "i",
        'ј' => "j",
        'ѕ' => "s",
        'к' => "k",
        'м' => "m",
        'т' => "t",
        'н' => "h",
        'в' => "b",
        // Greek look-alikes.
        'α' => "a",
        'ο' => "o",
        'ι' => "i",
        'κ' => "k",
        'ν' => "v",
        'ρ' => "p",
        'τ' => "t",
        'υ' => "u",
        'χ' => "x",
        'ε' => "e",
        // Typographic apostrophes behave like `'`.
        '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`' => "'",
        _ => return None,
    })
}

fn is_leet_symbol(c: char) -> bool {
    matches!(c, '@' | '$' | '!')
}

/// Adds a normalised character to the current token or ends the token.
#[inline]
fn classify(c: char, out: &mut String, bufs: &mut NormBuffers) {
    if c.is_ascii() {
        match c {
            'a'..='z' | '0'..='9' | '@' | '$' | '!' => bufs.token.push(c),
            // Apostrophes join: "don't" reads "dont", "i'm" reads "im".
            '\'' => {}
            _ => end_token(out, bufs),
        }
        return;
    }
    if c.is_alphanumeric() {
        bufs.token.push(c);
    } else {
        end_token(out, bufs);
    }
}

/// Maps a leet character inside a word.
fn leet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        '@' => 'a',
        '$' => 's',
        '!' => 'i',
        other => other,
    }
}

/// Finishes the current token: leet mapping, single-letter runs, emission.
fn end_token(out: &mut String, bufs: &mut NormBuffers) {
    if bufs.token.is_empty() {
        return;
    }
    let owned = std::mem::take(&mut bufs.token);
    emit_token(&owned, out, bufs);
    bufs.token = owned;
    bufs.token.clear();
}

fn emit_token(raw: &str, out: &mut String, bufs: &mut NormBuffers) {
    let token = raw.trim_end_matches(is_leet_symbol);
    let token = token.trim_start_matches('!');
    if token.is_empty() {
        return;
    }
    let has_letter = if token.is_ascii() {
        token.bytes().any(|b| b.is_ascii_lowercase())
    } else {
        token.chars().any(char::is_alphabetic)
    };
    bufs.mapped.clear();
    let mut last = ' ';
    for c in token.chars() {
        let c = if has_letter {
            leet(c)
        } else if is_leet_symbol(c) {
            continue;
        } else {
            c
        };
        push_collapsed(&mut bufs.mapped, c, &mut last);
    }
    let mut chars = bufs.mapped.chars();
    match (chars.next(), chars.next()) {
        (None, _) => {}
        (Some(c), None) if c.is_alphabetic() => {
            // A one-letter token (after collapsing: `ss` too): hold it, it may be part of
            // `s u i c i d e`.
            bufs.run.push(c);
            bufs.run_len += 1;
        }
        _ => {
            flush_run(out, bufs);
            start_token(out);
            out.push_str(&bufs.mapped);
        }
    }
}

/// Emits a pending run of one-letter tokens: joined when three or more, else one by one.
fn flush_run(out: &mut String, bufs: &mut NormBuffers) {
    if bufs.run_len == 0 {
        return;
    }
    if bufs.run_len >= 3 {
        start_token(out);
        let mut last = ' ';
        for c in bufs.run.chars() {
            push_collapsed(out, c, &mut last);
        }
    } else {
        for c in bufs.run.chars() {
            start_token(out);
            out.push(c);
        }
    }
    bufs.run.clear();
    bufs.run_len = 0;
}

fn start_token(out: &mut String) {
    if !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Pushes a character, dropping a letter that repeats the previous one.
#[inline]
fn push_collapsed(out: &mut String, c: char, last: &mut char) {
    if c == *last && (c.is_ascii_lowercase() || (!c.is_ascii() && c.is_alphabetic())) {
        return;
    }
    out.push(c);
    *last = c;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        let mut out = String::new();
        normalise_into(s, &mut out, &mut NormBuffers::default());
        out
    }

    #[test]
    fn evasions_read_plainly() {
        assert_eq!(n("Suicide"), " suicide ");
        assert_eq!(n("su1c1de"), " suicide ");
        assert_eq!(n("SUIIICIDE!!!"), " suicide ");
        assert_eq!(n("s.u.i.c.i.d.e"), " suicide ");
        assert_eq!(n("s u i c i d e"), " suicide ");
        assert_eq!(n("k-i-l-l myself"), " kil myself ");
        assert_eq!(n("killl myselff"), " kil myself ");
        assert_eq!(n("how+to+k1ll"), " how to kil ");
        assert_eq!(n("how%20to%20die"), " how to die ");
        assert_eq!(n("samob%C3%B3jstwo"), " samobojstwo ");
        assert_eq!(n("chcę umrzeć"), " chce umrzec ");
        assert_eq!(n("Łódź"), " lodz ");
        assert_eq!(n("$ex"), " sex ");
        assert_eq!(n("ｓｅｘ"), " sex ");
        assert_eq!(n("sеx"), " sex "); // Cyrillic е
        assert_eq!(n("b!tch"), " bitch ");
        assert_eq!(n("don't"), " dont ");
        assert_eq!(n("I’m sad"), " im sad ");
        assert_eq!(n("self-harm"), " self harm ");
    }

    #[test]
    fn numbers_and_short_words_survive() {
        assert_eq!(n("year 6 trip 2024"), " year 6 trip 2024 ");
        assert_eq!(n("999"), " 999 ");
        assert_eq!(n("100%"), " 100 ");
        assert_eq!(n("a cat"), " a cat ");
        assert_eq!(n("u r"), " u r ");
        assert_eq!(n(""), " ");
        assert_eq!(n("!!! ..."), " ");
        assert_eq!(n("help!"), " help ");
        assert_eq!(n("a a rr"), " ar ");
    }
}
