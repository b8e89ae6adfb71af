//! Users, API keys, the audit log, and who-am-I.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_store::{AuditQuery, Change, Role, User};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{new_token, token_hash, Caller};
use crate::error::ApiError;
use crate::namespaces::validate_name;
use crate::{ApiJson, ApiQuery, AppState};

pub(crate) async fn whoami(caller: Caller) -> Json<serde_json::Value> {
    Json(json!({ "user": caller.0.user, "key": caller.0.key }))
}

/// Global admins manage everyone but account owners; only an owner touches an owner.
fn may_manage(caller: &Caller, target_role: Role) -> Result<(), ApiError> {
    caller.require_admin()?;
    if target_role == Role::AccountOwner && caller.role() != Role::AccountOwner {
        return Err(ApiError::forbidden(
            "only an account-owner may create, change or delete account owners",
        ));
    }
    Ok(())
}

fn check_user_fields(email: &str, role: Role, namespaces: &[String]) -> Result<(), ApiError> {
    let valid_email = email.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && !d.is_empty() && !email.contains(char::is_whitespace)
    });
    if !valid_email {
        return Err(ApiError::rule(
            StatusCode::BAD_REQUEST,
            "user.email",
            format!("{email:?} is not an email address"),
        ));
    }
    if role != Role::NamespaceAdmin && !namespaces.is_empty() {
        return Err(ApiError::rule(
            StatusCode::BAD_REQUEST,
            "user.namespaces",
            "only a namespace-admin has namespaces",
        ));
    }
    for n in namespaces {
        validate_name(n)?;
    }
    Ok(())
}

pub(crate) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require_admin()?;
    Ok(Json(json!({ "users": state.store.list_users().await? })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UserBody {
    email: Option<String>,
    role: Role,
    #[serde(default)]
    namespaces: Vec<String>,
}

pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    may_manage(&caller, body.role)?;
    let email = body
        .email
        .ok_or_else(|| ApiError::bad_request("email is required"))?;
    check_user_fields(&email, body.role, &body.namespaces)?;
    let change = Change {
        actor: caller.actor(),
        action: "user.create".into(),
        request_id: None,
        before: serde_json::Value::Null,
        after: json!({ "email": email, "role": body.role, "namespaces": body.namespaces }),
    };
    let user = state
        .store
        .create_user(&email, body.role, body.namespaces, (state.clock)(), change)
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn find_user(state: &AppState, id: &str) -> Result<User, ApiError> {
    state
        .store
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id:?} not found")))
}

pub(crate) async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    // Check before looking up, so a non-admin cannot probe which emails exist.
    if id != caller.0.user.id && id != caller.0.user.email {
        caller.require_admin()?;
    }
    Ok(Json(find_user(&state, &id).await?))
}

pub(crate) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserBody>,
) -> Result<Json<User>, ApiError> {
    caller.require_admin()?;
    let user = find_user(&state, &id).await?;
    may_manage(&caller, user.role)?;
    may_manage(&caller, body.role)?;
    if body.email.as_ref().is_some_and(|e| *e != user.email) {
        return Err(ApiError::rule(
            StatusCode::BAD_REQUEST,
            "user.email",
            "a user's email cannot change; create a new user",
        ));
    }
    check_user_fields(&user.email, body.role, &body.namespaces)?;
    let change = Change {
        actor: caller.actor(),
        action: "user.update".into(),
        request_id: None,
        before: json!({ "email": user.email, "role": user.role, "namespaces": user.namespaces }),
        after: json!({ "email": user.email, "role": body.role, "namespaces": body.namespaces }),
    };
    let updated = state
        .store
        .update_user(
            &user.id,
            body.role,
            body.namespaces,
            (state.clock)(),
            change,
        )
        .await?;
    Ok(Json(updated))
}

