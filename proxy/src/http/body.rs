//! Body types: what Lychgate sends to clients (an origin's body or a page of its own) and what
//! it forwards to origins, both counting the bytes they carry so the request log can say.

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::future::Future;
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

/// Resolves once the request's log line has reached the log file.
pub type Committed = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs once when a counted body ends or is dropped (client went away): the request's log
/// record is written from here, so it carries the bytes really sent.
pub trait OnBodyEnd: Send + 'static {
    /// The body is finished; `bytes` were sent (or are about to be: the last frame is held);
    /// `complete` is false when it was cut short. Returns what to wait for before the client
    /// gets the end of the body, if anything.
    fn finish(self: Box<Self>, bytes: u64, complete: bool) -> Option<Committed>;
}

/// A body that counts what passes and calls [`OnBodyEnd`] exactly once. Its end — the last
/// data frame, or the end of the stream — is held back until the request's log line has
/// reached the log file, so a client never has a complete answer whose line a crash could
/// lose.
pub struct Counted<B> {
    inner: B,
    bytes: u64,
    /// The body's length when it is known from the start (`Content-Length`): the frame that
    /// reaches it is the last, even if the inner body only says so when polled again.
    length: Option<u64>,
    done: Option<Box<dyn OnBodyEnd>>,
    /// The end, held until the line is in the file: the wait and what to give then (the last
    /// frame, or `None` for the end of the stream).
    holding: Option<(Committed, Option<Frame<Bytes>>)>,
}

impl<B: std::fmt::Debug> std::fmt::Debug for Counted<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted")
            .field("inner", &self.inner)
            .field("bytes", &self.bytes)
            .field("holding", &self.holding.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: Body> Counted<B> {
    /// Wraps a body.
    pub fn new(inner: B, done: Box<dyn OnBodyEnd>) -> Self {
        Counted {
            length: inner.size_hint().exact(),
            inner,
            bytes: 0,
            done: Some(done),
            holding: None,
        }
    }
}

impl<B> Counted<B> {
    fn finish(&mut self, complete: bool) -> Option<Committed> {
        self.done
            .take()
            .and_then(|done| done.finish(self.bytes, complete))
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        // Nothing waits for a body nobody reads any more.
        drop(self.finish(false));
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
        if let Some((committed, _)) = &mut this.holding {
            std::task::ready!(committed.as_mut().poll(cx));
            let (_, last) = this
                .holding
                .take()
                .unwrap_or_else(|| unreachable!("held above"));
            return Poll::Ready(last.map(Ok));
        }
        if this.done.is_none() && this.is_end_stream() {
            return Poll::Ready(None);
        }
        let last = match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    this.bytes += d.len() as u64;
                }
                if !(this.inner.is_end_stream() || this.length == Some(this.bytes)) {
                    return Poll::Ready(Some(Ok(frame)));
                }
                Some(frame)
            }
            None => None,
            Some(Err(e)) => {
                drop(this.finish(false));
                return Poll::Ready(Some(Err(e)));
            }
        };
        match this.finish(true) {
            Some(mut committed) => match committed.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(last.map(Ok)),
                Poll::Pending => {
                    this.holding = Some((committed, last));
                    Poll::Pending
                }
            },
            None => Poll::Ready(last.map(Ok)),
        }
    }

    fn is_end_stream(&self) -> bool {
        // Not while the record is still to be written or committed: hyper must poll for the end.
        self.done.is_none()
            && self.holding.is_none()
            && (self.inner.is_end_stream() || self.length == Some(self.bytes))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::task::Waker;
    use tokio::sync::oneshot;

    /// Frames of unknown total length (a chunked body): the end is only known at `None`.
    struct Frames(VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = BodyError;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
            Poll::Ready(self.get_mut().0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    /// What `finish` was told: bytes and completeness.
    type Seen = Arc<Mutex<Option<(u64, bool)>>>;

    /// Records what `finish` was told, and makes the end wait for `commit`.
    struct Probe {
        seen: Seen,
        commit: oneshot::Receiver<()>,
    }

    impl OnBodyEnd for Probe {
        fn finish(self: Box<Self>, bytes: u64, complete: bool) -> Option<Committed> {
            *self.seen.lock().unwrap() = Some((bytes, complete));
            let commit = self.commit;
            Some(Box::pin(async move {
                let _ = commit.await;
            }))
        }
    }

    fn probe() -> (Box<Probe>, Seen, oneshot::Sender<()>) {
        let seen = Arc::new(Mutex::new(None));
        let (tx, commit) = oneshot::channel();
        let probe = Box::new(Probe {
            seen: Arc::clone(&seen),
            commit,
        });
        (probe, seen, tx)
    }

    fn poll<B: Body<Data = Bytes> + Unpin>(
        body: &mut Counted<B>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(body).poll_frame(&mut Context::from_waker(Waker::noop()))
    }

    fn data<E>(polled: Poll<Option<Result<Frame<Bytes>, E>>>) -> Bytes {
        match polled {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(bytes) => bytes,
                Err(_) => panic!("expected a data frame"),
            },
            _ => panic!("expected a data frame"),
        }
    }

    #[test]
    fn a_known_length_body_holds_its_last_frame_until_the_line_is_committed() {
        let (probe, seen, commit) = probe();
        let mut body = Counted::new(ResponseBody::page("the page"), probe);
        assert!(!body.is_end_stream(), "hyper must poll it");
        assert!(
            poll(&mut body).is_pending(),
            "the only frame is the last: held"
        );
        assert_eq!(
            *seen.lock().unwrap(),
            Some((8, true)),
            "recorded with its bytes"
        );
        assert!(!body.is_end_stream());
        assert!(poll(&mut body).is_pending(), "still not committed");
        commit.send(()).unwrap();
        assert_eq!(data(poll(&mut body)), "the page");
        assert!(body.is_end_stream());
        assert!(matches!(poll(&mut body), Poll::Ready(None)));
    }

    #[test]
    fn a_body_of_unknown_length_holds_its_end() {
        let (probe, seen, commit) = probe();
        let frames = Frames(VecDeque::from([Bytes::from("ab"), Bytes::from("cde")]));
        let mut body = Counted::new(frames, probe);
        assert_eq!(data(poll(&mut body)), "ab");
        assert_eq!(data(poll(&mut body)), "cde");
        assert!(seen.lock().unwrap().is_none(), "the end is not known yet");
        assert!(poll(&mut body).is_pending(), "the end is held");
        assert_eq!(*seen.lock().unwrap(), Some((5, true)));
        commit.send(()).unwrap();
        assert!(matches!(poll(&mut body), Poll::Ready(None)));
        assert!(
            matches!(poll(&mut body), Poll::Ready(None)),
            "and stays ended"
        );
    }

    #[test]
    fn a_body_dropped_mid_way_records_it_cut_short() {
        let (probe, seen, _commit) = probe();
        let frames = Frames(VecDeque::from([Bytes::from("ab"), Bytes::from("cde")]));
        let mut body = Counted::new(frames, probe);
        assert_eq!(data(poll(&mut body)), "ab");
        drop(body);
        assert_eq!(*seen.lock().unwrap(), Some((2, false)));
    }
}
