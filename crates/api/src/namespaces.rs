//! Namespaces, their accepted client CA bundle and their certificate filters.
//!
//! Every write computes the whole resulting namespace state, validates it with
//! `gatehouse-policy`, and stores it with compare-and-swap on the resource version, together with
//! its audit event. A refused write changes nothing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use gatehouse_pki::{parse_certificates, rfc3339, sha1_fingerprint, Fingerprint};
use gatehouse_policy::{CaBundle, CertificateFilter, CertificateFilters, Finding, Rule};
use gatehouse_store::{Change, Namespace, NamespaceSpec, ResourceVersion, StoreError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{ApiJson, ApiQuery, AppState};

/// `resourceVersion` travels as a string (as Temporal Cloud's does); a number is accepted.
fn de_version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ResourceVersion>, D::Error> {
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

/// The mTLS part of a namespace spec, as the API shows and takes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MtlsAuth {
    #[serde(default)]
    pub(crate) accepted_client_ca: String,
    #[serde(default)]
    pub(crate) certificate_filters: Vec<CertificateFilter>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SpecBody {
    pub(crate) mtls_auth: MtlsAuth,
}

/// One accepted CA, with tcld's `list` fields plus `sha256`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CaView {
    pub(crate) fingerprint: String,
    pub sha256: String,
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) not_before: String,
    pub(crate) not_after: String,
    pub(crate) base64_encoded_data: String,
    /// True once notAfter has passed: every client of this CA is refused.
    pub(crate) expired: bool,
}

/// A namespace as the API returns it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NamespaceView {
    pub(crate) name: String,
    pub(crate) resource_version: String,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) spec: SpecBody,
    pub(crate) accepted_client_cas: Vec<CaView>,
}

fn pem_of(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

fn ca_views(pem: &str) -> Vec<CaView> {
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
            base64_encoded_data: base64::engine::general_purpose::STANDARD.encode(pem_of(&c.der)),
            expired: c.not_after < OffsetDateTime::now_utc(),
        })
        .collect()
}

impl From<&Namespace> for NamespaceView {
    fn from(ns: &Namespace) -> Self {
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
            accepted_client_cas: ca_views(&ns.spec.accepted_client_ca),
        }
    }
}

/// Namespace names must be usable as DNS labels under the gateway's domain
/// (SNI `<namespace>.<domain>`): lowercase letters, digits, `-`, dot-separated.
pub(crate) fn validate_name(name: &str) -> Result<(), ApiError> {
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 200 || !name.split('.').all(ok_label) {
        return Err(ApiError::rule(
            StatusCode::BAD_REQUEST,
            "namespace.name",
            format!("namespace name {name:?} must be dot-separated labels of lowercase letters, digits and '-' (at most 63 each, 200 in all), as it becomes part of a DNS name"),
        ));
    }
    Ok(())
}

/// Validates the whole resulting state of a namespace against Temporal's rules. Certificates
/// that were already in the bundle are not refused for having expired since: removing a CA
/// must work while another one has expired (tcld #406).
pub(crate) fn validate_spec(
    old: Option<&NamespaceSpec>,
    new: &NamespaceSpec,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let filters = CertificateFilters::new(new.certificate_filters.clone())
        .map_err(|e| ApiError::rule(StatusCode::BAD_REQUEST, e.rule.id(), e.message))?;
    let bundle = CaBundle::from_submitted_pem(&new.accepted_client_ca)
        .map_err(|f| ApiError::findings(&f))?;
    let stored: Vec<Fingerprint> = old
        .map(|o| {
            parse_certificates(o.accepted_client_ca.as_bytes(), "bundle")
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.fingerprint)
                .collect()
        })
        .unwrap_or_default();
    bundle
        .validate_update(&stored, !filters.is_empty(), now)
        .map_err(|errors| ApiError::findings(&errors))
}

/// The `requestId` / `resourceVersion` pair every write may carry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WriteOptions {
    #[serde(default, deserialize_with = "de_version")]
    pub(crate) resource_version: Option<ResourceVersion>,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    /// Validate the change and return the namespace as it would be, without storing it.
    #[serde(default)]
    pub(crate) dry_run: bool,
}

/// A short summary of a spec for the audit log: fingerprints and filters, not PEM.
fn summary(spec: &NamespaceSpec) -> serde_json::Value {
    let fps: Vec<String> = parse_certificates(spec.accepted_client_ca.as_bytes(), "bundle")
        .unwrap_or_default()
        .iter()
        .map(|c| c.fingerprint.to_string())
        .collect();
    json!({ "caFingerprints": fps, "certificateFilters": spec.certificate_filters })
}

