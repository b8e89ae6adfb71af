//! Who is asking, and what their role lets them do. A [`Caller`] is only built by the control
//! service, from a verified API key, so every face authorises the same way.

use gatehouse_store::{ApiKey, Principal, Role, User};

use super::error::ControlError;

/// Prefix of every token, so leaked tokens are easy to recognise and scan for.
pub const TOKEN_PREFIX: &str = "ghk_";

/// An authenticated caller: the user and the API key that proved it.
#[derive(Clone, Debug)]
pub struct Caller(Principal);

impl Caller {
    pub(super) fn new(principal: Principal) -> Self {
        Self(principal)
    }

    pub fn user(&self) -> &User {
        &self.0.user
    }

    pub fn key(&self) -> &ApiKey {
        &self.0.key
    }

    pub fn role(&self) -> Role {
        self.0.user.role
    }

    /// "email (key k_…)", as the audit log records the actor.
    pub fn actor(&self) -> String {
        format!("{} (key {})", self.0.user.email, self.0.key.id)
    }

    /// Owners and global admins.
    pub fn is_admin(&self) -> bool {
        matches!(self.role(), Role::AccountOwner | Role::GlobalAdmin)
    }

    pub(crate) fn require_admin(&self) -> Result<(), ControlError> {
        allowed(self.is_admin(), || {
            format!(
                "{} is {}; this needs account-owner or global-admin",
                self.0.user.email,
                self.role()
            )
        })
    }

    /// May read this namespace: admins, read-only users, and its namespace admins.
    pub fn can_read(&self, namespace: &str) -> bool {
        self.role() == Role::ReadOnly || self.0.user.administers(namespace)
    }

    /// The `items` of namespaces this caller may read (`namespace` says whose each is).
    pub(crate) fn readable<T>(&self, items: Vec<T>, namespace: impl Fn(&T) -> &str) -> Vec<T> {
        items
            .into_iter()
            .filter(|item| self.can_read(namespace(item)))
            .collect()
    }

    /// May change this namespace's certificates and filters.
    pub fn can_write(&self, namespace: &str) -> bool {
        self.0.user.administers(namespace)
    }

    pub(crate) fn require_read(&self, namespace: &str) -> Result<(), ControlError> {
        allowed(self.can_read(namespace), || {
            format!("{} may not read namespace {namespace:?}", self.0.user.email)
        })
    }

    pub(crate) fn require_write(&self, namespace: &str) -> Result<(), ControlError> {
        allowed(self.can_write(namespace), || {
            format!(
                "{} is {} and may not change namespace {namespace:?} (needs account-owner, global-admin, or namespace-admin of {namespace:?})",
                self.0.user.email,
                self.role()
            )
        })
    }

    /// Global admins manage everyone but account owners; only an owner touches an owner.
    pub(crate) fn may_manage(&self, target_role: Role) -> Result<(), ControlError> {
        self.require_admin()?;
        if target_role == Role::AccountOwner && self.role() != Role::AccountOwner {
            return Err(ControlError::forbidden(
                "only an account-owner may create, change or delete account owners",
            ));
        }
        Ok(())
    }
}

/// `Ok` when the caller may; otherwise forbidden, saying why.
fn allowed(may: bool, why: impl FnOnce() -> String) -> Result<(), ControlError> {
    if may {
        Ok(())
    } else {
        Err(ControlError::forbidden(why()))
    }
}
