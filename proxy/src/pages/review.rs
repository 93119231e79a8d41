//! The page that confirms a review request (the form itself is on the staff block page).

use askama::Template;
use http::StatusCode;

use super::Page;
use super::branding::Branding;
use super::layout::{human_time, render_page};

/// The thanks page.
#[derive(Template)]
#[template(path = "review_thanks.html")]
struct ThanksPage<'a> {
    branding: &'a Branding,
    title: &'static str,
    reference: &'a str,
    time: String,
}

/// The page shown once a review request is on disk.
pub fn render_review_thanks(
    branding: &Branding,
    reference: &str,
    time: &jiff::ZonedDateTime,
) -> Page {
    let page = ThanksPage {
        branding,
        title: "Review requested",
        reference,
        time: human_time(time),
    };
    render_page(&page, StatusCode::OK, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thanks_page_gives_the_reference() {
        let t: jiff::ZonedDateTime = "2026-11-30T10:20:00[Europe/London]".parse().unwrap();
        let page = render_review_thanks(&Branding::default(), "K7QX3MBD", &t);
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Your request has been recorded"));
        assert!(page.body.contains("The computing lead will review it."));
        assert!(page.body.contains("<span class=\"ref\">K7QX3MBD</span>"));
    }
}
