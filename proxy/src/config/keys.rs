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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigOrigin, load_str};
    use std::path::Path;

    const MARK_OPEN: &str = "<!-- keys: ";
    const MARK_TAIL: &str = " (generated from proxy/src/config/schema.rs) -->\n";
    const MARK_CLOSE: &str = "<!-- /keys -->";

    fn marker_name(section: &str) -> &str {
        if section.is_empty() { "top" } else { section }
    }

    /// `docs/configuration.md` with every key table rendered from the declarations.
    fn rendered_docs(docs: &str) -> Result<String, String> {
        let tables = docs_tables();
        let mut out = String::new();
        let mut rest = docs;
        let mut seen = Vec::new();
        while let Some(at) = rest.find(MARK_OPEN) {
            let after = &rest[at + MARK_OPEN.len()..];
            let name_end = after
                .find(MARK_TAIL)
                .ok_or("a key table marker without its tail")?;
            let name = &after[..name_end];
            let body = &after[name_end + MARK_TAIL.len()..];
            let close = body.find(MARK_CLOSE).ok_or("a key table without its end")?;
            let table = tables
                .iter()
                .find(|(s, _)| marker_name(s) == name)
                .ok_or(format!(
                    "the docs have a key table `{name}` no section declares"
                ))?;
            out.push_str(&rest[..at + MARK_OPEN.len() + name_end + MARK_TAIL.len()]);
            out.push_str(&table.1);
            out.push_str(MARK_CLOSE);
            rest = &body[close + MARK_CLOSE.len()..];
            seen.push(name.to_string());
        }
        out.push_str(rest);
        for (s, _) in &tables {
            let n = seen.iter().filter(|x| *x == marker_name(s)).count();
            if n != 1 {
                return Err(format!(
                    "section `{}` has {n} key tables in the docs, not one",
                    marker_name(s)
                ));
            }
        }
        Ok(out)
    }

    /// Fails when `docs/configuration.md` and the declarations disagree. Run with
    /// `LYCHGATE_WRITE_DOCS=1` to write the declared tables into the docs.
    #[test]
    fn the_docs_key_tables_are_the_declarations() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md");
        let docs = std::fs::read_to_string(&path).unwrap();
        let rendered = rendered_docs(&docs).unwrap();
        if std::env::var_os("LYCHGATE_WRITE_DOCS").is_some() {
            std::fs::write(&path, &rendered).unwrap();
            return;
        }
        assert!(
            docs == rendered,
            "docs/configuration.md's key tables differ from proxy/src/config/schema.rs: change \
             the declaration, then run `LYCHGATE_WRITE_DOCS=1 cargo test -p lychgate --lib \
             the_docs_key_tables` and commit both"
        );
    }

    #[test]
    fn a_docs_table_out_of_step_is_caught() {
        let docs = format!("{MARK_OPEN}proxy{MARK_TAIL}| key | old |\n{MARK_CLOSE}\n",);
        let rendered = rendered_docs(&docs);
        // Not every section has its table: an error, whatever the proxy table says.
        assert!(rendered.is_err());
        let stray = format!("{MARK_OPEN}proxy.nonsense{MARK_TAIL}{MARK_CLOSE}\n");
        assert!(
            rendered_docs(&stray)
                .unwrap_err()
                .contains("proxy.nonsense")
        );
    }

    /// A minimal valid config, with room for extra top-level keys, group keys and sections.
    fn config(top: &str, group: &str, sections: &str) -> Result<Config, String> {
        let text = format!(
            "default_group = \"g\"\n{top}\n[[network]]\ncidr = \"10.9.0.0/16\"\n\
             [groups.g]\nkind = \"pupil\"\n{group}\n{sections}\n"
        );
        load_str(&text, ConfigOrigin::Embedded, Path::new(".")).map_err(|e| e.to_string())
    }

    fn typed(c: &Config) -> String {
        let mut shown = format!("{c:?}");
        // The only thing two loads of one config differ in.
        let at = shown.find("load_time").unwrap();
        shown.truncate(at);
        let keys_at = shown.find("keys: ConfigKeys").unwrap();
        shown.truncate(keys_at);
        shown
    }

    fn sorted(keys: &ConfigKeys) -> Vec<(String, String)> {
        let mut k = keys.0.clone();
        k.sort();
        k
    }

    /// Each declared default is what Lychgate uses when the key is left out: writing the
    /// default explicitly changes neither the typed config nor the key-by-key view.
    #[test]
    fn declared_defaults_are_what_leaving_a_key_out_gives() {
        let bare = config("", "", "").unwrap();
        let mut checked = 0;
        for section in sections() {
            for key in section.keys {
                let Absent::Is(default) = key.absent else {
                    continue;
                };
                let line = format!("{} = {default}", key.name);
                let written = match section.name {
                    "" => config(&line, "", ""),
                    "groups.NAME" => config("", &line, ""),
                    "network" => config(
                        "",
                        "",
                        &format!("[[network]]\ncidr = \"10.8.0.0/16\"\n{line}"),
                    ),
                    "groups.NAME.window"
                    | "groups.NAME.override"
                    | "list"
                    | "category"
                    | "static_host"
                    | "identity.device"
                    | "identity.token" => continue,
                    name => config("", "", &format!("[{name}]\n{line}")),
                };
                let written =
                    written.unwrap_or_else(|e| panic!("{}.{}: {e}", section.name, key.name));
                let reference = if section.name == "network" {
                    config("", "", "[[network]]\ncidr = \"10.8.0.0/16\"").unwrap()
                } else {
                    config("", "", "").unwrap()
                };
                assert_eq!(
                    typed(&written),
                    typed(&reference),
                    "`{}` in `{}`: the declared default {default} is not what Lychgate uses",
                    key.name,
                    section.name
                );
                assert_eq!(
                    sorted(written.keys()),
                    sorted(reference.keys()),
                    "`{}` in `{}`: the declared default is not written canonically",
                    key.name,
                    section.name
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "{checked}");
        assert_eq!(bare.keys().get("proxy.via"), Some("\"lychgate\""));
        assert_eq!(bare.keys().get("dns.cache_entries"), Some("10000"));
    }

    /// TOML for one instance of every section with every key, each a value of its declared type.
    fn every_key(section: &Section, path: &str, out: &mut String) {
        for key in section.keys {
            let sample = match key.value {
                Value::Str | Value::OneOrMoreStrs => "\"x\"".to_string(),
                Value::Bool => "true".to_string(),
                Value::Int { min, .. } => min.to_string(),
                Value::Strs => "[\"x\"]".to_string(),
                Value::Ints => "[443]".to_string(),
                Value::Table(_) | Value::Tables(_) | Value::Map(_) => continue,
            };
            out.push_str(&format!("{} = {sample}\n", key.name));
        }
        for key in section.keys {
            let child = if path.is_empty() {
                key.name.to_string()
            } else {
                format!("{path}.{}", key.name)
            };
            match key.value {
                Value::Table(s) => {
                    out.push_str(&format!("[{child}]\n"));
                    every_key(s, &child, out);
                }
                Value::Tables(s) => {
                    out.push_str(&format!("[[{child}]]\n"));
                    every_key(s, &child, out);
                }
                Value::Map(s) => {
                    let child = format!("{child}.g");
                    out.push_str(&format!("[{child}]\n"));
                    every_key(s, &child, out);
                }
                _ => {}
            }
        }
    }

    /// The reader reads every declared key with its declared type (the debug assertions in
    /// the reader check the other way: no key is read undeclared).
    #[test]
    fn every_declared_key_is_read_as_its_type() {
        let mut text = String::new();
        every_key(&crate::config::schema::TOP, "", &mut text);
        let errors = load_str(&text, ConfigOrigin::Embedded, Path::new("."))
            .err()
            .unwrap()
            .to_string();
        assert!(!errors.contains("unknown key"), "{text}\n{errors}");
        assert!(!errors.contains("expected"), "{text}\n{errors}");
        assert!(!errors.contains("out of range"), "{text}\n{errors}");
        assert!(text.contains("[[groups.g.window]]\ndays = "), "{text}");
    }

    #[test]
    fn an_unknown_key_is_named_with_the_closest_declared_one() {
        let errors = config("", "blok = [\"games\"]", "[dns]\ncache_entrys = 5\n").unwrap_err();
        assert!(
            errors.contains("groups.g.blok: unknown key (hint: did you mean `block`?)"),
            "{errors}"
        );
        assert!(
            errors.contains("dns.cache_entrys: unknown key (hint: did you mean `cache_entries`?)"),
            "{errors}"
        );
    }

    /// Ranges come from the declarations and are checked where the value is read; every
    /// problem is still reported together, each with its file, line and field.
    #[test]
    fn out_of_range_numbers_name_their_line_field_and_declared_range() {
        let errors = config(
            "",
            "phrase_threshold = 0",
            "[proxy]\nmax_header_bytes = 100\n[dns]\nudp_sockets = 65\n",
        )
        .unwrap_err();
        for expected in [
            "<built-in default config>:7: groups.g.phrase_threshold: 0 is out of range: between 1 and 100000",
            "<built-in default config>:9: proxy.max_header_bytes: 100 is out of range: between 8192 and 1048576",
            "<built-in default config>:11: dns.udp_sockets: 65 is out of range: between 0 and 64",
        ] {
            assert!(errors.contains(expected), "{expected}\n{errors}");
        }
        assert!(errors.starts_with("3 problems"), "{errors}");
    }

    const HASH_A: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    const HASH_B: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$b3RoZXJvdGhlcm90aGVyb3Ro";

    fn diff_config(group: &str, sections: &str, hash: &str) -> Config {
        config(
            "",
            group,
            &format!(
                "{sections}\n[[identity.token]]\nname = \"pcs\"\nscope = \"classroom\"\nhash = \"{hash}\"\n"
            ),
        )
        .unwrap()
    }

    #[test]
    fn diffing_two_configs_names_exactly_the_changed_keys() {
        let before = diff_config(
            "block = [\"games\"]",
            "[proxy]\nvia = \"school-a\"\n[dns]\nmax_udp_payload = 1232\n",
            HASH_A,
        );
        let after = diff_config(
            // A category added, SafeSearch written out, the proxy renamed, the DNS payload
            // written as its default (no change), the cache resized, the token replaced.
            "block = [\"games\", \"social\"]\nyoutube = \"strict\"",
            "[proxy]\nvia = \"school-b\"\n[dns]\ncache_entries = 500\n",
            HASH_B,
        );
        let changes = before.keys().diff(after.keys());
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "dns.cache_entries",
                "groups.g.block",
                "groups.g.youtube",
                "identity.token[0].hash",
                "proxy.via",
            ],
            "{changes:#?}"
        );
        let block = &changes[1];
        assert_eq!(block.before.as_deref(), Some("[\"games\"]"));
        assert_eq!(block.after.as_deref(), Some("[\"games\", \"social\"]"));
        assert_eq!(changes[0].before.as_deref(), Some("10000"));
        assert_eq!(changes[0].after.as_deref(), Some("500"));
        // The secret changed, and neither value shows it.
        let hash = &changes[3];
        for shown in [&hash.before, &hash.after] {
            let shown = shown.as_deref().unwrap();
            assert!(shown.starts_with("\"<redacted "), "{shown}");
            assert!(!shown.contains("argon2"), "{shown}");
        }
        assert!(before.keys().diff(before.keys()).is_empty());
        // The same config written differently is the same config.
        let same = config("", "", "[listen]\ndns = \"127.0.0.1:5300\"\n").unwrap();
        assert!(
            config("", "", "")
                .unwrap()
                .keys()
                .diff(same.keys())
                .is_empty()
        );
    }

    #[test]
    fn strings_are_shown_as_toml_that_reads_back() {
        for s in [
            "plain",
            "quote \" and \\ slash",
            "tab\tnew\nline",
            "héllo ✓",
            "\u{7}",
        ] {
            let shown = toml_string(s);
            let parsed: toml::Table = toml::from_str(&format!("v = {shown}")).unwrap();
            assert_eq!(parsed["v"].as_str(), Some(s), "{shown}");
        }
    }
}
