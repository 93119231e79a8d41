//! Lychgate's own pages: the block page, error pages, the page that confirms a review request,
//! and the proxy auto-configuration (PAC) file.
//!
//! Pure renderers: everything here turns plain values into a [`Page`] (status and body) without
//! I/O, so the HTTP side decides when and how to send it and tests can look at every byte. The
//! only I/O is loading the logo at config time ([`Branding::load_logo`]). This module imports
//! nothing of `crate::http`: the config (for `[block_page]`) and the HTTP glue that turns a
//! refusal into a response both build on it.
//!
//! HTML pages are askama templates (`pages/templates/`), in which every interpolated value is
//! escaped unless the template says otherwise (none does): a pupil-supplied URL, host or
//! search cannot become markup however it reaches a page. `askama.toml` points `.html`
//! templates at [`escape::Html`], the escaper the pages have always used.
//!
//! Pages are self-contained: inline CSS, the logo as a `data:` URI, no JavaScript, no external
//! fonts or images, because a block page must render even when everything else on the internet
//! is unreachable or blocked.

mod block;
mod branding;
mod error;
pub(crate) mod escape;
mod layout;
mod pac;
mod review;

pub use block::{Audience, BlockPageInput, friendly_category, render_block_page};
pub use branding::{
    BlockPageSettings, Branding, BrandingError, Colour, DEFAULT_PUPIL_MESSAGE, InlineLogo,
    MAX_LOGO_BYTES, parse_colour,
};
pub use error::{ErrorKind, render_error_page};
pub use pac::{PAC_CONTENT_TYPE, PacError, render_pac};
pub use review::render_review_thanks;

use http::StatusCode;

/// The reserved host name at which the proxy answers Lychgate's own pages (`.internal` is
/// reserved by ICANN for private use, so it can never be a real site on the internet).
pub const PAGES_HOST: &str = "lychgate.internal";

/// The default base URL of Lychgate's own pages; review forms post to `<base>/review`.
pub const DEFAULT_PAGES_BASE_URL: &str = "http://lychgate.internal";

/// The path, under the pages base URL, that accepts review requests.
pub const REVIEW_PATH: &str = "/review";

/// A rendered page: what the server sends, apart from the headers it adds itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The HTTP status.
    pub status: StatusCode,
    /// The complete HTML document (UTF-8).
    pub body: String,
    /// Where the page's form posts, if it has one: the Content-Security-Policy must allow it.
    pub form_action: Option<String>,
}

