//! The REST face (`/api/v1`): each handler maps HTTP to one call of the control service and
//! its answer (or [`ApiError`]) back to HTTP.

mod error;
mod namespaces;
mod users;
mod watch;

use std::net::IpAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;

use crate::control::Caller;
use crate::{AppState, Control, MAX_BODY_BYTES};

/// The client address of a request, when the server recorded it.
pub(crate) fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Extracts the client address, if the server recorded it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(peer(&parts.extensions)))
    }
}

/// The caller of an API request, from its `Authorization: Bearer` header.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|h| h.to_str().unwrap_or_default());
        Ok(state
            .control
            .authenticate(header, peer(&parts.extensions))
            .await?)
    }
}

/// What an authenticated `/api/v1` handler works with: the shared state and the caller
/// (extracted in that order).
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) state: AppState,
    pub(crate) caller: Caller,
}

impl Call {
    pub(crate) fn control(&self) -> &Control {
        &self.state.control
    }
}

impl FromRequestParts<AppState> for Call {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            caller,
        })
    }
}

/// Extracts `T` and then the path's one parameter (a namespace's name), in that order, for
/// an extractor that combines them; a rejection becomes the response it makes.
pub(crate) async fn with_path_name<T>(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(T, String), Response>
where
    T: FromRequestParts<AppState> + Send,
{
    let t = T::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let Path(name) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((t, name))
}

/// A handler's JSON answer, or the API error.
pub(crate) type Answer<T> = Result<axum::Json<T>, ApiError>;

/// A handler's JSON answer with its status (`201 Created`…), or the API error.
pub(crate) type WithStatus<T> = Result<(StatusCode, axum::Json<T>), ApiError>;

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

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|r| ApiError::rule(StatusCode::BAD_REQUEST, "request.schema", r.body_text()))
    }
}

/// The `/api/v1` routes and `/metrics`.
pub(crate) fn routes() -> Router<AppState> {
    use namespaces as ns;
    Router::new()
        .route("/api/v1/openapi.json", get(crate::openapi::serve))
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
}
