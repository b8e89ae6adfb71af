//! The response bodies the gateway sends: its own (empty or whole) and the upstream's,
//! observed as it streams for the call's metrics and its place in the connection limits.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::grpc::{status_name, BoxError, PolledFrame};
use crate::limits::CallGuard;
use crate::metrics::Metrics;

/// A response body: empty (the gateway's own statuses) or the upstream's, observed.
#[derive(Debug, Default)]
pub enum ResponseBody {
    #[default]
    Empty,
    Upstream(ObservedBody),
    /// A whole body the gateway answers itself (certificate renewal).
    Full(Option<Bytes>),
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> PolledFrame {
        match self.get_mut() {
            Self::Empty => Poll::Ready(None),
            Self::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Self::Upstream(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Full(d) => d.is_none(),
            Self::Upstream(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Full(d) => SizeHint::with_exact(d.as_ref().map_or(0, |d| d.len() as u64)),
            Self::Upstream(b) => b.size_hint(),
        }
    }
}

/// The upstream's response body, passed through as it streams; records the call's grpc-status
/// and latency when it ends (or `CANCELLED` if the client goes away first).
#[derive(Debug)]
pub struct ObservedBody {
    inner: Incoming,
    record: Option<Record>,
    /// The call on its connection: finished with the response, or counted as cancelled if
    /// the client resets the stream first.
    call: Option<CallGuard>,
}

impl ObservedBody {
    /// The upstream's body; `record` is `None` when the response already ended with its
    /// headers (trailers-only) and was recorded then.
    pub(crate) fn new(inner: Incoming, record: Option<Record>) -> Self {
        Self {
            inner,
            record,
            call: None,
        }
    }

    /// Keeps `call` open until the response ends, or finishes it now if it already has.
    pub(crate) fn hold_call(&mut self, call: CallGuard) {
        if self.record.is_some() {
            self.call = Some(call);
        } else {
            call.finish();
        }
    }

    fn finished(&mut self, status: &'static str) {
        if let Some(r) = self.record.take() {
            r.finish(status);
        }
        if let Some(c) = self.call.take() {
            c.finish();
        }
    }
}

/// A call's metrics, recorded once when its response ends.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) namespace: Arc<str>,
    pub(crate) method: &'static str,
    pub(crate) start: Instant,
    /// grpc-status from the headers (a trailers-only response).
    pub(crate) header_status: Option<&'static str>,
}

impl Record {
    pub(crate) fn finish(self, status: &'static str) {
        self.metrics
            .request(&self.namespace, self.method, status, self.start.elapsed());
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        match self.record.as_ref().map(|r| r.header_status) {
            // A trailers-only response (how Temporal returns errors) ends with its headers, so
            // hyper never polls the body; its status is in the headers.
            Some(Some(s)) => self.finished(s),
            // Dropped mid-response: the client cancelled (the call guard counts it).
            Some(None) => {
                if let Some(r) = self.record.take() {
                    r.finish("CANCELLED");
                }
            }
            None => self.finished("UNKNOWN"),
        }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> PolledFrame {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(t) = frame.trailers_ref() {
                    let status = t
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .map_or("UNKNOWN", status_name);
                    this.finished(status);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(r) = &this.record {
                    r.metrics.upstream_error();
                }
                this.finished("UNAVAILABLE");
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                let s = this
                    .record
                    .as_ref()
                    .and_then(|r| r.header_status)
                    .unwrap_or("UNKNOWN");
                this.finished(s);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
