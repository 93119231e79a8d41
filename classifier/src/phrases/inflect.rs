//! English inflections for phrases that ask for them (`#inflect: on`): a list says `< my dad hits
//! me >` once and `my dad hit me`, `my dad hitting me` and `my dad is hiting me` match too.
//!
//! This works on the phrase side only, when the set is built: each content word of a phrase is
//! reduced to a stem by a light hand stemmer (regular `-s`, `-es`, `-ies`, `-ed`, `-ied`, `-ing`,
//! and a table of the irregular verbs children's disclosures use), and every regular form of that
//! stem becomes another pattern of the same part. The text is never stemmed, so a scan costs
//! nothing more than a larger automaton, and `explain` still shows what was typed. Words are
//! already normalised, so doubled letters are collapsed on both sides (`hitting` reads
//! `hiting`, the form generated from `hit`). A maintained Snowball stemmer was not used: it
//! would have to run on every scanned text (the text side), and it leaves irregular verbs alone.

use super::normalise::normalise_phrase;

/// Most variants of one part; words past the cap keep their written form.
const MAX_VARIANTS: usize = 48;

/// Words that are never inflected: pronouns, articles, auxiliaries, prepositions (as normalised:
/// repeated letters collapsed).
const FUNCTION_WORDS: &[&str] = &[
    "a", "about", "al", "am", "an", "and", "are", "as", "at", "be", "because", "being", "ben",
    "but", "by", "can", "could", "did", "do", "does", "dont", "for", "from", "get", "got", "had",
    "has", "have", "he", "her", "him", "his", "how", "i", "if", "im", "in", "is", "it", "its",
    "me", "my", "myself", "no", "not", "of", "on", "or", "our", "she", "so", "that", "the",
    "their", "them", "they", "this", "to", "us", "was", "we", "what", "when", "where", "who",
    "why", "wil", "with", "would", "you", "your", "yourself",
];

/// Irregular verbs, each group all forms of one verb, as written (normalised when used).
const IRREGULAR: &[&[&str]] = &[
    &["hit", "hits", "hitting"],
    &["hurt", "hurts", "hurting"],
    &["cut", "cuts", "cutting"],
    &["beat", "beats", "beating", "beaten"],
    &["take", "takes", "taking", "took", "taken"],
    &["throw", "throws", "throwing", "threw", "thrown"],
    &["say", "says", "saying", "said"],
    &["tell", "tells", "telling", "told"],
    &["make", "makes", "making", "made"],
    &["send", "sends", "sending", "sent"],
    &["buy", "buys", "buying", "bought"],
    &["give", "gives", "giving", "gave", "given"],
    &["keep", "keeps", "keeping", "kept"],
    &["meet", "meets", "meeting", "met"],
    &["hide", "hides", "hiding", "hid", "hidden"],
    &["eat", "eats", "eating", "ate", "eaten"],
    &["steal", "steals", "stealing", "stole", "stolen"],
    &["shoot", "shoots", "shooting", "shot"],
    &["fight", "fights", "fighting", "fought"],
    &["bite", "bites", "biting", "bit", "bitten"],
    &["feel", "feels", "feeling", "felt"],
    &["think", "thinks", "thinking", "thought"],
    &["put", "puts", "putting"],
    &["sleep", "sleeps", "sleeping", "slept"],
    &["bleed", "bleeds", "bleeding", "bled"],
    &["run", "runs", "running", "ran"],
    &["see", "sees", "seeing", "saw", "seen"],
    &["show", "shows", "showing", "showed", "shown"],
    &["catch", "catches", "catching", "caught"],
    &["stab", "stabs", "stabbing", "stabbed"],
    &["kick", "kicks", "kicking", "kicked"],
    &["punch", "punches", "punching", "punched"],
    &["push", "pushes", "pushing", "pushed"],
    &["starve", "starves", "starving", "starved"],
    &["bully", "bullies", "bullying", "bullied"],
    &["die", "dies", "dying", "died"],
    &["lie", "lies", "lying", "lied"],
];

