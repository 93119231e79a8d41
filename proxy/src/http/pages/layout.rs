//! The page shell every Lychgate page shares: document head, inline style, branded header.

use super::branding::Branding;
use super::escape::push_escaped;

/// Builds a complete HTML document around `main`, which must already be escaped HTML.
///
/// Design choices, all for pupils aged 4–11 on whatever screen they have: `lang="en-GB"` so
/// screen readers pronounce it right; system fonts only (nothing to download); 20 px base text
/// and a 32 px heading; one column that fits a 320 px wide screen, with long URLs wrapping
/// instead of widening the page; text colours picked from the school's colours to meet WCAG AA
/// contrast; a visible focus outline for keyboard users.
pub(crate) fn document(branding: &Branding, title: &str, main: &str) -> String {
    let primary = branding.primary_colour;
    let on_primary = primary.text_on();
    let background = branding.background_colour;
    let text = background.text_on();
    let mut out = String::with_capacity(4096 + main.len());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"robots\" content=\"noindex\">\n<title>");
    push_escaped(&mut out, title);
    out.push_str(" – ");
    push_escaped(&mut out, &branding.school_name);
    out.push_str("</title>\n<style>\n");
    // Colours are `Colour` values (always `#rrggbb`), so formatting them here cannot inject CSS.
    out.push_str(&format!(
        "*{{box-sizing:border-box}}\n\
         body{{margin:0;background:{background};color:{text};\
         font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif;\
         font-size:1.25rem;line-height:1.5}}\n\
         header{{background:{primary};color:{on_primary};padding:.75rem 1rem;display:flex;\
         align-items:center;gap:.75rem;flex-wrap:wrap}}\n\
         header img{{max-height:3.5rem;max-width:10rem;background:#fff;border-radius:.25rem}}\n\
         header p{{margin:0;font-weight:700;font-size:1.25rem}}\n\
         main{{max-width:40rem;margin:0 auto;padding:1.25rem 1rem 2.5rem}}\n\
         h1{{font-size:2rem;line-height:1.2;margin:.75rem 0 1rem}}\n\
         h2{{font-size:1.5rem;margin:2rem 0 .5rem}}\n\
         a{{color:inherit}}\n\
         .say{{font-size:1.625rem;font-weight:700;line-height:1.35}}\n\
         .ref{{display:inline-block;margin:.25rem 0;padding:.25rem .75rem;\
         font-family:ui-monospace,Menlo,Consolas,monospace;font-size:2rem;font-weight:700;\
         letter-spacing:.12em;color:#111;background:#fff;border:.2rem solid {primary};\
         border-radius:.5rem}}\n\
         .small{{font-size:1rem}}\n\
         dl{{margin:1rem 0}}\n\
         dt{{font-weight:700}}\n\
         dd{{margin:0 0 .75rem;overflow-wrap:anywhere}}\n\
         @media (min-width:36rem){{dl{{display:grid;grid-template-columns:max-content 1fr;\
         column-gap:1.25rem}}dd{{margin-bottom:.5rem}}}}\n\
         details{{margin:1rem 0}}\n\
         summary{{cursor:pointer;font-weight:700}}\n\
         label{{display:block;font-weight:700;margin:.5rem 0}}\n\
         textarea{{display:block;width:100%;min-height:7rem;font:inherit;padding:.5rem;\
         color:#111;background:#fff;border:2px solid #555;border-radius:.25rem}}\n\
         button{{margin-top:.75rem;font:inherit;font-weight:700;padding:.5rem 1.25rem;\
         color:{on_primary};background:{primary};border:2px solid {on_primary};\
         border-radius:.4rem;cursor:pointer}}\n\
         :focus-visible{{outline:.2rem solid #ffbf47;outline-offset:.15rem}}\n\
         footer{{max-width:40rem;margin:0 auto;padding:0 1rem 2rem;font-size:1rem}}\n"
    ));
    out.push_str("</style>\n</head>\n<body>\n<header>\n");
    if let Some(logo) = &branding.logo {
        // Decorative: the school name is right next to it, so screen readers skip the image.
        out.push_str("<img src=\"");
        out.push_str(logo.data_uri());
        out.push_str("\" alt=\"\">\n");
    }
    out.push_str("<p>");
    push_escaped(&mut out, &branding.school_name);
    out.push_str("</p>\n</header>\n<main>\n");
    out.push_str(main);
    out.push_str("</main>\n<footer><p>");
    push_escaped(&mut out, &branding.school_name);
    out.push_str(" web filter (Lychgate)</p></footer>\n</body>\n</html>\n");
    out
}

/// Formats the time a page was made, the way a teacher says it: "12:34 on Monday 30 November
/// 2026".
pub(crate) fn human_time(time: &jiff::ZonedDateTime) -> String {
    time.strftime("%H:%M on %A %-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::pages::branding::{InlineLogo, parse_colour};

    #[test]
    fn shell_is_self_contained_and_escapes_the_school_name() {
        let branding = Branding {
            school_name: "St Clement's <C of E> & Primary".to_string(),
            logo: InlineLogo::from_bytes(crate::http::pages::branding::tests::TINY_PNG),
            primary_colour: parse_colour("#ffcc00").unwrap(),
            ..Branding::default()
        };
        let html = document(&branding, "Blocked", "<p>hello</p>\n");
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
}
