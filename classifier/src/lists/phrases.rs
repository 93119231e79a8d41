//! Phrase-list loader: e2guardian weighted phrase lists and Lychgate's native phrase format.
//!
//! The native format is e2guardian's weighted-phrase syntax plus directives (see
//! `docs/phrases.md` and `blocklists/phrases/README.md`):
//!
//! ```text
//! #category: selfharm          # applies to the lines that follow (names, `none`/`all`)
//! #theme: suicide              # one theme or several separated by `,`; `none`/`all`
//! #severity: danger            # advisory | warning | danger
//! #weight: 100                 # default weight for lines that give none
//! #inflect: on                 # words also match their English inflections (hits/hitting/hit)
//! #class: adult = dad, mum, uncle   # a word class, used as a part: `<@adult>`
//! #window: 6                   # combinations must fall within 6 words (0/none: anywhere)
//! <@adult>,< hits >,< me ><100> # a frame: an adult, an act, the child, in any order
//! < kill myself ><100>         # spaces at the ends: whole words only
//! <overdose>,< how many ><60>  # combination: scores only when every part occurs
//! < unalive ><100><suicide:danger>  # per-line override(s) after the weight
//! < bamboo shoots ><-100><theme=violence><category=all>
//! #listcategory: "Pornography" # e2guardian: sets the category (and the theme if none was set)
//! .Include<other-list.txt>     # relative to this file's folder
//! ```
//!
//! A bad line becomes a [`ListWarning`] and loading goes on; only an unreadable top-level file is
//! an error. Included files inherit the directives in force at the `.Include` line; their own
//! directives do not leak back. Phrases from included files carry the top-level list's
//! [`ListId`] and their own line numbers.

use std::path::{Path, PathBuf};

use crate::category::{Categories, CategoryId};
use crate::concern::{Severity, Theme};
use crate::files::{self, MAX_LIST_BYTES};
use crate::lists::{ListError, lines};
use crate::phrases::{
    MAX_PHRASE_PARTS, PhraseMeta, PhraseScope, PhraseSetBuilder, RuleOptions, normalise,
};
use crate::source::{ListId, ListWarning, SourceRef};

/// How deep `.Include` may nest.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// What loading a phrase list produced.
#[derive(Debug, Default)]
pub struct PhraseLoadStats {
    /// Phrase lines read (a line naming several themes or categories still counts once).
    pub phrases: usize,
    /// Of which combinations (`<a>,<b><w>`).
    pub combos: usize,
    /// Of which good context (negative weight).
    pub good_context: usize,
    /// Entries added to the builder (a line naming several themes or categories adds several).
    pub entries: usize,
    /// Files included with `.Include`.
    pub includes: usize,
    /// Bad lines, with file and line.
    pub warnings: Vec<ListWarning>,
}

/// Directives in force.
#[derive(Debug, Clone)]
struct Context {
    categories: Vec<Option<CategoryId>>,
    themes: Vec<Option<Theme>>,
    theme_explicit: bool,
    severity: Severity,
    default_weight: Option<i32>,
    /// `#inflect: on`: phrases also match their English inflections.
    inflect: bool,
    /// `#window: N`: combinations must fall within N words (0: anywhere).
    window: u16,
    /// `#class: name = word, word ...`: word classes for `<@name>` parts.
    classes: Vec<(String, Vec<String>)>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            categories: vec![None],
            themes: vec![None],
            theme_explicit: false,
            severity: Severity::Advisory,
            default_weight: None,
            inflect: false,
            window: 0,
            classes: Vec::new(),
        }
    }
}

struct Loader<'a> {
    list: ListId,
    categories: &'a Categories,
    builder: &'a mut PhraseSetBuilder,
    stats: PhraseLoadStats,
    /// Canonical paths of the files being read, outermost first.
    stack: Vec<PathBuf>,
}

/// Loads a phrase list file (e2guardian or native format) into `builder`.
pub fn load_phrases(
    path: &Path,
    list: ListId,
    categories: &Categories,
    builder: &mut PhraseSetBuilder,
) -> Result<PhraseLoadStats, ListError> {
    let text = read_phrase_file(path)?;
    let mut loader = Loader {
        list,
        categories,
        builder,
        stats: PhraseLoadStats::default(),
        stack: vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())],
    };
    let mut ctx = Context::default();
    loader.parse(path, &text, &mut ctx, true);
    Ok(loader.stats)
}

