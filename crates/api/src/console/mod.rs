//! The web console: server-rendered pages on the API listener at `/`.
//!
//! - No JavaScript and no CDN: HTML forms and one embedded stylesheet, so it works offline and
//!   under a strict Content-Security-Policy.
//! - Sign-in with an API key, then a session cookie ([`session`]); every form carries a CSRF
//!   token and cross-site POSTs are refused.
//! - Every read and write goes through the same handlers, role checks and validation as the
//!   REST API; "Check" runs a write as a dry run. Forms carry the resource version they were
//!   rendered from, so a save over someone else's change is refused, never silent.

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

use crate::auth::token_hash;
use crate::error::ApiError;
use crate::namespaces::{self as ns, CaBody, FiltersBody, WriteOptions};
use crate::{ApiJson, AppState};

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
            &ApiError::forbidden(
                "the form's CSRF token or origin is wrong (a cross-site request, or a page from an earlier session); reload the page and try again",
            ),
        )
    })
}

async fn after_write(state: &AppState) {
    for hook in &state.after_namespace_write {
        hook().await;
    }
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
    crate::limits::Peer(ip): crate::limits::Peer,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Some(r) = refuse_cross_site(&headers, None, "") {
        return r;
    }
    if let Err(wait) = state.auth_limiter.check(ip) {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(
                Some(&crate::auth::rate_limited(ip, wait).message),
                plain_http_elsewhere(&headers),
            ),
        );
    }
    let token = form.api_key.trim();
    let now = (state.clock)();
    let principal = match state.store.authenticate(&token_hash(token), now).await {
        Ok(p) => p,
        Err(e) => return error_page(None, &e.into()),
    };
    let Some(principal) = principal else {
        state.auth_limiter.failed(ip);
        tracing::info!("console sign-in refused: unknown, revoked or expired API key");
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(
                Some("That API key is unknown, revoked or expired. Keys start with ghk_; create one with `gatehouse apikey create`."),
                plain_http_elsewhere(&headers),
            ),
        );
    };
    let value = match session::issue(&state.session_key, &principal.key.id, now) {
        Ok(v) => v,
        Err(e) => return error_page(None, &e),
    };
    tracing::info!(user = %principal.user.email, key = %principal.key.id, "console sign-in");
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

/// What one CA of a bundle saw through the gateways.
#[derive(Clone, Debug, Default)]
pub(crate) struct CaUsage {
    pub(crate) last_handshake: Option<OffsetDateTime>,
    pub(crate) last_seen: Option<OffsetDateTime>,
    pub(crate) handshakes: i64,
    pub(crate) requests: i64,
    pub(crate) open: i64,
}

impl CaUsage {
    /// Used in the last hour, or still connected: removing the CA would cut someone off.
    pub(crate) fn recently_used(&self, now: OffsetDateTime) -> bool {
        self.open > 0
            || self
                .last_seen
                .is_some_and(|t| t > now - time::Duration::hours(1))
    }
}

/// A namespace with everything its page shows.
#[derive(Debug)]
pub(crate) struct NsData {
    pub(crate) ns: Namespace,
    pub(crate) certs: Vec<CertificateInfo>,
    pub(crate) usage: Vec<CaUsage>,
    pub(crate) leaves: Vec<ObservedLeaf>,
    pub(crate) can_write: bool,
}

async fn load(state: &AppState, s: &Session, name: &str) -> Result<NsData, ApiError> {
    s.caller.require_read(name)?;
    let ns = state
        .store
        .get_namespace(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("namespace {name:?} not found")))?;
    let now = (state.clock)();
    let certs =
        parse_certificates(ns.spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default();
    let mut leaves = state
        .store
        .observed_leaves(OffsetDateTime::UNIX_EPOCH, Some(name))
        .await?;
    leaves.sort_by_key(|l| std::cmp::Reverse(l.last_seen));
    let open = state
        .store
        .open_connections(name, now - crate::watch::USAGE_FRESH)
        .await?;
    let usage = certs
        .iter()
        .map(|c| {
            let fp = c.fingerprint.to_string();
            let mine: Vec<_> = leaves.iter().filter(|l| l.ca_fingerprint == fp).collect();
            CaUsage {
                last_handshake: mine.iter().filter_map(|l| l.last_handshake).max(),
                last_seen: mine.iter().map(|l| l.last_seen).max(),
                handshakes: mine.iter().map(|l| l.connections).sum(),
                requests: mine.iter().map(|l| l.requests).sum(),
                open: open
                    .iter()
                    .filter(|(ca, _)| *ca == fp)
                    .map(|(_, n)| n)
                    .sum(),
            }
        })
        .collect();
    Ok(NsData {
        can_write: s.caller.0.user.administers(name),
        ns,
        certs,
        usage,
        leaves,
    })
}

// --- namespaces list --------------------------------------------------------------------------

