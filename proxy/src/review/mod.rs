//! Review requests: a member of staff who meets a block page asks for the site to be
//! unblocked; the request is appended to `<state_dir>/review-requests.jsonl`, where the review
//! workflow (and the computing lead) find it.
//!
//! The form (`parse_review_form`), the recorded request and its file ([`ReviewStore`]), the
//! tickets that tie a form to the block page that offered it ([`ReviewTickets`]) and the
//! counters. The pages themselves (the form on the staff block page, the thanks page) are in
//! [`crate::pages`]; the HTTP glue that reads a posted form is `http/own_pages.rs`.

mod tickets;

pub use tickets::{
    DEFAULT_TICKET_CAPACITY, DEFAULT_TICKET_TTL, ReviewTicket, ReviewTickets, TicketError,
};

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

/// The largest review form body the server should read; anything longer is refused (413)
/// before parsing. Room for the longest URL and reason, fully percent-encoded, and more.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The longest URL a review request may name (characters).
pub const MAX_URL_CHARS: usize = 2048;

/// The longest reason a member of staff may give (characters); the form's `maxlength` too.
pub const MAX_REASON_CHARS: usize = 2000;

/// The file, in the state directory, that review requests are appended to.
pub const REVIEW_FILE_NAME: &str = "review-requests.jsonl";

/// The version written in each line's `v` field; bumped if a field changes meaning.
const LINE_VERSION: u32 = 1;

/// A review form that cannot be accepted. The message is shown to the member of staff on the
/// 400 page, so it says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// The body is longer than [`MAX_FORM_BYTES`] (send 413).
    #[error("the form is too long (at most {MAX_FORM_BYTES} bytes)")]
    BodyTooLarge,
    /// A field is missing or empty.
    #[error("the form has no {0}; go back to the block page and fill in the form again")]
    Missing(&'static str),
    /// A field appears twice.
    #[error("the form has {0} twice")]
    Duplicate(&'static str),
    /// A field is longer than allowed.
    #[error("the {field} is too long (at most {max} characters)")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its limit in characters.
        max: usize,
    },
    /// Malformed percent-encoding (`%zz`, a cut-off `%4`) or bytes that are not UTF-8.
    #[error("the form's {0} is not correctly encoded")]
    BadEncoding(&'static str),
    /// The URL is not an `http://` or `https://` URL.
    #[error("the address is not a web address")]
    BadUrl,
    /// The reference is not a Lychgate reference code.
    #[error("the reference code is not one Lychgate makes")]
    BadReference,
    /// The reason contains control characters other than line breaks and tabs.
    #[error("the reason contains characters that are not text")]
    BadText,
}

/// A checked review form, as posted from a staff block page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewForm {
    /// The block's reference code, upper-cased.
    pub reference: String,
    /// The blocked URL as the form gives it: shown back to the user at most; the recorded URL
    /// is the ticket's.
    pub url: String,
    /// Why the member of staff needs the site (line breaks normalised to `\n`, trimmed).
    pub reason: String,
}

/// Parses an `application/x-www-form-urlencoded` review form with fields `reference`, `url`
/// and `reason`. Unknown fields are ignored (a browser may add a named submit button).
pub fn parse_review_form(body: &[u8]) -> Result<ReviewForm, ReviewError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(ReviewError::BodyTooLarge);
    }
    let (mut reference, mut url, mut reason) = (None, None, None);
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let key = decode_component(key, "field names")?;
        let (slot, field) = match key.as_str() {
            "reference" => (&mut reference, "reference"),
            "url" => (&mut url, "address"),
            "reason" => (&mut reason, "reason"),
            _ => continue,
        };
        if slot.is_some() {
            return Err(ReviewError::Duplicate(field));
        }
        *slot = Some(decode_component(value, field)?);
    }

    let reference = reference
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or(ReviewError::Missing("reference"))?;
    // The request log's codes; typed-in variants (lower case, O for 0) are folded back.
    let reference = crate::log::normalize_reference(&reference).ok_or(ReviewError::BadReference)?;

    let url = url
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .ok_or(ReviewError::Missing("address"))?;
    if url.chars().count() > MAX_URL_CHARS {
        return Err(ReviewError::TooLong {
            field: "address",
            max: MAX_URL_CHARS,
        });
    }
    let lower = url.get(..8).unwrap_or(&url).to_ascii_lowercase();
    let scheme_ok = lower.starts_with("http://") || lower.starts_with("https://");
    if !scheme_ok || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ReviewError::BadUrl);
    }

    // Browsers submit textarea line breaks as CRLF.
    let reason = reason
        .map(|r| r.replace("\r\n", "\n").trim().to_string())
        .filter(|r| !r.is_empty())
        .ok_or(ReviewError::Missing("reason"))?;
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ReviewError::TooLong {
            field: "reason",
            max: MAX_REASON_CHARS,
        });
    }
    if reason
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ReviewError::BadText);
    }
    Ok(ReviewForm {
        reference,
        url,
        reason,
    })
}

