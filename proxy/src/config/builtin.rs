//! The lists shipped in `blocklists/`, compiled into the binary (see `build.rs`), so the default
//! config needs no files on disk.

include!(concat!(env!("OUT_DIR"), "/builtin_lists.rs"));

/// A shipped category list by name (`adult`): its shown path and text.
pub fn list(name: &str) -> Option<(&'static str, &'static str)> {
    BUILTIN_LISTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, shown, text)| (*shown, *text))
}

/// Names of the shipped category lists.
pub fn list_names() -> Vec<&'static str> {
    BUILTIN_LISTS.iter().map(|(n, _, _)| *n).collect()
}

/// Shipped phrase lists: `phrases` for all of them, `phrases/<theme>` for one.
pub fn phrase_lists(name: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    BUILTIN_PHRASE_LISTS
        .iter()
        .filter(|(n, _, _)| name == "phrases" || *n == name)
        .copied()
        .collect()
}
