//! HTML escaping: every value interpolated into a page goes through [`escape_html`].

/// Escapes text for HTML element content and for double- or single-quoted attribute values.
///
/// Escaping `'` and `"` as well as `<`, `>` and `&` means one function is safe in both places,
/// so a call site cannot pick the wrong one. Other characters (including non-ASCII) pass
/// through unchanged: pages are UTF-8.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    push_escaped(&mut out, text);
    out
}

/// Appends `text`, escaped as by [`escape_html`], to `out`.
pub(crate) fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_ampersands() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape_html("it's"), "it&#39;s");
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
        assert_eq!(escape_html("Ysgol Gymraeg – café"), "Ysgol Gymraeg – café");
        assert_eq!(escape_html(""), "");
    }
}