/// Decodes one form component: `+` is a space, `%XX` a byte; the result must be UTF-8.
fn decode_component(raw: &[u8], field: &'static str) -> Result<String, ReviewError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = |b: u8| char::from(b).to_digit(16);
                let byte = match (raw.get(i + 1), raw.get(i + 2)) {
                    (Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| (h * 16 + l) as u8),
                    _ => None,
                };
                out.push(byte.ok_or(ReviewError::BadEncoding(field))?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ReviewError::BadEncoding(field))
}

/// One review request, as recorded. Who asked (`user`, `client_ip`, `group`) comes from the
/// proxy's identification of the submitter, never from the form, so a request cannot be made
/// in someone else's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRequest {
    /// When the request was made.
    pub time: jiff::Timestamp,
    /// The block's reference code.
    pub reference: String,
    /// The blocked URL.
    pub url: String,
    /// The signed-in user, if any.
    pub user: Option<String>,
    /// The submitting device's address.
    pub client_ip: IpAddr,
    /// The submitter's filter group.
    pub group: String,
    /// The member of staff's reason, in their words.
    pub reason_given: String,
    /// The category that blocked the URL, if the server knows it (from re-checking the URL).
    pub category: Option<String>,
    /// The rule that blocked the URL, if known.
    pub rule: Option<String>,
}

/// The JSON shape of one line of `review-requests.jsonl`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    v: u32,
    time: String,
    reference: String,
    url: String,
    user: Option<String>,
    client_ip: IpAddr,
    group: String,
    reason_given: String,
    category: Option<String>,
    rule: Option<String>,
}

/// A line of the review file that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReviewLineError {
    /// Not the expected JSON.
    #[error("not a review request line: {0}")]
    Json(#[from] serde_json::Error),
    /// A version this Lychgate does not know.
    #[error("review request line version {0} is not supported (expected {LINE_VERSION})")]
    Version(u32),
    /// The time is not an RFC 3339 timestamp.
    #[error("review request time `{0}` is not a timestamp")]
    Time(String),
}

impl ReviewRequest {
    /// The request for a checked form whose ticket the submitter redeemed: who, the URL, the
    /// category and the rule come from what the proxy recorded at the block, and only the
    /// reason from the form.
    pub fn from_ticket(time: jiff::Timestamp, form: ReviewForm, ticket: ReviewTicket) -> Self {
        ReviewRequest {
            time,
            reference: form.reference,
            url: ticket.url,
            user: ticket.user,
            client_ip: ticket.client_ip,
            group: ticket.group,
            reason_given: form.reason,
            category: ticket.category,
            rule: ticket.rule,
        }
    }

