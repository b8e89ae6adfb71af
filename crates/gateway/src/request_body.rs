//! A request body on its way upstream: split into gRPC messages, each checked against the
//! connection's namespace before it is forwarded.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::grpc::{reserve, BoxError, Code, Framer, PolledFrame, Status};
use crate::metrics::Metrics;
use crate::namespace_check::check_message;

/// A request body on its way upstream: messages pass one at a time, each checked first.
#[derive(Debug)]
pub(crate) struct CheckedBody {
    first: Option<Bytes>,
    inner: Incoming,
    framer: Framer,
    check: Option<(usize, Arc<str>)>,
    /// The gateway's buffer budget, which the held `first` message counts against.
    budget: Arc<Semaphore>,
    /// Where a limit tripping mid-call is counted.
    metrics: Arc<Metrics>,
    /// `first`'s share of the gateway's buffer budget, until it is sent.
    held: Option<OwnedSemaphorePermit>,
}

impl CheckedBody {
    /// `inner`'s messages, split by `framer`; with `check` (the request's message type and
    /// the connection's namespace) each must pass the namespace check.
    pub(crate) fn new(
        inner: Incoming,
        framer: Framer,
        check: Option<(usize, Arc<str>)>,
        budget: Arc<Semaphore>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            first: None,
            inner,
            framer,
            check,
            budget,
            metrics,
            held: None,
        }
    }

    /// Whether each message is checked (a namespaced method).
    pub(crate) fn is_checked(&self) -> bool {
        self.check.is_some()
    }

    /// The next checked message frame, or the end of the body.
    fn next_checked(&mut self) -> Result<Option<Bytes>, Status> {
        match self.framer.next()? {
            Some(m) => {
                if let Some((request, ns)) = &self.check {
                    check_message(*request, &m.payload, ns).map_err(|v| {
                        Status::new(
                            Code::PermissionDenied,
                            format!("this connection is for namespace {ns:?}: {v}"),
                        )
                    })?;
                }
                Ok(Some(m.frame))
            }
            None => Ok(None),
        }
    }

    /// Reads a namespaced (unary) call's whole request: exactly one message, checked, held to
    /// be sent. Nothing reaches the upstream before the request has ended, so a second message
    /// naming another namespace cannot follow a checked first one.
    pub(crate) async fn read_first(&mut self) -> Result<(), Status> {
        loop {
            if let Some(frame) = self.next_checked()? {
                if self.first.is_some() {
                    return Err(Status::new(
                        Code::InvalidArgument,
                        "a unary call carries exactly one request message; this one carried more",
                    ));
                }
                // The held message counts against the gateway's buffer budget until it is sent.
                self.held = Some(reserve(&self.budget, frame.len())?);
                self.first = Some(frame);
                continue;
            }
            if self.first.is_some() && self.inner.is_end_stream() {
                if !self.framer.is_empty() {
                    return Err(Status::abandoned(
                        Code::InvalidArgument,
                        "the request ended inside a second message",
                    ));
                }
                return Ok(());
            }
            match self.inner.frame().await {
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        self.framer.push(data);
                    }
                }
                Some(Err(e)) => {
                    return Err(Status::abandoned(
                        Code::Cancelled,
                        format!("request body: {e}"),
                    ))
                }
                None if self.first.is_some() => {
                    if !self.framer.is_empty() {
                        return Err(Status::abandoned(
                            Code::InvalidArgument,
                            "the request ended inside a second message",
                        ));
                    }
                    return Ok(());
                }
                // Also how a stream reset with CANCEL reads (hyper ends the body cleanly).
                None => {
                    return Err(Status::abandoned(
                        Code::InvalidArgument,
                        "the request ended before its first message",
                    ))
                }
            }
        }
    }
}

impl Body for CheckedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> PolledFrame {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            this.held = None;
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        loop {
            match this.next_checked() {
                Ok(Some(frame)) => return Poll::Ready(Some(Ok(Frame::data(frame)))),
                Ok(None) => {}
                Err(s) => {
                    if let Some(limit) = s.limit {
                        this.metrics.limit_tripped(
                            limit,
                            &format_args!("request stream refused mid-call: {}", s.message),
                        );
                    }
                    tracing::info!(namespace = %this.check.as_ref().map(|c| &*c.1).unwrap_or("-"), reason = %s.message, "request stream refused mid-call");
                    return Poll::Ready(Some(Err(s.message.into())));
                }
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                // Request trailers are dropped: gRPC clients send none, and grpc-go answers
                // a second HEADERS frame with a GOAWAY for the whole (shared) connection.
                Poll::Ready(Some(Ok(f))) => {
                    if let Ok(data) = f.into_data() {
                        this.framer.push(data);
                    }
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(None) => {
                    return Poll::Ready(if this.framer.is_empty() {
                        None
                    } else {
                        Some(Err("request body ended inside a message".into()))
                    })
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.framer.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
