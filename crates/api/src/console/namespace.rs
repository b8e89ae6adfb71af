//! A namespace's page, what it shows, and how a form's write is answered.

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_pki::{parse_certificates, CertificateInfo};
use gatehouse_store::{Namespace, ObservedLeaf};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::control::{CaTraffic, ControlError, SpecEdit, WriteOptions};
use crate::rest::with_path_name;
use crate::wire::NamespaceView;
use crate::{ApiError, AppState};

use super::{error_page, html, pages, refuse_cross_site, FilterForm, Session};

// --- data -------------------------------------------------------------------------------------

/// A namespace with everything its page shows.
#[derive(Debug)]
pub(crate) struct NsData {
    pub(crate) ns: Namespace,
    pub(crate) certs: Vec<CertificateInfo>,
    /// What each CA of `certs` saw (same order).
    pub(crate) usage: Vec<CaTraffic>,
    pub(crate) leaves: Vec<ObservedLeaf>,
    pub(crate) can_write: bool,
}

/// A request about the namespace its path names, in a signed-in session (extracted in that
/// order), with the request's headers for a form's cross-site check.
#[derive(Debug)]
pub(super) struct NsRequest {
    pub(super) state: AppState,
    pub(super) s: Session,
    pub(super) name: String,
    headers: HeaderMap,
}

impl FromRequestParts<AppState> for NsRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let (s, name): (Session, String) = with_path_name(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            s,
            name,
            headers: parts.headers.clone(),
        })
    }
}

impl NsRequest {
    /// The namespace with everything its page shows.
    pub(super) async fn load(&self) -> Result<NsData, ApiError> {
        let (control, caller, name) = (&self.state.control, &self.s.caller, self.name.as_str());
        let ns = control.namespace(caller, name).await?;
        let certs =
            parse_certificates(ns.spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default();
        let usage = control.usage(caller, name).await?;
        let mut leaves = usage.leaves;
        leaves.sort_by_key(|l| std::cmp::Reverse(l.last_seen));
        Ok(NsData {
            can_write: caller.can_write(name),
            ns,
            certs,
            usage: usage.cas.into_iter().filter(CaTraffic::in_bundle).collect(),
            leaves,
        })
    }

    /// The refusal of a cross-site form (or one with a wrong CSRF token), if this is one.
    pub(super) fn forged(&self, csrf: &str) -> Option<Response> {
        refuse_cross_site(&self.headers, Some(&self.s), csrf)
    }

    /// Makes a form's write.
    pub(super) async fn edit(
        &self,
        edit: SpecEdit,
        opts: WriteOptions,
    ) -> Result<Namespace, ControlError> {
        let control = &self.state.control;
        control
            .edit_namespace(&self.s.caller, &self.name, edit, opts)
            .await
    }

    /// Re-renders the namespace page after a refused or checked form.
    pub(super) async fn rerender(&self, draft: Draft, outcome: Outcome) -> Response {
        let d = match self.load().await {
            Ok(d) => d,
            Err(e) => return error_page(Some(&self.s), &e),
        };
        let status = match &outcome {
            Outcome::Refused(_, e) => e.status,
            _ => StatusCode::OK,
        };
        let now = self.state.control.now();
        html(
            status,
            pages::namespace(&self.s, &d, now, &draft, &outcome, None),
        )
    }

    /// What a form that writes answers: the check's result (dry run), a redirect after a save,
    /// or the page again with the refusal, keeping the user's input.
    pub(super) async fn answer(
        &self,
        card: Card,
        draft: Draft,
        dry_run: bool,
        result: Result<Namespace, ControlError>,
        done: &str,
    ) -> Response {
        match result {
            Ok(ns) if dry_run => {
                let msg = card.checked(&NamespaceView::new(&ns, self.state.control.now()));
                self.rerender(draft, Outcome::Checked(card, msg)).await
            }
            Ok(_) => saved(&self.name, done),
            Err(e) => self.rerender(draft, Outcome::Refused(card, e.into())).await,
        }
    }
}

// --- namespaces list --------------------------------------------------------------------------

pub(super) async fn home(State(state): State<AppState>, s: Session) -> Response {
    let result: Result<_, ControlError> = async {
        let namespaces: Vec<Namespace> = state.control.list_namespaces(&s.caller).await?;
        let leaves = state
            .control
            .observed_leaves(&s.caller, OffsetDateTime::UNIX_EPOCH)
            .await?;
        Ok((namespaces, leaves))
    }
    .await;
    match result {
        Ok((namespaces, leaves)) => html(
            StatusCode::OK,
            pages::namespaces(&s, &namespaces, &leaves, state.control.now()),
        ),
        Err(e) => error_page(Some(&s), &e.into()),
    }
}

// --- one namespace ----------------------------------------------------------------------------

/// Which card a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Card {
    Cas,
    Filters,
    Import,
}