/// Loads phrase-list text already in memory (the embedded default lists); `path` names it in
/// warnings. `.Include` lines are refused with a warning, as there is no folder to read from.
pub fn load_phrases_str(
    path: &Path,
    text: &str,
    list: ListId,
    categories: &Categories,
    builder: &mut PhraseSetBuilder,
) -> Result<PhraseLoadStats, ListError> {
    let mut loader = Loader {
        list,
        categories,
        builder,
        stats: PhraseLoadStats::default(),
        stack: Vec::new(),
    };
    let mut ctx = Context::default();
    loader.parse(path, text, &mut ctx, false);
    Ok(loader.stats)
}

/// Reads a phrase list: a regular file of at most [`MAX_LIST_BYTES`], UTF-8 text with no NUL
/// byte (which would mean a binary file).
fn read_phrase_file(path: &Path) -> Result<String, ListError> {
    let bytes =
        files::read_regular(path, MAX_LIST_BYTES).map_err(|e| ListError::from_file(path, e))?;
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(ListError::Binary {
            path: path.into(),
            line: line_of(&bytes, at),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = line_of(e.as_bytes(), at);
        ListError::Io {
            path: path.into(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line {line} is not UTF-8 text (a phrase list must be UTF-8)"),
            ),
        }
    })
}

/// The 1-based line holding byte `at`.
fn line_of(bytes: &[u8], at: usize) -> u32 {
    let newlines = bytes[..at].iter().filter(|&&b| b == b'\n').count();
    u32::try_from(newlines + 1).unwrap_or(u32::MAX)
}

/// A category as written in a list: a canonical name, or a common e2guardian `listcategory` name.
pub fn resolve_category(categories: &Categories, name: &str) -> Option<CategoryId> {
    let lower = name.trim().trim_matches('"').trim().to_lowercase();
    if let Some(id) = categories.id(&lower) {
        return Some(id);
    }
    let canonical = match lower.as_str() {
        "pornography" | "porn" | "sex" | "sexual" | "nudism" | "nudity" | "adult sites"
        | "adult content" => "adult",
        "drug" | "illegal drugs" | "drug advocacy" | "alcohol" => "drugs",
        "gore" | "violent" => "violence",
        "weapon" | "guns" | "firearms" => "weapons",
        "self harm" | "self-harm" | "suicide" | "eating disorders" => "selfharm",
        "proxy" | "proxies" | "anonymizers" | "anonymisers" | "vpn" => "bypass",
        "hacking" | "phishing" | "spyware" => "malware",
        "racism" | "hate" | "intolerance" | "hate speech" => "discrimination",
        "terrorism" | "radicalisation" | "radicalization" | "extremist" => "extremism",
        "chat" | "instant messaging" => "messaging",
        "gaming" | "online games" => "games",
        "personals" | "dating sites" => "dating",
        "warez" | "pirate" => "piracy",
        "social networking" | "social media" => "social",
        "gambling sites" | "betting" => "gambling",
        other => return categories.id(&other.replace(' ', "-")),
    };
    categories.id(canonical)
}

/// The safeguarding theme a category implies, for e2guardian lists with no `#theme:`.
pub fn theme_for_category(categories: &Categories, id: CategoryId) -> Option<Theme> {
    Some(match categories.name(id) {
        "adult" | "dating" => Theme::Adult,
        "drugs" => Theme::Substance,
        "extremism" | "illegal" => Theme::Radicalisation,
        "selfharm" => Theme::Suicide,
        "violence" | "weapons" => Theme::Violence,
        "malware" => Theme::Criminal,
        _ => return None,
    })
}

/// One `<...>` group of a phrase line.
struct Group<'t> {
    text: &'t str,
    after_comma: bool,
}