/// Regular verbs the lists write bare (`scratch`, `touch`) that are inflected all the same.
const REGULAR_VERBS: &[&str] = &[
    "bang", "bathe", "burn", "call", "carry", "choke", "cover", "cry", "dare", "deliver", "drop",
    "film", "grab", "guess", "hack", "hate", "ignore", "kill", "kiss", "laugh", "lock", "offer",
    "order", "pay", "pick", "pinch", "post", "pretend", "pull", "purge", "scratch", "scream",
    "shout", "shower", "skip", "slap", "smack", "smoke", "sneak", "spread", "strangle", "touch",
    "trip", "try", "undress", "vomit", "whack",
];

/// [`REGULAR_VERBS`], normalised once.
fn regular_verbs() -> &'static [String] {
    static VERBS: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| REGULAR_VERBS.iter().map(|v| normalise_phrase(v)).collect());
    &VERBS
}

/// The variants of a normalised part core (`"my dad hits me"`), the core itself first. `open_end`
/// says the part's last word may run on (the list wrote no space after it), so its end is kept.
pub(crate) fn variants(core: &str, open_end: bool) -> Vec<String> {
    let words: Vec<&str> = core.split(' ').collect();
    let mut out: Vec<String> = vec![String::new()];
    for (i, word) in words.iter().enumerate() {
        let forms = if open_end && i + 1 == words.len() {
            vec![word.to_string()]
        } else {
            forms(word)
        };
        let forms = if out.len() * forms.len() > MAX_VARIANTS {
            vec![word.to_string()]
        } else {
            forms
        };
        let mut next = Vec::with_capacity(out.len() * forms.len());
        for prefix in &out {
            for f in &forms {
                let mut v = prefix.clone();
                if i > 0 {
                    v.push(' ');
                }
                v.push_str(f);
                next.push(v);
            }
        }
        out = next;
    }
    out.dedup();
    let mut seen = std::collections::HashSet::new();
    out.retain(|v| seen.insert(v.clone()));
    out
}

/// [`IRREGULAR`], normalised once.
fn irregular() -> &'static [Vec<String>] {
    static GROUPS: std::sync::LazyLock<Vec<Vec<String>>> = std::sync::LazyLock::new(|| {
        IRREGULAR
            .iter()
            .map(|g| g.iter().map(|f| normalise_phrase(f)).collect())
            .collect()
    });
    &GROUPS
}

/// Every form of one normalised word, the word itself first.
fn forms(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return out;
    }
    if FUNCTION_WORDS.binary_search(&word).is_ok() {
        return out;
    }
    if let Some(group) = irregular().iter().find(|g| g.iter().any(|f| f == word)) {
        for f in group {
            push_unique(&mut out, f.clone());
        }
        return out;
    }
    // Only a word the list wrote with a verb ending (`hits`, `touched`, `bullying`) or a known
    // verb ([`REGULAR_VERBS`]) is inflected: a bare word is usually a noun (`stepdad`, `lunch`),
    // and its forms would only make the automaton bigger (past 200 kB of patterns it is an NFA,
    // several times slower). Irregular verbs are known above whatever their form.
    let stems = stems(word);
    if stems.len() == 1 && !regular_verbs().iter().any(|v| v == word) {
        return out;
    }
    for stem in stems {
        for f in regular_forms(&stem) {
            push_unique(&mut out, normalise_phrase(&f));
        }
    }
    out
}

fn push_unique(out: &mut Vec<String>, s: String) {
    if !s.is_empty() && !out.contains(&s) {
        out.push(s);
    }
}

