//! Body types: what Lychgate sends to clients (an origin's body or a page of its own) and what
//! it forwards to origins, both counting the bytes they carry so the request log can say.

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

/// Error type of bodies passed through Lychgate.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body for a client.
#[derive(Debug)]
pub enum ResponseBody {
    /// A page Lychgate wrote (block page, error page, PAC file).
    Page(Option<Bytes>),
    /// The origin's body, passed through.
    Origin(Incoming),
}

impl ResponseBody {
    /// A page body.
    pub fn page(bytes: impl Into<Bytes>) -> Self {
        ResponseBody::Page(Some(bytes.into()))
    }

    /// No body.
    pub fn empty() -> Self {
        ResponseBody::Page(None)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ResponseBody::Page(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Origin(inner) => Pin::new(inner)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::from))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Page(bytes) => bytes.is_none(),
            ResponseBody::Origin(inner) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Page(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ResponseBody::Page(None) => SizeHint::with_exact(0),
            ResponseBody::Origin(inner) => inner.size_hint(),
        }
    }
}

/// Runs once when a counted body ends or is dropped (client went away): the request's log
/// record is written from here, so it carries the bytes really sent.
pub trait OnBodyEnd: Send + 'static {
    /// The body is finished; `bytes` were sent; `complete` is false when it was cut short.
    fn finish(self: Box<Self>, bytes: u64, complete: bool);
}

/// A body that counts what passes and calls [`OnBodyEnd`] exactly once.
pub struct Counted<B> {
    inner: B,
    bytes: u64,
    done: Option<Box<dyn OnBodyEnd>>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for Counted<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted")
            .field("inner", &self.inner)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl<B> Counted<B> {
    /// Wraps a body.
    pub fn new(inner: B, done: Box<dyn OnBodyEnd>) -> Self {
        Counted {
            inner,
            bytes: 0,
            done: Some(done),
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(done) = self.done.take() {
            done.finish(self.bytes, complete);
        }
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        self.finish(false);
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Poll::Ready(None) => this.finish(true),
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body forwarded upstream, adding its size to a shared counter.
#[derive(Debug)]
pub struct UpstreamBody {
    inner: Incoming,
    bytes: Arc<AtomicU64>,
}

impl UpstreamBody {
    /// Wraps a client's request body.
    pub fn new(inner: Incoming, bytes: Arc<AtomicU64>) -> Self {
        UpstreamBody { inner, bytes }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(d) = frame.data_ref() {
                this.bytes.fetch_add(d.len() as u64, Ordering::Relaxed);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
