//! The forms that change a namespace: CA add and remove, a certificate filter, filter import.

use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use gatehouse_policy::{AccessRole, CertificateFilter};
use serde::Deserialize;

use crate::control::{CaRemoval, ControlError, ErrorKind, FilterEdit, SpecEdit};

use super::namespace::{at, saved, Card, Draft, NsRequest, Outcome};
use super::{error_page, html, pages};

/// A form that checks or saves what was typed into its one text area: a CA bundle to add
/// (`pem`) or a filters file to import (`json`).
#[derive(Debug, Deserialize)]
pub(super) struct TextForm {
    #[serde(default)]
    csrf: String,
    resource_version: i64,
    #[serde(default)]
    pem: String,
    #[serde(default)]
    json: String,
    /// "check" or "save".
    #[serde(default)]
    op: String,
}

impl TextForm {
    /// A check runs the write as a dry run; only "save" stores it.
    fn dry_run(&self) -> bool {
        self.op != "save"
    }
}

pub(super) async fn ca_add(r: NsRequest, Form(form): Form<TextForm>) -> Response {
    if let Some(refused) = r.forged(&form.csrf) {
        return refused;
    }
    let dry_run = form.dry_run();
    let add = SpecEdit::AddCas(Some(form.pem.clone()));
    let result = r.edit(add, at(form.resource_version, dry_run)).await;
    let draft = Draft {
        ca_pem: form.pem,
        ..Draft::default()
    };
    r.answer(Card::Cas, draft, dry_run, result, "ca-added")
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

pub(super) async fn ca_remove(r: NsRequest, Form(form): Form<RemoveForm>) -> Response {
    if let Some(refused) = r.forged(&form.csrf) {
        return refused;
    }
    if form.confirm != "yes" {
        let d = match r.load().await {
            Ok(d) => d,
            Err(e) => return error_page(Some(&r.s), &e),
        };
        let now = r.state.control.now();
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
                    &r.s,
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
    let opts = at(form.resource_version, false);
    match r.edit(SpecEdit::RemoveCas(which), opts).await {
        Ok(_) => saved(&r.name, "ca-removed"),
        Err(e) => {
            let refused = Outcome::Refused(Card::Cas, e.into());
            r.rerender(Draft::default(), refused).await
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

pub(super) async fn filter_save(r: NsRequest, Form(form): Form<FilterForm>) -> Response {
    if let Some(refused) = r.forged(&form.csrf) {
        return refused;
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
        let opts = at(form.resource_version, dry_run);
        r.edit(SpecEdit::Filter(edit), opts).await
    }
    .await;
    let draft = Draft {
        filter: if remove { FilterForm::default() } else { form },
        ..Draft::default()
    };
    let done = if remove {
        "filter-removed"
    } else {
        "filter-saved"
    };
    r.answer(Card::Filters, draft, dry_run, result, done).await
}

pub(super) async fn filters_import(r: NsRequest, Form(form): Form<TextForm>) -> Response {
    if let Some(refused) = r.forged(&form.csrf) {
        return refused;
    }
    let dry_run = form.dry_run();
    // tcld's filters file, read by the one parser every importer uses.
    let result = match gatehouse_policy::CertificateFilters::from_json(&form.json) {
        Ok(parsed) => {
            let import = SpecEdit::ImportFilters(parsed.filters().to_vec());
            r.edit(import, at(form.resource_version, dry_run)).await
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
    r.answer(Card::Import, draft, dry_run, result, "filters-imported")
        .await
}
