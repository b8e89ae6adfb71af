//! The web console: server-rendered pages on the API listener at `/`.
//!
//! - No JavaScript and no CDN: HTML forms and one embedded stylesheet, so it works offline and
//!   under a strict Content-Security-Policy.
//! - Sign-in with an API key, then a session cookie ([`session`]); every form carries a CSRF
//!   token and cross-site POSTs are refused.
//! - Every read and write is one call of the control service, as for the REST API (same role
//!   checks, validation, error texts and audit); "Check" runs a write as a dry run. A refusal
//!   shows the API's error body itself. Forms carry the resource version they were rendered
//!   from, so a save over someone else's change is refused, never silent.

mod pages;
mod session;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_pki::{parse_certificates, CertificateInfo};
use gatehouse_policy::{AccessRole, CertificateFilter};
use gatehouse_store::{Namespace, ObservedLeaf};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::control::{
    AuditParams, CaRemoval, CaTraffic, ControlError, ErrorKind, FilterEdit, WriteOptions,
};
use crate::wire::NamespaceView;
use crate::{ApiError, AppState};

use session::MaybeSession;
pub(crate) use session::Session;

/// The console's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/namespaces/{namespace}", get(namespace_page))
        .route("/namespaces/{namespace}/ca", post(ca_add))
        .route("/namespaces/{namespace}/ca/remove", post(ca_remove))
        .route("/namespaces/{namespace}/filters", post(filter_save))
        .route(
            "/namespaces/{namespace}/filters/import",
            post(filters_import),
        )
        .route("/namespaces/{namespace}/filters.json", get(filters_export))
        .route("/namespaces/{namespace}/rollover", get(rollover_page))
        .route("/expirations", get(expirations_page))
        .route("/audit", get(audit_page))
        .route("/console.css", get(css))
        .route("/favicon.ico", get(favicon))
        .layer(axum::middleware::from_fn(security_headers))
}

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("console.css"),
    )
}

async fn favicon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f3a5f"/><path d="M4 13V6l4-3 4 3v7h-3V9H7v4z" fill="#fff"/></svg>"##,
    )
}

/// An HTML response with a status.
fn html(status: StatusCode, body: maud::Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body.into_string(),
    )
        .into_response()
}

/// A page-level error (not found, forbidden…) as HTML.
fn error_page(s: Option<&Session>, e: &ApiError) -> Response {
    html(e.status, pages::error(s, e))
}

fn refuse_cross_site(headers: &HeaderMap, s: Option<&Session>, csrf: &str) -> Option<Response> {
    let forged = session::cross_site(headers) || s.is_some_and(|s| !s.check_csrf(csrf));
    forged.then(|| {
        error_page(
            s,
            &ControlError::forbidden(
                "the form's CSRF token or origin is wrong (a cross-site request, or a page from an earlier session); reload the page and try again",
            )
            .into(),
        )
    })
}

// --- sign-in ----------------------------------------------------------------------------------

async fn login_page(MaybeSession(s): MaybeSession, headers: HeaderMap) -> Response {
    if s.is_some() {
        return Redirect::to("/").into_response();
    }
    html(
        StatusCode::OK,
        pages::login(None, plain_http_elsewhere(&headers)),
    )
}

