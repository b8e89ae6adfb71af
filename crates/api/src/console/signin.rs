//! Sign-in and sign-out.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::control::ErrorKind;
use crate::AppState;

use super::session::{self, MaybeSession, Session};
use super::{error_page, html, pages, refuse_cross_site};

// --- sign-in ----------------------------------------------------------------------------------

pub(super) async fn login_page(MaybeSession(s): MaybeSession, headers: HeaderMap) -> Response {
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
pub(super) struct LoginForm {
    api_key: String,
}

pub(super) async fn login(
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
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(s: Session, headers: HeaderMap, Form(form): Form<CsrfForm>) -> Response {
    if let Some(r) = refuse_cross_site(&headers, Some(&s), &form.csrf) {
        return r;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    r
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

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
