//! No input makes a list loader panic, and every warning points at a real line.

use lychgate_classifier::domains::MatchScope;
use lychgate_classifier::lists::{
    ListFormat, ListSink, SquidGuardFile, load_bytes, load_squidguard_file, load_str,
    normalize_list_domain,
};
use proptest::prelude::*;
use std::path::Path;

#[derive(Debug, Default)]
struct Check {
    entries: usize,
    max_line: u32,
}

impl ListSink for Check {
    fn domain(&mut self, domain: &str, _scope: MatchScope, line: u32) {
        // Whatever reaches the sink is already normal.
        assert_eq!(normalize_list_domain(domain).as_deref(), Ok(domain));
        self.seen(line);
    }
    fn url(&mut self, host: &str, path: &str, line: u32) {
        assert_eq!(normalize_list_domain(host).as_deref(), Ok(host));
        assert!(path.starts_with('/'), "{path:?}");
        self.seen(line);
    }
    fn regex(&mut self, pattern: &str, line: u32) {
        assert!(!pattern.is_empty());
        self.seen(line);
    }
}

impl Check {
    fn seen(&mut self, line: u32) {
        assert!(line >= 1);
        self.entries += 1;
        self.max_line = self.max_line.max(line);
    }
}

fn line_count(bytes: &[u8]) -> u32 {
    bytes.split(|&b| b == b'\n').count() as u32
}

fn check_all(bytes: &[u8]) {
    let path = Path::new("fuzz.list");
    let lines = line_count(bytes);
    for format in ListFormat::ALL {
        let mut c = Check::default();
        let s = load_bytes(path, bytes, format, &mut c).unwrap();
        assert_eq!(s.domains + s.urls + s.regexes, c.entries);
        assert!(c.max_line <= lines);
        assert!(s.warnings.iter().all(|w| w.line <= lines));
    }
    for file in SquidGuardFile::ALL {
        let mut c = Check::default();
        let s = load_squidguard_file(path, bytes, file, &mut c);
        assert_eq!(s.entries(), c.entries);
    }
}

/// Text built from the characters list syntax cares about, so the parsers' branches get hit.
fn listy_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "||",
        "^",
        "$",
        "@@",
        "##",
        "#",
        "!",
        "=",
        "*.",
        ".",
        "..",
        "/",
        "?",
        "&",
        ":",
        "|",
        "regex:",
        "https://",
        "http://",
        "www.",
        "0.0.0.0 ",
        "::1 ",
        "127.0.0.1 ",
        " ",
        "\t",
        "\n",
        "\r\n",
        "example",
        "com",
        "bücher",
        "ß",
        "xn--",
        "localhost",
        "domain=",
        "third-party",
        "important",
        ",",
        "[Adblock Plus 2.0]",
        "\u{FEFF}",
        "\u{3002}",
        "-",
        "_",
        "%",
        "[",
        "]",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_all(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check_all(text.as_bytes());
    }

    #[test]
    fn list_shaped_text_never_panics(text in listy_text()) {
        check_all(text.as_bytes());
        let mut c = Check::default();
        let _ = load_str(Path::new("x"), &text, ListFormat::Native, &mut c).unwrap();
    }
}

#[test]
fn huge_garbage_caps_warnings() {
    let text = "bad..example\n".repeat(5000);
    let mut c = Check::default();
    let s = load_str(Path::new("big"), &text, ListFormat::Plain, &mut c).unwrap();
    assert_eq!(s.warnings.len(), 1001);
    let last = s.warnings.last().unwrap();
    assert_eq!(last.line, 0);
    assert!(
        last.message.starts_with("4000 more bad lines"),
        "{}",
        last.message
    );
}

#[test]
fn empty_and_whitespace_inputs() {
    for text in ["", "\n", "\r\n", "\u{FEFF}", "   \n\t\n", "#\n!\n"] {
        check_all(text.as_bytes());
    }
}