/// Reached over plain HTTP at an address other than loopback: browsers drop the `Secure`
/// session cookie there, and the API key would cross the network in the clear.
fn plain_http_elsewhere(headers: &HeaderMap) -> bool {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    let local = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !https && !local
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    api_key: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::rest::Peer(ip): crate::rest::Peer,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Some(r) = refuse_cross_site(&headers, None, "") {
        return r;
    }
    let caller = match state.control.sign_in(&form.api_key, ip).await {
        Ok(c) => c,
        Err(e) if e.kind == ErrorKind::RateLimited => {
            return html(
                StatusCode::TOO_MANY_REQUESTS,
                pages::login(Some(&e.message), plain_http_elsewhere(&headers)),
            )
        }
        Err(e) => return error_page(None, &e.into()),
    };
    let Some(caller) = caller else {
        tracing::info!("console sign-in refused: unknown, revoked or expired API key");
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(
                Some("That API key is unknown, revoked or expired. Keys start with ghk_; create one with `gatehouse apikey create`."),
                plain_http_elsewhere(&headers),
            ),
        );
    };
    let value = match session::issue(&state.session_key, &caller.key().id, state.control.now()) {
        Ok(v) => v,
        Err(e) => return error_page(None, &e.into()),
    };
    tracing::info!(user = %caller.user().email, key = %caller.key().id, "console sign-in");
    let mut r = Redirect::to("/").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(&value));
    r
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(s: Session, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if let Some(r) = refuse_cross_site(&headers, Some(&s), &form.csrf) {
        return r;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    r
}

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

async fn load(state: &AppState, s: &Session, name: &str) -> Result<NsData, ApiError> {
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

async fn home(State(state): State<AppState>, s: Session) -> Response {
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
struct PageQuery {
    /// Edit this filter (index).
    edit: Option<usize>,
    /// What was just saved.
    done: Option<String>,
}

async fn namespace_page(
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
async fn rerender(
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
async fn answer(
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
fn at(resource_version: i64, dry_run: bool) -> WriteOptions {
    WriteOptions {
        resource_version: Some(resource_version),
        request_id: None,
        dry_run,
    }
}

fn saved(name: &str, done: &str) -> Response {
    Redirect::to(&format!(
        "/namespaces/{}?done={done}",
        pages::path_segment(name)
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct CaForm {
    #[serde(default)]
    csrf: String,
    resource_version: i64,
    #[serde(default)]
    pem: String,
    /// "check" or "save".
    #[serde(default)]
    op: String,
}

async fn ca_add(
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
        .add_cas(
            &s.caller,
            &name,
            Some(&form.pem),
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
struct RemoveForm {
    #[serde(default)]
    csrf: String,
    resource_version: i64,
    fingerprint: String,
    /// "yes" once the user has seen the recent-traffic warning.
    #[serde(default)]
    confirm: String,
}

async fn ca_remove(
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
        .remove_cas(&s.caller, &name, which, at(form.resource_version, false))
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
    fn from_filter(f: &CertificateFilter, index: Option<usize>) -> Self {
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

async fn filter_save(
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
            .edit_filter(&s.caller, &name, edit, at(form.resource_version, dry_run))
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
struct ImportForm {
    #[serde(default)]
    csrf: String,
    resource_version: i64,
    #[serde(default)]
    json: String,
    #[serde(default)]
    op: String,
}

async fn filters_import(
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
                .import_filters(
                    &s.caller,
                    &name,
                    parsed.filters().to_vec(),
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

async fn filters_export(
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

async fn rollover_page(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
) -> Response {
    match load(&state, &s, &name).await {
        Ok(d) => html(StatusCode::OK, pages::rollover(&s, &d, state.control.now())),
        Err(e) => error_page(Some(&s), &e),
    }
}

// --- expirations and audit --------------------------------------------------------------------

async fn expirations_page(State(state): State<AppState>, s: Session) -> Response {
    let result: Result<_, ControlError> = async {
        let (now, entries) = state.control.expirations(&s.caller, None).await?;
        let tickets = state.control.tickets(&s.caller).await?;
        Ok((entries, tickets, now))
    }
    .await;
    match result {
        Ok((entries, tickets, now)) => html(
            StatusCode::OK,
            pages::expirations(&s, &entries, &tickets, now),
        ),
        Err(e) => error_page(Some(&s), &e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
struct AuditFilter {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    user: String,
    before: Option<i64>,
}

async fn audit_page(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<AuditFilter>,
) -> Response {
    let non_empty = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let params = AuditParams {
        namespace: non_empty(&q.namespace),
        user: non_empty(&q.user),
        before: q.before,
        limit: Some(100),
    };
    let result: Result<_, ControlError> = async {
        let page = state.control.audit(&s.caller, params).await?;
        let namespaces: Vec<String> = state
            .control
            .list_namespaces(&s.caller)
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect();
        Ok((page, namespaces))
    }
    .await;
    match result {
        Ok((page, namespaces)) => html(
            StatusCode::OK,
            pages::audit(
                &s,
                &page.events,
                page.next_before,
                &namespaces,
                &q.namespace,
                &q.user,
            ),
        ),
        Err(e) => error_page(Some(&s), &e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_flagged_only_away_from_loopback() {
        let with = |host: &'static str, proto: Option<&'static str>| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_static(host));
            if let Some(p) = proto {
                h.insert("x-forwarded-proto", HeaderValue::from_static(p));
            }
            plain_http_elsewhere(&h)
        };
        assert!(!with("127.0.0.1:8080", None));
        assert!(!with("localhost:8080", None));
        assert!(!with("[::1]:8080", None));
        assert!(with("gatehouse.acme.io:8080", None));
        assert!(with("10.0.0.5", None));
        assert!(!with("gatehouse.acme.io", Some("https")));
    }
}