impl Loader<'_> {
    /// Records a warning; what it quotes from the line is escaped (see [`lines::quote`]).
    fn warn(&mut self, path: &Path, line: u32, message: impl Into<String>) {
        let message: String = message.into();
        let mut shown = String::with_capacity(message.len());
        for c in message.chars() {
            lines::push_shown(&mut shown, c);
        }
        self.stats.warnings.push(ListWarning {
            path: path.to_path_buf(),
            line,
            message: shown,
        });
    }

    fn parse(&mut self, path: &Path, text: &str, ctx: &mut Context, includes_allowed: bool) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, raw) in text.lines().enumerate() {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let line = raw.trim_end_matches('\r');
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('#') {
                self.directive(path, line_no, rest, ctx);
            } else if let Some(rest) = strip_prefix_ci(trimmed, ".include") {
                self.include(path, line_no, rest, ctx, includes_allowed);
            } else if trimmed.starts_with('<') {
                self.phrase_line(path, line_no, trimmed, ctx);
            } else {
                self.warn(
                    path,
                    line_no,
                    "not a phrase line: phrases are written `<phrase><weight>`",
                );
            }
        }
    }

    fn directive(&mut self, path: &Path, line: u32, rest: &str, ctx: &mut Context) {
        let Some((key, value)) = rest.split_once(':') else {
            return; // a comment
        };
        let key = key.to_ascii_lowercase();
        // Only `#key:` with no space after `#` is a directive; anything else is a comment.
        if key.is_empty() || key.contains(char::is_whitespace) {
            return;
        }
        let value = value.split(" #").next().unwrap_or("").trim();
        match key.as_str() {
            "category" => {
                let mut cats = Vec::new();
                for name in value.split(',').map(str::trim) {
                    if name == "all" || name == "none" {
                        cats.push(None);
                    } else if let Some(id) = resolve_category(self.categories, name) {
                        cats.push(Some(id));
                    } else {
                        self.warn(path, line, format!("unknown category `{name}`"));
                    }
                }
                if !cats.is_empty() {
                    cats.dedup();
                    ctx.categories = cats;
                }
            }
            "listcategory" => match resolve_category(self.categories, value) {
                Some(id) => {
                    ctx.categories = vec![Some(id)];
                    if !ctx.theme_explicit {
                        ctx.themes = vec![theme_for_category(self.categories, id)];
                    }
                }
                None => {
                    // e2guardian list categories are free text: keep loading, just uncategorised.
                    ctx.categories = vec![None];
                    if !ctx.theme_explicit {
                        ctx.themes = vec![None];
                    }
                }
            },
            "theme" => {
                let mut themes = Vec::new();
                for name in value.split(',').map(str::trim) {
                    if name == "all" || name == "none" {
                        themes.push(None);
                    } else if let Ok(t) = name.parse::<Theme>() {
                        themes.push(Some(t));
                    } else {
                        self.warn(path, line, format!("unknown theme `{name}`"));
                    }
                }
                if !themes.is_empty() {
                    themes.dedup();
                    ctx.themes = themes;
                    ctx.theme_explicit = true;
                }
            }
            "severity" => match value.parse::<Severity>() {
                Ok(s) => ctx.severity = s,
                Err(()) => self.warn(
                    path,
                    line,
                    format!("unknown severity `{value}` (advisory, warning or danger)"),
                ),
            },
            "weight" => match parse_weight(value) {
                Some(w) => ctx.default_weight = Some(w),
                None if value == "none" => ctx.default_weight = None,
                None => self.warn(path, line, format!("bad default weight `{value}`")),
            },
            "inflect" => match value {
                "on" => ctx.inflect = true,
                "off" => ctx.inflect = false,
                _ => self.warn(path, line, format!("bad inflect `{value}` (on or off)")),
            },
            "window" => match value.parse::<u16>() {
                Ok(n) if n <= 64 => ctx.window = n,
                _ if value == "none" => ctx.window = 0,
                _ => self.warn(
                    path,
                    line,
                    format!("bad window `{value}` (a number of words, 0 to 64, or none)"),
                ),
            },
            "class" => {
                let Some((name, members)) = value.split_once('=') else {
                    self.warn(path, line, "write `#class: name = word, word ...`");
                    return;
                };
                let name = name.trim();
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                {
                    self.warn(
                        path,
                        line,
                        format!("bad class name `{name}` (a-z, 0-9 and -)"),
                    );
                    return;
                }
                let members: Vec<String> = members
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !normalise(m).is_empty())
                    .map(|m| format!(" {m} "))
                    .collect();
                if members.is_empty() {
                    self.warn(path, line, format!("class `{name}` has no words"));
                    return;
                }
                ctx.classes.retain(|(n, _)| n != name);
                ctx.classes.push((name.to_string(), members));
            }
            _ => {} // other `#word:` lines are comments
        }
    }

    fn include(
        &mut self,
        path: &Path,
        line: u32,
        rest: &str,
        ctx: &Context,
        includes_allowed: bool,
    ) {
        let rest = rest.trim();
        let Some(target) = rest
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            self.warn(path, line, "bad include: write `.Include<path>`");
            return;
        };
        if !includes_allowed {
            self.warn(
                path,
                line,
                format!("`.Include<{target}>` is not supported in an embedded list"),
            );
            return;
        }
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.warn(
                path,
                line,
                format!("`.Include<{target}>` nests deeper than {MAX_INCLUDE_DEPTH} files"),
            );
            return;
        }
        let target_path = match path.parent() {
            Some(dir) if Path::new(target).is_relative() => dir.join(target),
            _ => PathBuf::from(target),
        };
        let canonical = std::fs::canonicalize(&target_path).unwrap_or_else(|_| target_path.clone());
        if self.stack.contains(&canonical) {
            self.warn(
                path,
                line,
                format!("`.Include<{target}>` includes itself (cycle): skipped"),
            );
            return;
        }
        let text = match read_phrase_file(&target_path) {
            Ok(t) => t,
            Err(e) => {
                self.warn(path, line, format!("cannot read: {e}"));
                return;
            }
        };
        self.stats.includes += 1;
        self.stack.push(canonical);
        let mut inner = ctx.clone();
        self.parse(&target_path, &text, &mut inner, true);
        self.stack.pop();
    }

    fn phrase_line(&mut self, path: &Path, line: u32, text: &str, ctx: &Context) {
        let mut groups: Vec<Group<'_>> = Vec::new();
        let mut rest = text;
        let mut after_comma = false;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            if let Some(r) = rest.strip_prefix(',') {
                if after_comma || groups.is_empty() {
                    self.warn(path, line, "stray `,`");
                    return;
                }
                after_comma = true;
                rest = r;
                continue;
            }
            if rest.starts_with('#') {
                break; // trailing comment
            }
            let Some(r) = rest.strip_prefix('<') else {
                self.warn(path, line, format!("unexpected text `{}`", rest.trim()));
                return;
            };
            let Some(end) = r.find('>') else {
                self.warn(path, line, "missing `>`");
                return;
            };
            let inner = &r[..end];
            if inner.contains('<') {
                self.warn(path, line, "`<` inside a phrase");
                return;
            }
            groups.push(Group {
                text: inner,
                after_comma,
            });
            after_comma = false;
            rest = &r[end + 1..];
        }
        if after_comma {
            self.warn(path, line, "`,` must be followed by another `<part>`");
            return;
        }
        // Parts: the first group and every group after a comma; then the weight; then overrides.
        let mut n_parts = 1;
        while n_parts < groups.len() && groups[n_parts].after_comma {
            n_parts += 1;
        }
        let (parts, tail) = groups.split_at(n_parts);
        let mut tail = tail.iter();
        let weight = match tail.next() {
            Some(g) => match parse_weight(g.text) {
                Some(w) => w,
                None => {
                    self.warn(path, line, format!("bad weight `<{}>`", g.text));
                    return;
                }
            },
            None => match ctx.default_weight {
                Some(w) => w,
                None => {
                    self.warn(
                        path,
                        line,
                        "no weight: write `<phrase><weight>` or set `#weight:`",
                    );
                    return;
                }
            },
        };
        let mut themes = ctx.themes.clone();
        let mut categories = ctx.categories.clone();
        let mut severity = ctx.severity;
        for g in tail {
            if let Err(msg) =
                self.apply_override(g.text, &mut themes, &mut categories, &mut severity)
            {
                self.warn(path, line, msg);
                return;
            }
        }
        if parts.len() > MAX_PHRASE_PARTS {
            self.warn(
                path,
                line,
                format!("more than {MAX_PHRASE_PARTS} parts in a combination"),
            );
            return;
        }
        let mut part_texts: Vec<&str> = Vec::with_capacity(parts.len());
        let mut alternatives: Vec<Vec<String>> = Vec::with_capacity(parts.len());
        for g in parts {
            if let Some(class) = g.text.trim().strip_prefix('@') {
                match ctx.classes.iter().find(|(n, _)| n == class) {
                    Some((_, members)) => {
                        alternatives.push(members.clone());
                        part_texts.push(g.text);
                        continue;
                    }
                    None => {
                        self.warn(
                            path,
                            line,
                            format!("unknown class `@{class}` (define it with `#class:` above)"),
                        );
                        return;
                    }
                }
            }
            alternatives.push(vec![g.text.to_string()]);
            if normalise(g.text).is_empty() {
                self.warn(
                    path,
                    line,
                    format!("`<{}>` has no letters or digits to match", g.text),
                );
                return;
            }
            part_texts.push(g.text);
        }
        if weight == 0 {
            self.warn(path, line, "weight 0 has no effect");
            return;
        }
        self.stats.phrases += 1;
        if part_texts.len() > 1 {
            self.stats.combos += 1;
        }
        if weight < 0 {
            self.stats.good_context += 1;
        }
        let source = SourceRef {
            list: self.list,
            line,
        };
        // A line naming several themes and categories adds one entry per position, pairing
        // them in order; past the end of the shorter list an entry counts towards the longer
        // list only, so each theme and each category counts the line once.
        let n = themes.len().max(categories.len());
        for i in 0..n {
            let scope = PhraseScope {
                theme: i < themes.len(),
                category: i < categories.len(),
            };
            let theme = themes.get(i).copied().flatten();
            let category = categories.get(i).copied().flatten();
            let meta = PhraseMeta {
                weight,
                category,
                theme,
                severity,
                source,
            };
            let options = RuleOptions {
                inflect: ctx.inflect,
                window: ctx.window,
            };
            self.builder
                .add_rule(&alternatives, &part_texts.join(","), meta, scope, options);
            self.stats.entries += 1;
        }
    }

    /// `<theme>`, `<severity>`, `<theme:severity>`, `<theme=..>`, `<category=..>`, `<severity=..>`.
    fn apply_override(
        &self,
        text: &str,
        themes: &mut Vec<Option<Theme>>,
        categories: &mut Vec<Option<CategoryId>>,
        severity: &mut Severity,
    ) -> Result<(), String> {
        let text = text.trim();
        let theme_of = |name: &str| -> Result<Option<Theme>, String> {
            match name.trim() {
                "all" | "none" => Ok(None),
                n => n
                    .parse::<Theme>()
                    .map(Some)
                    .map_err(|()| format!("unknown theme `{n}`")),
            }
        };
        let severity_of = |name: &str| -> Result<Severity, String> {
            name.trim()
                .parse::<Severity>()
                .map_err(|()| format!("unknown severity `{}`", name.trim()))
        };
        if let Some((key, value)) = text.split_once('=') {
            match key.trim() {
                "theme" => *themes = vec![theme_of(value)?],
                "severity" => *severity = severity_of(value)?,
                "category" => {
                    *categories = vec![match value.trim() {
                        "all" | "none" => None,
                        v => Some(
                            resolve_category(self.categories, v)
                                .ok_or_else(|| format!("unknown category `{v}`"))?,
                        ),
                    }]
                }
                k => return Err(format!("unknown override `{k}=`")),
            }
        } else if let Some((t, s)) = text.split_once(':') {
            *themes = vec![theme_of(t)?];
            *severity = severity_of(s)?;
        } else if let Ok(s) = text.parse::<Severity>() {
            *severity = s;
        } else if let Ok(t) = text.parse::<Theme>() {
            *themes = vec![Some(t)];
        } else {
            return Err(format!(
                "unknown override `<{text}>`: write <theme:severity>, <theme>, <severity> or <category=name>"
            ));
        }
        Ok(())
    }
}

