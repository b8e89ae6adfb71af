//! The REST API's wire format (`/api/v1`): request bodies, query strings and response bodies,
//! shared by the server's handlers and by clients (the `gatehouse` CLI). Field names are
//! tcld's (camelCase); `resourceVersion` travels as a string, as Temporal Cloud's does.
//!
//! Bodies the server builds from an object of several fields list them in alphabetical order,
//! which is the order the API has always written them in.

use base64::Engine;
use gatehouse_notify::ExpiryEntry;
use gatehouse_pki::{certificate_pem, parse_certificates, rfc3339, sha1_fingerprint};
use gatehouse_policy::CertificateFilter;
use gatehouse_store::{
    ApiKey, AuditEvent, Namespace, NamespaceSpec, ObservedLeaf, ResourceVersion, Role, Ticket, User,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::control::{self, CaTraffic, NamespaceUsage, Violation, WriteOptions};

/// `resourceVersion` as it travels (`#[serde(with = "version")]`): a string, as Temporal Cloud's
/// does; a number is accepted.
mod version {
    use gatehouse_store::ResourceVersion;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ResourceVersion>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum V {
            S(String),
            N(i64),
        }
        match Option::<V>::deserialize(d)? {
            None => Ok(None),
            Some(V::N(n)) => Ok(Some(n)),
            Some(V::S(s)) if s.is_empty() => Ok(None),
            Some(V::S(s)) => s.parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!("resourceVersion {s:?} is not a number"))
            }),
        }
    }

    pub(super) fn serialize<S: Serializer>(
        v: &Option<ResourceVersion>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }
}

/// Declares the body (or query string) of a namespace write: its own fields, then the
/// `resourceVersion`, `requestId` and `dryRun` that every such write takes, and `options()`,
/// which hands those to the control service.
macro_rules! write_request {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $($(#[$field_attr:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $($(#[$field_attr])* pub $field: $ty,)*
            /// Refuse the write unless the namespace is still at this version.
            #[serde(default, with = "version", skip_serializing_if = "Option::is_none")]
            pub resource_version: Option<ResourceVersion>,
            /// Idempotency key.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub request_id: Option<String>,
            /// Validate the change without storing it.
            #[serde(default, skip_serializing_if = "std::ops::Not::not")]
            pub dry_run: bool,
        }

        impl $name {
            /// The write's `resourceVersion`, `requestId` and `dryRun`.
            pub fn options(&self) -> WriteOptions {
                WriteOptions {
                    resource_version: self.resource_version,
                    request_id: self.request_id.clone(),
                    dry_run: self.dry_run,
                }
            }
        }
    };
}

// --- namespaces ---------------------------------------------------------------------------------

/// The mTLS part of a namespace spec, as the API shows and takes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MtlsAuth {
    #[serde(default)]
    pub accepted_client_ca: String,
    #[serde(default)]
    pub certificate_filters: Vec<CertificateFilter>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpecBody {
    pub mtls_auth: MtlsAuth,
}

impl From<SpecBody> for NamespaceSpec {
    fn from(s: SpecBody) -> Self {
        NamespaceSpec {
            accepted_client_ca: s.mtls_auth.accepted_client_ca,
            certificate_filters: s.mtls_auth.certificate_filters,
        }
    }
}

/// One accepted CA, with tcld's `list` fields plus `sha256`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaView {
    /// SHA-1, hex (tcld's fingerprint).
    pub fingerprint: String,
    pub sha256: String,
    pub issuer: String,
    pub subject: String,
    pub not_before: String,
    pub not_after: String,
    pub base64_encoded_data: String,
    /// True once notAfter has passed: every client of this CA is refused.
    pub expired: bool,
}

/// A namespace as the API returns it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceView {
    pub name: String,
    pub resource_version: String,
    pub created_at: String,
    pub updated_at: String,
    pub spec: SpecBody,
    pub accepted_client_cas: Vec<CaView>,
}

