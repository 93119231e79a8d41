//! Error pages: the proxy's own refusals and failures, in the same look as the block page and
//! in words a child can follow, each with a reference code for the log.

use askama::Template;
use http::StatusCode;

use super::Page;
use super::branding::Branding;
use super::layout::{human_time, render_page};

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind<'a> {
    /// 400: the request could not be understood; `reason` says why in plain words (e.g. "the
    /// address has no host name").
    BadRequest {
        /// Why.
        reason: &'a str,
    },
    /// 403: the client is not on the school's networks (an open-proxy refusal).
    ClientNotAllowed,
    /// 403: a review request from someone who is not staff (reviews are asked for by staff; a
    /// pupil asks their teacher).
    ReviewForStaffOnly,
    /// 407: the proxy needs the user to sign in (the server adds `Proxy-Authenticate`).
    ProxyAuthRequired,
    /// 404: no such Lychgate page.
    NotFound,
    /// 405: a Lychgate page was asked with the wrong method (e.g. `GET /review`).
    MethodNotAllowed,
    /// 413: a form or request body was larger than Lychgate accepts.
    PayloadTooLarge,
    /// 429: too many failed sign-ins from this device (the server adds `Retry-After`).
    TooManySignInFailures {
        /// How long until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// 502: the site's name does not exist (NXDOMAIN).
    UpstreamNoSuchName {
        /// The host asked for.
        host: &'a str,
    },
    /// 502: the name lookup itself failed (upstream DNS unreachable or erroring).
    UpstreamDnsFailed {
        /// The host asked for.
        host: &'a str,
    },
    /// 502: the site refused the connection.
    UpstreamRefused {
        /// The host asked for.
        host: &'a str,
    },
    /// 502: no route to the site, or the connection was reset.
    UpstreamUnreachable {
        /// The host asked for.
        host: &'a str,
    },
    /// 502: the site answered with something that is not valid HTTP.
    UpstreamBadResponse {
        /// The host asked for.
        host: &'a str,
    },
    /// 504: the site did not answer in time.
    UpstreamTimeout {
        /// The host asked for.
        host: &'a str,
    },
    /// 403: the address is inside the school's network or the gateway itself, which the proxy
    /// never fetches for a client (the destination policy).
    DestinationRefused {
        /// The host asked for.
        host: &'a str,
    },
    /// 503: the request log cannot be written, and Lychgate fails closed (every request must be
    /// logged, so none is served).
    LoggingUnavailable,
}

