//! Property tests: the phrase-list parser never panics on any text, scanning never panics, the
//! normalisation is idempotent, and a phrase always matches its own text.

use std::path::Path;

use lychgate_classifier::category::Categories;
use lychgate_classifier::concern::{Severity, Theme};
use lychgate_classifier::lists::phrases::load_phrases_str;
use lychgate_classifier::phrases::{PhraseMeta, PhraseScratch, PhraseSetBuilder, normalise};
use lychgate_classifier::source::{ListId, SourceRef};
use proptest::prelude::*;

fn meta(weight: i32) -> PhraseMeta {
    PhraseMeta {
        weight,
        category: None,
        theme: Some(Theme::Violence),
        severity: Severity::Warning,
        source: SourceRef {
            list: ListId(0),
            line: 0,
        },
    }
}

/// Lines built from the characters the parser cares about, to reach its corners.
fn list_like() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("<".to_string()),
            Just(">".to_string()),
            Just(",".to_string()),
            Just("#".to_string()),
            Just(":".to_string()),
            Just("=".to_string()),
            Just("\n".to_string()),
            Just(" ".to_string()),
            Just("-".to_string()),
            Just(".Include".to_string()),
            Just("#theme: ".to_string()),
            Just("#category: ".to_string()),
            Just("#severity: ".to_string()),
            Just("#weight: ".to_string()),
            Just("#listcategory: ".to_string()),
            Just("adult".to_string()),
            Just("danger".to_string()),
            Just("all".to_string()),
            Just("100".to_string()),
            "[a-z0-9ąęł@$! ]{0,6}",
            any::<char>().prop_map(String::from),
        ],
        0..60,
    )
    .prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        let cats = Categories::default();
        let mut b = PhraseSetBuilder::new();
        let _ = load_phrases_str(Path::new("fuzz.txt"), &text, ListId(0), &cats, &mut b);
        let set = b.build();
        let mut s = PhraseScratch::new();
        let _ = set.scan(&text, &mut s);
    }

    #[test]
    fn parser_never_panics_on_list_like_text(text in list_like()) {
        let cats = Categories::default();
        let mut b = PhraseSetBuilder::new();
        let stats = load_phrases_str(Path::new("fuzz.txt"), &text, ListId(0), &cats, &mut b).unwrap();
        prop_assert!(stats.entries >= stats.phrases);
        let set = b.build();
        let mut s = PhraseScratch::new();
        let _ = set.scan(&text, &mut s);
    }

    #[test]
    fn normalisation_is_idempotent(text in any::<String>()) {
        let once = normalise(&text);
        prop_assert_eq!(normalise(&once), once);
    }

    #[test]
    fn normalisation_is_idempotent_on_evasion_alphabet(text in "[a-zA-Z0-9@$!%+ .,'_-]{0,40}") {
        let once = normalise(&text);
        prop_assert_eq!(normalise(&once), once);
    }

    #[test]
    fn a_phrase_matches_its_own_text(
        phrase in "[a-z0-9@$! .'-]{1,20}",
        // Words of two letters or more: runs of one-letter words are joined (`s u i c i d e`).
        prefix in prop::collection::vec(
            prop::sample::select(vec!["how", "to", "my", "the", "school", "year", "best"]),
            0..4,
        ).prop_map(|w| w.join(" ")),
        bounded in any::<bool>(),
    ) {
        prop_assume!(!normalise(&phrase).is_empty());
        let mut b = PhraseSetBuilder::new();
        let written = if bounded { format!(" {} ", phrase.trim()) } else { phrase.clone() };
        prop_assume!(!normalise(&written).is_empty());
        let id = b.add(&[&written], meta(100));
        let set = b.build();
        let mut s = PhraseScratch::new();
        let r = set.scan(&phrase, &mut s);
        prop_assert_eq!(r.concern(Theme::Violence).map(|c| c.phrase), Some(id));
        // Also after unrelated words, when the phrase stands as its own words.
        let r = set.scan(&format!("{prefix} , {phrase}"), &mut s);
        prop_assert!(r.has_concern(), "{:?} in {:?}", written, s.normalised());
    }
}
