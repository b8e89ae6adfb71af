//! The per-request path: keep the call inside the connection's namespace, then forward it to
//! the Temporal frontend over a pooled HTTP/2 client, streaming both ways.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use crate::grpc::{status_name, BoxError, Code, Encoding, Framer, ResponseBody, Status};
use crate::limits::CallGuard;
use crate::metrics::Metrics;
use crate::api_schema::Access;
use crate::namespace_check::{check_message, classify, Method};
use crate::usage::LeafCell;
use crate::Shared;

/// How long a namespaced call may take to send its whole (one-message) request.
const FIRST_MESSAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What a connection's requests share.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    pub(crate) shared: Arc<Shared>,
    /// The namespace the SNI selected (its canonical name).
    pub(crate) namespace: Arc<str>,
    pub(crate) usage: Arc<LeafCell>,
    pub(crate) peer: String,
    /// What this client may do (from its filters' roles; updated when they change).
    pub(crate) permissions: std::sync::atomic::AtomicU8,
    /// The client certificate's subject (the upstream JWT's `sub`).
    pub(crate) subject: String,
    /// The client certificate (what a renewal keeps).
    pub(crate) leaf: Arc<gatehouse_pki::CertificateInfo>,
    /// SHA-256 of the bundle CA the client's chain ends at.
    pub(crate) anchor: Arc<str>,
    /// The upstream JWT (`--upstream-jwt`), the permissions it states, and when to renew it.
    pub(crate) token: std::sync::Mutex<Option<(http::HeaderValue, u8, Instant)>>,
    /// Calls in flight, idle time and cancelled calls (the connection limits).
    pub(crate) activity: Arc<crate::limits::Activity>,
}

impl ConnCtx {
    /// This connection's upstream `authorization` value, minted or renewed as needed.
    fn upstream_token(&self) -> Option<http::HeaderValue> {
        let minter = self.shared.minter.as_ref()?;
        let bits = self.permissions.load(std::sync::atomic::Ordering::Relaxed);
        let mut slot = self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((value, for_bits, renew_at)) = slot.as_ref() {
            if *for_bits == bits && Instant::now() < *renew_at {
                return Some(value.clone());
            }
        }
        let permissions = crate::jwt::temporal_permissions(
            &self.namespace,
            gatehouse_policy::Permissions::from_bits(bits),
        );
        let token = minter.mint(&self.subject, &permissions)?;
        let mut value = http::HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
        // Kept out of the shared upstream connection's HPACK table.
        value.set_sensitive(true);
        let renew_at = Instant::now() + crate::jwt::TOKEN_TTL / 2;
        *slot = Some((value.clone(), bits, renew_at));
        Some(value)
    }
}

