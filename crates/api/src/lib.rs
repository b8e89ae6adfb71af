//! Gatehouse REST API (`/api/v1`): namespaces with their accepted client CA bundle and
//! certificate filters, users and roles, API keys, and the audit log.
//!
//! - [`router`] builds the axum `Router`; [`AppState`] holds the store and the clock.
//! - Every call is authenticated with an API key and authorised by role (account-owner,
//!   global-admin, namespace-admin of that namespace, read-only).
//! - Every write is validated as a whole resulting state by `gatehouse-policy`.

mod auth;
mod console;
mod error;
mod limits;
mod namespaces;
mod openapi;
mod users;
mod watch;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_store::SqlStore;
use time::OffsetDateTime;

pub use auth::{new_token, token_hash, TOKEN_PREFIX};
pub use error::{ApiError, Violation};
pub use limits::AuthLimiter;
pub use openapi::{openapi_document, Access, ROUTES};

/// Largest request body accepted. Bundles are at most 32 KB; this leaves room for JSON
/// escaping while keeping anything absurd out (413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<SqlStore>,
    /// The time source; tests pin it.
    pub clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
    /// Components that add to `/metrics` (the gateway, when it runs in this process).
    pub metrics: Vec<MetricsSource>,
    /// Run after a namespace write succeeds and before its response is sent: the gateway in
    /// this process applies the change, so a client that connects right after the response
    /// already sees it. (Gateways in other processes poll the store.)
    pub after_namespace_write: Vec<AfterWrite>,
    /// Signs console session cookies and CSRF tokens (see [`AppState::with_session_secret`]).
    pub session_key: aws_lc_rs::hmac::Key,
    /// Refuses addresses that keep presenting wrong API keys.
    pub auth_limiter: Arc<AuthLimiter>,
}

/// A hook run after a namespace write (see [`AppState::after_namespace_write`]).
pub type AfterWrite =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

async fn after_write(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let write = req.method() != axum::http::Method::GET
        && req.uri().path().starts_with("/api/v1/namespaces");
    let response = next.run(req).await;
    if write && response.status().is_success() {
        for hook in &state.after_namespace_write {
            hook().await;
        }
    }
    response
}

/// Prometheus text a component appends to `/metrics`; the second argument says whether the
/// caller may see a namespace.
pub type MetricsSource = Arc<dyn Fn(&mut String, &dyn Fn(&str) -> bool) + Send + Sync>;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over a SQLite store, with the system clock.
    pub fn new(store: Arc<SqlStore>) -> Self {
        Self {
            store,
            clock: Arc::new(OffsetDateTime::now_utc),
            metrics: Vec::new(),
            after_namespace_write: Vec::new(),
            session_key: random_session_key(),
            auth_limiter: Arc::default(),
        }
    }

    /// Signs console sessions with this secret (kept in the data dir, so sessions survive a
    /// restart and every replica on it accepts them) instead of a random per-process one.
    pub fn with_session_secret(mut self, secret: &[u8]) -> Self {
        self.session_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        self
    }
}

/// A random HMAC key: console sessions then last as long as the process.
pub fn random_session_key() -> aws_lc_rs::hmac::Key {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    aws_lc_rs::hmac::Key::generate(aws_lc_rs::hmac::HMAC_SHA256, &rng)
        .expect("the system random number generator failed")
}

/// JSON body extractor whose rejections are API errors (400, or 413 for an oversize body).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    Err(ApiError::rule(
                        status,
                        "request.max-size",
                        format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                    ))
                } else {
                    Err(ApiError::rule(
                        StatusCode::BAD_REQUEST,
                        "request.schema",
                        rejection.body_text(),
                    ))
                }
            }
        }
    }
}

/// Query-string extractor whose rejections are JSON API errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|r| ApiError::rule(StatusCode::BAD_REQUEST, "request.schema", r.body_text()))
    }
}

/// The `/api/v1` router.
pub fn router(state: AppState) -> Router {
    use namespaces as ns;
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/api/v1/whoami", get(users::whoami))
        .route("/api/v1/namespaces", get(ns::list).post(ns::create))
        .route(
            "/api/v1/namespaces/{namespace}",
            get(ns::get).put(ns::update).delete(ns::delete),
        )
        .route(
            "/api/v1/namespaces/{namespace}/accepted-client-ca",
            get(ns::list_cas).post(ns::add_ca).put(ns::set_cas),
        )
        .route(
            "/api/v1/namespaces/{namespace}/accepted-client-ca/remove",
            post(ns::remove_ca),
        )
        .route(
            "/api/v1/namespaces/{namespace}/certificate-filters",
            get(ns::get_filters)
                .put(ns::import_filters)
                .post(ns::add_filters)
                .delete(ns::clear_filters),
        )
        .route(
            "/api/v1/users",
            get(users::list_users).post(users::create_user),
        )
        .route(
            "/api/v1/users/{id}",
            get(users::get_user)
                .put(users::update_user)
                .delete(users::delete_user),
        )
        .route(
            "/api/v1/apikeys",
            get(users::list_keys).post(users::create_key),
        )
        .route(
            "/api/v1/apikeys/{id}",
            axum::routing::delete(users::revoke_key),
        )
        .route("/api/v1/namespaces/{namespace}/usage", get(watch::usage))
        .route("/api/v1/audit", get(users::audit))
        .route("/api/v1/tickets", get(watch::tickets))
        .route("/api/v1/expirations", get(watch::expiry_report))
        .route("/metrics", get(watch::metrics))
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            after_write,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests;
