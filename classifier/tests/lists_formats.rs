//! Loading the fixture lists of every format through the public API.

use lychgate_classifier::domains::{DomainIndexBuilder, MatchScope};
use lychgate_classifier::lists::{ListError, ListFormat, ListSink, LoadStats, load};
use lychgate_classifier::urls::UrlTable;
use lychgate_classifier::{CategoryId, CategorySet};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
struct Collect {
    domains: Vec<(String, MatchScope, u32)>,
    urls: Vec<(String, String, u32)>,
    regexes: Vec<(String, u32)>,
    files: Vec<PathBuf>,
}

impl ListSink for Collect {
    fn domain(&mut self, domain: &str, scope: MatchScope, line: u32) {
        self.domains.push((domain.into(), scope, line));
    }
    fn url(&mut self, host: &str, path: &str, line: u32) {
        self.urls.push((host.into(), path.into(), line));
    }
    fn regex(&mut self, pattern: &str, line: u32) {
        self.regexes.push((pattern.into(), line));
    }
    fn begin_file(&mut self, path: &Path) {
        self.files.push(path.into());
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lists")
        .join(name)
}

fn load_fixture(name: &str, format: ListFormat) -> (Collect, LoadStats) {
    let mut c = Collect::default();
    let stats = load(&fixture(name), format, &mut c).expect("fixture loads");
    (c, stats)
}

fn names(c: &Collect) -> Vec<&str> {
    c.domains.iter().map(|d| d.0.as_str()).collect()
}

fn warning_lines(s: &LoadStats) -> Vec<u32> {
    s.warnings.iter().map(|w| w.line).collect()
}

const SUB: MatchScope = MatchScope::Subdomains;

#[test]
fn native_fixture() {
    let (c, s) = load_fixture("native.list", ListFormat::Native);
    assert_eq!(
        c.domains,
        [
            ("example.com".into(), SUB, 2),
            ("exact.example.org".into(), MatchScope::Exact, 3),
            ("wild.example".into(), SUB, 4),
            ("xn--bcher-kva.example".into(), SUB, 8),
            ("last.example".into(), SUB, 14),
        ]
    );
    assert_eq!(
        c.urls,
        [
            ("bad.example".into(), "/path/page?id=1".into(), 5),
            ("host.example".into(), "/videos/".into(), 6),
        ]
    );
    assert_eq!(c.regexes, [("^casino[0-9]*\\.".into(), 7)]);
    assert_eq!(warning_lines(&s), [11, 12, 13]);
    let w = s.warnings[1].to_string();
    assert!(w.ends_with("native.list:12: `bad..example` is not a valid domain name: empty label (`..` or a leading dot)"), "{w}");
    assert_eq!((s.domains, s.urls, s.regexes, s.skipped), (5, 2, 1, 0));
}

#[test]
fn plain_fixture() {
    let (c, s) = load_fixture("plain.txt", ListFormat::Plain);
    assert_eq!(
        names(&c),
        [
            "ads.example",
            "tracker.example",
            "dot.example",
            "star.example"
        ]
    );
    assert!(c.domains.iter().all(|d| d.1 == SUB));
    assert_eq!(warning_lines(&s), [7]);
    assert!(s.warnings[0].message.contains("use format `hosts`"));
}

#[test]
fn hosts_fixture() {
    let (c, s) = load_fixture("hosts.txt", ListFormat::Hosts);
    assert_eq!(
        names(&c),
        [
            "ads.example",
            "a.example",
            "b.example",
            "loop.example",
            "v6.example"
        ]
    );
    assert_eq!(warning_lines(&s), [14]);
    assert!(s.warnings[0].message.contains("not an IP address"));
    // 5 boilerplate lines, `0.0.0.0 0.0.0.0`, the printer.
    assert_eq!(s.skipped, 7);
}

#[test]
fn adblock_fixture() {
    let (c, s) = load_fixture("adblock.txt", ListFormat::Adblock);
    assert_eq!(names(&c), ["ads.example", "tracker.example"]);
    assert_eq!(c.urls, [("cdn.example".into(), "/ads/".into(), 5)]);
    assert_eq!(warning_lines(&s), [11]);
    // ##, $domain=, /regex/, wildcard domain; the `@@` exception is kept.
    assert_eq!(s.skipped, 4);
    assert_eq!(s.exceptions, 1);
}

#[test]
fn squidguard_fixture_folder() {
    let (c, s) = load_fixture("squidguard/adult", ListFormat::SquidGuard);
    assert_eq!(names(&c), ["adult.example", "www.porn.example"]);
    assert_eq!(
        c.urls,
        [
            ("example.com".into(), "/adult/".into(), 1),
            ("pics.example".into(), "/gallery".into(), 2),
            ("short.example".into(), "/".into(), 3),
        ]
    );
    assert_eq!(c.regexes, [("(^|[-.])xxx[-.]".into(), 1)]);
    assert_eq!(c.files.len(), 3);
    assert_eq!(s.warnings.len(), 1);
    let w = s.warnings[0].to_string();
    assert!(
        w.ends_with(&format!(
            "adult{}domains:4: `bad..example` is not a valid domain name: empty label (`..` or a leading dot)",
            std::path::MAIN_SEPARATOR
        )),
        "{w}"
    );

    let (c, s) = load_fixture("squidguard/gambling", ListFormat::SquidGuard);
    assert_eq!(names(&c), ["bet.example"]);
    assert!(s.warnings.is_empty());
    assert_eq!(c.files.len(), 1);
}

#[test]
fn bom_crlf_and_latin1() {
    for format in [ListFormat::Plain, ListFormat::Native] {
        let (c, s) = load_fixture("encoding.txt", format);
        assert_eq!(names(&c), ["crlf.example", "last.example"], "{format:?}");
        assert_eq!(warning_lines(&s), [4], "{format:?}");
        assert!(s.warnings[0].message.contains("not valid UTF-8"));
    }
}

#[test]
fn missing_files_are_errors() {
    let mut c = Collect::default();
    for format in ListFormat::ALL {
        let err = load(&fixture("does-not-exist"), format, &mut c).unwrap_err();
        let ListError::Io { path, .. } = &err else {
            panic!("{err:?}");
        };
        assert!(path.ends_with("does-not-exist"));
        assert!(err.to_string().contains("does-not-exist"));
    }
}

/// A sink that fills the real index and URL table, as the policy builder will.
struct IndexSink {
    category: CategoryId,
    domains: DomainIndexBuilder,
    urls: UrlTable<u32>,
}

impl ListSink for IndexSink {
    fn domain(&mut self, domain: &str, scope: MatchScope, _line: u32) {
        self.domains.insert(domain, scope, self.category);
    }
    fn url(&mut self, host: &str, path: &str, line: u32) {
        self.urls.insert(host, path, line);
    }
    fn regex(&mut self, _pattern: &str, _line: u32) {}
}

#[test]
fn loaded_lists_drive_the_index() {
    let mut sink = IndexSink {
        category: CategoryId(2),
        domains: DomainIndexBuilder::new(),
        urls: UrlTable::default(),
    };
    load(&fixture("native.list"), ListFormat::Native, &mut sink).unwrap();
    sink.category = CategoryId(6);
    load(
        &fixture("squidguard/gambling"),
        ListFormat::SquidGuard,
        &mut sink,
    )
    .unwrap();
    let idx = sink.domains.build();
    let adult = CategorySet::one(CategoryId(2));
    assert_eq!(idx.lookup("www.example.com"), adult);
    assert_eq!(idx.lookup("exact.example.org"), adult);
    assert!(idx.lookup("www.exact.example.org").is_empty());
    assert_eq!(idx.lookup("a.b.wild.example"), adult);
    assert_eq!(idx.lookup("xn--bcher-kva.example"), adult);
    assert_eq!(idx.lookup("m.bet.example"), CategorySet::one(CategoryId(6)));
    assert!(idx.lookup("example.org").is_empty());

    let hits: Vec<u32> = sink
        .urls
        .matches("bad.example", "/path/page?id=1")
        .map(|m| *m.value)
        .collect();
    assert_eq!(hits, [5]);
    assert_eq!(
        sink.urls.matches("bad.example", "/path/page?id=12").count(),
        0
    );
    assert_eq!(
        sink.urls.matches("cdn.host.example", "/videos/1").count(),
        1
    );
    assert!(sink.urls.has_host("host.example"));
}

#[test]
fn only_regular_files_are_lists() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut c = Collect::default();
    for format in [ListFormat::Native, ListFormat::Plain, ListFormat::Hosts] {
        for (path, what) in [
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO (named pipe)"),
            (dir.path(), "a directory"),
        ] {
            let err = load(path, format, &mut c).unwrap_err();
            assert!(matches!(err, ListError::File { .. }), "{err:?}");
            assert_eq!(
                err.to_string(),
                format!("{}: it is {what}, not a regular file", path.display())
            );
        }
    }
    // A squidGuard folder's files are held to the same rule.
    let cat = dir.path().join("cat");
    fs::create_dir(&cat).unwrap();
    std::os::unix::fs::symlink("/dev/zero", cat.join("domains")).unwrap();
    let err = load(&cat, ListFormat::SquidGuard, &mut c).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("domains: it is a character device, not a regular file")
    );
}

#[test]
fn a_list_over_the_size_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.txt");
    // Sparse: nothing is written, and nothing must be read.
    fs::File::create(&path)
        .unwrap()
        .set_len(lychgate_classifier::files::MAX_LIST_BYTES + 1)
        .unwrap();
    let mut c = Collect::default();
    let err = load(&path, ListFormat::Plain, &mut c).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: it is larger than the limit of 256 MiB", path.display())
    );
    assert!(c.files.is_empty());
}
