//! HTML escaping for the page templates: `askama.toml` makes [`Html`] the escaper of every
//! `.html` template, so each `{{ value }}` is escaped without the template asking.

use std::fmt::{self, Write};

/// Escapes text for HTML element content and for double- or single-quoted attribute values.
///
/// Escaping `'` and `"` as well as `<`, `>` and `&` means one escaper is safe in both places,
/// so a template cannot put a value where its escaping is wrong. Other characters (including
/// non-ASCII) pass through unchanged: pages are UTF-8. The entities are the named ones
/// (`&lt;`, not askama's default `&#60;`), as the pages have always written them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        let mut plain_from = 0;
        for (at, byte) in text.bytes().enumerate() {
            let entity = match byte {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&text[plain_from..at])?;
            dest.write_str(entity)?;
            plain_from = at + 1;
        }
        dest.write_str(&text[plain_from..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::filters::Escaper as _;

    fn escape(text: &str) -> String {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, text).unwrap();
        out
    }

    #[test]
    fn escapes_markup_quotes_and_ampersands() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("it's"), "it&#39;s");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(escape("Ysgol Gymraeg – café"), "Ysgol Gymraeg – café");
        assert_eq!(escape("<é>"), "&lt;é&gt;");
        assert_eq!(escape(""), "");
    }
}