/// A request body on its way upstream: messages pass one at a time, each checked first.
#[derive(Debug)]
pub(crate) struct CheckedBody {
    first: Option<Bytes>,
    inner: Incoming,
    framer: Framer,
    check: Option<(usize, Arc<str>)>,
    /// Where a limit tripping mid-call is counted.
    shared: Arc<Shared>,
    /// `first`'s share of the gateway's buffer budget, until it is sent.
    held: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl CheckedBody {
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
    async fn read_first(&mut self) -> Result<(), Status> {
        loop {
            if let Some(frame) = self.next_checked()? {
                if self.first.is_some() {
                    return Err(Status::new(
                        Code::InvalidArgument,
                        "a unary call carries exactly one request message; this one carried more",
                    ));
                }
                // The held message counts against the gateway's buffer budget until it is sent.
                self.held = Some(crate::grpc::reserve(&self.shared.budget, frame.len())?);
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

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
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
                        this.shared.limit_tripped(
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
    fn finished(&mut self, status: &'static str) {
        if let Some(r) = self.record.take() {
            r.finish(status);
        }
        if let Some(c) = self.call.take() {
            c.finish();
        }
    }
}

#[derive(Debug)]
struct Record {
    metrics: Arc<Metrics>,
    namespace: Arc<str>,
    method: &'static str,
    start: Instant,
    /// grpc-status from the headers (a trailers-only response).
    header_status: Option<&'static str>,
}

impl Record {
    fn finish(self, status: &'static str) {
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

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
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

/// Handles one gRPC call on an admitted connection, counting it on the connection: a call
/// whose future is dropped (the client reset the stream) or that ends because the request
/// body was reset counts as cancelled.
pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let call = ctx.activity.begin();
    let mut response = handle_call(ctx, req).await?;
    let cancelled = response.extensions().get::<Abandoned>().is_some();
    match response.body_mut() {
        ResponseBody::Upstream(body) if body.record.is_some() => body.call = Some(call),
        ResponseBody::Upstream(_) => call.finish(),
        // The gateway's own refusal because the client reset or cut short its request.
        _ if cancelled => call.cancel(),
        _ => call.finish(),
    }
    Ok(response)
}

/// Marks the gateway's answer to a call the client abandoned.
#[derive(Debug, Clone, Copy)]
struct Abandoned;

async fn handle_call(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let start = Instant::now();
    ctx.usage.touch();
    let (method, access) = match classify(req.uri().path()) {
        Method::Known(path, access) => (path, Some(access)),
        Method::Unknown => ("unknown", None),
    };
    // Only an unknown method's path is copied (for the log); known ones are static.
    let path = match access {
        Some(_) => std::borrow::Cow::Borrowed(method),
        None => std::borrow::Cow::Owned(req.uri().path().to_owned()),
    };
    let refuse = |status: Status, http: StatusCode| {
        tracing::info!(
            namespace = %ctx.namespace,
            peer = %ctx.peer,
            method = %path,
            code = status.code.name(),
            reason = %status.message,
            "call refused"
        );
        if let Some(limit) = status.limit {
            ctx.shared
                .limit_tripped(limit, &format_args!("call refused: {}", status.message));
        }
        ctx.shared
            .metrics
            .request(&ctx.namespace, method, status.code.name(), start.elapsed());
        let mut response = status.response(http);
        if status.abandoned {
            response.extensions_mut().insert(Abandoned);
        }
        Ok(response)
    };
    if let Some(why) = misdirected(&ctx, &req) {
        return refuse(
            Status::new(Code::PermissionDenied, why),
            StatusCode::MISDIRECTED_REQUEST,
        );
    }
    if req.uri().path() == crate::renewal::RENEW_PATH {
        return Ok(crate::renewal::handle(ctx, req).await);
    }
    let mut names = req.headers().get_all("temporal-namespace").iter();
    if let (Some(_), Some(_)) = (names.next(), names.next()) {
        return refuse(
            Status::new(
                Code::PermissionDenied,
                "more than one temporal-namespace header",
            ),
            StatusCode::OK,
        );
    }
    if req.headers().get_all("grpc-encoding").iter().count() > 1 {
        return refuse(
            Status::new(Code::InvalidArgument, "more than one grpc-encoding header"),
            StatusCode::OK,
        );
    }
    if let Some(h) = req.headers().get("temporal-namespace") {
        if h.as_bytes() != ctx.namespace.as_bytes() {
            return refuse(
                Status::new(
                    Code::PermissionDenied,
                    format!(
                        "this connection is for namespace {:?}; the temporal-namespace header says {:?}",
                        ctx.namespace,
                        String::from_utf8_lossy(h.as_bytes())
                    ),
                ),
                StatusCode::OK,
            );
        }
    }
    let check = match access {
        None => {
            return refuse(
                Status::new(
                    Code::PermissionDenied,
                    format!(
                        "{} is not a Temporal WorkflowService, OperatorService or health method; a namespace endpoint does not serve it",
                        req.uri().path()
                    ),
                ),
                StatusCode::OK,
            )
        }
        Some(Access::Refused(why)) => {
            return refuse(
                Status::new(
                    Code::PermissionDenied,
                    format!(
                        "{} is refused on a namespace endpoint: it {why}",
                        short(method)
                    ),
                ),
                StatusCode::OK,
            )
        }
        Some(Access::Open) => None,
        Some(Access::Namespaced(request, class)) => {
            let granted = gatehouse_policy::Permissions::from_bits(
                ctx.permissions.load(std::sync::atomic::Ordering::Relaxed),
            );
            if !class.allowed(granted) {
                ctx.shared.metrics.role_denied(&ctx.namespace, &granted.describe(), method);
                return refuse(
                    Status::new(
                        Code::PermissionDenied,
                        format!(
                            "this certificate's role in namespace {:?} is {}; {} is a {} call (roles come from the certificate filters it matches)",
                            ctx.namespace,
                            granted.describe(),
                            short(method),
                            class.name()
                        ),
                    ),
                    StatusCode::OK,
                );
            }
            Some((request, ctx.namespace.clone()))
        }
    };
    let encoding = match Encoding::from_headers(req.headers()) {
        Ok(e) => e,
        Err(s) => return refuse(s, StatusCode::OK),
    };
    let (parts, inner) = req.into_parts();
    let mut body = CheckedBody {
        first: None,
        inner,
        framer: Framer::new(
            ctx.shared.config.max_message_bytes,
            encoding,
            ctx.shared.budget.clone(),
        ),
        check,
        shared: ctx.shared.clone(),
        held: None,
    };
    if body.check.is_some() {
        let first = tokio::time::timeout(FIRST_MESSAGE_TIMEOUT, body.read_first()).await;
        let first = first.unwrap_or_else(|_| {
            Err(Status::new(
                Code::Cancelled,
                format!(
                    "the request did not arrive whole within {} s",
                    FIRST_MESSAGE_TIMEOUT.as_secs()
                ),
            ))
        });
        if let Err(s) = first {
            return refuse(s, StatusCode::OK);
        }
    }
    let uri = match upstream_uri(&ctx.shared.upstream_base, &parts.uri) {
        Some(u) => u,
        None => {
            return refuse(
                Status::new(Code::Internal, "cannot form the upstream URI"),
                StatusCode::OK,
            )
        }
    };
    let mut up = Request::new(body);
    *up.method_mut() = parts.method;
    *up.uri_mut() = uri;
    *up.headers_mut() = parts.headers;
    up.headers_mut().remove(http::header::HOST);
    if ctx.shared.minter.is_some() {
        // The client's own authorization never reaches the upstream: ours replaces it.
        up.headers_mut().remove(http::header::AUTHORIZATION);
        up.headers_mut().remove("authorization-extras");
        match ctx.upstream_token() {
            Some(v) => {
                up.headers_mut().insert(http::header::AUTHORIZATION, v);
            }
            None => {
                return refuse(
                    Status::new(Code::Internal, "cannot sign the upstream token"),
                    StatusCode::OK,
                )
            }
        }
    }
    match ctx.shared.client.request(up).await {
        Ok(resp) => {
            let (parts, inner) = resp.into_parts();
            let header_status = parts
                .headers
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map(status_name);
            let record = Record {
                metrics: ctx.shared.metrics.clone(),
                namespace: ctx.namespace.clone(),
                method,
                start,
                header_status,
            };
            let record = if inner.is_end_stream() {
                // Trailers-only: done now.
                record.finish(header_status.unwrap_or("UNKNOWN"));
                None
            } else {
                Some(record)
            };
            let body = ObservedBody {
                inner,
                record,
                call: None,
            };
            Ok(Response::from_parts(parts, ResponseBody::Upstream(body)))
        }
        Err(e) => {
            ctx.shared.metrics.upstream_error();
            let mut source: &dyn std::error::Error = &e;
            let mut detail = e.to_string();
            while let Some(s) = source.source() {
                detail = format!("{detail}: {s}");
                source = s;
            }
            tracing::warn!(namespace = %ctx.namespace, upstream = %ctx.shared.upstream_base, error = %detail, "upstream unavailable");
            let status = Status::new(
                Code::Unavailable,
                format!("the Temporal frontend behind the gateway is unavailable: {detail}"),
            );
            ctx.shared
                .metrics
                .request(&ctx.namespace, method, status.code.name(), start.elapsed());
            Ok(status.response(StatusCode::OK))
        }
    }
}

/// `WorkflowService/ListNamespaces` from a full method path.
fn short(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, s)| s)
}

/// Why the request's `:authority` names another namespace's endpoint than the SNI did.
fn misdirected(ctx: &ConnCtx, req: &Request<Incoming>) -> Option<String> {
    let host = match req.uri().authority() {
        Some(a) => a.host(),
        None => {
            let h = req.headers().get(http::header::HOST)?.to_str().ok()?;
            h.rsplit_once(':').map_or(h, |(host, _)| host)
        }
    };
    let other = crate::tls::namespace_from_sni(host, &ctx.shared.config.domain)?;
    if other.eq_ignore_ascii_case(&ctx.namespace) {
        return None;
    }
    Some(format!(
        "misdirected request: :authority {host:?} names namespace {other:?}, but this connection's SNI is for namespace {:?}",
        ctx.namespace
    ))
}

fn upstream_uri(base: &Uri, req: &Uri) -> Option<Uri> {
    let mut parts = base.clone().into_parts();
    parts.path_and_query = req.path_and_query().cloned();
    Uri::from_parts(parts).ok()
}
