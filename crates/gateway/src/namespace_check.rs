//! Keeps every request inside the connection's namespace: the method's access class, and a walk
//! of the protobuf wire bytes over exactly the fields that can name a namespace (the table in
//! `api_table.rs`, generated from the Temporal API descriptors).

use std::fmt;

use crate::api_schema::{Access, Field, Kind, MessageType};
use crate::api_table::{MESSAGES, METHODS};

/// A method as the gateway classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// The method's path (static, so it can label metrics) and its access.
    Known(&'static str, Access),
    /// Not a WorkflowService, OperatorService or health method (AdminService, the cloud
    /// ops API, anything else).
    Unknown,
}

pub(crate) fn classify(path: &str) -> Method {
    match METHODS.binary_search_by(|(p, _)| (*p).cmp(path)) {
        Ok(i) => Method::Known(METHODS[i].0, METHODS[i].1),
        Err(_) => Method::Unknown,
    }
}

/// Nesting deeper than this is refused (Temporal's own messages nest far less; recursive
/// types like `Failure.cause` are bounded by it).
const MAX_DEPTH: usize = 100;

/// Why a request message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// The request's namespace field is missing or empty.
    Missing { message: &'static str },
    /// A namespace field names another namespace.
    Other { field: String, found: String },
    /// A namespace id was given.
    Id { field: String },
    /// Not valid protobuf for this message.
    Malformed(String),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { message } => write!(f, "{message} names no namespace"),
            Self::Other { field, found } => write!(f, "{field} is {found:?}"),
            Self::Id { field } => write!(
                f,
                "{field} is set; namespace ids are not accepted on a namespace endpoint, name the namespace instead"
            ),
            Self::Malformed(why) => write!(f, "malformed request message: {why}"),
        }
    }
}

/// Checks one request message of a namespaced method against `namespace`.
pub(crate) fn check_message(
    request: usize,
    bytes: &[u8],
    namespace: &str,
) -> Result<(), Violation> {
    let ty = &MESSAGES[request];
    let mut top = None;
    let mut path = Vec::new();
    walk(ty, bytes, namespace, 0, &mut path, &mut top)?;
    match top {
        // The last occurrence is the one the server uses; every occurrence was checked.
        Some(true) => Ok(()),
        _ => Err(Violation::Missing { message: ty.name }),
    }
}

fn walk(
    ty: &'static MessageType,
    mut buf: &[u8],
    namespace: &str,
    depth: usize,
    path: &mut Vec<&'static str>,
    top: &mut Option<bool>,
) -> Result<(), Violation> {
    if depth > MAX_DEPTH {
        return Err(Violation::Malformed(format!(
            "nested deeper than {MAX_DEPTH} messages"
        )));
    }
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(Violation::Malformed(format!("field number {number}")));
        }
        let field = ty.fields.iter().find(|f| u64::from(f.number) == number);
        match key & 7 {
            0 => {
                varint(&mut buf)?;
            }
            1 => skip(&mut buf, 8)?,
            5 => skip(&mut buf, 4)?,
            2 => {
                let len = varint(&mut buf)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|l| *l <= buf.len())
                    .ok_or_else(|| Violation::Malformed("length past the end".into()))?;
                let (data, rest) = buf.split_at(len);
                buf = rest;
                let Some(field) = field else { continue };
                match field.kind {
                    Kind::Namespace => {
                        let ok = data == namespace.as_bytes();
                        if depth == 0 {
                            *top = Some(ok && !data.is_empty());
                        }
                        if !ok && (depth == 0 || !data.is_empty()) {
                            return Err(Violation::Other {
                                field: field_path(ty, path, field),
                                found: String::from_utf8_lossy(data).into_owned(),
                            });
                        }
                    }
                    Kind::NamespaceId => {
                        if !data.is_empty() {
                            return Err(Violation::Id {
                                field: field_path(ty, path, field),
                            });
                        }
                    }
                    Kind::Message(i) => {
                        path.push(field.name);
                        walk(&MESSAGES[i], data, namespace, depth + 1, path, top)?;
                        path.pop();
                    }
                }
            }
            // Groups (3, 4) do not exist in Temporal's proto3 API; 6 and 7 are invalid.
            t => return Err(Violation::Malformed(format!("wire type {t}"))),
        }
    }
    Ok(())
}

fn field_path(_ty: &MessageType, path: &[&str], field: &Field) -> String {
    let mut s = String::new();
    for p in path {
        s.push_str(p);
        s.push('.');
    }
    s.push_str(field.name);
    s
}

fn varint(buf: &mut &[u8]) -> Result<u64, Violation> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&b, rest) = buf
            .split_first()
            .ok_or_else(|| Violation::Malformed("truncated varint".into()))?;
        *buf = rest;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Violation::Malformed("varint longer than 10 bytes".into()))
}

fn skip(buf: &mut &[u8], n: usize) -> Result<(), Violation> {
    if buf.len() < n {
        return Err(Violation::Malformed("truncated fixed-width field".into()));
    }
    *buf = &buf[n..];
    Ok(())
}
