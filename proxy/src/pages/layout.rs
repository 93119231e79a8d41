//! The page shell every Lychgate page shares (`templates/layout.html`: document head, inline
//! style, branded header), and what pages format the same way.
//!
//! Design choices, all for pupils aged 4–11 on whatever screen they have: `lang="en-GB"` so
//! screen readers pronounce it right; system fonts only (nothing to download); 20 px base text
//! and a 32 px heading; one column that fits a 320 px wide screen, with long URLs wrapping
//! instead of widening the page; text colours picked from the school's colours to meet WCAG AA
//! contrast; a visible focus outline for keyboard users.

use askama::Template;

use super::Page;

/// Renders a page template into a [`Page`].
///
/// Rendering only writes escaped strings into a `String`, which cannot fail; should a value's
/// formatting ever fail, the client still gets a page with the right status (and the error is
/// logged) rather than a dropped connection.
pub(crate) fn render_page(
    template: &impl Template,
    status: http::StatusCode,
    form_action: Option<String>,
) -> Page {
    let body = template.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "a Lychgate page could not be rendered");
        UNRENDERABLE.to_string()
    });
    Page {
        status,
        body,
        form_action,
    }
}

/// The body sent if a page template failed to render.
const UNRENDERABLE: &str = "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n\
    <title>Lychgate</title>\n</head>\n<body>\n<p>The web filter could not show this page. \
    Please tell the IT technician.</p>\n</body>\n</html>\n";

/// Formats the time a page was made, the way a teacher says it: "12:34 on Monday 30 November
/// 2026".
pub(crate) fn human_time(time: &jiff::ZonedDateTime) -> String {
    time.strftime("%H:%M on %A %-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::branding::{Branding, InlineLogo, parse_colour};

    /// The shell around a fixed `main`.
    #[derive(Template)]
    #[template(
        ext = "html",
        source = "{% extends \"layout.html\" %}{% block main %}<p>hello</p>\n{% endblock %}"
    )]
    struct Shell<'a> {
        branding: &'a Branding,
        title: &'a str,
    }

    fn document(branding: &Branding, title: &str) -> String {
        Shell { branding, title }.render().unwrap()
    }

    #[test]
    fn shell_is_self_contained_and_escapes_the_school_name() {
        let branding = Branding {
            school_name: "St Clement's <C of E> & Primary".to_string(),
            logo: InlineLogo::from_bytes(crate::pages::branding::tests::TINY_PNG),
            primary_colour: parse_colour("#ffcc00").unwrap(),
            ..Branding::default()
        };
        let html = document(&branding, "Blocked");
        assert!(html.contains("<main>\n<p>hello</p>\n</main>\n"));
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en-GB\">"));
        assert!(html.contains("St Clement&#39;s &lt;C of E&gt; &amp; Primary"));
        assert!(!html.contains("<C of E>"));
        assert!(html.contains("<img src=\"data:image/png;base64,"));
        // Yellow header: dark text.
        assert!(html.contains("header{background:#ffcc00;color:#000000;"));
        assert!(html.contains("<meta name=\"viewport\""));
        for external in ["<script", "<link", "http://", "https://", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
    }

    #[test]
    fn time_reads_like_a_person_says_it() {
        let t: jiff::ZonedDateTime = "2026-11-30T09:05:00[Europe/London]".parse().unwrap();
        assert_eq!(human_time(&t), "09:05 on Monday 30 November 2026");
    }

    /// A value whose formatting fails, which no page has: the fallback is still a page.
    struct Unprintable;

    impl std::fmt::Display for Unprintable {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            Err(std::fmt::Error)
        }
    }

    #[derive(Template)]
    #[template(ext = "html", source = "<p>{{ value }}</p>")]
    struct Broken {
        value: Unprintable,
    }

    #[test]
    fn a_page_that_cannot_render_is_still_a_page_with_its_status() {
        let page = render_page(
            &Broken { value: Unprintable },
            http::StatusCode::FORBIDDEN,
            None,
        );
        assert_eq!(page.status, http::StatusCode::FORBIDDEN);
        assert!(
            page.body.contains("could not show this page"),
            "{}",
            page.body
        );
        assert!(page.body.starts_with("<!DOCTYPE html>"));
    }
}