async fn home(State(state): State<AppState>, s: Session) -> Response {
    let result: Result<_, ApiError> = async {
        let namespaces: Vec<Namespace> = state
            .store
            .list_namespaces()
            .await?
            .into_iter()
            .filter(|n| s.caller.can_read(&n.name))
            .collect();
        let leaves = state
            .store
            .observed_leaves(OffsetDateTime::UNIX_EPOCH, None)
            .await?;
        Ok((namespaces, leaves))
    }
    .await;
    match result {
        Ok((namespaces, leaves)) => html(
            StatusCode::OK,
            pages::namespaces(&s, &namespaces, &leaves, (state.clock)()),
        ),
        Err(e) => error_page(Some(&s), &e),
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
        pages::namespace(&s, &d, (state.clock)(), &draft, &Outcome::None, notice),
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
        pages::namespace(s, &d, (state.clock)(), &draft, &outcome, None),
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
    result: Result<axum::Json<ns::NamespaceView>, ApiError>,
    checked: impl FnOnce(&ns::NamespaceView) -> String,
    done: &str,
) -> Response {
    match result {
        Ok(view) if dry_run => {
            let msg = checked(&view.0);
            rerender(state, s, name, draft, Outcome::Checked(card, msg)).await
        }
        Ok(_) => {
            after_write(state).await;
            saved(name, done)
        }
        Err(e) => rerender(state, s, name, draft, Outcome::Refused(card, e)).await,
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
    let result = ns::add_ca(
        State(state.clone()),
        s.caller.clone(),
        Path(name.clone()),
        ApiJson(CaBody {
            ca_certificate: Some(form.pem.clone()),
            fingerprint: None,
            resource_version: Some(form.resource_version),
            request_id: None,
            dry_run,
        }),
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
        let now = (state.clock)();
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
    let result = ns::remove_ca(
        State(state.clone()),
        s.caller.clone(),
        Path(name.clone()),
        ApiJson(CaBody {
            ca_certificate: None,
            fingerprint: Some(form.fingerprint),
            resource_version: Some(form.resource_version),
            request_id: None,
            dry_run: false,
        }),
    )
    .await;
    match result {
        Ok(_) => {
            after_write(&state).await;
            saved(&name, "ca-removed")
        }
        Err(e) => {
            rerender(
                &state,
                &s,
                &name,
                Draft::default(),
                Outcome::Refused(Card::Cas, e),
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

    fn filter(&self) -> Result<CertificateFilter, ApiError> {
        let role = match self.role.as_str() {
            "" => None,
            "worker" => Some(AccessRole::Worker),
            "reader" => Some(AccessRole::Reader),
            "writer" => Some(AccessRole::Writer),
            "admin" => Some(AccessRole::Admin),
            other => {
                return Err(ApiError::rule(
                    StatusCode::BAD_REQUEST,
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
    let action = match (remove, form.index) {
        (true, _) => "namespace.certificate-filters.remove",
        (false, Some(_)) => "namespace.certificate-filters.edit",
        (false, None) => "namespace.certificate-filters.add",
    };
    let result = async {
        let filter = if remove { None } else { Some(form.filter()?) };
        let index = form.index;
        ns::mutate(
            &state,
            &s.caller,
            &name,
            action,
            WriteOptions {
                resource_version: Some(form.resource_version),
                request_id: None,
                dry_run,
            },
            |spec| {
                let mut all = spec.certificate_filters.clone();
                match (index, &filter) {
                    (Some(i), _) if i >= all.len() => {
                        return Err(ApiError::not_found(format!(
                            "there is no filter number {} any more; reload the page",
                            i + 1
                        )))
                    }
                    (Some(i), None) => {
                        all.remove(i);
                    }
                    (Some(i), Some(f)) => all[i] = f.clone(),
                    (None, Some(f)) => all.push(f.clone()),
                    (None, None) => {
                        return Err(ApiError::bad_request("which filter to remove is missing"))
                    }
                }
                Ok(gatehouse_store::NamespaceSpec {
                    accepted_client_ca: spec.accepted_client_ca.clone(),
                    certificate_filters: all,
                })
            },
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
            ns::import_filters(
                State(state.clone()),
                s.caller.clone(),
                Path(name.clone()),
                ApiJson(FiltersBody {
                    filters: parsed.filters().to_vec(),
                    resource_version: Some(form.resource_version),
                    request_id: None,
                    dry_run,
                }),
            )
            .await
        }
        Err(e) => Err(ApiError::rule(
            StatusCode::BAD_REQUEST,
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
        Ok(d) => html(StatusCode::OK, pages::rollover(&s, &d, (state.clock)())),
        Err(e) => error_page(Some(&s), &e),
    }
}

// --- expirations and audit --------------------------------------------------------------------

async fn expirations_page(State(state): State<AppState>, s: Session) -> Response {
    let result: Result<_, ApiError> = async {
        let namespaces: Vec<Namespace> = state
            .store
            .list_namespaces()
            .await?
            .into_iter()
            .filter(|n| s.caller.can_read(&n.name))
            .collect();
        let leaves: Vec<_> = state
            .store
            .observed_leaves(OffsetDateTime::UNIX_EPOCH, None)
            .await?
            .into_iter()
            .filter(|l| s.caller.can_read(&l.namespace))
            .collect();
        let tickets: Vec<_> = state
            .store
            .list_tickets()
            .await?
            .into_iter()
            .filter(|t| s.caller.can_read(&t.namespace))
            .collect();
        let now = (state.clock)();
        Ok((
            gatehouse_notify::expirations(&namespaces, &leaves, now, None),
            tickets,
            now,
        ))
    }
    .await;
    match result {
        Ok((entries, tickets, now)) => html(
            StatusCode::OK,
            pages::expirations(&s, &entries, &tickets, now),
        ),
        Err(e) => error_page(Some(&s), &e),
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
    let params = crate::users::AuditParams {
        namespace: non_empty(&q.namespace),
        user: non_empty(&q.user),
        before: q.before,
        limit: Some(100),
    };
    let result: Result<_, ApiError> = async {
        let (events, next) = crate::users::audit_events(&state, &s.caller, params).await?;
        let namespaces: Vec<String> = state
            .store
            .list_namespaces()
            .await?
            .into_iter()
            .filter(|n| s.caller.can_read(&n.name))
            .map(|n| n.name)
            .collect();
        Ok((events, next, namespaces))
    }
    .await;
    match result {
        Ok((events, next, namespaces)) => html(
            StatusCode::OK,
            pages::audit(&s, &events, next, &namespaces, &q.namespace, &q.user),
        ),
        Err(e) => error_page(Some(&s), &e),
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
