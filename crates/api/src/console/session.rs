//! Console sessions: sign in with an API key, then a signed, HttpOnly, `SameSite=Strict`,
//! `Secure` cookie; every form carries a CSRF token derived from the session.
//!
//! The cookie is `v1.<key id>.<expiry>.<nonce>.<mac>`, the MAC being HMAC-SHA256 under the
//! server's session secret. It holds no secret of its own: each request loads the API key by id
//! and refuses a revoked or expired key, so revoking the key ends its console sessions too.

use aws_lc_rs::hmac;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use time::OffsetDateTime;

use crate::control::{Caller, ControlError};
use crate::AppState;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "gatehouse_session";

/// How long a console session lasts.
pub(crate) const TTL: time::Duration = time::Duration::hours(8);

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn mac(key: &hmac::Key, message: &str) -> String {
    b64(hmac::sign(key, message.as_bytes()).as_ref())
}

/// A fresh cookie value for a signed-in API key.
pub(crate) fn issue(
    key: &hmac::Key,
    key_id: &str,
    now: OffsetDateTime,
) -> Result<String, ControlError> {
    let nonce =
        gatehouse_pki::random_bytes::<16>().map_err(|e| ControlError::internal(e.to_string()))?;
    let body = format!(
        "v1.{key_id}.{}.{}",
        (now + TTL).unix_timestamp(),
        b64(&nonce)
    );
    let tag = mac(key, &body);
    Ok(format!("{body}.{tag}"))
}

/// `Set-Cookie` for a new session.
pub(crate) fn set_cookie(value: &str) -> HeaderValue {
    let v = format!(
        "{COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        TTL.whole_seconds()
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that ends the session.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "gatehouse_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
    )
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|c| c.trim().strip_prefix("gatehouse_session="))
}

/// A signed-in console user.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) caller: Caller,
    /// The CSRF token every form of this session must carry.
    pub(crate) csrf: String,
}

impl Session {
    /// Checks a form's CSRF token (constant time).
    pub(crate) fn check_csrf(&self, token: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(self.csrf.as_bytes(), token.as_bytes())
            .is_ok()
    }
}

/// Why there is no session: the browser goes to the sign-in page.
#[derive(Debug)]
pub(crate) struct SignIn;

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        let mut r = Redirect::to("/login").into_response();
        r.headers_mut().insert(header::SET_COOKIE, clear_cookie());
        r
    }
}

/// Verifies a cookie value and loads its user; `None` for anything invalid, expired or revoked.
pub(crate) async fn resolve(state: &AppState, value: &str) -> Option<Session> {
    let (body, tag) = value.rsplit_once('.')?;
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tag)
        .ok()?;
    hmac::verify(&state.session_key, body.as_bytes(), &tag).ok()?;
    let mut parts = body.split('.');
    let (Some("v1"), Some(key_id), Some(expiry), Some(nonce), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    if expiry.parse::<i64>().ok()? <= state.control.now().unix_timestamp() {
        return None;
    }
    let caller = state.control.caller_for_key(key_id).await?;
    Some(Session {
        caller,
        csrf: mac(&state.session_key, &format!("csrf.{nonce}")),
    })
}

impl FromRequestParts<AppState> for Session {
    type Rejection = SignIn;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SignIn> {
        let value = cookie_value(&parts.headers).ok_or(SignIn)?;
        resolve(state, value).await.ok_or(SignIn)
    }
}

/// The session, if the request has a valid one (for pages that work both ways).
#[derive(Debug)]
pub(crate) struct MaybeSession(pub(crate) Option<Session>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(Self(match cookie_value(&parts.headers) {
            Some(v) => resolve(state, v).await,
            None => None,
        }))
    }
}

/// A cross-site POST: its `Origin` (or, failing that, `Referer`) names another host than the
/// request's `X-Forwarded-Host` or `Host`. Browsers send `Origin` on every form POST.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    // Behind a proxy that rewrites Host, the browser's host is in X-Forwarded-Host.
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .map(|h| h.split(',').next().unwrap_or(h).trim());
    let origin = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    match (origin, host) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
            let origin_host = rest.split('/').next().unwrap_or_default();
            !origin_host.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.test"),
        );
        assert!(cross_site(&h));
        // Behind a proxy that rewrote Host.
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://gatehouse.acme.io"),
        );
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("gatehouse.acme.io"),
        );
        assert!(!cross_site(&h));
        h.remove("x-forwarded-host");
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; gatehouse_session=v1.k_1.2.n.t; c=d"),
        );
        assert_eq!(cookie_value(&h), Some("v1.k_1.2.n.t"));
    }
}
