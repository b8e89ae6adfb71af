//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`, built from [`ROUTES`] (a test
//! checks that every route listed here exists on the router, and the reverse).

use axum::Json;
use serde_json::{json, Value};

/// Who may call a route.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    Public,
    AnyUser,
    /// Readers of the namespace: admins, read-only users, its namespace admins.
    NamespaceRead,
    /// Writers of the namespace: owners, global admins, its namespace admins.
    NamespaceWrite,
    /// Account owners and global admins.
    Admin,
}

impl Access {
    fn text(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::AnyUser => "any authenticated user",
            Self::NamespaceRead => {
                "account-owner, global-admin, read-only, or namespace-admin of this namespace"
            }
            Self::NamespaceWrite => {
                "account-owner, global-admin, or namespace-admin of this namespace"
            }
            Self::Admin => "account-owner or global-admin",
        }
    }
}

/// Every route: method, path, access, summary, request schema (if any).
pub const ROUTES: &[(&str, &str, Access, &str, Option<&str>)] = &[
    ("get", "/api/v1/openapi.json", Access::Public, "This document", None),
    ("get", "/api/v1/whoami", Access::AnyUser, "The caller's user and API key", None),
    ("get", "/api/v1/namespaces", Access::AnyUser, "Namespaces the caller may read", None),
    ("post", "/api/v1/namespaces", Access::Admin, "Create a namespace (validated in full)", Some("CreateNamespace")),
    ("get", "/api/v1/namespaces/{namespace}", Access::NamespaceRead, "One namespace", None),
    ("put", "/api/v1/namespaces/{namespace}", Access::NamespaceWrite, "Replace the namespace spec (resourceVersion checked; requestId idempotent)", Some("UpdateNamespace")),
    ("delete", "/api/v1/namespaces/{namespace}", Access::Admin, "Delete a namespace (?resourceVersion=)", None),
    ("get", "/api/v1/namespaces/{namespace}/accepted-client-ca", Access::NamespaceRead, "The accepted client CAs (tcld's list fields plus sha256)", None),
    ("post", "/api/v1/namespaces/{namespace}/accepted-client-ca", Access::NamespaceWrite, "Add CA certificates (PEM)", Some("CaChange")),
    ("put", "/api/v1/namespaces/{namespace}/accepted-client-ca", Access::NamespaceWrite, "Replace the whole CA bundle (PEM)", Some("CaChange")),
    ("post", "/api/v1/namespaces/{namespace}/accepted-client-ca/remove", Access::NamespaceWrite, "Remove CA certificates by PEM or fingerprint (SHA-256 or SHA-1)", Some("CaChange")),
    ("get", "/api/v1/namespaces/{namespace}/certificate-filters", Access::NamespaceRead, "Export the certificate filters (tcld JSON)", None),
    ("put", "/api/v1/namespaces/{namespace}/certificate-filters", Access::NamespaceWrite, "Import (replace) the certificate filters", Some("FiltersChange")),
    ("post", "/api/v1/namespaces/{namespace}/certificate-filters", Access::NamespaceWrite, "Add certificate filters", Some("FiltersChange")),
    ("delete", "/api/v1/namespaces/{namespace}/certificate-filters", Access::NamespaceWrite, "Clear the certificate filters (refused while a well-known CA needs them)", None),
    ("get", "/api/v1/namespaces/{namespace}/usage", Access::NamespaceRead, "Gateway traffic per accepted CA (last handshake, handshakes, open connections) and per client leaf", None),
    ("get", "/api/v1/users", Access::Admin, "List users", None),
    ("post", "/api/v1/users", Access::Admin, "Create a user (only owners create owners)", Some("User")),
    ("get", "/api/v1/users/{id}", Access::AnyUser, "One user by id or email (yourself, or any as admin)", None),
    ("put", "/api/v1/users/{id}", Access::Admin, "Change a user's role and namespaces", Some("User")),
    ("delete", "/api/v1/users/{id}", Access::Admin, "Delete a user and their API keys", None),
    ("get", "/api/v1/apikeys", Access::AnyUser, "List API keys (your own; all or ?userId= as admin)", None),
    ("post", "/api/v1/apikeys", Access::AnyUser, "Create an API key; the token is returned once", Some("ApiKeyCreate")),
    ("delete", "/api/v1/apikeys/{id}", Access::AnyUser, "Revoke an API key (your own, or any as admin)", None),
    ("get", "/api/v1/audit", Access::AnyUser, "Audit log, newest first (?namespace=&user=&before=&limit=); namespace admins see their namespaces", None),
    ("get", "/api/v1/tickets", Access::AnyUser, "Tickets opened for CAs within 5 days of expiry (namespace admins: theirs)", None),
    ("get", "/api/v1/expirations", Access::AnyUser, "Every accepted CA and observed client leaf, soonest expiry first (?within=30d)", None),
    ("get", "/metrics", Access::AnyUser, "Prometheus metrics (text format); namespace admins see their namespaces", None),
];

