//! Gatehouse control plane: namespaces with their accepted client CA bundle and certificate
//! filters, users and roles, API keys, and the audit log.
//!
//! - [`control`]: the one service every face calls (authorisation by role, validation by
//!   `gatehouse-policy`, compare-and-swap writes with audit and request ids). It knows no HTTP.
//! - [`wire`]: the REST API's request and response bodies, shared with clients.
//! - The faces, thin adapters over [`control::Control`]: the REST API at `/api/v1` and
//!   `/metrics`, and the web console at `/` (server-rendered). [`router`] serves both.

mod console;
pub mod control;
mod openapi;
mod rest;
pub mod wire;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;

pub use control::{new_token, token_hash, Control, ControlError, TOKEN_PREFIX};
pub use openapi::{openapi_document, Access, ROUTES};
pub use rest::{ApiError, ApiJson, ApiQuery};

/// Largest request body accepted. Bundles are at most 32 KB; this leaves room for JSON
/// escaping while keeping anything absurd out (413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Prometheus text a component appends to `/metrics`; the second argument says whether the
/// caller may see a namespace.
pub type MetricsSource = Arc<dyn Fn(&mut String, &dyn Fn(&str) -> bool) + Send + Sync>;

/// Shared state of the HTTP faces.
#[derive(Clone)]
pub struct AppState {
    pub control: Arc<Control>,
    /// Components that add to `/metrics` (the gateway, when it runs in this process).
    pub metrics: Vec<MetricsSource>,
    /// Signs console session cookies and CSRF tokens (see [`AppState::with_session_secret`]).
    pub session_key: aws_lc_rs::hmac::Key,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The faces over a control service, with a random per-process console session key.
    pub fn new(control: impl Into<Arc<Control>>) -> Self {
        Self {
            control: control.into(),
            metrics: Vec::new(),
            session_key: random_session_key(),
        }
    }

    /// Signs console sessions with this secret (kept in the data dir, so sessions survive a
    /// restart and every replica on it accepts them) instead of a random per-process one.
    pub fn with_session_secret(mut self, secret: &[u8]) -> Self {
        self.session_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        self
    }

    /// Adds a component's metrics to `/metrics`.
    pub fn with_metrics(mut self, source: MetricsSource) -> Self {
        self.metrics.push(source);
        self
    }
}

/// A random HMAC key: console sessions then last as long as the process.
pub fn random_session_key() -> aws_lc_rs::hmac::Key {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA256, &rng)
        .expect("the system random number generator failed")
}

/// The REST API, `/metrics` and the console.
pub fn router(state: AppState) -> Router {
    rest::routes()
        .merge(console::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint; see /api/v1/openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method; see /api/v1/openapi.json",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[cfg(test)]
mod tests;