impl NamespaceView {
    /// The view of a namespace at `now` (which decides `expired`).
    pub fn new(ns: &Namespace, now: OffsetDateTime) -> Self {
        Self {
            name: ns.name.clone(),
            resource_version: ns.resource_version.to_string(),
            created_at: rfc3339(ns.created_at),
            updated_at: rfc3339(ns.updated_at),
            spec: SpecBody {
                mtls_auth: MtlsAuth {
                    accepted_client_ca: ns.spec.accepted_client_ca.clone(),
                    certificate_filters: ns.spec.certificate_filters.clone(),
                },
            },
            accepted_client_cas: ca_views(&ns.spec.accepted_client_ca, now),
        }
    }
}

fn ca_views(pem: &str, now: OffsetDateTime) -> Vec<CaView> {
    parse_certificates(pem.as_bytes(), "bundle")
        .unwrap_or_default()
        .iter()
        .map(|c| CaView {
            fingerprint: sha1_fingerprint(&c.der),
            sha256: c.fingerprint.to_string(),
            issuer: c.issuer.clone(),
            subject: c.subject.clone(),
            not_before: rfc3339(c.not_before),
            not_after: rfc3339(c.not_after),
            base64_encoded_data: base64::engine::general_purpose::STANDARD
                .encode(certificate_pem(&c.der)),
            expired: c.not_after < now,
        })
        .collect()
}

/// `GET /api/v1/namespaces`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NamespaceList {
    pub namespaces: Vec<NamespaceView>,
}

/// `POST /api/v1/namespaces`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNamespace {
    pub name: String,
    pub spec: SpecBody,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

write_request! {
    /// `PUT /api/v1/namespaces/{namespace}`: the whole spec.
    #[derive(Clone, Debug, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct UpdateNamespace {
        pub spec: SpecBody,
    }
}

write_request! {
    /// The query string of a write without a body (`DELETE …/namespaces/{ns}`,
    /// `DELETE …/certificate-filters`).
    #[derive(Clone, Debug, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct WriteQuery {}
}

impl From<WriteQuery> for WriteOptions {
    fn from(q: WriteQuery) -> Self {
        q.options()
    }
}

write_request! {
    /// `POST|PUT …/accepted-client-ca` and `POST …/accepted-client-ca/remove`.
    #[derive(Clone, Debug, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CaBody {
        /// One or more PEM certificates.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ca_certificate: Option<String>,
        /// For removal: the SHA-256 (or tcld's SHA-1) fingerprint, hex, colons allowed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fingerprint: Option<String>,
    }
}

/// `GET …/accepted-client-ca`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaList {
    pub accepted_client_cas: Vec<CaView>,
    pub resource_version: String,
}

write_request! {
    /// `PUT|POST …/certificate-filters`.
    #[derive(Clone, Debug, Default, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct FiltersBody {
        #[serde(default)]
        pub filters: Vec<CertificateFilter>,
    }
}

/// `GET …/certificate-filters`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterList {
    pub filters: Vec<CertificateFilter>,
    pub resource_version: String,
}

// --- usage, tickets, expirations -----------------------------------------------------------

/// `GET …/namespaces/{ns}/usage`, per CA.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaUsageView {
    pub handshakes: i64,
    pub in_bundle: bool,
    pub last_handshake: Option<String>,
    pub last_seen: Option<String>,
    pub open_connections: i64,
    pub requests: i64,
    pub sha256: String,
    pub subject: Option<String>,
}

impl From<&CaTraffic> for CaUsageView {
    fn from(c: &CaTraffic) -> Self {
        Self {
            handshakes: c.handshakes,
            in_bundle: c.in_bundle(),
            last_handshake: c.last_handshake.map(rfc3339),
            last_seen: c.last_seen.map(rfc3339),
            open_connections: c.open_connections,
            requests: c.requests,
            sha256: c.sha256.clone(),
            subject: c.subject.clone(),
        }
    }
}

