//! Users and their roles, and API keys.

use gatehouse_store::{ApiKey, Change, Role, User};
use serde_json::json;

use super::error::{ControlError, ErrorKind};
use super::namespaces::validate_name;
use super::{new_token, token_hash, Caller, Control};

/// A user's fields as a create or update gives them.
#[derive(Clone, Debug)]
pub struct UserFields {
    /// Required to create; on update, if given, it must be the user's email (it cannot change).
    pub email: Option<String>,
    pub role: Role,
    /// Only for namespace admins.
    pub namespaces: Vec<String>,
}

/// An API key to create.
#[derive(Clone, Debug)]
pub struct NewKey {
    pub name: String,
    /// Whose key (id or email); default the caller. Admins may create keys for others.
    pub user_id: Option<String>,
    /// Lifetime in tcld's duration grammar (e.g. 90d); default no expiry.
    pub duration: Option<String>,
}

/// A created API key and its token, which exists only in this answer.
#[derive(Clone)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub token: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_without_token(f, "NewApiKey", "key", &self.key)
    }
}

/// `Debug` of what carries a new key's token (`name`): its key (`field`), never the token.
pub(crate) fn debug_without_token(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    field: &str,
    key: &ApiKey,
) -> std::fmt::Result {
    f.debug_struct(name)
        .field(field, key)
        .finish_non_exhaustive()
}

fn check_user_fields(email: &str, role: Role, namespaces: &[String]) -> Result<(), ControlError> {
    let valid_email = email.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && !d.is_empty() && !email.contains(char::is_whitespace)
    });
    if !valid_email {
        return Err(ControlError::rule(
            ErrorKind::InvalidArgument,
            "user.email",
            format!("{email:?} is not an email address"),
        ));
    }
    if role != Role::NamespaceAdmin && !namespaces.is_empty() {
        return Err(ControlError::rule(
            ErrorKind::InvalidArgument,
            "user.namespaces",
            "only a namespace-admin has namespaces",
        ));
    }
    for n in namespaces {
        validate_name(n)?;
    }
    Ok(())
}

fn user_summary(email: &str, role: Role, namespaces: &[String]) -> serde_json::Value {
    json!({ "email": email, "role": role, "namespaces": namespaces })
}

impl Control {
    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<User>, ControlError> {
        caller.require_admin()?;
        Ok(self.store.list_users().await?)
    }

    pub async fn create_user(
        &self,
        caller: &Caller,
        fields: UserFields,
    ) -> Result<User, ControlError> {
        caller.may_manage(fields.role)?;
        let email = fields
            .email
            .ok_or_else(|| ControlError::invalid("email is required"))?;
        check_user_fields(&email, fields.role, &fields.namespaces)?;
        let change = Change {
            actor: caller.actor(),
            action: "user.create".into(),
            request_id: None,
            before: serde_json::Value::Null,
            after: user_summary(&email, fields.role, &fields.namespaces),
        };
        Ok(self
            .store
            .create_user(&email, fields.role, fields.namespaces, self.now(), change)
            .await?)
    }

    async fn find_user(&self, id: &str) -> Result<User, ControlError> {
        self.store
            .get_user(id)
            .await?
            .ok_or_else(|| ControlError::not_found(format!("user {id:?} not found")))
    }

    /// A user by id or email: anyone may read themselves, admins anyone.
    pub async fn user(&self, caller: &Caller, id: &str) -> Result<User, ControlError> {
        // Check before looking up, so a non-admin cannot probe which emails exist.
        if id != caller.user().id && id != caller.user().email {
            caller.require_admin()?;
        }
        self.find_user(id).await
    }

