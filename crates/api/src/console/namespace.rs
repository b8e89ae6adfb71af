//! A namespace's page, what it shows, and how a form's write is answered.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_pki::{parse_certificates, CertificateInfo};
use gatehouse_store::{Namespace, ObservedLeaf};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::control::{CaTraffic, ControlError, WriteOptions};
use crate::wire::NamespaceView;
use crate::{ApiError, AppState};

use super::{error_page, html, pages, FilterForm, Session};

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

pub(super) async fn load(state: &AppState, s: &Session, name: &str) -> Result<NsData, ApiError> {
    let ns = state.control.namespace(&s.caller, name).await?;
    let certs =
        parse_certificates(ns.spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default();
    let usage = state.control.usage(&s.caller, name).await?;
    let mut leaves = usage.leaves;
    leaves.sort_by_key(|l| std::cmp::Reverse(l.last_seen));
    Ok(NsData {
        can_write: s.caller.can_write(name),
        ns,
        certs,
        usage: usage.cas.into_iter().filter(CaTraffic::in_bundle).collect(),
        leaves,
    })
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

pub(super) async fn namespace_page(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let d = match load(&state, &s, &name).await {
        Ok(d) => d,
        Err(e) => return error_page(Some(&s), &e),
    };
    let mut draft = Draft::default();
    if let Some(f) = q.edit.and_then(|i| d.ns.spec.certificate_filters.get(i)) {
        draft.filter = FilterForm::from_filter(f, q.edit);
    }
    let notice = q.done.as_deref().and_then(done_message);
    html(
        StatusCode::OK,
        pages::namespace(&s, &d, state.control.now(), &draft, &Outcome::None, notice),
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

/// Re-renders the namespace page after a refused or checked form.
pub(super) async fn rerender(
    state: &AppState,
    s: &Session,
    name: &str,
    draft: Draft,
    outcome: Outcome,
) -> Response {
    let d = match load(state, s, name).await {
        Ok(d) => d,
        Err(e) => return error_page(Some(s), &e),
    };
    let status = match &outcome {
        Outcome::Refused(_, e) => e.status,
        _ => StatusCode::OK,
    };
    html(
        status,
        pages::namespace(s, &d, state.control.now(), &draft, &outcome, None),
    )
}

/// What a form that writes answers: the check's result (dry run), a redirect after a save, or
/// the page again with the refusal, keeping the user's input.
#[allow(clippy::too_many_arguments)]
pub(super) async fn answer(
    state: &AppState,
    s: &Session,
    name: &str,
    card: Card,
    draft: Draft,
    dry_run: bool,
    result: Result<Namespace, ControlError>,
    checked: impl FnOnce(&NamespaceView) -> String,
    done: &str,
) -> Response {
    match result {
        Ok(ns) if dry_run => {
            let msg = checked(&NamespaceView::new(&ns, state.control.now()));
            rerender(state, s, name, draft, Outcome::Checked(card, msg)).await
        }
        Ok(_) => saved(name, done),
        Err(e) => rerender(state, s, name, draft, Outcome::Refused(card, e.into())).await,
    }
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

pub(super) async fn filters_export(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
) -> Response {
    match load(&state, &s, &name).await {
        Ok(d) => {
            let body = serde_json::to_string_pretty(
                &serde_json::json!({ "filters": d.ns.spec.certificate_filters }),
            )
            .unwrap_or_default();
            let file: String = name
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
        Err(e) => error_page(Some(&s), &e),
    }
}

pub(super) async fn rollover_page(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
) -> Response {
    match load(&state, &s, &name).await {
        Ok(d) => html(StatusCode::OK, pages::rollover(&s, &d, state.control.now())),
        Err(e) => error_page(Some(&s), &e),
    }
}