    /// The request as one JSON line, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        let line = Line {
            v: LINE_VERSION,
            time: self.time.to_string(),
            reference: self.reference.clone(),
            url: self.url.clone(),
            user: self.user.clone(),
            client_ip: self.client_ip,
            group: self.group.clone(),
            reason_given: self.reason_given.clone(),
            category: self.category.clone(),
            rule: self.rule.clone(),
        };
        // Strings, an address and an integer always serialise.
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Reads one line written by [`ReviewRequest::to_json_line`] (for the review workflow).
    pub fn from_json_line(text: &str) -> Result<ReviewRequest, ReviewLineError> {
        let line: Line = serde_json::from_str(text)?;
        if line.v != LINE_VERSION {
            return Err(ReviewLineError::Version(line.v));
        }
        let time = line
            .time
            .parse()
            .map_err(|_| ReviewLineError::Time(line.time.clone()))?;
        Ok(ReviewRequest {
            time,
            reference: line.reference,
            url: line.url,
            user: line.user,
            client_ip: line.client_ip,
            group: line.group,
            reason_given: line.reason_given,
            category: line.category,
            rule: line.rule,
        })
    }
}

/// The review file could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum ReviewStoreError {
    /// The state directory could not be created.
    #[error("cannot create the state directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The review file could not be opened.
    #[error("cannot open the review requests file {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A request could not be written and flushed to disk.
    #[error("cannot write to the review requests file {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Appends review requests to `<state_dir>/review-requests.jsonl`, one fsync'd JSON line each.
///
/// Writes are blocking (a review request is rare, and must be on disk before the member of
/// staff is told it was recorded): call [`ReviewStore::append`] from `spawn_blocking`.
#[derive(Debug)]
pub struct ReviewStore {
    /// The file's path, for errors.
    path: PathBuf,
    /// The open file, in append mode; the lock keeps each line in one piece.
    file: Mutex<File>,
}

impl ReviewStore {
    /// Opens (creating if need be) the review file in `state_dir`, creating the directory with
    /// mode 0750 and a new file with mode 0640: requests name staff and sites, so only the
    /// daemon and its group (the people who review) may read them.
    pub fn open(state_dir: &Path) -> Result<ReviewStore, ReviewStoreError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(state_dir)
            .map_err(|source| ReviewStoreError::CreateDir {
                path: state_dir.to_path_buf(),
                source,
            })?;
        let path = state_dir.join(REVIEW_FILE_NAME);
        let open_err = |source| ReviewStoreError::Open {
            path: path.clone(),
            source,
        };
        let file = match OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o640)
            .open(&path)
        {
            Ok(file) => {
                // The umask may have narrowed the mode; set it exactly so the reviewers' group
                // can read the file whatever the daemon's umask.
                file.set_permissions(std::fs::Permissions::from_mode(0o640))
                    .map_err(open_err)?;
                file
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(open_err)?,
            Err(e) => return Err(open_err(e)),
        };
        Ok(ReviewStore {
            path,
            file: Mutex::new(file),
        })
    }

    /// The review file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one request as a JSON line and flushes it to disk before returning.
    pub fn append(&self, request: &ReviewRequest) -> Result<(), ReviewStoreError> {
        let mut line = request.to_json_line();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|source| ReviewStoreError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

/// What became of a submitted review form, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewOutcome {
    /// Written to the review file.
    Recorded,
    /// Refused: the form was malformed or incomplete.
    Invalid,
    /// The form was fine but the file could not be written.
    StoreFailed,
}

impl ReviewOutcome {
    /// The metric label value: lower case, as Prometheus labels usually are.
    pub const fn name(self) -> &'static str {
        match self {
            ReviewOutcome::Recorded => "recorded",
            ReviewOutcome::Invalid => "invalid",
            ReviewOutcome::StoreFailed => "store_failed",
        }
    }
}

impl EncodeLabelValue for ReviewOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.name())
    }
}

/// Label set of `lychgate_review_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    /// The outcome.
    outcome: ReviewOutcome,
}

/// Review request counters.
#[derive(Debug, Default)]
pub struct ReviewMetrics {
    /// `lychgate_review_requests_total{outcome}`.
    requests: Family<OutcomeLabels, Counter>,
}

