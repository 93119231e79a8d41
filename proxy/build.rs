//! Embeds the shipped lists (`blocklists/`) and the default config into the binary, so
//! `lychgate run` works from any folder with nothing installed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("..")
            .canonicalize()
            .expect("workspace root exists");
    let blocklists = root.join("blocklists");
    println!("cargo:rerun-if-changed={}", blocklists.display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("config/lychgate.toml").display()
    );

    let mut out = String::from("/// Lists shipped in `blocklists/`: (name, shown path, text).\n");
    out.push_str("pub static BUILTIN_LISTS: &[(&str, &str, &str)] = &[\n");
    let mut categories: Vec<PathBuf> = read_dir_sorted(&blocklists)
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    categories.sort();
    for dir in &categories {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        println!("cargo:rerun-if-changed={}", dir.display());
        if name == "phrases" {
            continue;
        }
        let domains = dir.join("domains");
        if domains.is_file() {
            entry(
                &mut out,
                &name,
                &format!("blocklists/{name}/domains"),
                &domains,
            );
        }
    }
    out.push_str(
        "];\n\n/// Phrase lists shipped in `blocklists/phrases/`: (name, shown path, text).\n",
    );
    out.push_str("pub static BUILTIN_PHRASE_LISTS: &[(&str, &str, &str)] = &[\n");
    let phrases = blocklists.join("phrases");
    for file in read_dir_sorted(&phrases) {
        let file_name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !file.is_file() || file_name.ends_with(".md") || file_name.starts_with('.') {
            continue;
        }
        let stem = file_name.split('.').next().unwrap_or_default().to_string();
        entry(
            &mut out,
            &format!("phrases/{stem}"),
            &format!("blocklists/phrases/{file_name}"),
            &file,
        );
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin_lists.rs");
    fs::write(dest, out).expect("OUT_DIR is writable");
}

fn entry(out: &mut String, name: &str, shown: &str, path: &Path) {
    let _ = writeln!(
        out,
        "    ({name:?}, {shown:?}, include_str!({:?})),",
        path.display().to_string()
    );
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.sort();
    v
}
