//! Loading phrase lists from files: `.Include`, cycles, depth, missing files, e2guardian lists.

use std::fs;

use lychgate_classifier::category::Categories;
use lychgate_classifier::concern::{Severity, Theme};
use lychgate_classifier::lists::ListError;
use lychgate_classifier::lists::phrases::{MAX_INCLUDE_DEPTH, load_phrases, load_phrases_str};
use lychgate_classifier::phrases::{PhraseScratch, PhraseSetBuilder};
use lychgate_classifier::source::ListId;

#[test]
fn missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = PhraseSetBuilder::new();
    let err = load_phrases(
        &dir.path().join("nope.txt"),
        ListId(0),
        &Categories::default(),
        &mut b,
    )
    .unwrap_err();
    assert!(matches!(err, ListError::Io { .. }));
}

#[test]
fn includes_are_relative_inherit_directives_and_stop_cycles() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(
        dir.path().join("main.txt"),
        "#theme: violence\n#severity: danger\n#category: weapons\n.Include<sub/inner.txt>\n< outer ><100>\n",
    )
    .unwrap();
    // The inner file includes the main one back: a cycle, skipped with a warning.
    fs::write(
        dir.path().join("sub/inner.txt"),
        "< inner ><100>\n.Include<../main.txt>\n.Include<missing.txt>\n#theme: adult\n",
    )
    .unwrap();
    let cats = Categories::default();
    let mut b = PhraseSetBuilder::new();
    let stats = load_phrases(&dir.path().join("main.txt"), ListId(7), &cats, &mut b).unwrap();
    assert_eq!(stats.includes, 1);
    assert_eq!(stats.phrases, 2);
    let msgs: Vec<String> = stats.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(msgs[0].contains("inner.txt:2") && msgs[0].contains("cycle"));
    assert!(msgs[1].contains("inner.txt:3") && msgs[1].contains("cannot read"));
    let set = b.build();
    let mut s = PhraseScratch::new();
    // The inner phrase got the includer's directives; the inner `#theme:` did not leak back.
    let r = set.scan("inner", &mut s);
    let c = r.concern(Theme::Violence).unwrap();
    assert_eq!(c.severity, Severity::Danger);
    assert_eq!(set.meta(c.phrase).source.line, 1);
    assert_eq!(set.meta(c.phrase).source.list, ListId(7));
    assert_eq!(r.category_score(cats.id("weapons").unwrap()), 100);
    assert!(set.scan("outer", &mut s).concern(Theme::Violence).is_some());
}

#[test]
fn include_depth_is_limited() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..=MAX_INCLUDE_DEPTH + 2 {
        fs::write(
            dir.path().join(format!("l{i}.txt")),
            format!("< word{i} ><10>\n.Include<l{}.txt>\n", i + 1),
        )
        .unwrap();
    }
    let mut b = PhraseSetBuilder::new();
    let stats = load_phrases(
        &dir.path().join("l0.txt"),
        ListId(0),
        &Categories::default(),
        &mut b,
    )
    .unwrap();
    assert_eq!(stats.includes, MAX_INCLUDE_DEPTH);
    assert_eq!(stats.warnings.len(), 1);
    assert!(stats.warnings[0].message.contains("nests deeper"));
}

#[test]
fn embedded_lists_refuse_includes() {
    let mut b = PhraseSetBuilder::new();
    let stats = load_phrases_str(
        std::path::Path::new("embedded:adult.txt"),
        ".Include</etc/passwd>\n< ok ><10>\n",
        ListId(0),
        &Categories::default(),
        &mut b,
    )
    .unwrap();
    assert_eq!(stats.phrases, 1);
    assert_eq!(stats.warnings.len(), 1);
    assert_eq!(stats.warnings[0].line, 1);
}

#[test]
fn e2guardian_weighted_list_loads() {
    // As shipped in e2guardian's lists/phraselists/*/weighted files.
    let text = "#listcategory: \"Drugs\"\n\
                # English\n\
                <cannabis><50>\n\
                < weed >,< smoke ><60>\n\
                <drug rehab><-50>\n\
                <marijuana>,<legalization><-20>\n";
    let cats = Categories::default();
    let mut b = PhraseSetBuilder::new();
    let stats = load_phrases_str(
        std::path::Path::new("weighted_drugs"),
        text,
        ListId(1),
        &cats,
        &mut b,
    )
    .unwrap();
    assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
    assert_eq!((stats.phrases, stats.combos, stats.good_context), (4, 2, 2));
    let set = b.build();
    let mut s = PhraseScratch::new();
    let r = set.scan("where to smoke weed and cannabis", &mut s);
    assert_eq!(r.category_score(cats.id("drugs").unwrap()), 110);
    assert_eq!(r.concern(Theme::Substance).unwrap().score, 110);
    let r = set.scan("cannabis drug rehab", &mut s);
    assert_eq!(r.category_score(cats.id("drugs").unwrap()), 0);
    assert!(!r.has_concern());
}