fn parse_weight(text: &str) -> Option<i32> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    t.parse::<i32>()
        .ok()
        .filter(|w| w.unsigned_abs() <= 1_000_000)
}

fn strip_prefix_ci<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phrases::PhraseScratch;

    fn load(text: &str) -> (crate::phrases::PhraseSet, PhraseLoadStats) {
        let cats = Categories::default();
        let mut b = PhraseSetBuilder::new();
        let stats =
            load_phrases_str(Path::new("test.txt"), text, ListId(3), &cats, &mut b).unwrap();
        (b.build(), stats)
    }

    #[test]
    fn classes_and_windows_make_frames() {
        let (set, stats) = load(
            "#theme: abuse\n#severity: danger\n#inflect: on\n\
             #class: adult = dad, mums boyfriend, uncle\n#class: hurt = hits, kicks\n\
             #window: 4\n<@adult>,<@hurt>,< me ><100>\n\
             #window: none\n<@adult>,< scares me ><100>\n\
             <@nobody>,< x ><100>\n#class: bad name = a\n#window: lots\n",
        );
        assert_eq!(stats.warnings.len(), 3, "{:?}", stats.warnings);
        let mut s = PhraseScratch::new();
        for text in [
            "my dad hits me",
            "mums boyfriend keeps kicking me",
            "uncle keeps hitting me",
            "my dad scares me but it is fine really and more words here",
        ] {
            assert!(
                set.scan(text, &mut s).concern(Theme::Abuse).is_some(),
                "{text}"
            );
        }
        // The words of a frame must be near one another.
        assert!(
            !set.scan(
                "my dad says the new game hits hard with lots of levels for me",
                &mut s
            )
            .has_concern()
        );
        assert!(!set.scan("dad hits the ball", &mut s).has_concern());
        let r = set.scan("my dad hits me", &mut s);
        assert_eq!(set.text(r.concerns[0].unwrap().phrase), "@adult,@hurt, me ");
    }

    #[test]
    fn inflect_directive_turns_inflections_on_and_off() {
        let (set, stats) = load(
            "#theme: abuse\n#severity: danger\n#inflect: on\n< my dad hits me ><100>\n\
             < hurt myself ><40>\n< hurting myself ><100>\n\
             #inflect: off\n< tablets ><60>\n#inflect: maybe\n",
        );
        assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
        assert!(stats.warnings[0].message.contains("inflect"));
        let mut s = PhraseScratch::new();
        for text in ["my dad hit me", "my dad hitting me", "my dad hits me"] {
            assert!(
                set.scan(text, &mut s).concern(Theme::Abuse).is_some(),
                "{text}"
            );
        }
        assert!(!set.scan("my dad hat me", &mut s).has_concern());
        // A form the list wrote keeps its own weight (`hurt myself` is 40, not 100), and an
        // inflection both could reach belongs to the first (`hurts myself`: 40).
        assert!(
            !set.scan("i hurt myself playing football", &mut s)
                .has_concern()
        );
        assert!(!set.scan("he hurts myself", &mut s).has_concern());
        assert!(set.scan("hurting myself", &mut s).has_concern());
        assert!(!set.scan("my tablet", &mut s).has_concern());
        assert!(set.scan("tablets", &mut s).has_concern());
    }

    #[test]
    fn native_directives_and_overrides() {
        let (set, stats) = load(
            "# comment: not a directive\n\
             #category: selfharm\n#theme: suicide-selfharm\n#severity: danger\n\
             < kill myself ><100>\n\
             <overdose>,< how many ><60><warning>\n\
             < sad ><20><bullying:advisory>\n\
             #theme: all\n#category: all\n< kill time ><-200>\n",
        );
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        assert_eq!((stats.phrases, stats.combos, stats.good_context), (4, 1, 1));
        let mut s = PhraseScratch::new();
        let r = set.scan("I want to kill myself", &mut s);
        let c = r.concern(Theme::Suicide).unwrap();
        assert_eq!(c.severity, Severity::Danger);
        assert_eq!(set.meta(c.phrase).source.line, 5);
        assert_eq!(set.meta(c.phrase).source.list, ListId(3));
        let r = set.scan("how many pills for an overdose", &mut s);
        assert_eq!(
            r.concern(Theme::Suicide).unwrap().severity,
            Severity::Warning
        );
        assert!(!set.scan("kill time kill myself", &mut s).has_concern());
    }

    #[test]
    fn e2guardian_syntax() {
        let (set, stats) =
            load("#listcategory: \"Pornography\"\n< sex ><50>\n<porn><100>\n<xxx>,<video><40>\n");
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        let mut s = PhraseScratch::new();
        let r = set.scan("free porn", &mut s);
        let c = r.concern(Theme::Adult).unwrap();
        assert_eq!(c.severity, Severity::Advisory);
        assert_eq!(
            r.category_score(Categories::default().id("adult").unwrap()),
            100
        );
    }

    #[test]
    fn bad_lines_warn_and_loading_goes_on() {
        let (set, stats) = load(
            "<a><b><c>\nplain text\n<x><notanumber>\n<unclosed\n<!!!><10>\n#severity: huge\n\
             #theme: nonsense\n< ok ><60><adult:danger>\n.Include<foo.txt>\n<y><5><zzz>\n,<q><1>\n<kill><0>\n",
        );
        assert_eq!(set.len(), 1);
        let lines: Vec<u32> = stats.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12]);
    }
}
