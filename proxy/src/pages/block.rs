//! The block page: what a pupil, a member of staff or a guest sees when a request is blocked.

use askama::Template;
use http::StatusCode;

use super::Page;
use super::branding::Branding;
use super::layout::{human_time, render_page};
use crate::review::{MAX_REASON_CHARS, MAX_URL_CHARS};

/// Who is looking at the page, which decides how much it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A child (any pupil group, and the unknown-device default group when it is a pupil-strict
    /// group): a calm instruction, a reference code, nothing that could upset or teach.
    Pupil,
    /// A member of staff: everything the filter knows, and a way to ask for a review.
    Staff,
    /// A visitor or unrecognised device: neutral adult wording, no filter internals.
    Guest,
}

/// Everything a block page can show, taken from the request and its policy decision.
#[derive(Debug, Clone, Copy)]
pub struct BlockPageInput<'a> {
    /// Who is looking.
    pub audience: Audience,
    /// The blocked URL as requested (`http://host/path?query`).
    pub url: &'a str,
    /// The blocked host.
    pub host: &'a str,
    /// The category that blocked it (canonical name, e.g. `games`), if any.
    pub category: Option<&'a str>,
    /// Whether the category must never be named to a child (self-harm, adult, illegal ...), as
    /// the policy's category table says.
    pub category_sensitive: bool,
    /// Why, for staff: the rule or list, e.g. "listed in adult (blocklists/adult/domains)" or an
    /// override's recorded reason.
    pub reason: &'a str,
    /// The reference code of this block in the request log.
    pub reference: &'a str,
    /// When the request was blocked, in the school's time zone.
    pub time: &'a jiff::ZonedDateTime,
    /// The signed-in user, if the proxy knows one.
    pub user: Option<&'a str>,
    /// The filter group the request was judged under.
    pub group: &'a str,
    /// Where the staff page's "Request a review" form posts (`None`: no form).
    pub review_url: Option<&'a str>,
}

/// How a pupil is told which kind of site this is, for the categories that are harmless to name
/// and that a child already knows are sometimes not allowed at school. Any other category —
/// including a school's own, whose names Lychgate cannot judge — is never named to a pupil.
pub fn friendly_category(category: &str) -> Option<&'static str> {
    Some(match category {
        "games" => "Games websites are not allowed at the moment.",
        "social" => "Social media websites are not allowed at the moment.",
        "messaging" => "Chat and messaging websites are not allowed at the moment.",
        "video" => "Video websites are not allowed at the moment.",
        "shopping" => "Shopping websites are not allowed at the moment.",
        "filesharing" => "File sharing websites are not allowed at the moment.",
        "webmail" => "Email websites are not allowed at the moment.",
        _ => return None,
    })
}

/// Renders the block page (status 403) for one blocked request.
///
/// Pupils see the school's instruction, the reference code in large type and the time; they
/// see the site's name and kind only for the harmless categories of [`friendly_category`], and
/// never the reason, the URL (a search URL carries the words a child typed) or a sensitive
/// category. Guests see neutral wording and a non-sensitive category's name. Staff see
/// everything, folded away behind "Details" when the category is sensitive in case pupils can
/// see the screen (a classroom projector), and a form to ask for a review.
pub fn render_block_page(branding: &Branding, input: &BlockPageInput<'_>) -> Page {
    let time = human_time(input.time);
    match input.audience {
        Audience::Pupil => render_page(
            &PupilPage {
                branding,
                title: TITLE,
                category_line: pupil_safe_category(input),
                host: input.host,
                reference: input.reference,
                time,
            },
            StatusCode::FORBIDDEN,
            None,
        ),
        Audience::Guest => render_page(
            &GuestPage {
                branding,
                title: TITLE,
                category_sensitive: input.category_sensitive,
                category: input.category,
                host: input.host,
                reference: input.reference,
                time,
            },
            StatusCode::FORBIDDEN,
            None,
        ),
        Audience::Staff => {
            let review_action = review_action(input);
            let page = StaffPage {
                branding,
                title: TITLE,
                category_sensitive: input.category_sensitive,
                reference: input.reference,
                url: input.url,
                details: [
                    ("Address", input.url),
                    ("Category", input.category.unwrap_or("none")),
                    ("Reason", input.reason),
                    ("Filter group", input.group),
                    (
                        "Signed in as",
                        input
                            .user
                            .unwrap_or("not signed in (recognised by network address)"),
                    ),
                    ("Time", &time),
                    ("Reference", input.reference),
                ],
                review_action,
                max_reason_chars: MAX_REASON_CHARS,
            };
            render_page(
                &page,
                StatusCode::FORBIDDEN,
                review_action.map(str::to_string),
            )
        }
    }
}

