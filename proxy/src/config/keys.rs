//! Every config key declared once: its name, section, TOML type, what its absence means, its
//! limits and its one-line documentation. The declarations ([`super::schema`]) drive the reader
//! (which keys a table may hold, their types, required keys, integer ranges), the unknown-key
//! suggestions, the key tables of `docs/configuration.md` (held to them by a test), and the
//! key-by-key view of a loaded config ([`ConfigKeys`]) that change control diffs.

use std::collections::BTreeMap;

/// The TOML value a key holds, as the reader reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value {
    /// A string.
    Str,
    /// `true` or `false`.
    Bool,
    /// A whole number, checked against its range when read.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// A list of strings.
    Strs,
    /// One string or a list of them.
    OneOrMoreStrs,
    /// A list of whole numbers.
    Ints,
    /// A sub-table (`[section]`).
    Table(&'static Section),
    /// An array of tables (`[[section]]`).
    Tables(&'static Section),
    /// A table of named sub-tables (`[groups.NAME]`).
    Map(&'static Section),
}

impl Value {
    /// The type column of the docs when the declaration names none.
    fn shown(self) -> &'static str {
        match self {
            Value::Str => "string",
            Value::Bool => "boolean",
            Value::Int { .. } => "integer",
            Value::Strs => "list of strings",
            Value::OneOrMoreStrs => "string or list of strings",
            Value::Ints => "list of integers",
            Value::Table(_) | Value::Tables(_) | Value::Map(_) => "table",
        }
    }

    /// The section a table-valued key opens.
    pub(crate) fn section(self) -> Option<&'static Section> {
        match self {
            Value::Table(s) | Value::Tables(s) | Value::Map(s) => Some(s),
            _ => None,
        }
    }
}

/// What leaving a key out means.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Absent {
    /// It must be given; the hint says what to write.
    Required(&'static str),
    /// It takes this value, written as canonical TOML (as [`ConfigKeys`] shows values).
    Is(&'static str),
    /// It depends on other settings, as the text says (for the docs).
    Means(&'static str),
    /// It is simply not set.
    Nothing,
}

/// One config key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    /// Its name inside its section.
    pub(crate) name: &'static str,
    /// The value it holds.
    pub(crate) value: Value,
    /// What leaving it out means.
    pub(crate) absent: Absent,
    /// The docs' type column, when more telling than the TOML type (`path`, `host name`).
    pub(crate) shown_type: &'static str,
    /// The docs' limits column, when not just an integer's range.
    pub(crate) limits: &'static str,
    /// The docs' meaning column.
    pub(crate) doc: &'static str,
    /// Never shown in the key-by-key view (a fingerprint stands in, so changes still show).
    pub(crate) secret: bool,
}

impl Key {
    /// The fields most keys leave as they are.
    pub(crate) const BASE: Key = Key {
        name: "",
        value: Value::Str,
        absent: Absent::Nothing,
        shown_type: "",
        limits: "",
        doc: "",
        secret: false,
    };

    /// The range an integer key is checked against.
    pub(crate) fn range(&self) -> Option<std::ops::RangeInclusive<i64>> {
        match self.value {
            Value::Int { min, max } => Some(min..=max),
            _ => None,
        }
    }
}

/// One table of the config file and the keys it may hold.
#[derive(Debug)]
pub(crate) struct Section {
    /// Its dotted path with `NAME` for a group's name (`""` for the top level); the marker of
    /// its key table in `docs/configuration.md`.
    pub(crate) name: &'static str,
    /// Its keys, in the docs' order.
    pub(crate) keys: &'static [Key],
}

impl Section {
    /// The declaration of a key in this section.
    pub(crate) fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The names of its keys, for unknown-key hints.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|k| k.name).collect()
    }

    /// Its key table for `docs/configuration.md` (sub-tables have sections of their own).
    fn docs_table(&self) -> String {
        let mut out =
            String::from("| key | type | default | limits | meaning |\n|---|---|---|---|---|\n");
        for k in self.keys.iter().filter(|k| k.value.section().is_none()) {
            let shown_type = if k.shown_type.is_empty() {
                k.value.shown()
            } else {
                k.shown_type
            };
            let default = match k.absent {
                Absent::Required(_) => "required".to_string(),
                Absent::Is(v) => format!("`{v}`"),
                Absent::Means(text) => text.to_string(),
                Absent::Nothing => "none".to_string(),
            };
            let limits = match (k.limits, k.range()) {
                ("", Some(r)) => format!("{}–{}", r.start(), r.end()),
                (text, _) => text.to_string(),
            };
            out.push_str(&format!(
                "| `{}` | {shown_type} | {default} | {limits} | {} |\n",
                k.name, k.doc
            ));
        }
        out
    }
}

/// Every section, the top level first, then each as its parent declares it.
pub(crate) fn sections() -> Vec<&'static Section> {
    let mut out: Vec<&'static Section> = vec![&super::schema::TOP];
    let mut i = 0;
    while let Some(section) = out.get(i).copied() {
        for sub in section.keys.iter().filter_map(|k| k.value.section()) {
            if !out.iter().any(|s| std::ptr::eq(*s, sub)) {
                out.push(sub);
            }
        }
        i += 1;
    }
    out
}

/// The key tables of `docs/configuration.md`: each section's name (its marker there) and its
/// table, rendered from the declarations.
pub fn docs_tables() -> Vec<(&'static str, String)> {
    sections()
        .into_iter()
        .map(|s| (s.name, s.docs_table()))
        .collect()
}

/// A loaded config key by key: each key's dotted path (`proxy.via`, `groups.ks2.block`,
/// `list[0].path`) and its value as canonical TOML — as written, or the declared default of a
/// key left out — in file order. Secrets are replaced by a fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigKeys(pub Vec<(String, String)>);

/// One key that differs between two configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// Dotted path.
    pub path: String,
    /// The value before (`None`: not set).
    pub before: Option<String>,
    /// The value after (`None`: not set).
    pub after: Option<String>,
}

impl ConfigKeys {
    /// The keys whose value differs from `self` in `after`, by path.
    pub fn diff(&self, after: &ConfigKeys) -> Vec<KeyChange> {
        let before: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let after: BTreeMap<&str, &str> = after
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut paths: Vec<&str> = before.keys().chain(after.keys()).copied().collect();
        paths.sort_unstable();
        paths.dedup();
        paths
            .into_iter()
            .filter(|p| before.get(p) != after.get(p))
            .map(|p| KeyChange {
                path: p.to_string(),
                before: before.get(p).map(|v| (*v).to_string()),
                after: after.get(p).map(|v| (*v).to_string()),
            })
            .collect()
    }

    /// The value of one key, if set.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == path)
            .map(|(_, v)| v.as_str())
    }
}

/// How a secret is shown: a fingerprint, so a change to it still shows in a diff without the
/// value itself (today the only secret is an identity token's argon2id hash, already one-way).
pub(crate) fn redacted(value: &str) -> String {
    format!(
        "\"<redacted {:016x}>\"",
        xxhash_rust::xxh3::xxh3_64(value.as_bytes())
    )
}

/// A string as a TOML basic string.
pub(crate) fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Items as a TOML inline array.
pub(crate) fn toml_list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}
