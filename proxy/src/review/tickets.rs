//! Review tickets: what the server remembers about each staff block page that offered "Request
//! a review", so that a submitted form is taken only from the person who was blocked and names
//! the URL, category and rule the proxy recorded rather than whatever the form says.
//!
//! Without this, any web page a member of staff visits could post a review request in their
//! name (the form needs no script, so cross-site posting is trivial), and the hidden URL field
//! could name any site.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::SharedClock;

/// How long a block page's review form stays usable: a school day, so a teacher who meets a
/// block in the morning can ask after the lesson.
pub const DEFAULT_TICKET_TTL: Duration = Duration::from_secs(8 * 3600);

/// How many open tickets are kept; the oldest go first. Staff blocks are a small share of all
/// blocks, and each ticket is at most a few KiB.
pub const DEFAULT_TICKET_CAPACITY: usize = 4096;

/// What the proxy knew when it showed a staff block page with a review form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewTicket {
    /// The blocked URL.
    pub url: String,
    /// The device that was blocked.
    pub client_ip: IpAddr,
    /// The signed-in user who was blocked, if any.
    pub user: Option<String>,
    /// The filter group the request was judged under.
    pub group: String,
    /// The blocking category, if any.
    pub category: Option<String>,
    /// The blocking rule, as the log names it.
    pub rule: Option<String>,
}

/// A review form that does not match a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// No open ticket has this reference: never issued, expired, evicted or already used.
    #[error(
        "this block is not waiting for a review request: it may already have been requested, \
         or the block page is too old; load the page again to get a fresh block page"
    )]
    Unknown,
    /// The ticket belongs to another user or device.
    #[error(
        "this block page was shown to someone else; load the page yourself to ask for a review"
    )]
    NotYours,
}

/// The open review tickets, keyed by block reference code.
#[derive(Debug)]
pub struct ReviewTickets {
    /// Time source, for expiry.
    clock: SharedClock,
    /// How long a ticket stays open.
    ttl: Duration,
    /// Most tickets kept at once.
    capacity: usize,
    /// The tickets and their issue order.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Open tickets by upper-case reference, with their issue time.
    open: HashMap<String, (ReviewTicket, Instant)>,
    /// References in issue order, for expiry and eviction (entries may be stale once redeemed).
    order: VecDeque<(String, Instant)>,
}

