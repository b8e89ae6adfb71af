//! gRPC on HTTP/2, as much as a checking proxy needs: message framing (one message buffered at a
//! time), gzip-compressed messages, trailers-only status responses, and the body types.

use std::io::Read as _;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// gRPC status codes the gateway produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    Cancelled = 1,
    InvalidArgument = 3,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
}

impl Code {
    pub fn name(self) -> &'static str {
        match self {
            Self::Cancelled => "CANCELLED",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::Unimplemented => "UNIMPLEMENTED",
            Self::Internal => "INTERNAL",
            Self::Unavailable => "UNAVAILABLE",
        }
    }
}

/// The name of a numeric grpc-status, for metrics.
pub(crate) fn status_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// A status the gateway answers with itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub message: String,
    /// The resource limit that refused the call, if one did (for its counter).
    pub(crate) limit: Option<&'static str>,
    /// The client abandoned the call (reset or ended its request before a whole message).
    pub(crate) abandoned: bool,
}

impl Status {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            limit: None,
            abandoned: false,
        }
    }

    /// A call the client abandoned (it counts against `Limits::max_cancelled_calls`).
    pub(crate) fn abandoned(code: Code, message: impl Into<String>) -> Self {
        Self {
            abandoned: true,
            ..Self::new(code, message)
        }
    }

    /// A refusal by the resource limit `limit`.
    pub(crate) fn limit(limit: &'static str, message: impl Into<String>) -> Self {
        Self {
            limit: Some(limit),
            ..Self::new(Code::ResourceExhausted, message)
        }
    }

    /// A trailers-only response (HTTP 200 unless `http` says otherwise).
    pub(crate) fn response<B: Default>(&self, http: StatusCode) -> Response<B> {
        let mut r = Response::new(B::default());
        *r.status_mut() = http;
        let h = r.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        h.insert("grpc-status", HeaderValue::from(self.code as u16));
        if let Ok(v) = HeaderValue::from_str(&percent_encode(&self.message)) {
            h.insert("grpc-message", v);
        }
        r
    }
}

/// grpc-message's percent-encoding: everything outside printable ASCII, and `%`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How the request's messages are compressed (`grpc-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
}

impl Encoding {
    pub(crate) fn from_headers(h: &HeaderMap) -> Result<Self, Status> {
        match h.get("grpc-encoding").map(|v| v.to_str().unwrap_or("?")) {
            None | Some("identity") => Ok(Self::Identity),
            Some("gzip") => Ok(Self::Gzip),
            Some(other) => Err(Status::new(
                Code::Unimplemented,
                format!("the gateway cannot inspect messages compressed with {other:?}; use gzip or none"),
            )),
        }
    }
}

/// One length-prefixed gRPC message: the frame exactly as received, and its message bytes
/// (decompressed if it was compressed).
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) frame: Bytes,
    pub(crate) payload: Bytes,
}

/// Splits a request body into messages, holding at most one message at a time. Bytes held
/// for a message being received count against the gateway-wide `budget`.
#[derive(Debug)]
pub(crate) struct Framer {
    buf: BytesMut,
    max: usize,
    encoding: Encoding,
    budget: Arc<Semaphore>,
    held: Option<OwnedSemaphorePermit>,
}

impl Framer {
    pub(crate) fn new(max: usize, encoding: Encoding, budget: Arc<Semaphore>) -> Self {
        Self {
            buf: BytesMut::new(),
            max,
            encoding,
            budget,
            held: None,
        }
    }

    pub(crate) fn push(&mut self, data: Bytes) {
        self.buf.extend_from_slice(&data);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next complete message, if one has arrived.
    pub(crate) fn next(&mut self) -> Result<Option<Message>, Status> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let compressed = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.max {
            return Err(Status::limit(
                "message-size",
                format!(
                    "request message is {len} bytes; the gateway's limit is {} (--max-message-bytes)",
                    self.max
                ),
            ));
        }
        if self.buf.len() < 5 + len {
            if self.held.is_none() {
                self.held = Some(reserve(&self.budget, len)?);
                // Grow with the data, not ahead of it: a prefix costs its sender nothing.
                self.buf.reserve((5 + len - self.buf.len()).min(64 * 1024));
            }
            return Ok(None);
        }
        self.held = None;
        let frame = self.buf.split_to(5 + len).freeze();
        let body = frame.slice(5..);
        let payload = match (compressed, self.encoding) {
            (0, _) => body,
            (1, Encoding::Gzip) => gunzip(&body, self.max)?,
            (1, Encoding::Identity) => {
                return Err(Status::new(
                    Code::Internal,
                    "compressed message without a grpc-encoding header",
                ))
            }
            (flag, _) => {
                return Err(Status::new(
                    Code::Internal,
                    format!("invalid compressed-flag {flag} in a message frame"),
                ))
            }
        };
        Ok(Some(Message { frame, payload }))
    }
}

/// Takes `len` bytes of the gateway's buffer budget, or refuses (limit `buffer-budget`).
pub(crate) fn reserve(
    budget: &Arc<Semaphore>,
    len: usize,
) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
    budget
        .clone()
        .try_acquire_many_owned(u32::try_from(len).unwrap_or(u32::MAX))
        .map_err(|_| {
            Status::limit(
                "buffer-budget",
                "the gateway is holding too many large messages; retry shortly",
            )
        })
}

/// Decompresses one gzip message, refusing to inflate past `max` bytes.
fn gunzip(data: &[u8], max: usize) -> Result<Bytes, Status> {
    let mut out = Vec::new();
    // Every member, as Go's gzip.Reader (and so the Temporal server) decodes them: a decoder
    // that stopped after the first would check one message and forward another.
    let mut decoder = flate2::read::MultiGzDecoder::new(data).take(max as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| Status::new(Code::Internal, format!("bad gzip message: {e}")))?;
    if out.len() > max {
        return Err(Status::limit(
            "message-size",
            format!("request message inflates past the gateway's limit of {max} bytes (--max-message-bytes)"),
        ));
    }
    Ok(Bytes::from(out))
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the gateway's bodies answer from `poll_frame`.
pub(crate) type PolledFrame = std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>>;

/// An uncompressed message frame (for tests).
#[cfg(test)]
pub(crate) fn frame(payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + payload.len());
    b.extend_from_slice(&[0]);
    b.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    b.extend_from_slice(payload);
    b.freeze()
}
