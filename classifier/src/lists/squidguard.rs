//! squidGuard / UT1 category folders: `adult/domains`, `adult/urls`, `adult/expressions`.
//!
//! - `domains`: one domain per line, each with its subdomains (like a plain list);
//! - `urls`: `host/path` per line; like squidGuard, a leading `www.` (or `www2.`, `www3.` ...)
//!   is stripped from the host, so the entry covers the bare domain and every subdomain; an
//!   `http://`/`https://` prefix is accepted; a host with no path means the whole host (`/`);
//! - `expressions`: one regular expression per line, handed to the sink as it is.
//!
//! `#` starts a comment in all three. Any of the files may be missing; the folder may not.

use super::lines::{Ctx, quote};
use super::native::url_entry;
use super::{ListError, ListSink, LoadStats, strip_hash_comment, strip_prefix_ci};
use std::path::Path;

/// One file of a squidGuard category folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SquidGuardFile {
    /// `domains`: domains with their subdomains.
    Domains,
    /// `urls`: host + path prefixes.
    Urls,
    /// `expressions`: regular expressions.
    Expressions,
}

impl SquidGuardFile {
    /// The files of a category, in load order.
    pub const ALL: [SquidGuardFile; 3] = [
        SquidGuardFile::Domains,
        SquidGuardFile::Urls,
        SquidGuardFile::Expressions,
    ];

    /// The file's name inside the category folder.
    pub fn file_name(self) -> &'static str {
        match self {
            SquidGuardFile::Domains => "domains",
            SquidGuardFile::Urls => "urls",
            SquidGuardFile::Expressions => "expressions",
        }
    }

    pub(crate) fn parser(self) -> fn(&mut Ctx<'_>, u32, &str) {
        match self {
            SquidGuardFile::Domains => parse_domains_line,
            SquidGuardFile::Urls => parse_urls_line,
            SquidGuardFile::Expressions => parse_expressions_line,
        }
    }
}

pub(crate) fn load_folder(dir: &Path, sink: &mut dyn ListSink) -> Result<LoadStats, ListError> {
    let io = |source| ListError::Io {
        path: dir.into(),
        source,
    };
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "a squidguard list is a category folder holding `domains`, `urls` and/or `expressions`, not a file",
        )));
    }
    let mut stats = LoadStats::default();
    let mut found = 0;
    for file in SquidGuardFile::ALL {
        let path = dir.join(file.file_name());
        match super::load_file(&path, sink, file.parser()) {
            Ok(file_stats) => stats.add(file_stats),
            Err(ListError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                continue;
            }
            Err(e) => return Err(e),
        }
        found += 1;
    }
    if found == 0 {
        stats.bad_lines += 1;
        stats.warnings.push(crate::source::ListWarning {
            path: dir.into(),
            line: 0,
            message: "no `domains`, `urls` or `expressions` file in this squidguard folder"
                .to_string(),
        });
    }
    Ok(stats)
}

pub(crate) fn parse_domains_line(ctx: &mut Ctx<'_>, n: u32, line: &str) {
    let t = strip_hash_comment(line).trim();
    if t.is_empty() {
        return;
    }
    super::plain::domain_line(ctx, n, t, "squidGuard `domains`");
}

/// `www.`, `www2.` ... as squidGuard strips them from `urls` entries.
fn strip_www(host: &str) -> &str {
    let Some(rest) = strip_prefix_ci(host, "www") else {
        return host;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    match rest.strip_prefix('.') {
        Some(r) if !r.is_empty() => r,
        _ => host,
    }
}

fn parse_urls_line(ctx: &mut Ctx<'_>, n: u32, line: &str) {
    let t = strip_hash_comment(line).trim();
    if t.is_empty() {
        return;
    }
    if t.contains(char::is_whitespace) {
        ctx.warn(n, format!("{}: expected one URL per line", quote(t)));
        return;
    }
    let rest = strip_prefix_ci(t, "https://")
        .or_else(|| strip_prefix_ci(t, "http://"))
        .unwrap_or(t);
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    url_entry(ctx, n, t, strip_www(host), path);
}

fn parse_expressions_line(ctx: &mut Ctx<'_>, n: u32, line: &str) {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return;
    }
    ctx.regex(t, n);
}

#[cfg(test)]
mod tests {
    use super::strip_www;
    use crate::lists::tests_support::{Collect, Entry};
    use crate::lists::{ListError, ListFormat, load};
    use std::fs;

    #[test]
    fn www_prefixes() {
        assert_eq!(strip_www("www.example.com"), "example.com");
        assert_eq!(strip_www("WWW2.example.com"), "example.com");
        assert_eq!(strip_www("wwwexample.com"), "wwwexample.com");
        assert_eq!(strip_www("www."), "www.");
    }

    #[test]
    fn folder_with_all_files() {
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("adult");
        fs::create_dir(&cat).unwrap();
        fs::write(cat.join("domains"), "a.example\n\nbad..example\n").unwrap();
        fs::write(
            cat.join("urls"),
            "www.b.example/x/y\nhttp://c.example\n# c\n",
        )
        .unwrap();
        fs::write(cat.join("expressions"), "(porn|xxx)\n").unwrap();
        let mut c = Collect::default();
        let s = load(&cat, ListFormat::SquidGuard, &mut c).unwrap();
        assert_eq!(
            c.entries,
            [
                Entry::sub("a.example", 1),
                Entry::url("b.example", "/x/y", 1),
                Entry::url("c.example", "/", 2),
                Entry::regex("(porn|xxx)", 1),
            ]
        );
        assert_eq!(c.files.len(), 3);
        assert_eq!(s.warnings.len(), 1);
        let w = s.warnings[0].to_string();
        assert!(w.contains("adult/domains:3:"), "{w}");
    }

    #[test]
    fn missing_files_are_fine_missing_folder_is_not() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("domains"), "a.example\n").unwrap();
        let mut c = Collect::default();
        let s = load(dir.path(), ListFormat::SquidGuard, &mut c).unwrap();
        assert_eq!((s.domains, s.warnings.len()), (1, 0));
        let err = load(&dir.path().join("nope"), ListFormat::SquidGuard, &mut c);
        assert!(matches!(err, Err(ListError::Io { .. })));
        let err = load(&dir.path().join("domains"), ListFormat::SquidGuard, &mut c);
        assert!(matches!(err, Err(ListError::Io { .. })));
    }
}