impl Card {
    /// What a check (dry run) of this card's form that passed says, from the namespace as the
    /// form would leave it.
    fn checked(self, v: &NamespaceView) -> String {
        match self {
            Card::Cas => format!("Check passed: the bundle would hold {} CA(s) and meets every rule. Nothing was saved yet.", v.accepted_client_cas.len()),
            Card::Filters => format!("Check passed: the namespace would have {} certificate filter(s), all valid. Nothing was saved yet.", v.spec.mtls_auth.certificate_filters.len()),
            Card::Import => format!("Check passed: importing would replace the filters with these {}, all valid. Nothing was saved yet.", v.spec.mtls_auth.certificate_filters.len()),
        }
    }
}

/// What the last form did, shown on the re-rendered page.
#[derive(Debug, Default)]
pub(crate) enum Outcome {
    #[default]
    None,
    /// The write was refused; nothing changed.
    Refused(Card, ApiError),
    /// A dry run passed.
    Checked(Card, String),
    /// Removing this CA (SHA-256) would cut off recent clients; asks again.
    ConfirmRemove(String),
}

/// What the user typed, kept when a form is refused or checked.
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub(crate) ca_pem: String,
    pub(crate) filter: FilterForm,
    pub(crate) import_json: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    /// Edit this filter (index).
    edit: Option<usize>,
    /// What was just saved.
    done: Option<String>,
}

pub(super) async fn namespace_page(r: NsRequest, Query(q): Query<PageQuery>) -> Response {
    let d = match r.load().await {
        Ok(d) => d,
        Err(e) => return error_page(Some(&r.s), &e),
    };
    let mut draft = Draft::default();
    if let Some(f) = q.edit.and_then(|i| d.ns.spec.certificate_filters.get(i)) {
        draft.filter = FilterForm::from_filter(f, q.edit);
    }
    let notice = q.done.as_deref().and_then(done_message);
    let now = r.state.control.now();
    html(
        StatusCode::OK,
        pages::namespace(&r.s, &d, now, &draft, &Outcome::None, notice),
    )
}

fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "ca-added" => "Saved: the CA was added to the bundle. Gateways enforce it within a second.",
        "ca-removed" => {
            "Saved: the CA was removed from the bundle. Its clients are refused from now on."
        }
        "filter-saved" => "Saved: the certificate filter was stored.",
        "filter-removed" => "Saved: the certificate filter was removed.",
        "filters-imported" => "Saved: the certificate filters were replaced by the imported ones.",
        _ => return None,
    })
}

/// A form's write: at the resource version the page was rendered from.
pub(super) fn at(resource_version: i64, dry_run: bool) -> WriteOptions {
    WriteOptions {
        resource_version: Some(resource_version),
        request_id: None,
        dry_run,
    }
}

pub(super) fn saved(name: &str, done: &str) -> Response {
    Redirect::to(&format!(
        "/namespaces/{}?done={done}",
        pages::path_segment(name)
    ))
    .into_response()
}

pub(super) async fn filters_export(r: NsRequest) -> Response {
    match r.load().await {
        Ok(d) => {
            let body = serde_json::to_string_pretty(
                &serde_json::json!({ "filters": d.ns.spec.certificate_filters }),
            )
            .unwrap_or_default();
            let file: String = r
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            (
                [
                    (header::CONTENT_TYPE, "application/json".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{file}-certificate-filters.json\""),
                    ),
                ],
                body + "\n",
            )
                .into_response()
        }
        Err(e) => error_page(Some(&r.s), &e),
    }
}

pub(super) async fn rollover_page(r: NsRequest) -> Response {
    match r.load().await {
        Ok(d) => html(
            StatusCode::OK,
            pages::rollover(&r.s, &d, r.state.control.now()),
        ),
        Err(e) => error_page(Some(&r.s), &e),
    }
}