impl ErrorKind<'_> {
    /// The HTTP status this error is sent with.
    pub fn status(&self) -> StatusCode {
        match self {
            ErrorKind::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ErrorKind::ClientNotAllowed
            | ErrorKind::ReviewForStaffOnly
            | ErrorKind::DestinationRefused { .. } => StatusCode::FORBIDDEN,
            ErrorKind::ProxyAuthRequired => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::TooManySignInFailures { .. } => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::UpstreamNoSuchName { .. }
            | ErrorKind::UpstreamDnsFailed { .. }
            | ErrorKind::UpstreamRefused { .. }
            | ErrorKind::UpstreamUnreachable { .. }
            | ErrorKind::UpstreamBadResponse { .. } => StatusCode::BAD_GATEWAY,
            ErrorKind::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ErrorKind::LoggingUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A heading or paragraph: our words around at most one value (a host, a reason, a number of
/// minutes). The template escapes all three parts alike.
#[derive(Debug, Clone, Copy)]
struct Sentence<'a> {
    before: &'static str,
    value: &'a str,
    after: &'static str,
}

/// Words with no value in them.
const fn words(text: &'static str) -> Sentence<'static> {
    Sentence {
        before: text,
        value: "",
        after: "",
    }
}

/// Words, then a value.
const fn then_value<'a>(before: &'static str, value: &'a str) -> Sentence<'a> {
    Sentence {
        before,
        value,
        after: "",
    }
}

/// A value, then words.
const fn value_then<'a>(value: &'a str, after: &'static str) -> Sentence<'a> {
    Sentence {
        before: "",
        value,
        after,
    }
}

/// An error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    branding: &'a Branding,
    title: &'static str,
    heading: Sentence<'a>,
    body: Sentence<'a>,
    reference: &'a str,
    time: String,
}

/// Renders the page for an error, with the reference code of its log record.
pub fn render_error_page(
    branding: &Branding,
    kind: &ErrorKind<'_>,
    reference: &str,
    time: &jiff::ZonedDateTime,
) -> Page {
    let minutes;
    let (title, heading, body) = match *kind {
        ErrorKind::BadRequest { reason } => (
            "Bad request",
            words("This request could not be understood"),
            Sentence {
                before: "The web filter could not understand what the browser sent: ",
                value: reason,
                after: ". Try loading the page again. If it keeps happening, tell the IT technician.",
            },
        ),
        ErrorKind::ClientNotAllowed => (
            "Not allowed",
            words("This proxy serves only the school's network"),
            words(
                "Your device is not on the school's network, so this web filter will not fetch \
                 pages for it.",
            ),
        ),
        ErrorKind::ReviewForStaffOnly => (
            "For staff only",
            words("Only staff can ask for a review"),
            words(
                "Asking for a blocked page to be looked at again is for school staff. If you \
                 need this page for your work, tell your teacher.",
            ),
        ),
        ErrorKind::ProxyAuthRequired => (
            "Please sign in",
            words("Please sign in"),
            words(
                "To use the web at school, sign in with your school username and password when \
                 the browser asks. If it does not ask, close the browser, open it again and try \
                 once more, or ask your teacher for help.",
            ),
        ),
        ErrorKind::NotFound => (
            "Not found",
            words("There is no page here"),
            words("The web filter has no page at this address."),
        ),
        ErrorKind::MethodNotAllowed => (
            "Not allowed",
            words("That cannot be done here"),
            words("This page of the web filter cannot be used that way."),
        ),
        ErrorKind::PayloadTooLarge => (
            "Too much sent",
            words("Too much was sent"),
            words(
                "The browser sent more than the web filter accepts. If you were filling in a \
                 form, make your answer shorter and try again.",
            ),
        ),
        ErrorKind::TooManySignInFailures { retry_after_secs } => {
            minutes = retry_after_secs.div_ceil(60).max(1).to_string();
            (
                "Too many sign-in attempts",
                words("Too many sign-in attempts"),
                Sentence {
                    before: "The username or password was wrong too many times. Wait ",
                    value: &minutes,
                    after: if retry_after_secs <= 60 {
                        " minute and try again, or ask your teacher for help."
                    } else {
                        " minutes and try again, or ask your teacher for help."
                    },
                },
            )
        }
        ErrorKind::DestinationRefused { host } => (
            "Not allowed",
            value_then(host, " cannot be reached through the web filter"),
            words(
                "This address leads inside the school's network or to the web filter itself, \
                 which the filter never opens for a browser. If you need this page, tell the IT \
                 technician.",
            ),
        ),
        ErrorKind::UpstreamNoSuchName { host } => (
            "Website not found",
            then_value("We could not find ", host),
            words(
                "There is no website with this name. Check the spelling of the address and try \
                 again.",
            ),
        ),
        ErrorKind::UpstreamDnsFailed { host } => (
            "Website not found",
            then_value("We could not look up ", host),
            words(
                "The school's internet connection could not find this website's address. The \
                 problem is probably with the connection, not the website. Try again in a few \
                 minutes; if it keeps happening, tell the IT technician.",
            ),
        ),
        ErrorKind::UpstreamRefused { host } => (
            "Website not answering",
            value_then(host, " is not answering"),
            words(
                "The website refused the connection. It may be down for a while. Try again \
                 later.",
            ),
        ),
        ErrorKind::UpstreamUnreachable { host } => (
            "Website cannot be reached",
            then_value("We could not reach ", host),
            words(
                "The connection to the website failed. The website may be down, or the \
                 school's internet connection may have a problem. Try again in a few minutes.",
            ),
        ),
        ErrorKind::UpstreamBadResponse { host } => (
            "Broken reply",
            value_then(host, " sent a broken reply"),
            words("The website answered, but not in a way a browser can use. Try again later."),
        ),
        ErrorKind::UpstreamTimeout { host } => (
            "Website too slow",
            value_then(host, " took too long to answer"),
            words(
                "The website did not answer in time. It may be busy. Try again in a few \
                 minutes.",
            ),
        ),
        ErrorKind::LoggingUnavailable => (
            "Web access paused",
            words("Web access is paused"),
            words(
                "Web access is paused because the school's web log cannot be written. Please \
                 tell the IT technician.",
            ),
        ),
    };
    render_page(
        &ErrorPage {
            branding,
            title,
            heading,
            body,
            reference,
            time: human_time(time),
        },
        kind.status(),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(kind: ErrorKind<'_>) -> Page {
        let t: jiff::ZonedDateTime = "2026-11-30T13:40:00[Europe/London]".parse().unwrap();
        let branding = Branding {
            contact: Some("Tell Mr Jones, IT technician".into()),
            ..Branding::default()
        };
        render_error_page(&branding, &kind, "BCDF-2345", &t)
    }

    #[test]
    fn each_error_has_its_status_words_and_reference() {
        let cases: [(ErrorKind<'_>, u16, &str); 15] = [
            (
                ErrorKind::DestinationRefused { host: "localhost" },
                403,
                "localhost cannot be reached through the web filter",
            ),
            (
                ErrorKind::BadRequest {
                    reason: "the address has no host name",
                },
                400,
                "the address has no host name",
            ),
            (
                ErrorKind::ClientNotAllowed,
                403,
                "serves only the school&#39;s network",
            ),
            (
                ErrorKind::ReviewForStaffOnly,
                403,
                "Only staff can ask for a review",
            ),
            (
                ErrorKind::ProxyAuthRequired,
                407,
                "sign in with your school username",
            ),
            (ErrorKind::NotFound, 404, "no page at this address"),
            (ErrorKind::MethodNotAllowed, 405, "cannot be used that way"),
            (
                ErrorKind::PayloadTooLarge,
                413,
                "more than the web filter accepts",
            ),
            (
                ErrorKind::TooManySignInFailures {
                    retry_after_secs: 300,
                },
                429,
                "Wait 5 minutes and try again",
            ),
            (
                ErrorKind::UpstreamNoSuchName {
                    host: "nosuch.example",
                },
                502,
                "We could not find nosuch.example",
            ),
            (
                ErrorKind::UpstreamDnsFailed { host: "a.example" },
                502,
                "could not find this website&#39;s address",
            ),
            (
                ErrorKind::UpstreamRefused {
                    host: "down.example",
                },
                502,
                "down.example is not answering",
            ),
            (
                ErrorKind::UpstreamUnreachable {
                    host: "far.example",
                },
                502,
                "We could not reach far.example",
            ),
            (
                ErrorKind::UpstreamTimeout {
                    host: "slow.example",
                },
                504,
                "slow.example took too long to answer",
            ),
            (
                ErrorKind::LoggingUnavailable,
                503,
                "Web access is paused because the school&#39;s web log cannot be written. \
                 Please tell the IT technician.",
            ),
        ];
        for (kind, status, words) in cases {
            let page = render(kind);
            assert_eq!(page.status.as_u16(), status, "{kind:?}");
            assert!(page.body.contains(words), "{kind:?} lacks {words}");
            assert!(page.body.contains("<span class=\"ref\">BCDF-2345</span>"));
            assert!(page.body.contains("Tell Mr Jones, IT technician"));
            assert!(page.body.contains("13:40 on Monday 30 November 2026"));
            assert_eq!(page.form_action, None);
        }
        let one = render(ErrorKind::TooManySignInFailures {
            retry_after_secs: 20,
        });
        assert!(one.body.contains("Wait 1 minute and"));
        let bad = render(ErrorKind::UpstreamBadResponse { host: "x.example" });
        assert_eq!(bad.status, StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn hosts_and_reasons_are_escaped() {
        let page = render(ErrorKind::BadRequest {
            reason: "<img src=x onerror=alert(1)>",
        });
        assert!(!page.body.contains("<img src=x"));
        assert!(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
        let page = render(ErrorKind::UpstreamTimeout {
            host: "<b>\"x\"</b>",
        });
        assert!(
            page.body
                .contains("&lt;b&gt;&quot;x&quot;&lt;/b&gt; took too long")
        );
    }
}
