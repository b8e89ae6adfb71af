//! `/api/v1/users`, `/api/v1/apikeys`, `/api/v1/audit` and `/api/v1/whoami`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_store::User;

use super::{ApiError, ApiJson, ApiQuery};
use crate::control::Caller;
use crate::wire::{
    ApiKeyList, AuditPageBody, AuditQueryParams, CreatedApiKey, KeyBody, KeyListQuery, UserBody,
    UserList, WhoAmI,
};
use crate::AppState;

pub(crate) async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        key: caller.key().clone(),
        user: caller.user().clone(),
    })
}

pub(crate) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<UserList>, ApiError> {
    let users = state.control.list_users(&caller).await?;
    Ok(Json(UserList { users }))
}

pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = state.control.create_user(&caller, body.into()).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub(crate) async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.control.user(&caller, &id).await?))
}

pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        state.control.update_user(&caller, &id, body.into()).await?,
    ))
}

pub(crate) async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.control.delete_user(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<KeyListQuery>,
) -> Result<Json<ApiKeyList>, ApiError> {
    let api_keys = state.control.list_keys(&caller, q.user_id).await?;
    Ok(Json(ApiKeyList { api_keys }))
}

pub(crate) async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<KeyBody>,
) -> Result<(StatusCode, Json<CreatedApiKey>), ApiError> {
    let created = state.control.create_key(&caller, body.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            api_key: created.key,
            note: "the token is shown only now; store it safely".into(),
            token: created.token,
        }),
    ))
}

pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.control.revoke_key(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQueryParams>,
) -> Result<Json<AuditPageBody>, ApiError> {
    let page = state.control.audit(&caller, q.into()).await?;
    Ok(Json(AuditPageBody {
        events: page.events,
        next_before: page.next_before,
    }))
}