    pub async fn update_user(
        &self,
        caller: &Caller,
        id: &str,
        fields: UserFields,
    ) -> Result<User, ControlError> {
        caller.require_admin()?;
        let user = self.find_user(id).await?;
        caller.may_manage(user.role)?;
        caller.may_manage(fields.role)?;
        if fields.email.as_ref().is_some_and(|e| *e != user.email) {
            return Err(ControlError::rule(
                ErrorKind::InvalidArgument,
                "user.email",
                "a user's email cannot change; create a new user",
            ));
        }
        check_user_fields(&user.email, fields.role, &fields.namespaces)?;
        let change = Change {
            actor: caller.actor(),
            action: "user.update".into(),
            request_id: None,
            before: user_summary(&user.email, user.role, &user.namespaces),
            after: user_summary(&user.email, fields.role, &fields.namespaces),
        };
        Ok(self
            .store
            .update_user(&user.id, fields.role, fields.namespaces, self.now(), change)
            .await?)
    }

    pub async fn delete_user(&self, caller: &Caller, id: &str) -> Result<(), ControlError> {
        caller.require_admin()?;
        let user = self.find_user(id).await?;
        caller.may_manage(user.role)?;
        let change = Change {
            actor: caller.actor(),
            action: "user.delete".into(),
            request_id: None,
            before: user_summary(&user.email, user.role, &user.namespaces),
            after: serde_json::Value::Null,
        };
        Ok(self.store.delete_user(&user.id, self.now(), change).await?)
    }

    /// API keys: the caller's own, or (admins) everyone's or one user's.
    pub async fn list_keys(
        &self,
        caller: &Caller,
        user_id: Option<String>,
    ) -> Result<Vec<ApiKey>, ControlError> {
        let user_id = match user_id {
            Some(u) if u != caller.user().id => {
                caller.require_admin()?;
                Some(self.find_user(&u).await?.id)
            }
            Some(u) => Some(u),
            None if caller.is_admin() => None,
            None => Some(caller.user().id.clone()),
        };
        Ok(self.store.list_api_keys(user_id.as_deref()).await?)
    }

    pub async fn create_key(
        &self,
        caller: &Caller,
        new: NewKey,
    ) -> Result<NewApiKey, ControlError> {
        let owner = match &new.user_id {
            Some(u) if *u != caller.user().id && *u != caller.user().email => {
                caller.require_admin()?;
                let target = self.find_user(u).await?;
                caller.may_manage(target.role)?;
                target
            }
            _ => caller.user().clone(),
        };
        if new.name.trim().is_empty() {
            return Err(ControlError::rule(
                ErrorKind::InvalidArgument,
                "apikey.name",
                "name must not be empty",
            ));
        }
        let now = self.now();
        let expires_at = match &new.duration {
            None => None,
            Some(d) => {
                let p = gatehouse_pki::ValidityPeriod::parse(d).map_err(|e| {
                    ControlError::rule(ErrorKind::InvalidArgument, "apikey.duration", e.to_string())
                })?;
                if p.as_nanos() <= 0 {
                    return Err(ControlError::rule(
                        ErrorKind::InvalidArgument,
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
            after: json!({ "user": owner.email, "name": new.name }),
        };
        let key = self
            .store
            .create_api_key(
                &owner.id,
                &new.name,
                &token_hash(&token),
                expires_at,
                now,
                change,
            )
            .await?;
        Ok(NewApiKey { key, token })
    }

    /// Revokes a key: one's own, or (admins) another user's they may manage.
    pub async fn revoke_key(&self, caller: &Caller, id: &str) -> Result<(), ControlError> {
        let key = self
            .store
            .get_api_key(id)
            .await?
            .ok_or_else(|| ControlError::not_found(format!("API key {id:?} not found")))?;
        if key.user_id != caller.user().id {
            let owner = self.find_user(&key.user_id).await?;
            caller.may_manage(owner.role)?;
        }
        let change = Change {
            actor: caller.actor(),
            action: "apikey.revoke".into(),
            request_id: None,
            before: json!({ "id": key.id, "name": key.name }),
            after: serde_json::Value::Null,
        };
        Ok(self.store.revoke_api_key(id, self.now(), change).await?)
    }
}
