//! Namespaces, their accepted client CA bundle and their certificate filters.
//!
//! Every write computes the whole resulting namespace state, validates it with
//! `gatehouse-policy`, and stores it with compare-and-swap on the resource version, together with
//! its audit event. A refused write changes nothing.

use gatehouse_pki::{
    certificate_pem, parse_certificates, sha1_fingerprint, CertificateInfo, Fingerprint,
};
use gatehouse_policy::{
    CaBundle, CertRef, CertificateFilter, CertificateFilters, Finding, Rule, Severity,
};
use gatehouse_store::{Change, Namespace, NamespaceSpec, ResourceVersion, StoreError};
use serde_json::json;
use time::OffsetDateTime;

use super::error::{ControlError, ErrorKind};
use super::{Caller, Control};

/// The `requestId` / `resourceVersion` / dry-run triple every namespace write may carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Refuse the write unless the namespace is still at this version (compare-and-swap).
    /// Without it, a lost race is retried on the new state.
    pub resource_version: Option<ResourceVersion>,
    /// Idempotency key: a repeat returns the recorded result instead of writing again.
    pub request_id: Option<String>,
    /// Validate the change and return the namespace as it would be, without storing it.
    pub dry_run: bool,
}

/// The result of a write that may have been answered from the record of an earlier one.
#[derive(Clone, Debug)]
pub struct Written<T> {
    pub value: T,
    /// True when an earlier request with the same id had already done it.
    pub replayed: bool,
}

/// Which CAs to remove: by PEM, by fingerprint (SHA-256 or tcld's SHA-1), or both.
#[derive(Clone, Debug, Default)]
pub struct CaRemoval {
    pub pem: Option<String>,
    pub fingerprint: Option<String>,
}

/// One change to a namespace's certificate filters (the console edits them one at a time).
#[derive(Clone, Debug)]
pub enum FilterEdit {
    Add(CertificateFilter),
    Replace(usize, CertificateFilter),
    Remove(usize),
}

impl FilterEdit {
    fn action(&self) -> &'static str {
        match self {
            FilterEdit::Add(_) => "namespace.certificate-filters.add",
            FilterEdit::Replace(..) => "namespace.certificate-filters.edit",
            FilterEdit::Remove(_) => "namespace.certificate-filters.remove",
        }
    }
}

/// A change to a namespace's spec, as a write of the REST API or a console form asks for it
/// (see [`Control::edit_namespace`]).
#[derive(Clone, Debug)]
pub enum SpecEdit {
    /// Replaces the whole spec (bundle and filters).
    Replace(NamespaceSpec),
    /// Adds CA certificates (PEM, one or more) to the bundle; one already there is refused.
    AddCas(Option<String>),
    /// Replaces the whole bundle (PEM).
    SetCas(Option<String>),
    /// Removes the CAs that match; matching none is an error.
    RemoveCas(CaRemoval),
    /// Replaces the filters (tcld's `import`).
    ImportFilters(Vec<CertificateFilter>),
    /// Appends filters (tcld's `add`).
    AddFilters(Vec<CertificateFilter>),
    /// Removes every filter (tcld's `clear`); refused when a well-known CA needs them.
    ClearFilters,
    /// Adds, replaces or removes one filter (by its index in the list).
    Filter(FilterEdit),
}

/// What an edit does to a spec, with the certificates it carries parsed once.
type SpecChange = Box<dyn Fn(&NamespaceSpec) -> Result<NamespaceSpec, ControlError> + Send + Sync>;