/// The title of every block page.
const TITLE: &str = "Page blocked";

/// A pupil's block page.
#[derive(Template)]
#[template(path = "block_pupil.html")]
struct PupilPage<'a> {
    branding: &'a Branding,
    title: &'static str,
    /// The sentence naming a harmless category, if the pupil may be told it.
    category_line: Option<&'static str>,
    host: &'a str,
    reference: &'a str,
    time: String,
}

/// A guest's block page.
#[derive(Template)]
#[template(path = "block_guest.html")]
struct GuestPage<'a> {
    branding: &'a Branding,
    title: &'static str,
    category_sensitive: bool,
    category: Option<&'a str>,
    host: &'a str,
    reference: &'a str,
    time: String,
}

/// A member of staff's block page.
#[derive(Template)]
#[template(path = "block_staff.html")]
struct StaffPage<'a> {
    branding: &'a Branding,
    title: &'static str,
    category_sensitive: bool,
    reference: &'a str,
    url: &'a str,
    /// The "Details" list: label, value.
    details: [(&'static str, &'a str); 7],
    /// Where the review form posts, if the page has one.
    review_action: Option<&'a str>,
    max_reason_chars: usize,
}

/// Where the review form posts, if the page offers one: not for a URL longer than the review
/// form accepts, which could only end in an error page.
fn review_action<'a>(input: &BlockPageInput<'a>) -> Option<&'a str> {
    input
        .review_url
        .filter(|_| input.url.chars().count() <= MAX_URL_CHARS)
}

