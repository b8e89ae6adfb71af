//! The per-request path: keep the call inside the connection's namespace, then forward it to
//! the Temporal frontend over a pooled HTTP/2 client, streaming both ways.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response, StatusCode, Uri};
use http_body::Body as _;
use hyper::body::Incoming;

use crate::api_schema::Access;
use crate::conn_ctx::ConnCtx;
use crate::grpc::{status_name, Code, Encoding, Framer, Status};
use crate::namespace_check::{classify, Method};
use crate::renewal;
use crate::request_body::CheckedBody;
use crate::response_body::{ObservedBody, Record, ResponseBody};
use crate::tls::namespace_from_sni;

/// How long a namespaced call may take to send its whole (one-message) request.
const FIRST_MESSAGE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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
        ResponseBody::Upstream(body) => body.hold_call(call),
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
                .metrics
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
    if req.uri().path() == renewal::RENEW_PATH {
        return Ok(renewal::handle(ctx, req).await);
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
            let granted = ctx.permissions();
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
    let framer = Framer::new(
        ctx.shared.config.max_message_bytes,
        encoding,
        ctx.shared.budget.clone(),
    );
    let mut body = CheckedBody::new(
        inner,
        framer,
        check,
        ctx.shared.budget.clone(),
        ctx.shared.metrics.clone(),
    );
    if body.is_checked() {
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
            let body = ObservedBody::new(inner, record);
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
    let other = namespace_from_sni(host, &ctx.shared.config.domain)?;
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