impl SpecEdit {
    /// The audit log's action.
    fn action(&self) -> &'static str {
        match self {
            SpecEdit::Replace(_) => "namespace.update",
            SpecEdit::AddCas(_) => "namespace.accepted-client-ca.add",
            SpecEdit::SetCas(_) => "namespace.accepted-client-ca.set",
            SpecEdit::RemoveCas(_) => "namespace.accepted-client-ca.remove",
            SpecEdit::ImportFilters(_) => "namespace.certificate-filters.import",
            SpecEdit::AddFilters(_) => "namespace.certificate-filters.add",
            SpecEdit::ClearFilters => "namespace.certificate-filters.clear",
            SpecEdit::Filter(edit) => edit.action(),
        }
    }

    /// What the edit does to a spec. What is wrong with the edit itself (certificates that do
    /// not parse, no CA to set or remove) is refused here, before the namespace is read.
    fn into_change(self) -> Result<SpecChange, ControlError> {
        let change: SpecChange = match self {
            SpecEdit::Replace(new) => Box::new(move |_: &NamespaceSpec| Ok(new.clone())),
            SpecEdit::AddCas(pem) => {
                let added = submitted_certs(pem.as_deref())?;
                Box::new(move |spec: &NamespaceSpec| add_certs(spec, &added))
            }
            SpecEdit::SetCas(pem) => {
                let pem =
                    pem.ok_or_else(|| ControlError::invalid("caCertificate (PEM) is required"))?;
                Box::new(move |spec: &NamespaceSpec| Ok(with_cas(spec, pem.clone())))
            }
            SpecEdit::RemoveCas(which) => {
                let by_pem = match &which.pem {
                    Some(pem) => Some(submitted_certs(Some(pem))?),
                    None => None,
                };
                let by_fp = which.fingerprint;
                if by_pem.is_none() && by_fp.is_none() {
                    return Err(ControlError::invalid(
                        "give caCertificate (PEM) or fingerprint (SHA-256 or SHA-1 hex) of the CA to remove",
                    ));
                }
                Box::new(move |spec: &NamespaceSpec| {
                    remove_certs(spec, by_pem.as_deref(), by_fp.as_deref())
                })
            }
            SpecEdit::ImportFilters(filters) => {
                Box::new(move |spec: &NamespaceSpec| Ok(with_filters(spec, filters.clone())))
            }
            SpecEdit::AddFilters(filters) => Box::new(move |spec: &NamespaceSpec| {
                let mut all = spec.certificate_filters.clone();
                all.extend(filters.iter().cloned());
                Ok(with_filters(spec, all))
            }),
            SpecEdit::ClearFilters => {
                Box::new(|spec: &NamespaceSpec| Ok(with_filters(spec, Vec::new())))
            }
            SpecEdit::Filter(edit) => {
                Box::new(move |spec: &NamespaceSpec| edit_one_filter(spec, &edit))
            }
        };
        Ok(change)
    }
}

/// Namespace names must be usable as DNS labels under the gateway's domain
/// (SNI `<namespace>.<domain>`): lowercase letters, digits, `-`, dot-separated.
pub fn validate_name(name: &str) -> Result<(), ControlError> {
    let ok_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 200 || !name.split('.').all(ok_label) {
        return Err(ControlError::rule(
            ErrorKind::InvalidArgument,
            "namespace.name",
            format!("namespace name {name:?} must be dot-separated labels of lowercase letters, digits and '-' (at most 63 each, 200 in all), as it becomes part of a DNS name"),
        ));
    }
    Ok(())
}

/// Validates the whole resulting state of a namespace against Temporal's rules. Certificates
/// that were already in the bundle are not refused for having expired since: removing a CA
/// must work while another one has expired (tcld #406).
fn validate_spec(
    old: Option<&NamespaceSpec>,
    new: &NamespaceSpec,
    now: OffsetDateTime,
) -> Result<(), ControlError> {
    let filters = CertificateFilters::new(new.certificate_filters.clone())
        .map_err(|e| ControlError::rule(ErrorKind::InvalidArgument, e.rule.id(), e.message))?;
    let bundle = CaBundle::from_submitted_pem(&new.accepted_client_ca)
        .map_err(|f| ControlError::findings(&f))?;
    let stored: Vec<Fingerprint> = old
        .map(|o| {
            current_certs(o)
                .into_iter()
                .map(|c| c.fingerprint)
                .collect()
        })
        .unwrap_or_default();
    bundle
        .validate_update(&stored, !filters.is_empty(), now)
        .map_err(|errors| ControlError::findings(&errors))
}