/// The category a pupil may be told about, if any: known-harmless and not flagged sensitive.
fn pupil_safe_category(input: &BlockPageInput<'_>) -> Option<&'static str> {
    if input.category_sensitive {
        return None;
    }
    input.category.and_then(friendly_category)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::branding::{InlineLogo, parse_colour};

    fn time() -> jiff::ZonedDateTime {
        "2026-11-30T10:15:00[Europe/London]".parse().unwrap()
    }

    fn input<'a>(audience: Audience, time: &'a jiff::ZonedDateTime) -> BlockPageInput<'a> {
        BlockPageInput {
            audience,
            url: "http://harm.example/search?q=how+to+hurt+myself",
            host: "harm.example",
            category: Some("selfharm"),
            category_sensitive: true,
            reason: "listed in selfharm (blocklists/selfharm/domains)",
            reference: "K7QX3MBD",
            time,
            user: Some("j.smith"),
            group: "ks2",
            review_url: Some("http://lychgate.internal/review"),
        }
    }

    #[test]
    fn pupils_never_see_a_sensitive_category_reason_or_url() {
        let t = time();
        let page = render_block_page(&Branding::default(), &input(Audience::Pupil, &t));
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert_eq!(page.form_action, None);
        let html = page.body.to_lowercase();
        for secret in [
            "selfharm",
            "self-harm",
            "harm.example",
            "hurt",
            "listed",
            "ks2",
        ] {
            assert!(!html.contains(secret), "pupil page names {secret}");
        }
        assert!(html.contains("this page is blocked"));
        assert!(html.contains("turn off the screen and tell your teacher."));
        assert!(page.body.contains("<span class=\"ref\">K7QX3MBD</span>"));
        assert!(page.body.contains("10:15 on Monday 30 November 2026"));
        assert!(!html.contains("<form"));
    }

    #[test]
    fn pupils_hear_about_harmless_categories_only() {
        let t = time();
        let games = BlockPageInput {
            category: Some("games"),
            category_sensitive: false,
            host: "games.example",
            ..input(Audience::Pupil, &t)
        };
        let html = render_block_page(&Branding::default(), &games).body;
        assert!(html.contains("Games websites are not allowed at the moment. (games.example)"));
        assert!(!html.contains("listed in"));
        // Not flagged sensitive, but not known to be harmless either: a school's own category.
        let custom = BlockPageInput {
            category: Some("year6-quiz-cheats"),
            category_sensitive: false,
            ..games
        };
        let html = render_block_page(&Branding::default(), &custom).body;
        assert!(!html.contains("year6-quiz-cheats"));
        assert!(!html.contains("games.example"));
        // Harmless name but flagged sensitive by the policy: the flag wins.
        let flagged = BlockPageInput {
            category_sensitive: true,
            ..games
        };
        let html = render_block_page(&Branding::default(), &flagged).body;
        assert!(!html.contains("Games"));
    }

    #[test]
    fn staff_see_everything_and_a_review_form() {
        let t = time();
        let games = BlockPageInput {
            category: Some("games"),
            category_sensitive: false,
            reason: "games are blocked 09:00-15:00 for staff-classroom",
            audience: Audience::Staff,
            ..input(Audience::Staff, &t)
        };
        let page = render_block_page(&Branding::default(), &games);
        let html = &page.body;
        assert_eq!(
            page.form_action.as_deref(),
            Some("http://lychgate.internal/review")
        );
        assert!(html.contains("<details open>"));
        for shown in [
            "<dd>games</dd>",
            "<dd>games are blocked 09:00-15:00 for staff-classroom</dd>",
            "<dd>http://harm.example/search?q=how+to+hurt+myself</dd>",
            "<dd>j.smith</dd>",
            "<dd>ks2</dd>",
            "<dd>K7QX3MBD</dd>",
            "<form method=\"post\" action=\"http://lychgate.internal/review\">",
            "name=\"reference\" value=\"K7QX3MBD\"",
            "name=\"url\" value=\"http://harm.example/search?q=how+to+hurt+myself\"",
            "<textarea id=\"reason\" name=\"reason\" maxlength=\"2000\" required>",
            "Why is this site needed?",
        ] {
            assert!(html.contains(shown), "staff page lacks {shown}");
        }
        assert!(!html.contains("<script"));
    }

    #[test]
    fn staff_details_are_folded_for_sensitive_categories_and_form_is_optional() {
        let t = time();
        let sensitive = BlockPageInput {
            review_url: None,
            user: None,
            ..input(Audience::Staff, &t)
        };
        let page = render_block_page(&Branding::default(), &sensitive);
        assert!(page.body.contains("<details>\n<summary>Details</summary>"));
        assert!(page.body.contains("<dd>selfharm</dd>"));
        assert!(page.body.contains("recognised by network address"));
        assert!(!page.body.contains("<form"));
        assert_eq!(page.form_action, None);
        let long = format!("http://a.example/{}", "x".repeat(MAX_URL_CHARS));
        let too_long = BlockPageInput {
            url: &long,
            ..input(Audience::Staff, &t)
        };
        let page = render_block_page(&Branding::default(), &too_long);
        assert!(!page.body.contains("<form"));
        assert_eq!(page.form_action, None);
    }

    #[test]
    fn guests_get_neutral_wording() {
        let t = time();
        let page = render_block_page(&Branding::default(), &input(Audience::Guest, &t));
        let html = page.body.to_lowercase();
        assert!(!html.contains("selfharm"));
        assert!(!html.contains("harm.example"));
        assert!(!html.contains("listed in"));
        assert!(html.contains("k7qx3mbd"));
        assert!(!html.contains("<form"));
        let shopping = BlockPageInput {
            category: Some("shopping"),
            category_sensitive: false,
            host: "shop.example",
            ..input(Audience::Guest, &t)
        };
        let html = render_block_page(
            &Branding {
                contact: Some("Ask Mrs Patel in the office".into()),
                ..Branding::default()
            },
            &shopping,
        )
        .body;
        assert!(html.contains("(shop.example) is not available because it is in the category <strong>shopping</strong>"));
        assert!(html.contains("(Ask Mrs Patel in the office)"));
        assert!(!html.contains("listed in"));
    }

    #[test]
    fn everything_interpolated_is_escaped() {
        let t = time();
        let evil = "\"><script>alert('x')</script>&";
        let hostile = BlockPageInput {
            audience: Audience::Staff,
            url: evil,
            host: evil,
            category: Some(evil),
            category_sensitive: false,
            reason: evil,
            reference: evil,
            time: &t,
            user: Some(evil),
            group: evil,
            review_url: Some(evil),
        };
        let branding = Branding {
            school_name: evil.into(),
            contact: Some(evil.into()),
            pupil_message: evil.into(),
            ..Branding::default()
        };
        for audience in [Audience::Pupil, Audience::Staff, Audience::Guest] {
            let html = render_block_page(
                &branding,
                &BlockPageInput {
                    audience,
                    ..hostile
                },
            )
            .body;
            assert!(!html.contains("<script"), "{audience:?}");
            assert!(!html.contains("'x'"), "{audience:?}");
            assert!(
                html.contains("&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;")
            );
        }
    }

    /// Writes sample pages to `target/block-page-samples/` for a person to look at in a browser
    /// (e.g. Chromium at 320 px wide); the assertions keep the samples honest.
    #[test]
    fn write_samples_for_a_browser() {
        let dir = crate::pages::tests::samples_dir();
        let t = time();
        let branding = Branding {
            school_name: "St Clement's C of E Primary School".into(),
            logo: InlineLogo::from_bytes(crate::pages::branding::tests::SAMPLE_SVG.as_bytes()),
            primary_colour: parse_colour("#7a1f5c").unwrap(),
            background_colour: parse_colour("#fdfaf3").unwrap(),
            contact: Some("Ask Mrs Patel in the school office".into()),
            ..Branding::default()
        };
        let games = BlockPageInput {
            category: Some("games"),
            category_sensitive: false,
            host: "www.coolmathgames.example",
            url: "http://www.coolmathgames.example/0-run-3",
            reason: "games are blocked 09:00-15:00 for ks2",
            ..input(Audience::Pupil, &t)
        };
        let samples = [
            ("pupil-sensitive.html", input(Audience::Pupil, &t)),
            ("pupil-games.html", games),
            ("staff-sensitive.html", input(Audience::Staff, &t)),
            (
                "staff-games.html",
                BlockPageInput {
                    audience: Audience::Staff,
                    group: "staff",
                    ..games
                },
            ),
            ("guest.html", input(Audience::Guest, &t)),
        ];
        assert!(branding.logo.is_some());
        for (name, sample) in samples {
            let page = render_block_page(&branding, &sample);
            let path = dir.join(name);
            std::fs::write(&path, &page.body).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), page.body);
        }
        let others = [
            (
                "error-502.html",
                crate::pages::render_error_page(
                    &branding,
                    &crate::pages::ErrorKind::UpstreamNoSuchName {
                        host: "www.bbc.co.ukk",
                    },
                    "BCDF-2345",
                    &t,
                ),
            ),
            (
                "error-503.html",
                crate::pages::render_error_page(
                    &branding,
                    &crate::pages::ErrorKind::LoggingUnavailable,
                    "BCDF-2346",
                    &t,
                ),
            ),
            (
                "review-thanks.html",
                crate::pages::render_review_thanks(&branding, "K7QX3MBD", &t),
            ),
        ];
        for (name, page) in others {
            std::fs::write(dir.join(name), &page.body).unwrap();
        }
    }
}
