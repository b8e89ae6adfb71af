//! The forms that change a namespace: CA add and remove, a certificate filter, filter import.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use gatehouse_policy::{AccessRole, CertificateFilter};
use serde::Deserialize;

use crate::control::{CaRemoval, ControlError, ErrorKind, FilterEdit, SpecEdit};
use crate::AppState;

use super::namespace::{answer, at, load, rerender, saved, Card, Draft, Outcome};
use super::{error_page, html, pages, refuse_cross_site, Session};

#[derive(Debug, Deserialize)]
pub(super) struct CaForm {
    #[serde(default)]
    csrf: String,
    resource_version: i64,
    #[serde(default)]
    pem: String,
    /// "check" or "save".
    #[serde(default)]
    op: String,
}

pub(super) async fn ca_add(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<CaForm>,
) -> Response {
    if let Some(r) = refuse_cross_site(&headers, Some(&s), &form.csrf) {
        return r;
    }
    let dry_run = form.op != "save";
    let result = state
        .control
        .edit_namespace(
            &s.caller,
            &name,
            SpecEdit::AddCas(Some(form.pem.clone())),
            at(form.resource_version, dry_run),
        )
        .await;
    let draft = Draft {
        ca_pem: form.pem,
        ..Draft::default()
    };
    answer(
        &state,
        &s,
        &name,
        Card::Cas,
        draft,
        dry_run,
        result,
        |v| format!("Check passed: the bundle would hold {} CA(s) and meets every rule. Nothing was saved yet.", v.accepted_client_cas.len()),
        "ca-added",
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct RemoveForm {
    #[serde(default)]
    csrf: String,
    resource_version: i64,
    fingerprint: String,
    /// "yes" once the user has seen the recent-traffic warning.
    #[serde(default)]
    confirm: String,
}

pub(super) async fn ca_remove(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<RemoveForm>,
) -> Response {
    if let Some(r) = refuse_cross_site(&headers, Some(&s), &form.csrf) {
        return r;
    }
    if form.confirm != "yes" {
        let d = match load(&state, &s, &name).await {
            Ok(d) => d,
            Err(e) => return error_page(Some(&s), &e),
        };
        let now = state.control.now();
        let used = d
            .certs
            .iter()
            .zip(&d.usage)
            .find(|(c, _)| c.fingerprint.to_string() == form.fingerprint)
            .is_some_and(|(_, u)| u.recently_used(now));
        if used {
            return html(
                StatusCode::OK,
                pages::namespace(
                    &s,
                    &d,
                    now,
                    &Draft::default(),
                    &Outcome::ConfirmRemove(form.fingerprint),
                    None,
                ),
            );
        }
    }
    let which = CaRemoval {
        pem: None,
        fingerprint: Some(form.fingerprint),
    };
    let result = state
        .control
        .edit_namespace(
            &s.caller,
            &name,
            SpecEdit::RemoveCas(which),
            at(form.resource_version, false),
        )
        .await;
    match result {
        Ok(_) => saved(&name, "ca-removed"),
        Err(e) => {
            rerender(
                &state,
                &s,
                &name,
                Draft::default(),
                Outcome::Refused(Card::Cas, e.into()),
            )
            .await
        }
    }
}

/// The certificate filter form (tcld's four fields, plus Gatehouse's role).
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct FilterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    resource_version: i64,
    /// "check", "save" or "remove".
    #[serde(default)]
    op: String,
    /// The filter being edited or removed; none when adding.
    #[serde(default, deserialize_with = "empty_none")]
    pub(crate) index: Option<usize>,
    #[serde(default)]
    pub(crate) common_name: String,
    #[serde(default)]
    pub(crate) organization: String,
    #[serde(default)]
    pub(crate) organizational_unit: String,
    #[serde(default)]
    pub(crate) subject_alternative_name: String,
    /// "", "worker", "reader", "writer" or "admin".
    #[serde(default)]
    pub(crate) role: String,
}

fn empty_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        Ok(None)
    } else {
        s.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

impl FilterForm {
    pub(super) fn from_filter(f: &CertificateFilter, index: Option<usize>) -> Self {
        Self {
            index,
            common_name: f.common_name.clone(),
            organization: f.organization.clone(),
            organizational_unit: f.organizational_unit.clone(),
            subject_alternative_name: f.subject_alternative_name.clone(),
            role: f.role.map(role_name).unwrap_or_default().to_owned(),
            ..Self::default()
        }
    }

    fn filter(&self) -> Result<CertificateFilter, ControlError> {
        let role = match self.role.as_str() {
            "" => None,
            "worker" => Some(AccessRole::Worker),
            "reader" => Some(AccessRole::Reader),
            "writer" => Some(AccessRole::Writer),
            "admin" => Some(AccessRole::Admin),
            other => {
                return Err(ControlError::rule(
                    ErrorKind::InvalidArgument,
                    "filter.role",
                    format!("unknown role {other:?}: use worker, reader, writer or admin"),
                ))
            }
        };
        Ok(CertificateFilter {
            common_name: self.common_name.trim().to_owned(),
            organization: self.organization.trim().to_owned(),
            organizational_unit: self.organizational_unit.trim().to_owned(),
            subject_alternative_name: self.subject_alternative_name.trim().to_owned(),
            role,
        })
    }
}

pub(crate) fn role_name(r: AccessRole) -> &'static str {
    match r {
        AccessRole::Worker => "worker",
        AccessRole::Reader => "reader",
        AccessRole::Writer => "writer",
        AccessRole::Admin => "admin",
    }
}

