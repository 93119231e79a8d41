//! The DNS server's sockets and loops. Each configured address gets a TCP listener and several
//! UDP sockets sharing its port (`SO_REUSEPORT`: the kernel spreads clients over them, so every
//! worker thread reads packets — hickory's stock server reads UDP on one task). A UDP loop
//! answers blocked names and cache hits itself; a question that needs an upstream becomes a task.

use super::server::{DnsServer, Step, Transport};
use crate::gate::limits::ConnectionLimits;
use crate::log::Ticket;
use crate::net::fair_reserve;
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest question read over UDP (EDNS allows more than 512; questions are far smaller).
const MAX_UDP_QUESTION: usize = 4096;
/// Receive buffer asked of the kernel per UDP socket, to ride out bursts.
const UDP_RECV_BUFFER: usize = 4 << 20;

/// The bound sockets of every DNS address.
#[derive(Debug)]
pub struct DnsSockets {
    udp: Vec<(Arc<UdpSocket>, SocketAddr)>,
    tcp: Vec<(TcpListener, SocketAddr)>,
}

impl DnsSockets {
    /// The addresses actually bound (port 0 becomes the kernel's choice, the same for UDP and TCP).
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.tcp.iter().map(|(_, a)| *a).collect()
    }
}

fn udp_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_port(true)?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(UDP_RECV_BUFFER);
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// Binds TCP and `udp_per_address` UDP sockets on each address (0: one per CPU); an error
/// names the address that could not be bound.
pub fn bind(
    addrs: &[SocketAddr],
    udp_per_address: usize,
) -> Result<DnsSockets, (SocketAddr, std::io::Error)> {
    let per = if udp_per_address == 0 {
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
    } else {
        udp_per_address
    };
    let mut sockets = DnsSockets {
        udp: Vec::new(),
        tcp: Vec::new(),
    };
    for &addr in addrs {
        bind_address(addr, per, &mut sockets).map_err(|e| (addr, e))?;
    }
    Ok(sockets)
}

/// The TCP listener and `per` UDP sockets of one address.
fn bind_address(addr: SocketAddr, per: usize, sockets: &mut DnsSockets) -> std::io::Result<()> {
    // Port 0 (tests): take the kernel's TCP port, then the same port for UDP; on the rare
    // clash with a UDP socket already there, try another.
    let mut last_error = None;
    let mut bound = None;
    for _ in 0..if addr.port() == 0 { 20 } else { 1 } {
        let tcp = std::net::TcpListener::bind(addr)?;
        let at = tcp.local_addr()?;
        match udp_socket(at) {
            Ok(first) => {
                bound = Some((tcp, first, at));
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let Some((tcp, first, at)) = bound else {
        return Err(last_error.unwrap_or_else(|| std::io::Error::other("no port")));
    };
    tcp.set_nonblocking(true)?;
    sockets.tcp.push((TcpListener::from_std(tcp)?, at));
    sockets.udp.push((Arc::new(first), at));
    for _ in 1..per {
        sockets.udp.push((Arc::new(udp_socket(at)?), at));
    }
    Ok(())
}

/// Serves every socket until `shutdown`; connection and question tasks go in `tasks`.
pub fn serve(
    server: Arc<DnsServer>,
    sockets: DnsSockets,
    listeners: &TaskTracker,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    // The same reserves as the proxy's connections, in their default proportion: half of the
    // TCP connections are shared out evenly among the networks.
    let max_tcp = server.settings().max_tcp_connections;
    let networks = server.network_count();
    let limits = Arc::new(ConnectionLimits::new(
        max_tcp,
        server.settings().max_tcp_connections_per_client,
        vec![fair_reserve(max_tcp, networks); networks],
    ));
    for (socket, local) in sockets.udp {
        listeners.spawn(serve_udp(
            Arc::clone(&server),
            socket,
            local,
            tasks.clone(),
            shutdown.clone(),
        ));
    }
    for (listener, local) in sockets.tcp {
        listeners.spawn(serve_tcp(
            Arc::clone(&server),
            listener,
            local,
            Arc::clone(&limits),
            tasks.clone(),
            shutdown.clone(),
        ));
    }
}

/// Runs the synchronous phases with a panic kept to this one packet.
fn prepare(
    server: &DnsServer,
    packet: &[u8],
    peer: SocketAddr,
    local: SocketAddr,
    transport: Transport,
) -> Option<Step> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| {
        server.prepare(packet, peer, local, transport)
    })) {
        Ok(step) => Some(step),
        Err(_) => {
            server.metrics().refuse("internal_error");
            tracing::error!(client = %peer, "a DNS question could not be handled (internal error)");
            None
        }
    }
}

/// Most answers held for their log lines before the loop stops reading to write them: a
/// batch big enough to share one write among many questions, small enough to add little
/// latency under a flood.
const HELD_BEFORE_WRITING: usize = 64;

/// An answer waiting for its log line to reach the file.
struct Held {
    answer: Vec<u8>,
    peer: SocketAddr,
    ticket: Ticket,
}

/// Waits until the oldest held answer's line is in the file; never, while none is held.
async fn first_committed(held: &mut VecDeque<Held>) {
    match held.front_mut() {
        Some(first) => first.ticket.wait().await,
        None => std::future::pending().await,
    }
}

