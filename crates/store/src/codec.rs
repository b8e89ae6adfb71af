//! How values are stored in rows and read back: timestamps as fixed-width text, JSON columns,
//! text from certificates, new ids, and one decoder per row type.

use sqlx::any::AnyRow;
use sqlx::{Row, Transaction};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Context, StoreError};
use crate::model::{
    ApiKey, AuditEvent, Namespace, NamespaceSpec, NewNotification, Notification, ObservedLeaf,
    Principal, Ticket, User,
};

/// The columns [`Namespace`]'s decoder reads, in insertion order.
pub(crate) const NAMESPACE_COLUMNS: &str =
    "name, accepted_client_ca, certificate_filters, resource_version, created_at, updated_at";
/// The columns [`User`]'s decoder reads.
pub(crate) const USER_COLUMNS: &str = "id, email, role, namespaces, created_at";
/// The columns [`ApiKey`]'s decoder reads (every column but the secret's hash).
pub(crate) const KEY_COLUMNS: &str = "id, user_id, name, created_at, expires_at, revoked_at";
/// The columns [`Notification`]'s decoder reads.
pub(crate) const NOTIFICATION_COLUMNS: &str = "id, namespace, fingerprint, kind, threshold, channel, recipient, payload, status, attempts, last_error, sent_at";
/// The columns [`Ticket`]'s decoder reads.
pub(crate) const TICKET_COLUMNS: &str =
    "id, namespace, fingerprint, subject, not_after, opened_at, status";
/// The columns [`AuditEvent`]'s decoder reads.
pub(crate) const AUDIT_COLUMNS: &str =
    "id, at, actor, action, namespace, request_id, before, after";
/// The columns [`ObservedLeaf`]'s decoder reads.
pub(crate) const LEAF_COLUMNS: &str = "namespace, ca_fingerprint, leaf_fingerprint, leaf_subject, leaf_not_after, first_seen, last_seen, last_handshake, connections, requests";

/// Timestamps are stored as fixed-width UTC RFC 3339 text (always nine fraction digits), so
/// SQL compares them correctly as strings.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    const FORMAT: &[time::format_description::FormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(FORMAT)
        .unwrap_or_default()
}

pub(crate) fn parse_ts(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| StoreError::Corrupt {
        what: format!("bad timestamp {s:?}"),
        source: e.into(),
    })
}

pub(crate) fn parse_opt_ts(s: Option<String>) -> Result<Option<OffsetDateTime>, StoreError> {
    s.as_deref().map(parse_ts).transpose()
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        what: "bad JSON".into(),
        source: e.into(),
    })
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Text from a certificate, storable anywhere: PostgreSQL's text type refuses NUL, which a
/// certificate's subject may carry (it is shown as U+FFFD instead).
pub(crate) fn text(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

/// A random identifier: a prefix and 128 random bits in hex.
pub(crate) fn new_id(prefix: &str) -> Result<String, StoreError> {
    let hex = gatehouse_pki::random_hex(16).map_err(|source| StoreError::Random { source })?;
    Ok(format!("{prefix}_{hex}"))
}

/// A query on the `Any` driver, as [`sqlx::query`] makes it.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A type the store reads back from a row (of the columns its `*_COLUMNS` constant names).
pub(crate) trait Decoded: Sized {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError>;
}

/// Runs `query` in the transaction `tx` and decodes the one row it returns.
pub(crate) async fn read_one<T: Decoded>(
    tx: &mut Transaction<'_, sqlx::Any>,
    query: AnyQuery<'_>,
    what: &'static str,
) -> Result<T, StoreError> {
    let row = query.fetch_one(&mut **tx).await.context(what)?;
    T::from_row(&row)
}

/// One column of a row.
pub(crate) fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name).context("decoding a row")
}

/// A timestamp column.
fn ts_col(row: &AnyRow, name: &str) -> Result<OffsetDateTime, StoreError> {
    parse_ts(&col::<String>(row, name)?)
}

/// A nullable timestamp column.
fn opt_ts_col(row: &AnyRow, name: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    parse_opt_ts(col(row, name)?)
}

/// A JSON column.
fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, name: &str) -> Result<T, StoreError> {
    json(&col::<String>(row, name)?)
}

impl Decoded for Namespace {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Namespace {
            name: col(row, "name")?,
            spec: NamespaceSpec {
                accepted_client_ca: col(row, "accepted_client_ca")?,
                certificate_filters: json_col(row, "certificate_filters")?,
            },
            resource_version: col(row, "resource_version")?,
            created_at: ts_col(row, "created_at")?,
            updated_at: ts_col(row, "updated_at")?,
        })
    }
}