/// `GET …/namespaces/{ns}/usage`, per client certificate.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeafUsageView {
    pub ca_sha256: String,
    pub first_seen: String,
    pub handshakes: i64,
    pub last_handshake: Option<String>,
    pub last_seen: String,
    pub not_after: String,
    pub requests: i64,
    pub sha256: String,
    pub subject: String,
}

impl From<&ObservedLeaf> for LeafUsageView {
    fn from(l: &ObservedLeaf) -> Self {
        Self {
            ca_sha256: l.ca_fingerprint.clone(),
            first_seen: rfc3339(l.first_seen),
            handshakes: l.connections,
            last_handshake: l.last_handshake.map(rfc3339),
            last_seen: rfc3339(l.last_seen),
            not_after: rfc3339(l.leaf_not_after),
            requests: l.requests,
            sha256: l.leaf_fingerprint.clone(),
            subject: l.leaf_subject.clone(),
        }
    }
}

/// `GET …/namespaces/{ns}/usage`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UsageView {
    pub cas: Vec<CaUsageView>,
    pub leaves: Vec<LeafUsageView>,
    pub namespace: String,
}

impl From<&NamespaceUsage> for UsageView {
    fn from(u: &NamespaceUsage) -> Self {
        Self {
            cas: u.cas.iter().map(CaUsageView::from).collect(),
            leaves: u.leaves.iter().map(LeafUsageView::from).collect(),
            namespace: u.namespace.clone(),
        }
    }
}

/// `GET /api/v1/tickets`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TicketList {
    pub tickets: Vec<Ticket>,
}

/// `GET /api/v1/expirations?within=30d`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ExpiryQuery {
    /// tcld duration, e.g. 30d.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

/// The answer to `GET /api/v1/expirations`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExpiryReport {
    pub at: String,
    pub certificates: Vec<ExpiryEntry>,
}

// --- users, keys, audit ----------------------------------------------------------------------

/// `GET /api/v1/whoami`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WhoAmI {
    pub key: ApiKey,
    pub user: User,
}

/// `GET /api/v1/users`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UserList {
    pub users: Vec<User>,
}

/// `POST /api/v1/users` and `PUT /api/v1/users/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl From<UserBody> for control::UserFields {
    fn from(b: UserBody) -> Self {
        Self {
            email: b.email,
            role: b.role,
            namespaces: b.namespaces,
        }
    }
}

/// `GET /api/v1/apikeys?userId=…`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `GET /api/v1/apikeys`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
}

/// `POST /api/v1/apikeys`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyBody {
    pub name: String,
    /// Whose key; default the caller. Admins may create keys for others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Lifetime in tcld's duration grammar (e.g. 90d); default no expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
}

impl From<KeyBody> for control::NewKey {
    fn from(b: KeyBody) -> Self {
        Self {
            name: b.name,
            user_id: b.user_id,
            duration: b.duration,
        }
    }
}

/// The answer to `POST /api/v1/apikeys`: the token is shown only here.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKey {
    pub api_key: ApiKey,
    pub note: String,
    pub token: String,
}

impl std::fmt::Debug for CreatedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        control::debug_without_token(f, "CreatedApiKey", "api_key", &self.api_key)
    }
}

/// `GET /api/v1/audit?namespace=…&user=…&before=…&limit=…`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQueryParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Only events by this user (email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

impl From<AuditQueryParams> for control::AuditParams {
    fn from(q: AuditQueryParams) -> Self {
        Self {
            namespace: q.namespace,
            user: q.user,
            before: q.before,
            limit: q.limit,
        }
    }
}

/// The answer to `GET /api/v1/audit`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPageBody {
    pub events: Vec<AuditEvent>,
    pub next_before: Option<i64>,
}

// --- errors ------------------------------------------------------------------------------------

/// Every error body: `{code, message, violations:[{rule, message, subject, fingerprint, hint}]}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub violations: Vec<Violation>,
}