/// Reads the namespace, applies `edit`, validates the result, and stores it (compare-and-swap),
/// retrying a lost race when the caller did not pin a resource version.
pub(crate) async fn mutate(
    state: &AppState,
    caller: &Caller,
    name: &str,
    action: &str,
    opts: WriteOptions,
    edit: impl Fn(&NamespaceSpec) -> Result<NamespaceSpec, ApiError>,
) -> Result<Json<NamespaceView>, ApiError> {
    caller.require_write(name)?;
    if let Some(id) = opts.request_id.as_ref().filter(|_| !opts.dry_run) {
        if let Some(done) = replay(state, id, name, action).await? {
            return Ok(done);
        }
    }
    for _ in 0..5 {
        let ns = state
            .store
            .get_namespace(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("namespace {name:?} not found")))?;
        if let Some(v) = opts.resource_version {
            if v != ns.resource_version {
                return Err(StoreError::Conflict {
                    name: name.to_owned(),
                    expected: v,
                    actual: ns.resource_version,
                }
                .into());
            }
        }
        let spec = edit(&ns.spec)?;
        let now = (state.clock)();
        validate_spec(Some(&ns.spec), &spec, now)?;
        if opts.dry_run {
            return Ok(Json(NamespaceView::from(&Namespace { spec, ..ns })));
        }
        let change = Change {
            actor: caller.actor(),
            action: action.to_owned(),
            request_id: opts.request_id.clone(),
            before: summary(&ns.spec),
            after: summary(&spec),
        };
        match state
            .store
            .update_namespace(name, ns.resource_version, spec, now, change)
            .await
        {
            Ok(updated) => return Ok(Json(NamespaceView::from(&updated))),
            Err(StoreError::Conflict { .. }) if opts.resource_version.is_none() => continue,
            Err(StoreError::DuplicateRequest { request_id }) => {
                if let Some(done) = replay(state, &request_id, name, action).await? {
                    return Ok(done);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        format!("namespace {name:?} kept changing; retry"),
    ))
}

/// The recorded result of an earlier request with this id — only if it was the same kind of
/// request on the same namespace; an id reused for something else is a conflict (and never
/// reveals the other namespace).
async fn recorded(
    state: &AppState,
    request_id: &str,
    name: &str,
    action: &str,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(r) = state.store.recorded_request(request_id).await? else {
        return Ok(None);
    };
    if r.namespace != name || r.action != action {
        return Err(ApiError::rule(
            StatusCode::CONFLICT,
            "request.id-reused",
            format!(
                "requestId {request_id:?} was already used for a different request; use a new one"
            ),
        ));
    }
    Ok(Some(r.namespace_after))
}

async fn replay(
    state: &AppState,
    request_id: &str,
    name: &str,
    action: &str,
) -> Result<Option<Json<NamespaceView>>, ApiError> {
    let Some(value) = recorded(state, request_id, name, action).await? else {
        return Ok(None);
    };
    let ns: Namespace = serde_json::from_value(value)
        .map_err(|e| ApiError::internal(format!("recorded response unreadable: {e}")))?;
    Ok(Some(Json(NamespaceView::from(&ns))))
}

// --- handlers ---------------------------------------------------------------------------------

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let all = state.store.list_namespaces().await?;
    let visible: Vec<NamespaceView> = all
        .iter()
        .filter(|n| caller.can_read(&n.name))
        .map(NamespaceView::from)
        .collect();
    Ok(Json(json!({ "namespaces": visible })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateBody {
    name: String,
    spec: SpecBody,
    #[serde(default)]
    request_id: Option<String>,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<NamespaceView>), ApiError> {
    caller.require_admin()?;
    validate_name(&body.name)?;
    if let Some(id) = &body.request_id {
        if let Some(done) = replay(&state, id, &body.name, "namespace.create").await? {
            return Ok((StatusCode::OK, done));
        }
    }
    let spec = NamespaceSpec {
        accepted_client_ca: body.spec.mtls_auth.accepted_client_ca,
        certificate_filters: body.spec.mtls_auth.certificate_filters,
    };
    let now = (state.clock)();
    validate_spec(None, &spec, now)?;
    let change = Change {
        actor: caller.actor(),
        action: "namespace.create".into(),
        request_id: body.request_id,
        before: serde_json::Value::Null,
        after: summary(&spec),
    };
    let ns = state
        .store
        .create_namespace(&body.name, spec, now, change)
        .await?;
    Ok((StatusCode::CREATED, Json(NamespaceView::from(&ns))))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<NamespaceView>, ApiError> {
    caller.require_read(&name)?;
    let ns = state
        .store
        .get_namespace(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("namespace {name:?} not found")))?;
    Ok(Json(NamespaceView::from(&ns)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateBody {
    spec: SpecBody,
    #[serde(default, deserialize_with = "de_version")]
    resource_version: Option<ResourceVersion>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

pub(crate) async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<NamespaceView>, ApiError> {
    let opts = WriteOptions {
        resource_version: body.resource_version,
        request_id: body.request_id,
        dry_run: body.dry_run,
    };
    let spec = NamespaceSpec {
        accepted_client_ca: body.spec.mtls_auth.accepted_client_ca,
        certificate_filters: body.spec.mtls_auth.certificate_filters,
    };
    mutate(&state, &caller, &name, "namespace.update", opts, |_| {
        Ok(spec.clone())
    })
    .await
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(opts): ApiQuery<WriteOptions>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    if let Some(id) = &opts.request_id {
        if recorded(&state, id, &name, "namespace.delete")
            .await?
            .is_some()
        {
            return Ok(StatusCode::NO_CONTENT);
        }
    }
    let ns = state
        .store
        .get_namespace(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("namespace {name:?} not found")))?;
    let expected = opts.resource_version.unwrap_or(ns.resource_version);
    if opts.dry_run {
        if expected != ns.resource_version {
            return Err(StoreError::Conflict {
                name,
                expected,
                actual: ns.resource_version,
            }
            .into());
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    let change = Change {
        actor: caller.actor(),
        action: "namespace.delete".into(),
        request_id: opts.request_id,
        before: summary(&ns.spec),
        after: serde_json::Value::Null,
    };
    state
        .store
        .delete_namespace(&name, expected, (state.clock)(), change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- accepted client CAs ----------------------------------------------------------------------

pub(crate) async fn list_cas(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ns = get(State(state), caller, Path(name)).await?;
    Ok(Json(json!({
        "resourceVersion": ns.resource_version,
        "acceptedClientCas": ns.accepted_client_cas,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CaBody {
    /// One or more PEM certificates.
    #[serde(default)]
    pub(crate) ca_certificate: Option<String>,
    /// For removal: the SHA-256 (or tcld's SHA-1) fingerprint, hex, colons allowed.
    #[serde(default)]
    pub(crate) fingerprint: Option<String>,
    #[serde(default, deserialize_with = "de_version")]
    pub(crate) resource_version: Option<ResourceVersion>,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    /// Validate only; store nothing.
    #[serde(default)]
    pub(crate) dry_run: bool,
}

impl CaBody {
    fn options(&self) -> WriteOptions {
        WriteOptions {
            resource_version: self.resource_version,
            request_id: self.request_id.clone(),
            dry_run: self.dry_run,
        }
    }

    fn certificates(&self) -> Result<Vec<gatehouse_pki::CertificateInfo>, ApiError> {
        let pem = self
            .ca_certificate
            .as_deref()
            .ok_or_else(|| ApiError::bad_request("caCertificate (PEM) is required"))?;
        parse_certificates(pem.as_bytes(), "caCertificate").map_err(|e| {
            ApiError::findings(&[Finding::new(Rule::BundleMalformed, None, e.to_string())])
        })
    }
}

fn join_pem(certs: &[gatehouse_pki::CertificateInfo]) -> String {
    certs.iter().map(|c| pem_of(&c.der)).collect()
}

fn current_certs(spec: &NamespaceSpec) -> Vec<gatehouse_pki::CertificateInfo> {
    parse_certificates(spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default()
}

pub(crate) async fn add_ca(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CaBody>,
) -> Result<Json<NamespaceView>, ApiError> {
    caller.require_write(&name)?;
    let added = body.certificates()?;
    mutate(
        &state,
        &caller,
        &name,
        "namespace.accepted-client-ca.add",
        body.options(),
        |spec| {
            let mut certs = current_certs(spec);
            for c in &added {
                if certs.iter().any(|e| e.fingerprint == c.fingerprint) {
                    return Err(ApiError::findings(&[Finding::new(
                        Rule::BundleDuplicate,
                        Some(gatehouse_policy::CertRef::new("caCertificate", c)),
                        "is already in the namespace's bundle",
                    )
                    .with_severity(gatehouse_policy::Severity::Error)]));
                }
                certs.push(c.clone());
            }
            Ok(NamespaceSpec {
                accepted_client_ca: join_pem(&certs),
                certificate_filters: spec.certificate_filters.clone(),
            })
        },
    )
    .await
}

pub(crate) async fn set_cas(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CaBody>,
) -> Result<Json<NamespaceView>, ApiError> {
    caller.require_write(&name)?;
    let pem = body
        .ca_certificate
        .clone()
        .ok_or_else(|| ApiError::bad_request("caCertificate (PEM) is required"))?;
    mutate(
        &state,
        &caller,
        &name,
        "namespace.accepted-client-ca.set",
        body.options(),
        |spec| {
            Ok(NamespaceSpec {
                accepted_client_ca: pem.clone(),
                certificate_filters: spec.certificate_filters.clone(),
            })
        },
    )
    .await
}

/// Matches a certificate by SHA-256 or SHA-1 fingerprint (hex, any case, colons allowed).
fn matches_fingerprint(c: &gatehouse_pki::CertificateInfo, wanted: &str) -> bool {
    let hex: String = wanted
        .chars()
        .filter(|ch| *ch != ':')
        .collect::<String>()
        .to_lowercase();
    hex == c.fingerprint.to_string() || hex == sha1_fingerprint(&c.der)
}

pub(crate) async fn remove_ca(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CaBody>,
) -> Result<Json<NamespaceView>, ApiError> {
    caller.require_write(&name)?;
    let by_pem = match &body.ca_certificate {
        Some(_) => Some(body.certificates()?),
        None => None,
    };
    let by_fp = body.fingerprint.clone();
    if by_pem.is_none() && by_fp.is_none() {
        return Err(ApiError::bad_request(
            "give caCertificate (PEM) or fingerprint (SHA-256 or SHA-1 hex) of the CA to remove",
        ));
    }
    mutate(&state, &caller, &name, "namespace.accepted-client-ca.remove", body.options(), |spec| {
        let certs = current_certs(spec);
        let doomed = |c: &gatehouse_pki::CertificateInfo| {
            by_fp.as_deref().is_some_and(|fp| matches_fingerprint(c, fp))
                || by_pem
                    .as_ref()
                    .is_some_and(|list| list.iter().any(|p| p.fingerprint == c.fingerprint))
        };
        let kept: Vec<_> = certs.iter().filter(|c| !doomed(c)).cloned().collect();
        if kept.len() == certs.len() {
            return Err(ApiError::not_found(
                "no certificate in the namespace's bundle matches; list them with GET .../accepted-client-ca",
            ));
        }
        Ok(NamespaceSpec {
            accepted_client_ca: join_pem(&kept),
            certificate_filters: spec.certificate_filters.clone(),
        })
    })
    .await
}

// --- certificate filters ----------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct FiltersBody {
    #[serde(default)]
    pub(crate) filters: Vec<CertificateFilter>,
    #[serde(default, deserialize_with = "de_version")]
    pub(crate) resource_version: Option<ResourceVersion>,
    #[serde(default)]
    pub(crate) request_id: Option<String>,
    /// Validate only; store nothing.
    #[serde(default)]
    pub(crate) dry_run: bool,
}

impl FiltersBody {
    fn options(&self) -> WriteOptions {
        WriteOptions {
            resource_version: self.resource_version,
            request_id: self.request_id.clone(),
            dry_run: self.dry_run,
        }
    }
}

pub(crate) async fn get_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ns = get(State(state), caller, Path(name)).await?;
    Ok(Json(json!({
        "filters": ns.spec.mtls_auth.certificate_filters,
        "resourceVersion": ns.resource_version,
    })))
}

/// Replaces the filters (tcld's `import`).
pub(crate) async fn import_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<FiltersBody>,
) -> Result<Json<NamespaceView>, ApiError> {
    let filters = body.filters.clone();
    mutate(
        &state,
        &caller,
        &name,
        "namespace.certificate-filters.import",
        body.options(),
        |spec| {
            Ok(NamespaceSpec {
                accepted_client_ca: spec.accepted_client_ca.clone(),
                certificate_filters: filters.clone(),
            })
        },
    )
    .await
}

/// Appends filters (tcld's `add`).
pub(crate) async fn add_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<FiltersBody>,
) -> Result<Json<NamespaceView>, ApiError> {
    let filters = body.filters.clone();
    mutate(
        &state,
        &caller,
        &name,
        "namespace.certificate-filters.add",
        body.options(),
        |spec| {
            let mut all = spec.certificate_filters.clone();
            all.extend(filters.iter().cloned());
            Ok(NamespaceSpec {
                accepted_client_ca: spec.accepted_client_ca.clone(),
                certificate_filters: all,
            })
        },
    )
    .await
}

/// Removes every filter (tcld's `clear`); refused when a well-known CA needs them.
pub(crate) async fn clear_filters(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    ApiQuery(opts): ApiQuery<WriteOptions>,
) -> Result<Json<NamespaceView>, ApiError> {
    mutate(
        &state,
        &caller,
        &name,
        "namespace.certificate-filters.clear",
        opts,
        |spec| {
            Ok(NamespaceSpec {
                accepted_client_ca: spec.accepted_client_ca.clone(),
                certificate_filters: Vec::new(),
            })
        },
    )
    .await
}
