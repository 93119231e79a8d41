//! A walk over a spanned TOML tree that keeps going after a problem: every unknown key, wrong
//! type and missing field is recorded with its line, instead of stopping at the first as serde's
//! `deny_unknown_fields` would. Each table is read against its [`Section`] declaration: the
//! keys it may hold, their types, which are required, integer ranges, and the key-by-key view
//! ([`Source::values`]) of what was read.

use super::error::{ConfigError, ConfigErrors};
use super::keys::{self, Absent, Key, Section, Value};
use std::path::Path;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// The file being read: its path, text (for line numbers) and the problems found so far.
#[derive(Debug)]
pub struct Source<'s> {
    /// Path shown in messages.
    pub path: &'s Path,
    text: &'s str,
    /// Problems found so far.
    pub errors: ConfigErrors,
    /// Every key read, or left to its declared default, as (dotted path, canonical TOML).
    pub(crate) values: Vec<(String, String)>,
}

impl<'s> Source<'s> {
    /// Starts reading `text` from `path`.
    pub fn new(path: &'s Path, text: &'s str) -> Self {
        Source {
            path,
            text,
            errors: ConfigErrors::default(),
            values: Vec::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// Records a problem at a byte offset.
    pub fn error(
        &mut self,
        offset: usize,
        field: &str,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        let line = self.line_of(offset);
        self.errors.0.push(ConfigError {
            file: self.path.to_path_buf(),
            line,
            field: (!field.is_empty()).then(|| field.to_string()),
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }
}

/// A string value with the line it was on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// 1-based line.
    pub line: usize,
    /// Byte offset (for further errors about it).
    pub offset: usize,
    /// Dotted key path.
    pub field: String,
}

/// The keys of one TOML table, read one at a time; whatever is left unread is an unknown key.
#[derive(Debug)]
pub struct Fields<'t, 'i> {
    table: &'t DeTable<'i>,
    path: String,
    offset: usize,
    used: Vec<&'t str>,
    section: &'static Section,
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    v.type_str()
}

/// The table at `v` (found at dotted path `field`, declared as `section`), or a type error.
fn sub_table<'t, 'i>(
    src: &mut Source<'_>,
    v: &'t Spanned<DeValue<'i>>,
    field: &str,
    section: &'static Section,
) -> Option<Fields<'t, 'i>> {
    match v.get_ref().as_table() {
        Some(t) => Some(Fields::new(t, field, v.span().start, section)),
        None => {
            src.error(
                v.span().start,
                field,
                format!("expected a table, found {}", type_name(v.get_ref())),
                None,
            );
            None
        }
    }
}

impl<'t, 'i> Fields<'t, 'i> {
    /// Starts reading a table declared as `section`, found at `path` (dotted), beginning at
    /// byte `offset`.
    pub(crate) fn new(
        table: &'t DeTable<'i>,
        path: &str,
        offset: usize,
        section: &'static Section,
    ) -> Self {
        Fields {
            table,
            path: path.to_string(),
            offset,
            used: Vec::new(),
            section,
        }
    }

    /// The declaration of a key of this table. Reading a key the section does not declare is a
    /// bug in Lychgate (the debug builds the tests run stop on it); a release build reads it
    /// unchecked rather than refuse a config.
    fn declared(&self, key: &str) -> Key {
        let declared = self.section.key(key);
        debug_assert!(
            declared.is_some(),
            "`{key}` is read but not declared in section `{}`",
            self.section.name
        );
        declared.copied().unwrap_or(Key {
            name: "",
            ..Key::BASE
        })
    }

    /// A required key that is absent is reported with its hint.
    fn check_required(&self, src: &mut Source<'_>, key: &Key, name: &str) {
        if let Absent::Required(hint) = key.absent {
            if !self.table.contains_key(name) {
                src.error(self.offset, &self.key_path(name), "is missing", Some(hint));
            }
        }
    }

    /// Records a key read for the key-by-key view (secrets by fingerprint only).
    fn record(&self, src: &mut Source<'_>, key: &Key, name: &str, shown: String) {
        let shown = if key.secret {
            keys::redacted(&shown)
        } else {
            shown
        };
        src.values.push((self.key_path(name), shown));
    }

    /// The dotted path of a key in this table.
    pub fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Offset of the table itself.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// This table's dotted path.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn raw(&mut self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        let (k, v) = self.table.get_key_value(key)?;
        self.used.push(k.get_ref());
        Some(v)
    }

    /// A scalar value read by `read`, or a type error naming what was `expected`.
    fn scalar<T>(
        &mut self,
        src: &mut Source<'_>,
        key: &str,
        expected: &str,
        read: impl FnOnce(&DeValue<'_>) -> Option<T>,
    ) -> Option<Located<T>> {
        let field = self.key_path(key);
        let v = self.raw(key)?;
        let start = v.span().start;
        match read(v.get_ref()) {
            Some(value) => Some(Located {
                value,
                line: src.line_of(start),
                offset: start,
                field,
            }),
            None => {
                src.error(
                    start,
                    &field,
                    format!("expected {expected}, found {}", type_name(v.get_ref())),
                    None,
                );
                None
            }
        }
    }

    /// A string value (reported missing when the declaration requires it).
    pub fn string(&mut self, src: &mut Source<'_>, key: &str) -> Option<Located<String>> {
        let declared = self.declared(key);
        debug_assert!(
            matches!(declared.value, Value::Str),
            "`{key}` is not a string"
        );
        self.check_required(src, &declared, key);
        let v = self.scalar(src, key, "a string", |v| v.as_str().map(str::to_string))?;
        self.record(src, &declared, key, keys::toml_string(&v.value));
        Some(v)
    }

    /// A boolean value.
    pub fn boolean(&mut self, src: &mut Source<'_>, key: &str) -> Option<Located<bool>> {
        let declared = self.declared(key);
        debug_assert!(
            matches!(declared.value, Value::Bool),
            "`{key}` is not a boolean"
        );
        let v = self.scalar(src, key, "true or false", |v| v.as_bool())?;
        self.record(src, &declared, key, v.value.to_string());
        Some(v)
    }

    /// An integer value within its declared range (`None`, reported, when outside it).
    pub fn integer(&mut self, src: &mut Source<'_>, key: &str) -> Option<Located<i64>> {
        let declared = self.declared(key);
        let range = declared.range();
        debug_assert!(range.is_some(), "`{key}` is not an integer");
        let v = self.scalar(src, key, "a whole number", whole_number)?;
        if let Some(range) = range.filter(|r| !r.contains(&v.value)) {
            src.error(
                v.offset,
                &v.field,
                format!(
                    "{} is out of range: between {} and {}",
                    v.value,
                    range.start(),
                    range.end()
                ),
                None,
            );
            return None;
        }
        self.record(src, &declared, key, v.value.to_string());
        Some(v)
    }

    /// An array of strings (each element located).
    pub fn strings(&mut self, src: &mut Source<'_>, key: &str) -> Option<Vec<Located<String>>> {
        let declared = self.declared(key);
        debug_assert!(
            matches!(declared.value, Value::Strs | Value::OneOrMoreStrs),
            "`{key}` is not a list of strings"
        );
        let items = self.list(
            src,
            key,
            ("strings", "a string"),
            "[\"games\", \"social\"]",
            |v| v.as_str().map(str::to_string),
        )?;
        let shown = keys::toml_list(items.iter().map(|i| keys::toml_string(&i.value)));
        self.record(src, &declared, key, shown);
        Some(items)
    }

    /// One string or an array of them (`dns = "a"` or `dns = ["a", "b"]`), shown as a list
    /// either way.
    pub fn one_or_more_strings(
        &mut self,
        src: &mut Source<'_>,
        key: &str,
    ) -> Option<Vec<Located<String>>> {
        let declared = self.declared(key);
        debug_assert!(
            matches!(declared.value, Value::OneOrMoreStrs),
            "`{key}` is not one or more strings"
        );
        if self
            .table
            .get(key)
            .is_some_and(|v| v.get_ref().as_str().is_some())
        {
            let v = self.scalar(src, key, "a string", |v| v.as_str().map(str::to_string))?;
            self.record(
                src,
                &declared,
                key,
                keys::toml_list([keys::toml_string(&v.value)]),
            );
            return Some(vec![v]);
        }
        self.strings(src, key)
    }

    /// An array of whole numbers (each element located; their meaning is the caller's to check).
    pub fn integers(&mut self, src: &mut Source<'_>, key: &str) -> Option<Vec<Located<i64>>> {
        let declared = self.declared(key);
        debug_assert!(
            matches!(declared.value, Value::Ints),
            "`{key}` is not a list of integers"
        );
        let items = self.list(
            src,
            key,
            ("numbers", "a whole number"),
            "[443, 8443]",
            whole_number,
        )?;
        let shown = keys::toml_list(items.iter().map(|i| i.value.to_string()));
        self.record(src, &declared, key, shown);
        Some(items)
    }

    /// An array whose elements `read` accepts; `what` names the list and one element for
    /// messages, `example` shows a good value.
    fn list<T>(
        &mut self,
        src: &mut Source<'_>,
        key: &str,
        what: (&str, &str),
        example: &str,
        read: impl Fn(&DeValue<'_>) -> Option<T>,
    ) -> Option<Vec<Located<T>>> {
        let field = self.key_path(key);
        let v = self.raw(key)?;
        let Some(arr) = v.get_ref().as_array() else {
            src.error(
                v.span().start,
                &field,
                format!(
                    "expected a list of {}, found {}",
                    what.0,
                    type_name(v.get_ref())
                ),
                Some(&format!("write e.g. {example}")),
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in arr.iter().enumerate() {
            match read(item.get_ref()) {
                Some(value) => out.push(Located {
                    value,
                    line: src.line_of(item.span().start),
                    offset: item.span().start,
                    field: format!("{field}[{i}]"),
                }),
                None => src.error(
                    item.span().start,
                    &format!("{field}[{i}]"),
                    format!("expected {}, found {}", what.1, type_name(item.get_ref())),
                    None,
                ),
            }
        }
        Some(out)
    }

    /// The section a table-valued key opens.
    fn sub_section(&self, key: &str) -> &'static Section {
        let section = self.declared(key).value.section();
        debug_assert!(section.is_some(), "`{key}` is not a table");
        section.unwrap_or(&super::schema::TOP)
    }

    /// A sub-table.
    pub fn table(&mut self, src: &mut Source<'_>, key: &str) -> Option<Fields<'t, 'i>> {
        let section = self.sub_section(key);
        let field = self.key_path(key);
        let v = self.raw(key)?;
        sub_table(src, v, &field, section)
    }

    /// An array of tables (`[[key]]`).
    pub fn tables(&mut self, src: &mut Source<'_>, key: &str) -> Vec<Fields<'t, 'i>> {
        let section = self.sub_section(key);
        let field = self.key_path(key);
        let Some(v) = self.raw(key) else {
            return Vec::new();
        };
        let Some(arr): Option<&DeArray<'i>> = v.get_ref().as_array() else {
            src.error(
                v.span().start,
                &field,
                format!(
                    "expected an array of tables, found {}",
                    type_name(v.get_ref())
                ),
                Some(&format!("write each entry as [[{field}]]")),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in arr.iter().enumerate() {
            match item.get_ref().as_table() {
                Some(t) => out.push(Fields::new(
                    t,
                    &format!("{field}[{i}]"),
                    item.span().start,
                    section,
                )),
                None => src.error(
                    item.span().start,
                    &format!("{field}[{i}]"),
                    "expected a table",
                    None,
                ),
            }
        }
        out
    }

    /// The entries of the map at `key` (declared [`Value::Map`]) in file order, each name with its
    /// table, for maps like `[groups.NAME]`.
    pub fn entries(
        &mut self,
        src: &mut Source<'_>,
        key: &str,
    ) -> Vec<(Located<String>, Option<Fields<'t, 'i>>)> {
        let section = self.sub_section(key);
        let field = self.key_path(key);
        let Some(v) = self.raw(key) else {
            return Vec::new();
        };
        let Some(map) = v.get_ref().as_table() else {
            src.error(
                v.span().start,
                &field,
                format!("expected a table, found {}", type_name(v.get_ref())),
                None,
            );
            return Vec::new();
        };
        let mut items: Vec<_> = map.iter().collect();
        items.sort_by_key(|(k, _)| k.span().start);
        let mut out = Vec::new();
        for (k, v) in items {
            let entry = format!("{field}.{}", k.get_ref());
            let name = Located {
                value: k.get_ref().to_string(),
                line: src.line_of(k.span().start),
                offset: k.span().start,
                field: entry.clone(),
            };
            let sub = sub_table(src, v, &entry, section);
            out.push((name, sub));
        }
        out
    }

    /// Reports every key that was not read as unknown, suggesting the closest declared one;
    /// records the declared default of every key left out (and of sections left out whole)
    /// for the key-by-key view.
    pub fn finish(self, src: &mut Source<'_>) {
        let known = self.section.names();
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref();
            if self.used.contains(&name) {
                continue;
            }
            let hint = closest(name, &known).map(|c| format!("did you mean `{c}`?"));
            let hint = hint.unwrap_or_else(|| format!("known keys here: {}", known.join(", ")));
            src.error(
                k.span().start,
                &self.key_path(name),
                "unknown key",
                Some(&hint),
            );
        }
        for key in self.section.keys {
            if !self.table.contains_key(key.name) {
                record_defaults(src, &self.key_path(key.name), key);
            }
        }
    }
}

/// The declared default of a key left out, and of every key of a section left out whole.
fn record_defaults(src: &mut Source<'_>, path: &str, key: &Key) {
    match key.value {
        Value::Table(section) => {
            for sub in section.keys {
                record_defaults(src, &format!("{path}.{}", sub.name), sub);
            }
        }
        // No entries, nothing to default.
        Value::Tables(_) | Value::Map(_) => {}
        _ => {
            if let Absent::Is(default) = key.absent {
                src.values.push((path.to_string(), default.to_string()));
            }
        }
    }
}

/// A TOML integer in any radix, with `_` separators.
fn whole_number(v: &DeValue<'_>) -> Option<i64> {
    v.as_integer()
        .and_then(|i| i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok())
}

/// The known name closest to a misspelt one (Levenshtein distance ≤ 2, the nearest first), for
/// hints.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn the_closest_key_within_two_edits_is_suggested() {
        let known = ["block", "allow", "allow_list_only"];
        assert_eq!(closest("blok", &known), Some("block"));
        assert_eq!(closest("alow", &known), Some("allow"));
        // Nearest wins over an earlier entry further away.
        assert_eq!(closest("allw", &["alloww", "allow"]), Some("allow"));
        assert_eq!(closest("youtube", &known), None);
    }
}
