//! No input makes a list loader panic, and every warning points at a real line.

use lychgate_classifier::domains::MatchScope;
use lychgate_classifier::lists::{
    ListError, ListFormat, ListSink, MIN_BAD_LINES_FOR_GARBAGE, SquidGuardFile, load_bytes,
    load_squidguard_file, load_str, normalize_list_domain,
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
        match load_bytes(path, bytes, format, &mut c) {
            Ok(s) => {
                assert_eq!(s.domains + s.urls + s.regexes, c.entries);
                assert!(c.max_line <= lines);
                assert!(s.warnings.iter().all(|w| w.line <= lines));
            }
            Err(e) => check_refusal(&e, bytes, lines),
        }
    }
    for file in SquidGuardFile::ALL {
        let mut c = Check::default();
        match load_squidguard_file(path, bytes, file, &mut c) {
            Ok(s) => assert_eq!(s.entries(), c.entries),
            Err(e) => check_refusal(&e, bytes, lines),
        }
    }
}

/// In-memory input is refused only as binary (at a real line with a NUL) or as mostly bad.
fn check_refusal(e: &ListError, bytes: &[u8], lines: u32) {
    match e {
        ListError::Binary { line, .. } => {
            assert!(*line >= 1 && *line <= lines);
            assert!(bytes.contains(&0));
        }
        ListError::MostlyBad {
            bad, good, first, ..
        } => {
            assert!(*bad >= MIN_BAD_LINES_FOR_GARBAGE && bad > good);
            assert!(first.line >= 1 && first.line <= lines);
        }
        other => panic!("{other}"),
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
        if let Err(e) = load_str(Path::new("x"), &text, ListFormat::Native, &mut c) {
            check_refusal(&e, text.as_bytes(), line_count(text.as_bytes()));
        }
    }
}

#[test]
fn huge_garbage_caps_warnings() {
    // As many good lines as bad ones, so the list is not refused as mostly bad.
    let text = "bad..example\ngood.example\n".repeat(5000);
    let mut c = Check::default();
    let s = load_str(Path::new("big"), &text, ListFormat::Plain, &mut c).unwrap();
    assert_eq!(s.domains, 5000);
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

#[test]
fn mostly_bad_text_is_refused_naming_the_first_bad_line() {
    let text = format!("good.example\n{}", "<html><body>\n".repeat(20));
    let mut c = Check::default();
    let err = load_str(Path::new("page.html"), &text, ListFormat::Plain, &mut c).unwrap_err();
    let ListError::MostlyBad {
        bad, good, first, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((*bad, *good, first.line), (20, 1, 2));
    let msg = err.to_string();
    assert!(
        msg.starts_with("page.html: 20 bad lines and only 1 good ones")
            && msg.contains("page.html:2: `<html><body>`"),
        "{msg}"
    );
    // A few typos in a small list stay warnings.
    let text = format!(
        "{}a.example\n",
        "bad..example\n".repeat(MIN_BAD_LINES_FOR_GARBAGE - 1)
    );
    let s = load_str(Path::new("small"), &text, ListFormat::Plain, &mut c).unwrap();
    assert_eq!(
        (s.domains, s.warnings.len()),
        (1, MIN_BAD_LINES_FOR_GARBAGE - 1)
    );
}

#[test]
fn a_nul_byte_means_a_binary_file() {
    let bytes = b"a.example\nb.example\n\x7fELF\x02\x01\x01\x00\x1b[2J\n";
    for format in ListFormat::ALL {
        let mut c = Check::default();
        let err = load_bytes(Path::new("bin"), bytes, format, &mut c).unwrap_err();
        assert!(matches!(err, ListError::Binary { line: 3, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "bin:3: a NUL byte: this is a binary file, not a text list"
        );
    }
}

#[test]
fn escape_bytes_from_a_bad_line_are_escaped_in_warnings() {
    let mut c = Check::default();
    let s = load_str(
        Path::new("t"),
        "a.example\n\u{1b}]0;pwned\u{7}\n",
        ListFormat::Plain,
        &mut c,
    )
    .unwrap();
    let w = s.warnings[0].to_string();
    assert!(!w.contains('\u{1b}') && !w.contains('\u{7}'), "{w:?}");
    assert!(w.contains("\\u{1b}]0;pwned\\u{7}"), "{w}");
}