pub(crate) async fn delete_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let user = find_user(&state, &id).await?;
    may_manage(&caller, user.role)?;
    let change = Change {
        actor: caller.actor(),
        action: "user.delete".into(),
        request_id: None,
        before: json!({ "email": user.email, "role": user.role, "namespaces": user.namespaces }),
        after: serde_json::Value::Null,
    };
    state
        .store
        .delete_user(&user.id, (state.clock)(), change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- API keys ---------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyListQuery {
    user_id: Option<String>,
}

pub(crate) async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<KeyListQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user_id = match q.user_id {
        Some(u) if u != caller.0.user.id => {
            caller.require_admin()?;
            Some(find_user(&state, &u).await?.id)
        }
        Some(u) => Some(u),
        None if caller.is_admin() => None,
        None => Some(caller.0.user.id.clone()),
    };
    let keys = state.store.list_api_keys(user_id.as_deref()).await?;
    Ok(Json(json!({ "apiKeys": keys })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct KeyBody {
    name: String,
    /// Whose key; default the caller. Admins may create keys for others.
    #[serde(default)]
    user_id: Option<String>,
    /// Lifetime in tcld's duration grammar (e.g. 90d); default no expiry.
    #[serde(default)]
    duration: Option<String>,
}

pub(crate) async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<KeyBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let owner = match &body.user_id {
        Some(u) if *u != caller.0.user.id && *u != caller.0.user.email => {
            caller.require_admin()?;
            let target = find_user(&state, u).await?;
            may_manage(&caller, target.role)?;
            target
        }
        _ => caller.0.user.clone(),
    };
    if body.name.trim().is_empty() {
        return Err(ApiError::rule(
            StatusCode::BAD_REQUEST,
            "apikey.name",
            "name must not be empty",
        ));
    }
    let now = (state.clock)();
    let expires_at = match &body.duration {
        None => None,
        Some(d) => {
            let p = gatehouse_pki::ValidityPeriod::parse(d).map_err(|e| {
                ApiError::rule(StatusCode::BAD_REQUEST, "apikey.duration", e.to_string())
            })?;
            if p.as_nanos() <= 0 {
                return Err(ApiError::rule(
                    StatusCode::BAD_REQUEST,
                    "apikey.duration",
                    "duration must be positive",
                ));
            }
            Some(now + p.to_duration())
        }
    };
    let token = new_token()?;
    let change = Change {
        actor: caller.actor(),
        action: "apikey.create".into(),
        request_id: None,
        before: serde_json::Value::Null,
        after: json!({ "user": owner.email, "name": body.name }),
    };
    let key = state
        .store
        .create_api_key(
            &owner.id,
            &body.name,
            &token_hash(&token),
            expires_at,
            now,
            change,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "apiKey": key, "token": token, "note": "the token is shown only now; store it safely" }),
        ),
    ))
}

pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let key = state
        .store
        .get_api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("API key {id:?} not found")))?;
    if key.user_id != caller.0.user.id {
        let owner = find_user(&state, &key.user_id).await?;
        may_manage(&caller, owner.role)?;
    }
    let change = Change {
        actor: caller.actor(),
        action: "apikey.revoke".into(),
        request_id: None,
        before: json!({ "id": key.id, "name": key.name }),
        after: serde_json::Value::Null,
    };
    state
        .store
        .revoke_api_key(&id, (state.clock)(), change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- audit ------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditParams {
    pub(crate) namespace: Option<String>,
    /// Only events by this user (email).
    pub(crate) user: Option<String>,
    pub(crate) before: Option<i64>,
    pub(crate) limit: Option<i64>,
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (events, next) = audit_events(&state, &caller, q).await?;
    Ok(Json(json!({ "events": events, "nextBefore": next })))
}

/// The audit events the caller may see, and the `before` of the next page if there may be one.
pub(crate) async fn audit_events(
    state: &AppState,
    caller: &Caller,
    q: AuditParams,
) -> Result<(Vec<gatehouse_store::AuditEvent>, Option<i64>), ApiError> {
    // Owners and global admins see everything; read-only users see namespace events (not user
    // or key events); namespace admins see their namespaces' events.
    let visible = match caller.role() {
        Role::AccountOwner | Role::GlobalAdmin | Role::ReadOnly => None,
        Role::NamespaceAdmin => Some(caller.0.user.namespaces.clone()),
    };
    let namespaces_only = matches!(caller.role(), Role::ReadOnly | Role::NamespaceAdmin);
    if let (Some(ns), Some(v)) = (&q.namespace, &visible) {
        if !v.contains(ns) {
            return Err(ApiError::forbidden(format!(
                "no access to namespace {ns:?}"
            )));
        }
    }
    let limit = q.limit.unwrap_or(50);
    let events = state
        .store
        .list_audit(AuditQuery {
            namespace: q.namespace,
            actor_email: q.user,
            visible_namespaces: visible,
            before_id: q.before,
            limit,
            namespaces_only,
        })
        .await?;
    let next = if events.len() as i64 >= limit.clamp(1, 1000) {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok((events, next))
}
