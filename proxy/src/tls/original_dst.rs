//! The address a client really dialled, for connections the gateway's nftables rules redirected
//! to a transparent listener (`redirect to :3129`): the kernel's connection tracking keeps the
//! original destination, and `SO_ORIGINAL_DST` (IPv4) / `IP6T_SO_ORIGINAL_DST` (IPv6) read it.
//! socket2 wraps both getsockopts, so no unsafe code is needed here.

use std::io;
use std::net::SocketAddr;

/// The original destination of a redirected TCP connection.
///
/// For a connection that was not redirected (a client that connected to the listener's own
/// address, or a gateway without the nftables rules) this returns an error — `NotFound`
/// (ENOENT: conntrack does not track it) or ENOPROTOOPT (no conntrack in this kernel or
/// namespace) — or, when conntrack tracks the connection anyway because other rules use it,
/// the listener's own local address. The caller treats both as "not redirected": the client
/// addressed Lychgate itself, so the address is never a destination to connect to, or a
/// client could make the proxy loop to itself.
///
/// An IPv4 client on a dual-stack (IPv6) listener arrives as an IPv4-mapped address; its NAT
/// entry is an IPv4 one, so the IPv4 option is asked.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn original_destination(stream: &tokio::net::TcpStream) -> io::Result<SocketAddr> {
    let socket = socket2::SockRef::from(stream);
    let local = stream.local_addr()?;
    let ipv4 = match local {
        SocketAddr::V4(_) => true,
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().is_some(),
    };
    let address = if ipv4 {
        socket.original_dst_v4()?
    } else {
        socket.original_dst_v6()?
    };
    address.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "SO_ORIGINAL_DST returned a non-IP address",
        )
    })
}

/// The original destination of a redirected TCP connection: only Linux has `SO_ORIGINAL_DST`,
/// so elsewhere every connection counts as not redirected.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn original_destination(_stream: &tokio::net::TcpStream) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "transparent mode needs Linux (SO_ORIGINAL_DST)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    /// ENOENT and ENOPROTOOPT on Linux: no NAT entry, or no conntrack in this kernel/namespace.
    const NOT_REDIRECTED: [i32; 2] = [2, 92];

    /// A connected (client, server) pair; `None` where the host lacks IPv6 on loopback, so only
    /// the IPv4 case is required to run.
    async fn pair(bind: &str, connect_v4: bool) -> Option<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind(bind).await.ok()?;
        let mut target = listener.local_addr().ok()?;
        if connect_v4 {
            target = SocketAddr::from(([127, 0, 0, 1], target.port()));
        }
        let client = TcpStream::connect(target).await.ok()?;
        let (server, _) = listener.accept().await.ok()?;
        Some((client, server))
    }

    fn assert_not_redirected(server: &TcpStream) {
        match original_destination(server) {
            Err(err) => assert!(
                err.raw_os_error()
                    .is_some_and(|e| NOT_REDIRECTED.contains(&e)),
                "{err:?}"
            ),
            // Tracked but not NATed: the original destination is the listener itself.
            Ok(addr) => {
                let local = server.local_addr().unwrap();
                assert_eq!(
                    (addr.ip().to_canonical(), addr.port()),
                    (local.ip().to_canonical(), local.port())
                );
            }
        }
    }

    #[tokio::test]
    async fn plain_loopback_connection_is_not_redirected() {
        let (_client, server) = pair("127.0.0.1:0", true).await.expect("IPv4 loopback");
        assert_not_redirected(&server);
        if let Some((_client, server)) = pair("[::1]:0", false).await {
            assert_not_redirected(&server);
        }
        // An IPv4 client on a dual-stack listener takes the IPv4 path.
        if let Some((_client, server)) = pair("[::]:0", true).await {
            assert!(
                matches!(server.local_addr().unwrap(), SocketAddr::V6(a) if a.ip().to_ipv4_mapped().is_some())
            );
            assert_not_redirected(&server);
        }
    }
}