/// Candidate stems of a word: itself, and what removing a regular ending leaves.
fn stems(w: &str) -> Vec<String> {
    let mut out = vec![w.to_string()];
    let mut add = |s: String| {
        if s.len() >= 3 && !out.contains(&s) {
            out.push(s);
        }
    };
    if let Some(b) = w.strip_suffix("ies") {
        add(format!("{b}y"));
    } else if let Some(b) = w.strip_suffix("ied") {
        add(format!("{b}y"));
    } else if let Some(b) = w.strip_suffix("ing") {
        add(b.to_string());
        add(format!("{b}e"));
    } else if let Some(b) = w.strip_suffix("ed") {
        add(b.to_string());
        add(format!("{b}e"));
    } else if let Some(b) = w.strip_suffix("es")
        && (b.ends_with(['s', 'x', 'z']) || b.ends_with("ch") || b.ends_with("sh"))
    {
        add(b.to_string());
    } else if let Some(b) = w.strip_suffix('s')
        && !b.ends_with('s')
    {
        add(b.to_string());
    }
    out
}

/// The regular forms of a stem: `-s`/`-es`, `-ing`, `-ed`, with the usual spelling changes.
fn regular_forms(stem: &str) -> Vec<String> {
    let mut out = vec![stem.to_string()];
    let sibilant = stem.ends_with(['s', 'x', 'z']) || stem.ends_with("ch") || stem.ends_with("sh");
    let consonant_y = stem.len() > 2
        && stem.ends_with('y')
        && !matches!(
            stem.as_bytes()[stem.len() - 2],
            b'a' | b'e' | b'i' | b'o' | b'u'
        );
    if let Some(b) = stem.strip_suffix('e') {
        out.push(format!("{stem}s"));
        out.push(format!("{stem}d"));
        out.push(format!("{b}ing"));
    } else if consonant_y {
        let b = &stem[..stem.len() - 1];
        out.push(format!("{b}ies"));
        out.push(format!("{b}ied"));
        out.push(format!("{stem}ing"));
    } else {
        out.push(format!("{stem}{}", if sibilant { "es" } else { "s" }));
        out.push(format!("{stem}ing"));
        out.push(format!("{stem}ed"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(v: &[String], s: &str) -> bool {
        v.iter().any(|x| x == &normalise_phrase(s))
    }

    #[test]
    fn function_words_are_sorted() {
        assert!(FUNCTION_WORDS.windows(2).all(|w| w[0] < w[1]));
        for w in FUNCTION_WORDS {
            assert_eq!(normalise_phrase(w), *w);
        }
    }

    #[test]
    fn regular_and_irregular_forms() {
        let v = variants(&normalise_phrase("my dad hits me"), false);
        assert_eq!(v[0], normalise_phrase("my dad hits me"));
        for s in ["my dad hit me", "my dad hitting me", "my dad hits me"] {
            assert!(has(&v, s), "{s}: {v:?}");
        }
        assert!(!has(&v, "mine dad hits me"));
        let v = variants(&normalise_phrase("being bullied"), false);
        assert!(has(&v, "being bullying"), "{v:?}");
        let v = variants(&normalise_phrase("touches me"), false);
        for s in ["touch me", "touched me", "touching me"] {
            assert!(has(&v, s), "{s}: {v:?}");
        }
        let v = variants(&normalise_phrase("makes me sick"), false);
        assert!(
            has(&v, "making me sick") && has(&v, "made me sick"),
            "{v:?}"
        );
        let v = variants(&normalise_phrase("starve myself"), false);
        assert!(has(&v, "starving myself"), "{v:?}");
        let v = variants(&normalise_phrase("cries"), false);
        assert!(has(&v, "crying") && has(&v, "cried"), "{v:?}");
        // A bare noun keeps its form; a bare known verb does not.
        assert_eq!(variants("stepdad", false), vec!["stepdad".to_string()]);
        let v = variants(&normalise_phrase("scratch"), false);
        assert!(has(&v, "scratching") && has(&v, "scratched"), "{v:?}");
    }

    #[test]
    fn an_open_end_is_kept_and_the_cap_holds() {
        let v = variants("suicid", true);
        assert_eq!(v, vec!["suicid".to_string()]);
        let long = normalise_phrase("hits kicks punches pushes bites throws takes");
        assert!(variants(&long, false).len() <= MAX_VARIANTS);
    }
}
