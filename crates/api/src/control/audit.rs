//! The audit log, as each role may see it.

use gatehouse_store::{AuditEvent, AuditQuery, Role};

use super::error::ControlError;
use super::{Caller, Control};

/// Which audit events to list.
#[derive(Clone, Debug, Default)]
pub struct AuditParams {
    pub namespace: Option<String>,
    /// Only events by this user (email).
    pub user: Option<String>,
    /// Only events older than this id (the next page).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// One page of audit events, newest first.
#[derive(Clone, Debug)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// The `before` of the next page, if there may be one.
    pub next_before: Option<i64>,
}

impl Control {
    /// Owners and global admins see everything; read-only users see namespace events (not
    /// user or key events); namespace admins see their namespaces' events.
    pub async fn audit(&self, caller: &Caller, q: AuditParams) -> Result<AuditPage, ControlError> {
        let visible = match caller.role() {
            Role::AccountOwner | Role::GlobalAdmin | Role::ReadOnly => None,
            Role::NamespaceAdmin => Some(caller.user().namespaces.clone()),
        };
        let namespaces_only = matches!(caller.role(), Role::ReadOnly | Role::NamespaceAdmin);
        if let (Some(ns), Some(v)) = (&q.namespace, &visible) {
            if !v.contains(ns) {
                return Err(ControlError::forbidden(format!(
                    "no access to namespace {ns:?}"
                )));
            }
        }
        let limit = q.limit.unwrap_or(50);
        let events = self
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
        let next_before = if events.len() as i64 >= limit.clamp(1, 1000) {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next_before,
        })
    }
}
