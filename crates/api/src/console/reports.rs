//! The expiry timeline and the audit log.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::control::{AuditParams, ControlError};
use crate::AppState;

use super::{error_page, html, pages, Session};

// --- expirations and audit --------------------------------------------------------------------

pub(super) async fn expirations_page(State(state): State<AppState>, s: Session) -> Response {
    let result: Result<_, ControlError> = async {
        let (now, entries) = state.control.expirations(&s.caller, None).await?;
        let tickets = state.control.tickets(&s.caller).await?;
        Ok((entries, tickets, now))
    }
    .await;
    match result {
        Ok((entries, tickets, now)) => html(
            StatusCode::OK,
            pages::expirations(&s, &entries, &tickets, now),
        ),
        Err(e) => error_page(Some(&s), &e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditFilter {
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    user: String,
    before: Option<i64>,
}

pub(super) async fn audit_page(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<AuditFilter>,
) -> Response {
    let non_empty = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let params = AuditParams {
        namespace: non_empty(&q.namespace),
        user: non_empty(&q.user),
        before: q.before,
        limit: Some(100),
    };
    let result: Result<_, ControlError> = async {
        let page = state.control.audit(&s.caller, params).await?;
        let namespaces: Vec<String> = state
            .control
            .list_namespaces(&s.caller)
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect();
        Ok((page, namespaces))
    }
    .await;
    match result {
        Ok((page, namespaces)) => html(
            StatusCode::OK,
            pages::audit(
                &s,
                &page.events,
                page.next_before,
                &namespaces,
                &q.namespace,
                &q.user,
            ),
        ),
        Err(e) => error_page(Some(&s), &e.into()),
    }
}