pub(super) async fn filter_save(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<FilterForm>,
) -> Response {
    if let Some(r) = refuse_cross_site(&headers, Some(&s), &form.csrf) {
        return r;
    }
    let remove = form.op == "remove";
    let dry_run = !remove && form.op != "save";
    let result = async {
        let edit = match (remove, form.index) {
            (true, Some(i)) => FilterEdit::Remove(i),
            (true, None) => {
                return Err(ControlError::invalid("which filter to remove is missing"));
            }
            (false, Some(i)) => FilterEdit::Replace(i, form.filter()?),
            (false, None) => FilterEdit::Add(form.filter()?),
        };
        state
            .control
            .edit_namespace(
                &s.caller,
                &name,
                SpecEdit::Filter(edit),
                at(form.resource_version, dry_run),
            )
            .await
    }
    .await;
    let draft = Draft {
        filter: if remove { FilterForm::default() } else { form },
        ..Draft::default()
    };
    answer(
        &state,
        &s,
        &name,
        Card::Filters,
        draft,
        dry_run,
        result,
        |v| format!("Check passed: the namespace would have {} certificate filter(s), all valid. Nothing was saved yet.", v.spec.mtls_auth.certificate_filters.len()),
        if remove { "filter-removed" } else { "filter-saved" },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(super) struct ImportForm {
    #[serde(default)]
    csrf: String,
    resource_version: i64,
    #[serde(default)]
    json: String,
    #[serde(default)]
    op: String,
}

pub(super) async fn filters_import(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<ImportForm>,
) -> Response {
    if let Some(r) = refuse_cross_site(&headers, Some(&s), &form.csrf) {
        return r;
    }
    let dry_run = form.op != "save";
    // tcld's filters file, read by the one parser every importer uses.
    let result = match gatehouse_policy::CertificateFilters::from_json(&form.json) {
        Ok(parsed) => {
            state
                .control
                .edit_namespace(
                    &s.caller,
                    &name,
                    SpecEdit::ImportFilters(parsed.filters().to_vec()),
                    at(form.resource_version, dry_run),
                )
                .await
        }
        Err(e) => Err(ControlError::rule(
            ErrorKind::InvalidArgument,
            e.rule.id(),
            e.message,
        )),
    };
    let draft = Draft {
        import_json: form.json,
        ..Draft::default()
    };
    answer(
        &state,
        &s,
        &name,
        Card::Import,
        draft,
        dry_run,
        result,
        |v| format!("Check passed: importing would replace the filters with these {}, all valid. Nothing was saved yet.", v.spec.mtls_auth.certificate_filters.len()),
        "filters-imported",
    )
    .await
}
