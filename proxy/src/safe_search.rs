//! SafeSearch by name, shared by the web proxy and the DNS server. A group with SafeSearch on is
//! sent to the providers' SafeSearch front ends whatever name the browser asked for: the DNS
//! server answers those names with a CNAME to the front end, and the proxy (which resolves names
//! itself, so would otherwise bypass the DNS answer) connects to the front end's address.

use lychgate_classifier::policy::{GroupPolicy, YoutubeRestrict};

/// The host to connect to instead of `host` for this group, if SafeSearch applies.
pub fn redirect(group: &GroupPolicy, host: &str) -> Option<&'static str> {
    if group.safe_search {
        if is_google_search(host) {
            return Some("forcesafesearch.google.com");
        }
        if matches!(host, "www.bing.com" | "bing.com") {
            return Some("strict.bing.com");
        }
        if matches!(
            host,
            "duckduckgo.com"
                | "www.duckduckgo.com"
                | "start.duckduckgo.com"
                | "html.duckduckgo.com"
        ) {
            return Some("safe.duckduckgo.com");
        }
    }
    if is_youtube(host) {
        return match group.youtube {
            YoutubeRestrict::Off => None,
            YoutubeRestrict::Moderate => Some("restrictmoderate.youtube.com"),
            YoutubeRestrict::Strict => Some("restrict.youtube.com"),
        };
    }
    None
}

/// `www.google.<tld>` and `google.<tld>` for every Google country domain (`google.co.uk`,
/// `google.com.au`, `google.de` ...): Google's own list is long and changes, so match the
/// shape: one or two labels after `google`, each 2–3 letters (or `com`).
fn is_google_search(host: &str) -> bool {
    let rest = host.strip_prefix("www.").unwrap_or(host);
    let Some(tld) = rest.strip_prefix("google.") else {
        return false;
    };
    let labels: Vec<&str> = tld.split('.').collect();
    let short = |l: &&str| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase());
    match labels.as_slice() {
        [one] => short(one),
        [a, b] => (*a == "co" || *a == "com") && short(b),
        _ => false,
    }
}

fn is_youtube(host: &str) -> bool {
    matches!(
        host,
        "www.youtube.com"
            | "youtube.com"
            | "m.youtube.com"
            | "youtubei.googleapis.com"
            | "youtube.googleapis.com"
            | "www.youtube-nocookie.com"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use lychgate_classifier::policy::GroupKind;

    #[test]
    fn google_country_domains_and_others_are_redirected() {
        let mut g = GroupPolicy::new("ks2", GroupKind::Pupil);
        g.safe_search = true;
        g.youtube = YoutubeRestrict::Strict;
        for h in [
            "www.google.com",
            "google.co.uk",
            "www.google.com.au",
            "www.google.de",
        ] {
            assert_eq!(redirect(&g, h), Some("forcesafesearch.google.com"), "{h}");
        }
        for h in [
            "mail.google.com",
            "www.google.evil.example",
            "google.example.com",
            "docs.google.com",
        ] {
            assert_eq!(redirect(&g, h), None, "{h}");
        }
        assert_eq!(redirect(&g, "www.bing.com"), Some("strict.bing.com"));
        assert_eq!(redirect(&g, "duckduckgo.com"), Some("safe.duckduckgo.com"));
        assert_eq!(redirect(&g, "m.youtube.com"), Some("restrict.youtube.com"));
        g.youtube = YoutubeRestrict::Moderate;
        assert_eq!(
            redirect(&g, "www.youtube.com"),
            Some("restrictmoderate.youtube.com")
        );
    }

    #[test]
    fn groups_without_safe_search_go_where_they_asked() {
        let g = GroupPolicy::new("staff", GroupKind::Staff);
        assert_eq!(redirect(&g, "www.google.com"), None);
        assert_eq!(redirect(&g, "www.youtube.com"), None);
    }
}
