//! Reading a client's ClientHello off a connection, for the transparent 443 listener.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::client_hello::{ClientHelloInfo, MAX_HELLO_BYTES, MalformedReason, Peek, peek};

/// Why no ClientHello could be read.
#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    /// The client spoke something other than TLS (plain HTTP on 443, SSLv2, junk).
    #[error("the client did not start a TLS handshake")]
    NotTls,
    /// The client's hello was broken or too large.
    #[error("malformed ClientHello: {0}")]
    Malformed(MalformedReason),
    /// The client closed its side before the hello was complete.
    #[error(
        "the client closed the connection after {0} bytes, before its ClientHello was complete"
    )]
    Closed(usize),
    /// Reading failed.
    #[error("reading the ClientHello: {0}")]
    Io(#[from] io::Error),
}

/// Reads from `reader`, appending to `buf`, until `buf` holds a complete ClientHello or can be
/// judged not to. `buf` may already hold bytes read earlier; afterwards it holds everything
/// read, which the caller forwards upstream verbatim when it lets the connection through
/// (it may hold more than the hello: TLS 1.3 early data can follow). `buf` never grows past
/// [`MAX_HELLO_BYTES`] here.
///
/// There is no timeout inside: the caller bounds the whole call, e.g. with
/// `tokio::time::timeout(settings.hello_timeout, read_client_hello(..))`, so that a client
/// that sends nothing cannot hold a connection slot.
pub async fn read_client_hello<R>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> Result<ClientHelloInfo, HelloError>
where
    R: AsyncRead + Unpin + ?Sized,
{
    // One read's worth; hellos are usually one or two reads, so a small stack chunk is enough.
    let mut chunk = [0u8; 4096];
    loop {
        let at_least = match peek(buf) {
            Peek::Hello(info) => return Ok(info),
            Peek::NotTls => return Err(HelloError::NotTls),
            Peek::Malformed(reason) => return Err(HelloError::Malformed(reason)),
            Peek::NeedMore { at_least } => at_least,
        };
        // `peek` only asks for bytes that end within MAX_HELLO_BYTES, so the room left is at
        // least `at_least` (never zero); reading no more than the room keeps the buffer
        // bounded whatever the client sends.
        let room = MAX_HELLO_BYTES
            .saturating_sub(buf.len())
            .max(at_least.min(1))
            .min(chunk.len());
        let n = reader.read(&mut chunk[..room]).await?;
        if n == 0 {
            return Err(HelloError::Closed(buf.len()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::test_hello::{HelloBuilder, records};
    use tokio::io::AsyncWriteExt;

    const CHROMIUM: &[u8] = include_bytes!("fixtures/chromium-pq-ech-grease.bin");

    /// Sends `bytes` through a pipe that delivers at most `chunk` bytes per read, then closes.
    async fn read_through_pipe(
        bytes: Vec<u8>,
        chunk: usize,
    ) -> (Result<ClientHelloInfo, HelloError>, Vec<u8>) {
        let (mut client, mut server) = tokio::io::duplex(chunk);
        let writer = tokio::spawn(async move {
            // The reader may stop early and drop its end; a failed write is then expected.
            let _ = client.write_all(&bytes).await;
        });
        let mut buf = Vec::new();
        let result = read_client_hello(&mut server, &mut buf).await;
        drop(server);
        writer.await.unwrap();
        (result, buf)
    }

    #[tokio::test]
    async fn chromium_hello_in_small_reads() {
        for chunk in [1, 7, 1500, 8192] {
            let (result, buf) = read_through_pipe(CHROMIUM.to_vec(), chunk).await;
            let info = result.unwrap();
            assert_eq!(info.sni.as_deref(), Some("www.wikipedia.org"));
            assert_eq!(buf, CHROMIUM, "chunk {chunk}");
        }
    }

    #[tokio::test]
    async fn bytes_already_buffered_and_bytes_after_the_hello() {
        let mut bytes = HelloBuilder::new().sni("a.example").record();
        let hello_len = bytes.len();
        bytes.extend([0x17, 0x03, 0x03, 0x00, 0x01, 0xff]);
        let mut buf = bytes[..3].to_vec();
        let mut rest = &bytes[3..];
        let info = read_client_hello(&mut rest, &mut buf).await.unwrap();
        assert_eq!(info.consumed, hello_len);
        assert_eq!(buf, bytes, "over-read bytes are kept for forwarding");
    }

    #[tokio::test]
    async fn not_tls_and_closed_early() {
        let (result, buf) = read_through_pipe(b"GET / HTTP/1.1\r\n\r\n".to_vec(), 64).await;
        assert!(matches!(result, Err(HelloError::NotTls)));
        assert!(buf.starts_with(b"GET"));

        let half = CHROMIUM[..1000].to_vec();
        let (result, _) = read_through_pipe(half, 64).await;
        assert!(
            matches!(result, Err(HelloError::Closed(1000))),
            "{result:?}"
        );

        let (result, _) = read_through_pipe(Vec::new(), 64).await;
        assert!(matches!(result, Err(HelloError::Closed(0))));
    }

    #[tokio::test]
    async fn a_flood_of_tiny_records_is_cut_off_at_the_cap() {
        let message = HelloBuilder::new().padding(6000).message();
        let cuts: Vec<usize> = (1..message.len()).collect();
        let flood = records(&message, &cuts);
        assert!(flood.len() > 2 * MAX_HELLO_BYTES);
        let (result, buf) = read_through_pipe(flood, 4096).await;
        assert!(
            matches!(
                result,
                Err(HelloError::Malformed(MalformedReason::TooLarge))
            ),
            "{result:?}"
        );
        assert!(buf.len() <= MAX_HELLO_BYTES);
    }
}