/// A short summary of a spec for the audit log: fingerprints and filters, not PEM.
fn summary(spec: &NamespaceSpec) -> serde_json::Value {
    let fps: Vec<String> = current_certs(spec)
        .iter()
        .map(|c| c.fingerprint.to_string())
        .collect();
    json!({ "caFingerprints": fps, "certificateFilters": spec.certificate_filters })
}

fn current_certs(spec: &NamespaceSpec) -> Vec<CertificateInfo> {
    parse_certificates(spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default()
}

fn join_pem(certs: &[CertificateInfo]) -> String {
    certs.iter().map(|c| certificate_pem(&c.der)).collect()
}

/// `spec` with another CA bundle.
fn with_cas(spec: &NamespaceSpec, accepted_client_ca: String) -> NamespaceSpec {
    NamespaceSpec {
        accepted_client_ca,
        certificate_filters: spec.certificate_filters.clone(),
    }
}

/// `spec` with other certificate filters.
fn with_filters(
    spec: &NamespaceSpec,
    certificate_filters: Vec<CertificateFilter>,
) -> NamespaceSpec {
    NamespaceSpec {
        accepted_client_ca: spec.accepted_client_ca.clone(),
        certificate_filters,
    }
}

/// `spec` with `added` appended to its bundle; a certificate already there is refused.
fn add_certs(
    spec: &NamespaceSpec,
    added: &[CertificateInfo],
) -> Result<NamespaceSpec, ControlError> {
    let mut certs = current_certs(spec);
    for c in added {
        if certs.iter().any(|e| e.fingerprint == c.fingerprint) {
            return Err(ControlError::findings(&[Finding::new(
                Rule::BundleDuplicate,
                Some(CertRef::new("caCertificate", c)),
                "is already in the namespace's bundle",
            )
            .with_severity(Severity::Error)]));
        }
        certs.push(c.clone());
    }
    Ok(with_cas(spec, join_pem(&certs)))
}

/// `spec` without the CAs that match `by_pem` or `by_fp`; matching none is an error.
fn remove_certs(
    spec: &NamespaceSpec,
    by_pem: Option<&[CertificateInfo]>,
    by_fp: Option<&str>,
) -> Result<NamespaceSpec, ControlError> {
    let certs = current_certs(spec);
    let doomed = |c: &CertificateInfo| {
        by_fp.is_some_and(|fp| matches_fingerprint(c, fp))
            || by_pem.is_some_and(|list| list.iter().any(|p| p.fingerprint == c.fingerprint))
    };
    let kept: Vec<_> = certs.iter().filter(|c| !doomed(c)).cloned().collect();
    if kept.len() == certs.len() {
        return Err(ControlError::not_found(
            "no certificate in the namespace's bundle matches; list them with GET .../accepted-client-ca",
        ));
    }
    Ok(with_cas(spec, join_pem(&kept)))
}

/// `spec` with one filter added, replaced or removed.
fn edit_one_filter(spec: &NamespaceSpec, edit: &FilterEdit) -> Result<NamespaceSpec, ControlError> {
    let mut all = spec.certificate_filters.clone();
    let missing = |i: usize| {
        ControlError::not_found(format!(
            "there is no filter number {} any more; reload the page",
            i + 1
        ))
    };
    match edit {
        FilterEdit::Add(f) => all.push(f.clone()),
        FilterEdit::Replace(i, f) => *all.get_mut(*i).ok_or_else(|| missing(*i))? = f.clone(),
        FilterEdit::Remove(i) if *i < all.len() => {
            all.remove(*i);
        }
        FilterEdit::Remove(i) => return Err(missing(*i)),
    }
    Ok(with_filters(spec, all))
}

/// Parses submitted CA certificates (`caCertificate`).
fn submitted_certs(pem: Option<&str>) -> Result<Vec<CertificateInfo>, ControlError> {
    let pem = pem.ok_or_else(|| ControlError::invalid("caCertificate (PEM) is required"))?;
    parse_certificates(pem.as_bytes(), "caCertificate").map_err(|e| {
        ControlError::findings(&[Finding::new(Rule::BundleMalformed, None, e.to_string())])
    })
}

/// Matches a certificate by SHA-256 or SHA-1 fingerprint (hex, any case, colons allowed).
fn matches_fingerprint(c: &CertificateInfo, wanted: &str) -> bool {
    let hex: String = wanted
        .chars()
        .filter(|ch| *ch != ':')
        .collect::<String>()
        .to_lowercase();
    hex == c.fingerprint.to_string() || hex == sha1_fingerprint(&c.der)
}

/// Namespace `name` is not there; `readable` are the names the caller may read.
fn not_found(name: &str, readable: &[&str]) -> ControlError {
    let mut near: Vec<(usize, &str)> = readable
        .iter()
        .map(|n| (edit_distance(name, n), *n))
        .filter(|(d, n)| {
            *d <= (name.len().max(n.len()) / 3).max(2) || n.contains(name) || name.contains(n)
        })
        .collect();
    near.sort();
    let hint = match near.as_slice() {
        [] if readable.is_empty() => "; there is no namespace you may read".to_owned(),
        [] => String::new(),
        near => format!(
            "; did you mean {}?",
            near.iter()
                .take(3)
                .map(|(_, n)| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    };
    ControlError::not_found(format!("namespace {name:?} not found{hint}"))
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

impl Control {
    /// The namespaces the caller may read.
    pub async fn list_namespaces(&self, caller: &Caller) -> Result<Vec<Namespace>, ControlError> {
        let namespaces = self.store.list_namespaces().await?;
        Ok(caller.readable(namespaces, |n| n.name.as_str()))
    }

    pub async fn namespace(&self, caller: &Caller, name: &str) -> Result<Namespace, ControlError> {
        caller.require_read(name)?;
        self.existing(caller, name).await
    }

    /// Namespace `name`, or a not-found error that names the nearest namespaces `caller` may
    /// read (a typo in `-n` is the usual cause).
    async fn existing(&self, caller: &Caller, name: &str) -> Result<Namespace, ControlError> {
        if let Some(ns) = self.store.get_namespace(name).await? {
            return Ok(ns);
        }
        // Suggestions only for a name that could exist (bounded work for any path).
        if validate_name(name).is_err() {
            return Err(not_found(name, &[]));
        }
        let readable = self.list_namespaces(caller).await?;
        let names: Vec<&str> = readable.iter().map(|n| n.name.as_str()).collect();
        Err(not_found(name, &names))
    }

    /// Creates a namespace at resource version 1 (owners and global admins).
    pub async fn create_namespace(
        &self,
        caller: &Caller,
        name: &str,
        spec: NamespaceSpec,
        request_id: Option<String>,
    ) -> Result<Written<Namespace>, ControlError> {
        const ACTION: &str = "namespace.create";
        caller.require_admin()?;
        validate_name(name)?;
        if let Some(id) = &request_id {
            if let Some(done) = self.replay(id, name, ACTION).await? {
                return Ok(Written {
                    value: done,
                    replayed: true,
                });
            }
        }
        let now = self.now();
        validate_spec(None, &spec, now)?;
        let change = Change {
            actor: caller.actor(),
            action: ACTION.into(),
            request_id,
            before: serde_json::Value::Null,
            after: summary(&spec),
        };
        let ns = self.store.create_namespace(name, spec, now, change).await?;
        self.namespace_changed().await;
        Ok(Written {
            value: ns,
            replayed: false,
        })
    }

    /// Changes a namespace's spec as `edit` says (namespace writers).
    pub async fn edit_namespace(
        &self,
        caller: &Caller,
        name: &str,
        edit: SpecEdit,
        opts: WriteOptions,
    ) -> Result<Namespace, ControlError> {
        caller.require_write(name)?;
        let action = edit.action();
        let change = edit.into_change()?;
        self.mutate(caller, name, action, opts, change).await
    }

    /// Deletes a namespace (owners and global admins).
    pub async fn delete_namespace(
        &self,
        caller: &Caller,
        name: &str,
        opts: WriteOptions,
    ) -> Result<(), ControlError> {
        const ACTION: &str = "namespace.delete";
        caller.require_admin()?;
        if let Some(id) = &opts.request_id {
            if self.recorded(id, name, ACTION).await?.is_some() {
                return Ok(());
            }
        }
        let ns = self.existing(caller, name).await?;
        let expected = opts.resource_version.unwrap_or(ns.resource_version);
        if opts.dry_run {
            if expected != ns.resource_version {
                return Err(StoreError::Conflict {
                    name: name.to_owned(),
                    expected,
                    actual: ns.resource_version,
                }
                .into());
            }
            return Ok(());
        }
        let change = Change {
            actor: caller.actor(),
            action: ACTION.into(),
            request_id: opts.request_id,
            before: summary(&ns.spec),
            after: serde_json::Value::Null,
        };
        self.store
            .delete_namespace(name, expected, self.now(), change)
            .await?;
        self.namespace_changed().await;
        Ok(())
    }

    /// Reads the namespace, applies `edit`, validates the result, and stores it
    /// (compare-and-swap), retrying a lost race when the caller did not pin a resource version.
    async fn mutate(
        &self,
        caller: &Caller,
        name: &str,
        action: &str,
        opts: WriteOptions,
        edit: impl Fn(&NamespaceSpec) -> Result<NamespaceSpec, ControlError>,
    ) -> Result<Namespace, ControlError> {
        caller.require_write(name)?;
        if let Some(id) = opts.request_id.as_ref().filter(|_| !opts.dry_run) {
            if let Some(done) = self.replay(id, name, action).await? {
                return Ok(done);
            }
        }
        for _ in 0..5 {
            let ns = self.existing(caller, name).await?;
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
            let now = self.now();
            validate_spec(Some(&ns.spec), &spec, now)?;
            if opts.dry_run {
                return Ok(Namespace { spec, ..ns });
            }
            let change = Change {
                actor: caller.actor(),
                action: action.to_owned(),
                request_id: opts.request_id.clone(),
                before: summary(&ns.spec),
                after: summary(&spec),
            };
            match self
                .store
                .update_namespace(name, ns.resource_version, spec, now, change)
                .await
            {
                Ok(updated) => {
                    self.namespace_changed().await;
                    return Ok(updated);
                }
                Err(StoreError::Conflict { .. }) if opts.resource_version.is_none() => continue,
                Err(StoreError::DuplicateRequest { request_id }) => {
                    if let Some(done) = self.replay(&request_id, name, action).await? {
                        return Ok(done);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ControlError::new(
            ErrorKind::Conflict,
            format!("namespace {name:?} kept changing; retry"),
        ))
    }

    /// The recorded result of an earlier request with this id — only if it was the same kind
    /// of request on the same namespace; an id reused for something else is a conflict (and
    /// never reveals the other namespace).
    async fn recorded(
        &self,
        request_id: &str,
        name: &str,
        action: &str,
    ) -> Result<Option<serde_json::Value>, ControlError> {
        let Some(r) = self.store.recorded_request(request_id).await? else {
            return Ok(None);
        };
        if r.namespace != name || r.action != action {
            return Err(ControlError::rule(
                ErrorKind::Conflict,
                "request.id-reused",
                format!(
                    "requestId {request_id:?} was already used for a different request; use a new one"
                ),
            ));
        }
        Ok(Some(r.namespace_after))
    }

    async fn replay(
        &self,
        request_id: &str,
        name: &str,
        action: &str,
    ) -> Result<Option<Namespace>, ControlError> {
        let Some(value) = self.recorded(request_id, name, action).await? else {
            return Ok(None);
        };
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| ControlError::internal(format!("recorded response unreadable: {e}")))
    }
}