impl ReviewTickets {
    /// An empty set of tickets.
    pub fn new(clock: SharedClock, ttl: Duration, capacity: usize) -> Self {
        ReviewTickets {
            clock,
            ttl,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Remembers a staff block page that offers a review form.
    pub fn issue(&self, reference: &str, ticket: ReviewTicket) {
        let now = self.clock.now();
        let key = reference.to_ascii_uppercase();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.open.insert(key.clone(), (ticket, now));
        inner.order.push_back((key, now));
        self.prune(&mut inner, now);
    }

    /// Takes the ticket for a submitted form, if it is open and belongs to the submitter (the
    /// same signed-in user, or for a ticket without a user, the same device). A ticket is
    /// used once, so the same block cannot be requested twice.
    pub fn redeem(
        &self,
        reference: &str,
        client_ip: IpAddr,
        user: Option<&str>,
    ) -> Result<ReviewTicket, TicketError> {
        let now = self.clock.now();
        let key = reference.to_ascii_uppercase();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        self.prune(&mut inner, now);
        let (ticket, _) = inner.open.get(&key).ok_or(TicketError::Unknown)?;
        let same_person = match &ticket.user {
            Some(owner) => user == Some(owner.as_str()),
            None => ticket.client_ip == client_ip,
        };
        if !same_person {
            return Err(TicketError::NotYours);
        }
        let (ticket, _) = inner.open.remove(&key).ok_or(TicketError::Unknown)?;
        Ok(ticket)
    }

    /// How many tickets are open.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .open
            .len()
    }

    /// Whether no ticket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops expired tickets and, beyond capacity, the oldest ones.
    fn prune(&self, inner: &mut Inner, now: Instant) {
        while let Some((key, issued)) = inner.order.front().cloned() {
            let expired = now.saturating_duration_since(issued) >= self.ttl;
            if !expired
                && inner.open.len() <= self.capacity
                && inner.order.len() <= 2 * self.capacity
            {
                break;
            }
            inner.order.pop_front();
            // Only remove the ticket this order entry is for: the same reference may have been
            // issued again later, or already redeemed.
            if inner.open.get(&key).is_some_and(|(_, at)| *at == issued) {
                inner.open.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;

    fn ticket(user: Option<&str>, ip: &str) -> ReviewTicket {
        ReviewTicket {
            url: "http://games.example/".into(),
            client_ip: ip.parse().unwrap(),
            user: user.map(str::to_string),
            group: "staff".into(),
            category: Some("games".into()),
            rule: Some("category games".into()),
        }
    }

    fn tickets() -> (Arc<ManualClock>, ReviewTickets) {
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        let tickets = ReviewTickets::new(clock.clone(), DEFAULT_TICKET_TTL, 3);
        (clock, tickets)
    }

    #[test]
    fn a_ticket_is_redeemed_once_by_its_owner() {
        let (_, t) = tickets();
        let ip: IpAddr = "10.0.3.7".parse().unwrap();
        t.issue("K7QX3MBD", ticket(Some("s.ignatius"), "10.0.3.7"));
        assert_eq!(
            t.redeem("K7QX3MBD", ip, Some("j.smith")),
            Err(TicketError::NotYours)
        );
        assert_eq!(t.redeem("K7QX3MBD", ip, None), Err(TicketError::NotYours));
        // A refused attempt leaves the ticket for its owner, on any device.
        let got = t
            .redeem("k7qx3mbd", "10.0.9.9".parse().unwrap(), Some("s.ignatius"))
            .unwrap();
        assert_eq!(got.category.as_deref(), Some("games"));
        assert_eq!(
            t.redeem("K7QX3MBD", ip, Some("s.ignatius")),
            Err(TicketError::Unknown)
        );
        assert_eq!(t.redeem("BCDF-2345", ip, None), Err(TicketError::Unknown));
    }

    #[test]
    fn tickets_without_a_user_belong_to_the_device() {
        let (_, t) = tickets();
        t.issue("BCDF-2345", ticket(None, "10.0.3.7"));
        assert_eq!(
            t.redeem("BCDF-2345", "10.0.3.8".parse().unwrap(), None),
            Err(TicketError::NotYours)
        );
        assert!(
            t.redeem("BCDF-2345", "10.0.3.7".parse().unwrap(), None)
                .is_ok()
        );
    }

    #[test]
    fn tickets_expire_and_the_oldest_are_evicted() {
        let (clock, t) = tickets();
        let ip: IpAddr = "10.0.3.7".parse().unwrap();
        t.issue("2222-2222", ticket(None, "10.0.3.7"));
        clock.advance(DEFAULT_TICKET_TTL - Duration::from_secs(1));
        t.issue("3333-3333", ticket(None, "10.0.3.7"));
        clock.advance(Duration::from_secs(1));
        assert_eq!(t.redeem("2222-2222", ip, None), Err(TicketError::Unknown));
        assert_eq!(t.len(), 1);
        for r in ["4444-4444", "5555-5555", "6666-6666"] {
            t.issue(r, ticket(None, "10.0.3.7"));
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.redeem("3333-3333", ip, None), Err(TicketError::Unknown));
        assert!(t.redeem("6666-6666", ip, None).is_ok());
        assert!(!t.is_empty());
    }

    #[test]
    fn reissuing_a_reference_keeps_the_newer_ticket() {
        let (clock, t) = tickets();
        t.issue("2222-2222", ticket(None, "10.0.3.7"));
        clock.advance(Duration::from_secs(3600));
        t.issue("2222-2222", ticket(None, "10.0.3.8"));
        clock.advance(DEFAULT_TICKET_TTL - Duration::from_secs(1800));
        // The first issue's order entry has expired, but must not drop the second ticket.
        assert!(
            t.redeem("2222-2222", "10.0.3.8".parse().unwrap(), None)
                .is_ok()
        );
    }
}
