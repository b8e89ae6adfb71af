//! `/api/v1/users`, `/api/v1/apikeys`, `/api/v1/audit` and `/api/v1/whoami`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use gatehouse_store::User;

use super::{Answer, ApiError, ApiJson, ApiQuery, Call, WithStatus};
use crate::control::Caller;
use crate::wire::{
    ApiKeyList, AuditPageBody, AuditQueryParams, CreatedApiKey, KeyBody, KeyListQuery, UserBody,
    UserList, WhoAmI,
};

pub(crate) async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        key: caller.key().clone(),
        user: caller.user().clone(),
    })
}

pub(crate) async fn list_users(c: Call) -> Answer<UserList> {
    let users = c.control().list_users(&c.caller).await?;
    Ok(Json(UserList { users }))
}

pub(crate) async fn create_user(c: Call, ApiJson(body): ApiJson<UserBody>) -> WithStatus<User> {
    let user = c.control().create_user(&c.caller, body.into()).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub(crate) async fn get_user(c: Call, Path(id): Path<String>) -> Answer<User> {
    Ok(Json(c.control().user(&c.caller, &id).await?))
}

pub(crate) async fn update_user(
    c: Call,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserBody>,
) -> Answer<User> {
    Ok(Json(
        c.control().update_user(&c.caller, &id, body.into()).await?,
    ))
}

pub(crate) async fn delete_user(c: Call, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    c.control().delete_user(&c.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_keys(c: Call, ApiQuery(q): ApiQuery<KeyListQuery>) -> Answer<ApiKeyList> {
    let api_keys = c.control().list_keys(&c.caller, q.user_id).await?;
    Ok(Json(ApiKeyList { api_keys }))
}

pub(crate) async fn create_key(
    c: Call,
    ApiJson(body): ApiJson<KeyBody>,
) -> WithStatus<CreatedApiKey> {
    let created = c.control().create_key(&c.caller, body.into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            api_key: created.key,
            note: "the token is shown only now; store it safely".into(),
            token: created.token,
        }),
    ))
}

pub(crate) async fn revoke_key(c: Call, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    c.control().revoke_key(&c.caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn audit(
    c: Call,
    ApiQuery(q): ApiQuery<AuditQueryParams>,
) -> Answer<AuditPageBody> {
    let page = c.control().audit(&c.caller, q.into()).await?;
    Ok(Json(AuditPageBody {
        events: page.events,
        next_before: page.next_before,
    }))
}
