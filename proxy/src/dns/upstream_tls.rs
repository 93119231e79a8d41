//! DNS over TLS to an upstream (RFC 7858), for schools whose resolver is across the internet:
//! one TLS connection per upstream, opened when the first question needs it and kept open,
//! questions pipelined on it (RFC 7766: answers may come in any order, matched by id and
//! question). The certificate is checked against the system's CA store (plus
//! `[dns] upstream_ca_file`) for the configured name. A connection the server has closed is
//! replaced, and a question lost with it is asked once more on the new one.

use super::upstream::{UpstreamFault, Waiting};
use super::wire::{read_frame, write_frame};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// The TLS settings shared by every DNS-over-TLS upstream: the system's CA certificates and
/// those of `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(error = %e, "some system CA certificates could not be read");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{}: no certificates in the file", path.display()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    } else if added == 0 {
        return Err("no CA certificates found in the system store (install ca-certificates, or set [dns] upstream_ca_file)".to_string());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One DNS-over-TLS upstream.
pub struct TlsUpstream {
    addr: SocketAddr,
    name: ServerName<'static>,
    connector: TlsConnector,
    link: tokio::sync::Mutex<Option<Arc<TlsLink>>>,
}

/// One open connection: its writing half, the questions waiting on it, and whether it still
/// works.
struct TlsLink {
    writer: tokio::sync::Mutex<WriteHalf<TlsStream<TcpStream>>>,
    waiting: Waiting,
    alive: AtomicBool,
}

impl std::fmt::Debug for TlsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsLink")
            .field("alive", &self.alive.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TlsUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsUpstream")
            .field("addr", &self.addr)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsUpstream {
    /// An upstream at `addr` whose certificate must name `server_name` (else its address).
    pub fn new(
        addr: SocketAddr,
        server_name: Option<&str>,
        config: Arc<ClientConfig>,
    ) -> Result<Self, String> {
        let name = match server_name {
            Some(n) => {
                ServerName::try_from(n.to_string()).map_err(|e| format!("tls://{addr}#{n}: {e}"))?
            }
            None => ServerName::IpAddress(addr.ip().into()),
        };
        Ok(TlsUpstream {
            addr,
            name,
            connector: TlsConnector::from(config),
            link: tokio::sync::Mutex::new(None),
        })
    }

    /// Sends `question` (id 0: one is chosen here; `section` is its question section) and
    /// returns the answer's bytes, by `deadline`.
    pub async fn exchange(
        &self,
        question: Vec<u8>,
        section: Vec<u8>,
        deadline: Instant,
    ) -> Result<Vec<u8>, UpstreamFault> {
        match tokio::time::timeout_at(deadline, self.try_once(&question, &section)).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(Lost::Fault(f))) => return Err(f),
            Ok(Err(Lost::Connection)) => {}
            Err(_) => return Err(UpstreamFault::Timeout),
        }
        // The kept-alive connection had been closed by the server: once more on a new one.
        match tokio::time::timeout_at(deadline, self.try_once(&question, &section)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(Lost::Fault(f))) => Err(f),
            Ok(Err(Lost::Connection)) => Err(UpstreamFault::Error),
            Err(_) => Err(UpstreamFault::Timeout),
        }
    }

    async fn try_once(&self, question: &[u8], section: &[u8]) -> Result<Vec<u8>, Lost> {
        let link = self.link().await.map_err(Lost::Fault)?;
        let (id, rx) = link.waiting.register(section.to_vec());
        // Timed out or not, the id leaves the table when this attempt ends.
        let _forget = ForgetOnDrop(&link.waiting, id);
        let mut message = question.to_vec();
        message[..2].copy_from_slice(&id.to_be_bytes());
        let written = {
            let mut w = link.writer.lock().await;
            write_frame(&mut *w, &message).await
        };
        if written.is_err() {
            link.alive.store(false, Ordering::SeqCst);
            return Err(Lost::Connection);
        }
        match rx.await {
            Ok(answer) => Ok(answer),
            // The reader failed every waiting question: the connection broke.
            Err(_) => Err(Lost::Connection),
        }
    }

    /// The open connection, or a new one.
    async fn link(&self) -> Result<Arc<TlsLink>, UpstreamFault> {
        let mut slot = self.link.lock().await;
        if let Some(link) = slot.as_ref() {
            if link.alive.load(Ordering::SeqCst) {
                return Ok(Arc::clone(link));
            }
        }
        let tcp = TcpStream::connect(self.addr).await.map_err(|e| {
            tracing::warn!(upstream = %self.addr, error = %e, "cannot connect to the DNS-over-TLS upstream");
            UpstreamFault::Error
        })?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(self.name.clone(), tcp)
            .await
            .map_err(|e| {
                tracing::warn!(upstream = %self.addr, error = %e, "TLS with the DNS upstream failed (certificate or protocol)");
                UpstreamFault::Error
            })?;
        let (reader, writer) = tokio::io::split(tls);
        let link = Arc::new(TlsLink {
            writer: tokio::sync::Mutex::new(writer),
            waiting: Waiting::default(),
            alive: AtomicBool::new(true),
        });
        tokio::spawn(read_answers(Arc::clone(&link), reader));
        *slot = Some(Arc::clone(&link));
        Ok(link)
    }
}

struct ForgetOnDrop<'a>(&'a Waiting, u16);

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.forget(self.1);
    }
}

enum Lost {
    /// The upstream failed in a way another try would not mend.
    Fault(UpstreamFault),
    /// The connection went away under the question.
    Connection,
}

/// Reads answers off a connection until it ends, then marks it dead and fails what still waits.
async fn read_answers(link: Arc<TlsLink>, mut reader: ReadHalf<TlsStream<TcpStream>>) {
    while let Ok(answer) = read_frame(&mut reader).await {
        link.waiting.deliver(&answer);
    }
    link.alive.store(false, Ordering::SeqCst);
    link.waiting.fail_all();
}
