//! API keys: `Authorization: Bearer <token>`. Tokens are random, shown once, and stored only
//! as SHA-256 hashes; roles decide what each caller may do.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use gatehouse_store::{Principal, Role};

use crate::error::ApiError;
use crate::AppState;

/// Prefix of every token, so leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "ghk_";

/// A new API token: `ghk_` and 32 random bytes, base64url.
pub fn new_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ApiError::internal("random number generator failed"))?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    gatehouse_pki::sha256_hex(token.as_bytes())
}

/// 429 for an address over the failed-authentication limit.
pub(crate) fn rate_limited(ip: Option<std::net::IpAddr>, wait: u64) -> ApiError {
    ApiError::rule(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "auth.rate-limited",
        format!(
            "too many wrong API keys from {}: {} in {} s; retry in {wait} s",
            ip.map(|i| i.to_string()).unwrap_or_default(),
            crate::limits::MAX_FAILURES,
            crate::limits::WINDOW.as_secs()
        ),
    )
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub Principal);

impl Caller {
    pub(crate) fn role(&self) -> Role {
        self.0.user.role
    }

    /// "email (key k_…)", as the audit log records the actor.
    pub(crate) fn actor(&self) -> String {
        format!("{} (key {})", self.0.user.email, self.0.key.id)
    }

    /// Owners and global admins.
    pub(crate) fn is_admin(&self) -> bool {
        matches!(self.role(), Role::AccountOwner | Role::GlobalAdmin)
    }

    pub(crate) fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} is {}; this needs account-owner or global-admin",
                self.0.user.email,
                self.role()
            )))
        }
    }

    /// May read this namespace: admins, read-only users, and its namespace admins.
    pub(crate) fn can_read(&self, namespace: &str) -> bool {
        self.role() == Role::ReadOnly || self.0.user.administers(namespace)
    }

    pub(crate) fn require_read(&self, namespace: &str) -> Result<(), ApiError> {
        if self.can_read(namespace) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} may not read namespace {namespace:?}",
                self.0.user.email
            )))
        }
    }

    /// May change this namespace's certificates and filters.
    pub(crate) fn require_write(&self, namespace: &str) -> Result<(), ApiError> {
        if self.0.user.administers(namespace) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{} is {} and may not change namespace {namespace:?} (needs account-owner, global-admin, or namespace-admin of {namespace:?})",
                self.0.user.email,
                self.role()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ip = crate::limits::peer(&parts.extensions);
        state
            .auth_limiter
            .check(ip)
            .map_err(|wait| rate_limited(ip, wait))?;
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthenticated("missing Authorization: Bearer <API key> header")
            })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(TOKEN_PREFIX))
            .ok_or_else(|| {
                state.auth_limiter.failed(ip);
                ApiError::unauthenticated("the Authorization header is not 'Bearer ghk_…'")
            })?;
        let principal = state
            .store
            .authenticate(&token_hash(token), (state.clock)())
            .await?
            .ok_or_else(|| {
                state.auth_limiter.failed(ip);
                ApiError::unauthenticated("the API key is unknown, revoked or expired")
            })?;
        Ok(Caller(principal))
    }
}
