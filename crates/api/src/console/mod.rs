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

mod forms;
mod namespace;
mod pages;
mod reports;
mod session;
mod signin;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::control::ControlError;
use crate::{ApiError, AppState};

pub(crate) use forms::{role_name, FilterForm};
pub(crate) use namespace::{Card, Draft, NsData, Outcome};
pub(crate) use session::Session;

use forms::{ca_add, ca_remove, filter_save, filters_import};
use namespace::{filters_export, home, namespace_page, rollover_page};
use reports::{audit_page, expirations_page};
use signin::{login, login_page, logout};

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
