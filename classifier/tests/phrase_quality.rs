//! Quality of the shipped phrase lists against the labelled set of children's searches in
//! `tests/data/labelled-searches.tsv`: at least 95% of concerning searches must raise a concern
//! and at most 2% of benign ones. Run with `--nocapture` to see the figures and the misses.

use std::path::{Path, PathBuf};

use lychgate_classifier::category::Categories;
use lychgate_classifier::concern::Theme;
use lychgate_classifier::lists::phrases::{load_phrases, load_phrases_str};
use lychgate_classifier::phrases::{PhraseScratch, PhraseSet, PhraseSetBuilder};
use lychgate_classifier::source::ListId;

fn lists_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../blocklists/phrases")
}

fn list_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(lists_dir())
        .expect("blocklists/phrases exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
}

fn shipped_set() -> PhraseSet {
    let cats = Categories::default();
    let mut builder = PhraseSetBuilder::new();
    for (i, file) in list_files().iter().enumerate() {
        load_phrases(file, ListId(i as u16), &cats, &mut builder).unwrap();
    }
    builder.build()
}

#[test]
fn every_shipped_phrase_file_loads_without_warnings() {
    let cats = Categories::default();
    let files = list_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for theme in [
        "abuse",
        "adult",
        "bullying",
        "criminal",
        "radicalisation",
        "substance",
        "suicide-selfharm",
        "violence",
        "good-context",
    ] {
        assert!(
            names.contains(&format!("{theme}.txt")),
            "missing {theme}.txt"
        );
    }
    for file in &files {
        let mut builder = PhraseSetBuilder::new();
        let stats = load_phrases(file, ListId(0), &cats, &mut builder).unwrap();
        assert!(
            stats.warnings.is_empty(),
            "{}: {:#?}",
            file.display(),
            stats.warnings
        );
        assert!(stats.phrases > 0, "{} is empty", file.display());
        // The default config embeds these files with `include_str!`: loading from memory must
        // give the same phrases, with no warnings either.
        let text = std::fs::read_to_string(file).unwrap();
        let mut from_str = PhraseSetBuilder::new();
        let str_stats = load_phrases_str(file, &text, ListId(0), &cats, &mut from_str).unwrap();
        assert!(str_stats.warnings.is_empty(), "{:#?}", str_stats.warnings);
        assert_eq!(str_stats.entries, stats.entries);
    }
}

/// The themes that count as right for the labelled set's theme column, written before the themes
/// were split (issue 14): an old theme counts for each theme it was split into.
fn expected_themes(labelled: &str) -> Vec<&'static str> {
    match labelled {
        "suicide-selfharm" => vec!["suicide", "self-harm", "eating-disorder"],
        "abuse" => vec!["abuse", "grooming"],
        "bullying" => vec!["bullying", "hate"],
        "radicalisation" => vec!["radicalisation", "hate"],
        other => Theme::from_name(other)
            .map(Theme::name)
            .into_iter()
            .collect(),
    }
}

#[test]
fn shipped_lists_stay_a_dfa_within_the_memory_budget() {
    let (bytes, dfa) = shipped_set().memory_usage();
    println!("shipped phrase set: {bytes} bytes, DFA: {dfa}");
    // Inflections and word classes multiply patterns; past 200 kB of them the automaton becomes
    // an NFA and every request's scan is several times slower.
    assert!(dfa, "the shipped phrase automaton is no longer a DFA");
    assert!(bytes <= 32 << 20, "{bytes} bytes of phrase tables");
}

#[test]
fn labelled_searches_meet_the_quality_goal() {
    let set = shipped_set();
    let tsv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/labelled-searches.tsv"),
    )
    .unwrap();
    let mut scratch = PhraseScratch::new();
    let (mut concerning, mut concerning_flagged) = (0usize, 0usize);
    let (mut benign, mut benign_flagged) = (0usize, 0usize);
    let mut theme_right = 0usize;
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();
    for (i, line) in tsv.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "line {}: {line:?}", i + 1);
        let (label, theme, query) = (cols[0], cols[1], cols[2]);
        let summary = set.scan(query, &mut scratch);
        let flagged = summary.has_concern();
        match label {
            "concerning" => {
                concerning += 1;
                if flagged {
                    concerning_flagged += 1;
                    if summary
                        .concern_hits()
                        .any(|c| expected_themes(theme).contains(&c.theme.name()))
                    {
                        theme_right += 1;
                    }
                } else {
                    misses.push(format!("{query}  [{theme}] -> {}", scratch.normalised()));
                }
            }
            "benign" => {
                benign += 1;
                if flagged {
                    benign_flagged += 1;
                    let hits: Vec<String> = summary
                        .concern_hits()
                        .map(|c| format!("{}:{}:{:?}", c.theme, c.score, set.text(c.phrase)))
                        .collect();
                    false_alarms.push(format!("{query} -> {}", hits.join(", ")));
                }
            }
            other => panic!("line {}: bad label {other:?}", i + 1),
        }
    }
    let recall = 100.0 * concerning_flagged as f64 / concerning as f64;
    let fp = 100.0 * benign_flagged as f64 / benign as f64;
    println!(
        "concerning flagged: {concerning_flagged}/{concerning} = {recall:.1}% \
         (right theme among concerns: {theme_right})"
    );
    println!("benign flagged: {benign_flagged}/{benign} = {fp:.1}%");
    for m in &misses {
        println!("MISS  {m}");
    }
    for f in &false_alarms {
        println!("FALSE {f}");
    }
    assert!(concerning >= 200 && benign >= 300, "labelled set too small");
    assert!(
        recall >= 95.0,
        "only {recall:.1}% of concerning searches flagged"
    );
    assert!(fp <= 2.0, "{fp:.1}% of benign searches flagged");
}
