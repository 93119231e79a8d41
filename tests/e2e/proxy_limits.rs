//! Connection reserves: a few addresses in one network holding idle connections cannot take the
//! slots the other networks are guaranteed.

use crate::daemon::{Daemon, Origin, connect_from, get, local};
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

/// 127.0.1.n: the extra pupil network the test adds.
fn wifi(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 1, n])
}

/// A number in the daemon's /metrics text (0 when the series is not there yet).
fn metric(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

const ACTIVE: &str = "lychgate_client_connections_active";
const REFUSED: &str = "lychgate_refused_connections_total{reason=\"too_many_connections\"}";

/// Opens an idle connection from `src` and waits (bounded) until the daemon has either admitted
/// it or refused it for want of a slot: `Some(stream)` when admitted.
fn open_idle(daemon: &Daemon, src: IpAddr) -> Option<TcpStream> {
    let before = daemon.metrics();
    let (active, refused) = (metric(&before, ACTIVE), metric(&before, REFUSED));
    let stream = connect_from(src, daemon.proxy);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = daemon.metrics();
        if metric(&now, ACTIVE) > active {
            return Some(stream);
        }
        if metric(&now, REFUSED) > refused {
            return None;
        }
        assert!(
            Instant::now() < deadline,
            "neither admitted nor refused:\n{now}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_network_filling_the_pool_leaves_the_other_networks_their_reserve() {
    let origin = Origin::start("A");
    // 36 slots; the default config's eight loopback networks reserve 36 / 2 / 9 = 2 each, the
    // pupils' Wi-Fi reserves 4 as written, and 36 - 20 = 16 are shared.
    let daemon = Daemon::start_tuned(
        "max_connections = 36\nmax_connections_per_client = 2\nheader_timeout_seconds = 60",
        "[[network]]\ncidr = \"127.0.1.0/24\"\ngroup = \"ks2\"\nname = \"pupils' Wi-Fi\"\n\
         reserved_connections = 4\n\n\
         [[static_host]]\nname = \"www.bbc.co.uk\"\naddresses = [\"127.0.0.1\"]\n",
    );
    // Wi-Fi devices open idle connections, two each, until Lychgate turns one away: they get
    // their reserve and the whole shared part, and nothing more.
    let mut idle = Vec::new();
    let mut refused_at = None;
    for i in 0..40u8 {
        match open_idle(&daemon, wifi(i / 2 + 1)) {
            Some(s) => idle.push(s),
            None => {
                refused_at = Some(i);
                break;
            }
        }
    }
    // Staff, and pupils on another network, are still served from their reserves.
    let url = format!("http://www.bbc.co.uk:{}/news", origin.addr.port());
    let staff = get(daemon.proxy, local(1), &url);
    assert_eq!(staff.status, 200, "{}", staff.body_text());
    assert_eq!(staff.body_text(), "origin A saw /news");
    let pupil = get(daemon.proxy, local(2), &url);
    assert_eq!(pupil.status, 200, "{}", pupil.body_text());
    assert_eq!(
        refused_at,
        Some(20),
        "4 reserved + 16 shared slots for the Wi-Fi"
    );
    drop(idle);
}