impl Decoded for User {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let role: String = col(row, "role")?;
        Ok(User {
            id: col(row, "id")?,
            email: col(row, "email")?,
            role: role.parse().map_err(|e: String| StoreError::Corrupt {
                what: "a bad role".into(),
                source: e.into(),
            })?,
            namespaces: json_col(row, "namespaces")?,
            created_at: ts_col(row, "created_at")?,
        })
    }
}

impl Decoded for ApiKey {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            id: col(row, "id")?,
            user_id: col(row, "user_id")?,
            name: col(row, "name")?,
            created_at: ts_col(row, "created_at")?,
            expires_at: opt_ts_col(row, "expires_at")?,
            revoked_at: opt_ts_col(row, "revoked_at")?,
        })
    }
}

/// The columns [`Principal`]'s decoder reads, from `api_keys k JOIN users u`.
pub(crate) const PRINCIPAL_COLUMNS: &str = "k.id AS key_id, k.user_id, k.name AS key_name, k.created_at AS key_created, k.expires_at, k.revoked_at, \
     u.id, u.email, u.role, u.namespaces, u.created_at";

/// A key and its user, joined (see [`PRINCIPAL_COLUMNS`]).
impl Decoded for Principal {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let key = ApiKey {
            id: col(row, "key_id")?,
            user_id: col(row, "user_id")?,
            name: col(row, "key_name")?,
            created_at: ts_col(row, "key_created")?,
            expires_at: opt_ts_col(row, "expires_at")?,
            revoked_at: opt_ts_col(row, "revoked_at")?,
        };
        Ok(Principal {
            user: User::from_row(row)?,
            key,
        })
    }
}

impl Decoded for AuditEvent {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(AuditEvent {
            id: col(row, "id")?,
            at: ts_col(row, "at")?,
            actor: col(row, "actor")?,
            action: col(row, "action")?,
            namespace: col(row, "namespace")?,
            request_id: col(row, "request_id")?,
            before: json_col(row, "before")?,
            after: json_col(row, "after")?,
        })
    }
}

impl Decoded for Notification {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Notification {
            id: col(row, "id")?,
            item: NewNotification {
                namespace: col(row, "namespace")?,
                fingerprint: col(row, "fingerprint")?,
                kind: col(row, "kind")?,
                threshold: col(row, "threshold")?,
                channel: col(row, "channel")?,
                recipient: col(row, "recipient")?,
                payload: json_col(row, "payload")?,
            },
            status: col(row, "status")?,
            attempts: col(row, "attempts")?,
            last_error: col(row, "last_error")?,
            sent_at: opt_ts_col(row, "sent_at")?,
        })
    }
}

impl Decoded for Ticket {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Ticket {
            id: col(row, "id")?,
            namespace: col(row, "namespace")?,
            fingerprint: col(row, "fingerprint")?,
            subject: col(row, "subject")?,
            not_after: ts_col(row, "not_after")?,
            opened_at: ts_col(row, "opened_at")?,
            status: col(row, "status")?,
        })
    }
}

impl Decoded for ObservedLeaf {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        // No handshake yet is stored as '' (the column is NOT NULL, added by migration 2).
        let last_handshake: String = col(row, "last_handshake")?;
        Ok(ObservedLeaf {
            namespace: col(row, "namespace")?,
            ca_fingerprint: col(row, "ca_fingerprint")?,
            leaf_fingerprint: col(row, "leaf_fingerprint")?,
            leaf_subject: col(row, "leaf_subject")?,
            leaf_not_after: ts_col(row, "leaf_not_after")?,
            first_seen: ts_col(row, "first_seen")?,
            last_seen: ts_col(row, "last_seen")?,
            last_handshake: if last_handshake.is_empty() {
                None
            } else {
                Some(parse_ts(&last_handshake)?)
            },
            connections: col(row, "connections")?,
            requests: col(row, "requests")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let t = time::macros::datetime!(2030-01-02 03:04:05.5 +02:00);
        let s = ts(t);
        assert_eq!(s, "2030-01-02T01:04:05.500000000Z");
        assert_eq!(parse_ts(&s).unwrap(), t);
        let e = parse_ts("yesterday").unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn ids_are_prefixed_random_hex() {
        let (a, b) = (new_id("u").unwrap(), new_id("u").unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with("u_") && a.len() == 2 + 32);
    }
}