/// Sends every held answer whose line is in the file, oldest first (they are committed in
/// that order).
async fn send_committed(socket: &UdpSocket, held: &mut VecDeque<Held>) {
    while held.front().is_some_and(|h| h.ticket.is_committed()) {
        if let Some(h) = held.pop_front() {
            let _ = socket.send_to(&h.answer, h.peer).await;
        }
    }
}

async fn serve_udp(
    server: Arc<DnsServer>,
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_UDP_QUESTION];
    // Answers given in the loop wait here for their log lines while the loop reads on, so one
    // write of the log serves every question that arrived meanwhile (group commit). The log
    // queue bounds it: a full queue stops the loop reading.
    let mut held: VecDeque<Held> = VecDeque::new();
    // One shutdown future for the loop's life, not one per packet.
    let stopping = shutdown.cancelled();
    tokio::pin!(stopping);
    loop {
        if held.len() >= HELD_BEFORE_WRITING {
            // Busy: write what is held now rather than read on without bound.
            first_committed(&mut held).await;
            send_committed(&socket, &mut held).await;
        }
        let (n, peer) = tokio::select! {
            biased;
            () = &mut stopping => {
                // The log writer outlives the listeners: what was answered is still sent.
                for mut h in held {
                    h.ticket.wait().await;
                    let _ = socket.send_to(&h.answer, h.peer).await;
                }
                return;
            }
            // Questions already waiting are read first; waiting on the held tickets (which
            // writes their lines, in one write, if nobody else is writing) comes when the
            // socket has nothing more to give.
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                // ICMP errors from earlier sends surface here on Linux; nothing to do.
                Err(_) => continue,
            },
            () = first_committed(&mut held) => {
                send_committed(&socket, &mut held).await;
                continue;
            }
        };
        match prepare(&server, &buf[..n], peer, local, Transport::Udp) {
            None => {}
            Some(Step::Done(bytes, record)) => {
                let ticket = server.log_for_answer(record).await;
                match (bytes, ticket) {
                    (Some(answer), Some(ticket)) => held.push_back(Held {
                        answer,
                        peer,
                        ticket,
                    }),
                    // No line to wait for (none is written, or the log has stopped and it
                    // went to stderr).
                    (Some(answer), None) => {
                        let _ = socket.send_to(&answer, peer).await;
                    }
                    (None, _) => {}
                }
            }
            Some(Step::Forward(pending)) => {
                let server = Arc::clone(&server);
                let socket = Arc::clone(&socket);
                tasks.spawn(async move {
                    let (bytes, record) = server.resolve(pending).await;
                    server
                        .log_and_send(Some(Box::new(record)), async {
                            if let Some(b) = bytes {
                                let _ = socket.send_to(&b, peer).await;
                            }
                        })
                        .await;
                });
            }
        }
    }
}

async fn serve_tcp(
    server: Arc<DnsServer>,
    listener: TcpListener,
    local: SocketAddr,
    limits: Arc<ConnectionLimits>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            r = listener.accept() => match r {
                Ok(r) => r,
                Err(e) => {
                    // Out of file descriptors and the like: pause instead of spinning.
                    tracing::warn!(error = %e, "DNS TCP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Clients outside every network (answered REFUSED) use only the shared part.
        let network = server.network_of(peer.ip());
        let guard = match limits.admit(peer.ip(), network) {
            Ok(g) => g,
            Err(_) => {
                server.metrics().refuse("tcp_limit");
                drop(stream);
                continue;
            }
        };
        let server = Arc::clone(&server);
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let _guard = guard;
            tcp_connection(&server, stream, peer, local, &shutdown).await;
        });
    }
}

/// Questions on one TCP connection, answered in turn, until the client closes it, goes quiet
/// for `tcp_idle_timeout`, or Lychgate stops.
async fn tcp_connection(
    server: &DnsServer,
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    shutdown: &CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let idle = server.settings().tcp_idle_timeout;
    loop {
        let mut len = [0u8; 2];
        let read = tokio::select! {
            () = shutdown.cancelled() => return,
            r = tokio::time::timeout(idle, stream.read_exact(&mut len)) => r,
        };
        if !matches!(read, Ok(Ok(_))) {
            return;
        }
        let n = usize::from(u16::from_be_bytes(len));
        if n == 0 {
            return;
        }
        let mut packet = vec![0u8; n];
        if !matches!(
            tokio::time::timeout(idle, stream.read_exact(&mut packet)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        let (bytes, record) = match prepare(server, &packet, peer, local, Transport::Tcp) {
            None => return,
            Some(Step::Done(bytes, record)) => (bytes, record),
            Some(Step::Forward(pending)) => {
                let (bytes, record) = server.resolve(pending).await;
                (bytes, Some(Box::new(record)))
            }
        };
        let mut ok = true;
        server
            .log_and_send(record, async {
                if let Some(b) = bytes {
                    ok = super::wire::write_frame(&mut stream, &b).await.is_ok();
                } else {
                    ok = false;
                }
            })
            .await;
        if !ok {
            return;
        }
    }
}