impl Page {
    /// The response headers every Lychgate page needs, beside `Content-Length` (and, for a 407,
    /// `Proxy-Authenticate`, and for a 429, `Retry-After`, which the server adds).
    ///
    /// `no-store` because a block page must never be cached in place of the real site once it
    /// is allowed again, nor kept where another user of a shared computer can read it. The CSP
    /// allows only the inline style and `data:` logo the page carries, and only posts to the
    /// review URL, so even a bug in escaping could not load script.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let form_action = match &self.form_action {
            Some(url) => origin_of(url).unwrap_or_else(|| "'none'".to_string()),
            None => "'none'".to_string(),
        };
        vec![
            ("content-type", "text/html; charset=utf-8".to_string()),
            ("cache-control", "no-store".to_string()),
            ("x-content-type-options", "nosniff".to_string()),
            ("referrer-policy", "no-referrer".to_string()),
            (
                "content-security-policy",
                format!(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                     form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
                ),
            ),
        ]
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL, for the CSP's `form-action`; `None` when
/// the URL is not one (then the policy allows no form at all rather than something too wide).
fn origin_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .map(|r| ("http://", r))
        .or_else(|| url.strip_prefix("https://").map(|r| ("https://", r)))?;
    let authority = rest.1.split(['/', '?', '#']).next().unwrap_or("");
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid.then(|| format!("{}{}", rest.0, authority))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `target/block-page-samples/`, where tests leave rendered pages for a person to open in a
    /// browser (tests write nowhere else outside temporary directories).
    pub(crate) fn samples_dir() -> std::path::PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
        let dir = target.join("block-page-samples");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn headers_forbid_caching_and_scripts_and_allow_only_the_review_origin() {
        let page = Page {
            status: StatusCode::FORBIDDEN,
            body: String::new(),
            form_action: Some("http://lychgate.internal/review".to_string()),
        };
        let headers = page.headers();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("cache-control"), "no-store");
        assert_eq!(get("content-type"), "text/html; charset=utf-8");
        let csp = get("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(
            csp.contains("form-action http://lychgate.internal;"),
            "{csp}"
        );
        assert!(!csp.contains("script-src"), "{csp}");
    }

    #[test]
    fn odd_form_actions_allow_no_form() {
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("http://a b/"), None);
        assert_eq!(origin_of("http:///x"), None);
        assert_eq!(
            origin_of("https://gw.example.sch.uk:8443/review?x").as_deref(),
            Some("https://gw.example.sch.uk:8443")
        );
        let page = Page {
            status: StatusCode::OK,
            body: String::new(),
            form_action: Some("http://evil;script-src *".to_string()),
        };
        let csp = page.headers()[4].1.clone();
        assert!(csp.contains("form-action 'none'"), "{csp}");
    }

    /// What a pupil can put into a page: URLs, hosts and search words arrive from the request
    /// line, the `Host` header or a CONNECT authority.
    const HOSTILE: [&str; 6] = [
        "\"><script>alert('x')</script>",
        "http://a.example/search?q=<img src=x onerror=alert(1)>&b='c'",
        "x.example\" onmouseover=\"alert(1)",
        "</textarea></form><form action=//evil.example>",
        "&lt;already&gt; &amp; <b>bold</b>",
        "<!-- --><svg/onload=alert(1)>",
    ];

    /// The markup characters of a page: with every value escaped, a value can add none, so a
    /// page made with hostile values has exactly as many as the same page made with plain ones.
    fn markup_counts(html: &str) -> [usize; 4] {
        ['<', '>', '"', '\''].map(|c| html.matches(c).count())
    }

    fn block(audience: Audience, value: &str, contact: &str) -> Page {
        let time: jiff::ZonedDateTime = "2026-11-30T10:15:00[Europe/London]".parse().unwrap();
        let branding = Branding {
            school_name: value.to_string(),
            contact: Some(contact.to_string()),
            pupil_message: value.to_string(),
            ..Branding::default()
        };
        render_block_page(
            &branding,
            &BlockPageInput {
                audience,
                url: value,
                host: value,
                // A harmless category, so the pupil page shows the host too.
                category: Some("games"),
                category_sensitive: false,
                reason: value,
                reference: value,
                time: &time,
                user: Some(value),
                group: value,
                review_url: Some("http://lychgate.internal/review"),
            },
        )
    }

    fn errors(value: &str) -> Vec<Page> {
        let time: jiff::ZonedDateTime = "2026-11-30T10:15:00[Europe/London]".parse().unwrap();
        let branding = Branding {
            contact: Some(value.to_string()),
            ..Branding::default()
        };
        let kinds = [
            ErrorKind::BadRequest { reason: value },
            ErrorKind::UpstreamNoSuchName { host: value },
            ErrorKind::UpstreamDnsFailed { host: value },
            ErrorKind::UpstreamRefused { host: value },
            ErrorKind::UpstreamUnreachable { host: value },
            ErrorKind::UpstreamBadResponse { host: value },
            ErrorKind::UpstreamTimeout { host: value },
            ErrorKind::DestinationRefused { host: value },
        ];
        let mut pages: Vec<Page> = kinds
            .iter()
            .map(|kind| render_error_page(&branding, kind, value, &time))
            .collect();
        pages.push(render_review_thanks(&branding, value, &time));
        pages
    }

    fn check_escaped(value: &str) {
        let plain = "plain words";
        for audience in [Audience::Pupil, Audience::Staff, Audience::Guest] {
            let hostile = block(audience, value, value);
            assert_eq!(
                markup_counts(&hostile.body),
                markup_counts(&block(audience, plain, plain).body),
                "{audience:?} page with {value:?}:\n{}",
                hostile.body
            );
        }
        for (hostile, benign) in errors(value).iter().zip(errors(plain)) {
            assert_eq!(
                markup_counts(&hostile.body),
                markup_counts(&benign.body),
                "{value:?}:\n{}",
                hostile.body
            );
        }
    }

    #[test]
    fn hostile_urls_hosts_and_searches_come_out_escaped_on_every_page() {
        for value in HOSTILE {
            check_escaped(value);
            let staff = block(Audience::Staff, value, "office");
            let mut escaped = String::new();
            askama::filters::Escaper::write_escaped_str(&escape::Html, &mut escaped, value)
                .unwrap();
            // The staff page shows the URL in the details and carries it in the form.
            assert!(
                staff.body.contains(&format!("<dd>{escaped}</dd>")),
                "{}",
                staff.body
            );
            assert!(
                staff
                    .body
                    .contains(&format!("name=\"url\" value=\"{escaped}\"")),
                "{}",
                staff.body
            );
            let pupil = block(Audience::Pupil, value, "office");
            assert!(pupil.body.contains(&format!("({escaped})</p>")));
            for page in errors(value) {
                assert!(page.body.contains(&escaped), "{}", page.body);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn any_text_in_any_field_adds_no_markup(value in "[<>\"'&a-z /=:;.?!-]{0,40}") {
            check_escaped(&value);
        }
    }

    /// The pages module is below `http` in the import map: the config builds on it too.
    #[test]
    fn pages_do_not_import_the_http_proxy() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pages");
        // Spelt in two halves so this file does not match itself.
        let forbidden = ["crate::", "http"].concat();
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
                for line in code {
                    assert!(!line.contains(&forbidden), "{}: {line}", path.display());
                }
                read += 1;
            }
        }
        assert!(read >= 7, "read only {read} files in {}", dir.display());
    }
}
