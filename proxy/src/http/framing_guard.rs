//! A watch on the raw request heads of a client connection for framing that two HTTP parsers
//! could read differently (request smuggling): `Content-Length` together with
//! `Transfer-Encoding`, or `Content-Length` twice. hyper quietly resolves both (it drops the
//! length, or merges equal lengths) before Lychgate sees the headers, so the raw bytes are
//! watched as hyper reads them and the request handler refuses the request with 400.
//!
//! Only lines at the start of a line count, and a head ends at an empty line; a request body
//! that itself contains such a header block also trips the guard, which only ever errs towards
//! refusing.
//!
//! The same wrapper counts the bytes written to the client since it last sent any: what hyper
//! wrote itself in answer to a bad head, for that connection's record.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Shared between the connection's reader and its request handler.
#[derive(Debug, Clone, Default)]
pub struct FramingAlarm(Arc<AtomicBool>);

impl FramingAlarm {
    /// Whether an ambiguous head has been seen on this connection.
    pub fn raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Line scanner state.
#[derive(Debug, Default)]
struct Scan {
    /// Bytes of the current line (only the first few are kept: enough for the header name).
    line: [u8; 20],
    line_len: usize,
    /// The current line is empty so far (a blank line ends a head).
    at_line_start: bool,
    lengths: u32,
    encodings: u32,
}

impl Scan {
    fn new() -> Self {
        Scan {
            at_line_start: true,
            ..Scan::default()
        }
    }

    fn end_line(&mut self, alarm: &AtomicBool) {
        let name = &self.line[..self.line_len];
        if self.line_len == 0 {
            if self.lengths > 1 || (self.lengths > 0 && self.encodings > 0) {
                alarm.store(true, Ordering::Relaxed);
            }
            self.lengths = 0;
            self.encodings = 0;
        } else if starts_with_ignore_case(name, b"content-length:") {
            self.lengths += 1;
        } else if starts_with_ignore_case(name, b"transfer-encoding:") {
            self.encodings += 1;
        }
        self.line_len = 0;
        self.at_line_start = true;
    }

    fn feed(&mut self, bytes: &[u8], alarm: &AtomicBool) {
        for &b in bytes {
            match b {
                b'\n' => self.end_line(alarm),
                b'\r' => {}
                _ => {
                    self.at_line_start = false;
                    if self.line_len < self.line.len() {
                        self.line[self.line_len] = b;
                        self.line_len += 1;
                    }
                }
            }
        }
    }
}

fn starts_with_ignore_case(line: &[u8], prefix: &[u8]) -> bool {
    // Header names may be followed by optional whitespace before the colon in broken clients;
    // the strict form is what parsers disagree on, so only it is matched.
    line.len() >= prefix.len() && line[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Wraps a client connection's I/O.
#[derive(Debug)]
pub struct GuardedIo<T> {
    inner: T,
    scan: Scan,
    alarm: FramingAlarm,
    /// Bytes written since the client last sent any.
    sent_since_read: Arc<AtomicU64>,
}

impl<T> GuardedIo<T> {
    /// Wraps `inner`; the returned alarm is raised on an ambiguous head.
    pub fn new(inner: T) -> (Self, FramingAlarm) {
        let alarm = FramingAlarm::default();
        (
            GuardedIo {
                inner,
                scan: Scan::new(),
                alarm: alarm.clone(),
                sent_since_read: Arc::default(),
            },
            alarm,
        )
    }

    /// The count of bytes written to the client since it last sent any, shared.
    pub fn sent_since_read(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.sent_since_read)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = &buf.filled()[before..];
            if !read.is_empty() {
                this.sent_since_read.store(0, Ordering::Relaxed);
            }
            // Scanned where hyper will parse it, without copying.
            this.scan.feed(read, &this.alarm.0);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.sent_since_read.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.sent_since_read.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, chunk: usize) -> bool {
        let alarm = AtomicBool::new(false);
        let mut s = Scan::new();
        for part in text.as_bytes().chunks(chunk) {
            s.feed(part, &alarm);
        }
        alarm.load(Ordering::Relaxed)
    }

    #[test]
    fn ambiguous_heads_raise_the_alarm_however_the_bytes_arrive() {
        let both =
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
        let twice =
            "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 4\r\nCONTENT-LENGTH: 4\r\n\r\nabcd";
        let fine = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        for chunk in [1, 3, 7, 4096] {
            assert!(scan(both, chunk), "{chunk}");
            assert!(scan(twice, chunk), "{chunk}");
            assert!(
                !scan(fine, chunk),
                "one framing header per head is fine ({chunk})"
            );
        }
    }
}
