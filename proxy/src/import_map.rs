//! Keeps the import map of `docs/ARCHITECTURE.md` true: reads every `crate::…` path in the
//! crate's non-test source and fails on an arrow the map forbids.
//!
//! `cli → preflight → daemon → (http | dns | admin) → gate → config → pages → review → log →
//! (identity | metrics) → (tls | safe_search) → (net | clock | client_key)`: a module may
//! import only modules ranked below it, so HTTP, DNS and admin never import each other and
//! nothing imports upward. Imports inside one top-level module are not checked here; comments
//! are not read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every top-level module and its rank; a module may import only lower ranks.
const RANKS: &[(&str, u32)] = &[
    ("cli", 100),
    ("preflight", 95),
    ("daemon", 90),
    ("http", 80),
    ("dns", 80),
    ("admin", 80),
    ("gate", 70),
    ("config", 60),
    // The page renderers: below config, whose `[block_page]` section builds their settings.
    ("pages", 57),
    // Review requests and tickets (the pages show their limits).
    ("review", 55),
    ("log", 50),
    ("identity", 40),
    ("metrics", 40),
    ("tls", 20),
    ("safe_search", 20),
    ("net", 10),
    ("clock", 10),
    ("client_key", 10),
];

/// Arrows the map forbids that are known and being removed, each with why it is still here
/// (none now: `config → http` went when the pages moved out of `http/`).
const PENDING: &[(&str, &str, &str)] = &[];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The `.rs` files under `dir`, test-only files (`tests.rs`, `test_*.rs`) left out.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            sources(&path, out);
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.starts_with("test_") {
            out.push(path);
        }
    }
}

/// The source without its `#[cfg(test)]` items (a `mod x;` line or a braced block) and its
/// comments.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().map(|line| {
        let code = line.split(" // ").next().unwrap_or_default();
        if code.trim_start().starts_with("//") {
            ""
        } else {
            code
        }
    });
    while let Some(line) = lines.next() {
        if line.trim() != "#[cfg(test)]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut depth = 0i32;
        for item in lines.by_ref() {
            depth += item.matches('{').count() as i32 - item.matches('}').count() as i32;
            if depth <= 0 && (item.trim_end().ends_with(';') || item.trim_end().ends_with('}')) {
                break;
            }
        }
    }
    out
}

/// The top-level modules a source text names through `crate::`, including `crate::{a, b}`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        // `lychgate_crate::` or `$crate::` are not this crate's paths.
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(std::mem::take(&mut name));
                    }
                    c if depth == 0 && (c.is_alphanumeric() || c == '_') => name.push(c),
                    ':' if depth == 0 => name.push(':'),
                    _ => {}
                }
            }
            found.insert(name);
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        found.insert(name);
    }
    found
        .into_iter()
        .map(|n| n.split("::").next().unwrap_or_default().to_string())
        .filter(|n| !n.is_empty() && n != "self")
        .collect()
}

#[test]
fn no_module_imports_a_module_the_map_puts_above_or_beside_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut problems = Vec::new();
    let mut pending_seen = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap();
        let first = relative.components().next().unwrap();
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(module.as_str(), "lib" | "main" | "import_map") {
            continue;
        }
        let Some(from) = rank(&module) else {
            problems.push(format!(
                "{}: module `{module}` is not on the import map (src/import_map.rs)",
                relative.display()
            ));
            continue;
        };
        let text = without_tests(&std::fs::read_to_string(file).unwrap());
        for target in imports(&text) {
            if target == module {
                continue;
            }
            let Some(to) = rank(&target) else {
                problems.push(format!(
                    "{}: imports `{target}`, which is not on the import map",
                    relative.display()
                ));
                continue;
            };
            if to < from {
                continue;
            }
            if PENDING.iter().any(|(a, b, _)| *a == module && *b == target) {
                pending_seen.insert((module.clone(), target.clone()));
                continue;
            }
            problems.push(format!(
                "{}: `{module}` imports `{target}`, which the map puts {} it",
                relative.display(),
                if to == from { "beside" } else { "above" }
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // A pending arrow that is gone should leave the list, so it cannot come back unnoticed.
    for (a, b, why) in PENDING {
        assert!(
            pending_seen.contains(&((*a).to_string(), (*b).to_string())),
            "`{a} → {b}` is no longer imported: remove it from PENDING ({why})"
        );
    }
}

#[test]
fn the_reader_finds_grouped_and_nested_paths_and_skips_tests() {
    let text = "use crate::{config::Config, log::{Flag, Ticket}};\n\
                fn f() { crate::http::state::ProxyState::new(); }\n\
                let x = lychgate_crate::gate::Gate;\n\
                #[cfg(test)]\n\
                mod tests {\n    use crate::dns::Server;\n    fn g() {}\n}\n\
                #[cfg(test)]\n\
                mod more;\n\
                //! not `crate::dns` in a comment\n\
                use crate::net::Cidr; // nor crate::tls here\n";
    let found = imports(&without_tests(text));
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["config", "http", "log", "net"]);
}