/// The query parameters a route takes.
fn query_parameters(method: &str, path: &str) -> &'static [(&'static str, &'static str)] {
    match (method, path) {
        ("delete", "/api/v1/namespaces/{namespace}")
        | ("delete", "/api/v1/namespaces/{namespace}/certificate-filters") => &[
            (
                "resourceVersion",
                "only if the namespace is still at this version",
            ),
            ("requestId", "idempotency key"),
            ("dryRun", "check access and version; change nothing"),
        ],
        ("get", "/api/v1/audit") => &[
            ("namespace", "only this namespace's events"),
            ("user", "only this user's events (email)"),
            ("before", "page: events older than this id"),
            ("limit", "page size (1-1000, default 50)"),
        ],
        ("get", "/api/v1/apikeys") => &[("userId", "this user's keys (admins)")],
        ("get", "/api/v1/expirations") => {
            &[("within", "only certificates expiring within, e.g. 30d")]
        }
        _ => &[],
    }
}

/// The document.
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, access, summary, body) in ROUTES {
        let created = *method == "post"
            && matches!(
                *path,
                "/api/v1/namespaces" | "/api/v1/users" | "/api/v1/apikeys"
            );
        let deleted = *method == "delete" && !path.ends_with("/certificate-filters");
        let success = if created {
            "201"
        } else if deleted {
            "204"
        } else {
            "200"
        };
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": summary,
            "description": format!("Access: {}.", access.text()),
            "responses": {
                "400": { "$ref": "#/components/responses/Error" },
                "401": { "$ref": "#/components/responses/Error" },
                "403": { "$ref": "#/components/responses/Error" },
                "404": { "$ref": "#/components/responses/Error" },
                "409": { "$ref": "#/components/responses/Error" },
                "413": { "$ref": "#/components/responses/Error" },
                "503": { "$ref": "#/components/responses/Error" }
            }
        });
        op["responses"][success] = json!({ "description": "OK" });
        let mut params: Vec<serde_json::Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        for (name, description) in query_parameters(method, path) {
            params.push(json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } }));
        }
        if !params.is_empty() {
            op["parameters"] = json!(params);
        }
        if !matches!(access, Access::Public) {
            op["security"] = json!([{ "apiKey": [] }]);
        }
        if let Some(schema) = body {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
            });
        }
        entry[*method] = op;
    }
    let filter = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "commonName": { "type": "string" },
            "organization": { "type": "string" },
            "organizationalUnit": { "type": "string" },
            "subjectAlternativeName": { "type": "string" },
            "role": { "type": "string", "enum": ["worker", "reader", "writer", "admin"], "description": "Gatehouse: what certificates this filter admits may do (default: everything)" }
        }
    });
    let dry_run = json!({ "type": "boolean", "description": "Validate the change and return the namespace as it would be; store nothing" });
    let version = json!({ "type": ["string", "integer"], "description": "The namespace's current resourceVersion; a stale one is refused with 409" });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Gatehouse API", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": {
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "Authorization: Bearer ghk_…" } },
            "responses": { "Error": { "description": "An error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "code": { "type": "string" },
                        "message": { "type": "string" },
                        "violations": { "type": "array", "items": { "type": "object", "properties": {
                            "rule": { "type": "string" }, "message": { "type": "string" },
                            "subject": { "type": "string" }, "fingerprint": { "type": "string" }, "hint": { "type": "string" } } } }
                    }
                },
                "CertificateFilter": filter,
                "Spec": {
                    "type": "object",
                    "properties": { "mtlsAuth": { "type": "object", "properties": {
                        "acceptedClientCa": { "type": "string", "description": "PEM bundle: at most 16 CA certificates and 32 KB" },
                        "certificateFilters": { "type": "array", "maxItems": 25, "items": { "$ref": "#/components/schemas/CertificateFilter" } } } } }
                },
                "CreateNamespace": { "type": "object", "required": ["name", "spec"], "properties": {
                    "name": { "type": "string" }, "spec": { "$ref": "#/components/schemas/Spec" }, "requestId": { "type": "string" } } },
                "UpdateNamespace": { "type": "object", "required": ["spec"], "properties": {
                    "spec": { "$ref": "#/components/schemas/Spec" }, "resourceVersion": version, "requestId": { "type": "string" }, "dryRun": dry_run } },
                "CaChange": { "type": "object", "properties": {
                    "caCertificate": { "type": "string", "description": "PEM" },
                    "fingerprint": { "type": "string", "description": "for removal: SHA-256 or SHA-1 hex" },
                    "resourceVersion": version, "requestId": { "type": "string" }, "dryRun": dry_run } },
                "FiltersChange": { "type": "object", "properties": {
                    "filters": { "type": "array", "items": { "$ref": "#/components/schemas/CertificateFilter" } },
                    "resourceVersion": version, "requestId": { "type": "string" }, "dryRun": dry_run } },
                "User": { "type": "object", "required": ["role"], "properties": {
                    "email": { "type": "string" },
                    "role": { "enum": ["account-owner", "global-admin", "namespace-admin", "read-only"] },
                    "namespaces": { "type": "array", "items": { "type": "string" } } } },
                "ApiKeyCreate": { "type": "object", "required": ["name"], "properties": {
                    "name": { "type": "string" }, "userId": { "type": "string" },
                    "duration": { "type": "string", "description": "tcld duration, e.g. 90d" } } }
            }
        }
    })
}

pub(crate) async fn serve() -> Json<Value> {
    Json(openapi_document())
}