impl ReviewMetrics {
    /// Fresh counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one submitted form.
    pub fn observe(&self, outcome: ReviewOutcome) {
        self.requests
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// How many forms had `outcome` so far.
    pub fn count(&self, outcome: ReviewOutcome) -> u64 {
        self.requests
            .get_or_create(&OutcomeLabels { outcome })
            .get()
    }

    /// Registers the counters as `lychgate_review_requests_total`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "lychgate_review_requests",
            "Review requests submitted from staff block pages, by outcome",
            self.requests.clone(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<ReviewForm, ReviewError> {
        parse_review_form(body.as_bytes())
    }

    #[test]
    fn parses_a_browser_form_with_plus_and_percent_escapes() {
        let f = form(
            "reference=k7qx3mbd&url=http%3A%2F%2Fwww.bbc.co.uk%2Fbitesize%3Fa%3D1%26b%3D2\
             &reason=Year+5+science%2C+caf%C3%A9+%2B+lab%0D%0Aline+two&submit=",
        )
        .unwrap();
        assert_eq!(f.reference, "K7QX3MBD");
        assert_eq!(f.url, "http://www.bbc.co.uk/bitesize?a=1&b=2");
        assert_eq!(f.reason, "Year 5 science, café + lab\nline two");
    }

    #[test]
    fn refuses_missing_duplicate_and_malformed_fields() {
        let ok_ref = "reference=K7QX3MBD";
        let ok_url = "url=https%3A%2F%2Fa.example%2F";
        let ok_reason = "reason=needed";
        assert_eq!(
            form(&format!("{ok_url}&{ok_reason}")),
            Err(ReviewError::Missing("reference"))
        );
        assert_eq!(
            form(&format!("{ok_ref}&{ok_reason}")),
            Err(ReviewError::Missing("address"))
        );
        assert_eq!(
            form(&format!("{ok_ref}&{ok_url}&reason=+++%0D%0A")),
            Err(ReviewError::Missing("reason"))
        );
        assert_eq!(
            form(&format!("{ok_ref}&{ok_url}&{ok_reason}&{ok_reason}")),
            Err(ReviewError::Duplicate("reason"))
        );
        assert_eq!(
            form(&format!("{ok_ref}&{ok_url}&reason=bad%zz")),
            Err(ReviewError::BadEncoding("reason"))
        );
        assert_eq!(
            form(&format!("{ok_ref}&{ok_url}&reason=cut%4")),
            Err(ReviewError::BadEncoding("reason"))
        );
        assert_eq!(
            form(&format!("{ok_ref}&{ok_url}&reason=%FF%FE")),
            Err(ReviewError::BadEncoding("reason"))
        );
        assert_eq!(
            form(&format!("{ok_ref}&{ok_url}&reason=a%00b")),
            Err(ReviewError::BadText)
        );
        assert_eq!(
            form(&format!("reference=HELLO&{ok_url}&{ok_reason}")),
            Err(ReviewError::BadReference)
        );
        for url in ["javascript%3Aalert(1)", "ftp%3A%2F%2Fx", "http%3A%2F%2Fa+b"] {
            assert_eq!(
                form(&format!("{ok_ref}&url={url}&{ok_reason}")),
                Err(ReviewError::BadUrl),
                "{url}"
            );
        }
        assert!(form(&format!("{ok_ref}&{ok_url}&{ok_reason}")).is_ok());
    }

    #[test]
    fn enforces_length_limits() {
        let long_url = format!("http://a.example/{}", "x".repeat(MAX_URL_CHARS));
        assert_eq!(
            form(&format!("reference=K7QX3MBD&url={long_url}&reason=x")),
            Err(ReviewError::TooLong {
                field: "address",
                max: MAX_URL_CHARS
            })
        );
        let at_limit = "é".repeat(MAX_REASON_CHARS);
        let encoded: String = at_limit.bytes().map(|b| format!("%{b:02X}")).collect();
        let body = format!("reference=K7QX3MBD&url=http://a.example/&reason={encoded}");
        assert!(body.len() <= MAX_FORM_BYTES);
        assert_eq!(
            form(&body).unwrap().reason.chars().count(),
            MAX_REASON_CHARS
        );
        let over = format!(
            "reference=K7QX3MBD&url=http://a.example/&reason={}",
            "y".repeat(2001)
        );
        assert_eq!(
            form(&over),
            Err(ReviewError::TooLong {
                field: "reason",
                max: MAX_REASON_CHARS
            })
        );
        let huge = vec![b'a'; MAX_FORM_BYTES + 1];
        assert_eq!(parse_review_form(&huge), Err(ReviewError::BodyTooLarge));
    }

    fn request(reason: &str) -> ReviewRequest {
        ReviewRequest {
            time: "2026-11-30T10:20:00Z".parse().unwrap(),
            reference: "K7QX3MBD".into(),
            url: "http://games.example/maths".into(),
            user: Some("s.ignatius".into()),
            client_ip: "10.0.3.7".parse().unwrap(),
            group: "staff".into(),
            reason_given: reason.into(),
            category: Some("games".into()),
            rule: None,
        }
    }

    #[test]
    fn store_appends_parseable_lines_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let store = ReviewStore::open(&state).unwrap();
        assert_eq!(store.path(), state.join(REVIEW_FILE_NAME));
        let first = request("Times tables game for Year 4\n\"quoted\" <b>");
        let second = ReviewRequest {
            user: None,
            client_ip: "fd00::7".parse().unwrap(),
            ..request("second")
        };
        store.append(&first).unwrap();
        store.append(&second).unwrap();
        drop(store);
        // Reopening appends rather than truncating.
        ReviewStore::open(&state).unwrap().append(&first).unwrap();

        let text = std::fs::read_to_string(state.join(REVIEW_FILE_NAME)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(text.ends_with('\n'));
        assert_eq!(ReviewRequest::from_json_line(lines[0]).unwrap(), first);
        assert_eq!(ReviewRequest::from_json_line(lines[1]).unwrap(), second);
        assert_eq!(ReviewRequest::from_json_line(lines[2]).unwrap(), first);
        let json: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(json["v"], 1);
        assert_eq!(json["time"], "2026-11-30T10:20:00Z");
        assert_eq!(json["client_ip"], "10.0.3.7");
        assert_eq!(json["rule"], serde_json::Value::Null);

        let file_mode = std::fs::metadata(state.join(REVIEW_FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(file_mode & 0o777, 0o640);
        let dir_mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o027, 0, "state dir mode {dir_mode:o}");
    }

    #[test]
    fn store_errors_name_the_path_and_bad_lines_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "").unwrap();
        let err = ReviewStore::open(&blocker.join("state")).unwrap_err();
        assert!(err.to_string().contains("not-a-dir"), "{err}");

        assert!(ReviewRequest::from_json_line("{").is_err());
        let wrong_version = request("x").to_json_line().replace("\"v\":1", "\"v\":9");
        assert!(matches!(
            ReviewRequest::from_json_line(&wrong_version),
            Err(ReviewLineError::Version(9))
        ));
    }

    #[test]
    fn metrics_count_outcomes_under_a_lychgate_name() {
        let metrics = ReviewMetrics::new();
        metrics.observe(ReviewOutcome::Recorded);
        metrics.observe(ReviewOutcome::Recorded);
        metrics.observe(ReviewOutcome::Invalid);
        assert_eq!(metrics.count(ReviewOutcome::Recorded), 2);
        assert_eq!(metrics.count(ReviewOutcome::StoreFailed), 0);
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("lychgate_review_requests_total{outcome=\"recorded\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn a_request_takes_who_and_what_from_the_ticket_and_why_from_the_form() {
        let form =
            form("reference=K7QX3MBD&url=http%3A%2F%2Fforged.example%2F&reason=Year+4+maths")
                .unwrap();
        let ticket = ReviewTicket {
            url: "http://games.example/maths".into(),
            client_ip: "10.0.3.7".parse().unwrap(),
            user: Some("s.ignatius".into()),
            group: "staff".into(),
            category: Some("games".into()),
            rule: Some("category games".into()),
        };
        let time = "2026-11-30T10:20:00Z".parse().unwrap();
        let request = ReviewRequest::from_ticket(time, form, ticket);
        assert_eq!(request.url, "http://games.example/maths");
        assert_eq!(request.user.as_deref(), Some("s.ignatius"));
        assert_eq!(request.reason_given, "Year 4 maths");
        assert_eq!(request.reference, "K7QX3MBD");
        assert_eq!(request.rule.as_deref(), Some("category games"));
    }
}
