//! Lychgate's own pages: the block page, error pages, the proxy auto-configuration (PAC) file and
//! review requests.
//!
//! Everything here renders from plain values to a [`Page`] (status and body) without I/O, so the
//! server decides when and how to send it and tests can look at every byte. The only I/O is
//! loading the logo at config time ([`Branding::load_logo`]) and appending review requests
//! ([`ReviewStore`]); [`ReviewTickets`] remembers which staff block pages offered a review, so a
//! posted form is accepted only from the person who was blocked. Pages are self-contained: inline CSS, the logo as a `data:` URI, no
//! JavaScript, no external fonts or images, because a block page must render even when
//! everything else on the internet is unreachable or blocked.

mod block;
mod branding;
mod error;
mod escape;
mod layout;
mod pac;
mod review;
mod tickets;

pub use block::{Audience, BlockPageInput, friendly_category, render_block_page};
pub use branding::{
    BlockPageSettings, Branding, BrandingError, Colour, DEFAULT_PUPIL_MESSAGE, InlineLogo,
    MAX_LOGO_BYTES, parse_colour,
};
pub use error::{ErrorKind, render_error_page};
pub use escape::escape_html;
pub use pac::{PAC_CONTENT_TYPE, PacError, render_pac};
pub use review::{
    MAX_FORM_BYTES, MAX_REASON_CHARS, MAX_URL_CHARS, REVIEW_FILE_NAME, ReviewError, ReviewForm,
    ReviewLineError, ReviewMetrics, ReviewOutcome, ReviewRequest, ReviewStore, ReviewStoreError,
    parse_review_form, render_review_thanks,
};
pub use tickets::{
    DEFAULT_TICKET_CAPACITY, DEFAULT_TICKET_TTL, ReviewTicket, ReviewTickets, TicketError,
};

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
}
