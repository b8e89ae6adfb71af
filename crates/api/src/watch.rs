//! Tickets, the expiry report and Prometheus metrics.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_notify::{expirations, LEAF_SEEN_WINDOW};
use gatehouse_pki::{parse_certificates, ValidityPeriod};
use gatehouse_store::Role;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{ApiQuery, AppState};

fn visible(caller: &Caller, namespace: &str) -> bool {
    caller.role() == Role::ReadOnly || caller.0.user.administers(namespace)
}

pub(crate) async fn tickets(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tickets: Vec<_> = state
        .watch
        .list_tickets()
        .await?
        .into_iter()
        .filter(|t| visible(&caller, &t.namespace))
        .collect();
    Ok(Json(json!({ "tickets": tickets })))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ExpiryParams {
    /// tcld duration, e.g. 30d.
    within: Option<String>,
}

pub(crate) async fn expiry_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExpiryParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let within = q
        .within
        .as_deref()
        .map(|w| {
            ValidityPeriod::parse(w)
                .map(ValidityPeriod::to_duration)
                .map_err(|e| ApiError::bad_request(format!("within: {e}")))
        })
        .transpose()?;
    let now = (state.clock)();
    let namespaces: Vec<_> = state
        .store
        .list_namespaces()
        .await?
        .into_iter()
        .filter(|n| visible(&caller, &n.name))
        .collect();
    let leaves: Vec<_> = state
        .watch
        .observed_leaves(time::OffsetDateTime::UNIX_EPOCH)
        .await?
        .into_iter()
        .filter(|l| visible(&caller, &l.namespace))
        .collect();
    Ok(Json(json!({
        "at": gatehouse_pki::rfc3339(now),
        "certificates": expirations(&namespaces, &leaves, now, within),
    })))
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text format (scrape with `authorization: Bearer <API key>`). Derived from the
/// store at scrape time, so every replica reports the same and nothing is lost across restarts.
/// Namespace admins see their namespaces only.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let now = (state.clock)();
    let mut out = String::new();
    out.push_str("# HELP gatehouse_certificate_expiry_timestamp_seconds notAfter of each accepted CA and observed client certificate.\n");
    out.push_str("# TYPE gatehouse_certificate_expiry_timestamp_seconds gauge\n");
    for ns in state.store.list_namespaces().await? {
        if !visible(&caller, &ns.name) {
            continue;
        }
        for c in
            parse_certificates(ns.spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default()
        {
            let _ = writeln!(
                out,
                "gatehouse_certificate_expiry_timestamp_seconds{{namespace=\"{}\",fingerprint=\"{}\",kind=\"ca\"}} {}",
                label(&ns.name),
                c.fingerprint,
                c.not_after.unix_timestamp()
            );
        }
    }
    for l in state.watch.observed_leaves(now - LEAF_SEEN_WINDOW).await? {
        if !visible(&caller, &l.namespace) {
            continue;
        }
        let _ = writeln!(
            out,
            "gatehouse_certificate_expiry_timestamp_seconds{{namespace=\"{}\",fingerprint=\"{}\",kind=\"leaf\"}} {}",
            label(&l.namespace),
            label(&l.leaf_fingerprint),
            l.leaf_not_after.unix_timestamp()
        );
    }
    out.push_str("# HELP gatehouse_notifications_total Expiry notifications by threshold, channel and result (failed counts attempts).\n");
    out.push_str("# TYPE gatehouse_notifications_total counter\n");
    let stats = state.watch.notification_stats().await?;
    for s in &stats {
        for (result, n) in [("sent", s.sent), ("failed", s.failed_attempts)] {
            let _ = writeln!(
                out,
                "gatehouse_notifications_total{{threshold=\"{}\",channel=\"{}\",result=\"{result}\"}} {n}",
                label(&s.threshold),
                label(&s.channel)
            );
        }
    }
    out.push_str(
        "# HELP gatehouse_notifications_pending Notifications queued and not yet delivered.\n",
    );
    out.push_str("# TYPE gatehouse_notifications_pending gauge\n");
    for s in &stats {
        let _ = writeln!(
            out,
            "gatehouse_notifications_pending{{threshold=\"{}\",channel=\"{}\"}} {}",
            label(&s.threshold),
            label(&s.channel),
            s.pending
        );
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}
