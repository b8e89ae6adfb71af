//! `/api/v1/tickets`, `/api/v1/expirations`, `/api/v1/namespaces/{ns}/usage` and Prometheus
//! `/metrics`.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_notify::LEAF_SEEN_WINDOW;
use gatehouse_pki::{parse_certificates, rfc3339};

use super::{Answer, ApiError, ApiQuery, Call};
use crate::control::Caller;
use crate::wire::{ExpiryQuery, ExpiryReport, TicketList, UsageView};
use crate::AppState;

pub(crate) async fn tickets(c: Call) -> Answer<TicketList> {
    let tickets = c.control().tickets(&c.caller).await?;
    Ok(Json(TicketList { tickets }))
}

pub(crate) async fn expiry_report(
    c: Call,
    ApiQuery(q): ApiQuery<ExpiryQuery>,
) -> Answer<ExpiryReport> {
    let within = q.within.as_deref();
    let (now, certificates) = c.control().expirations(&c.caller, within).await?;
    Ok(Json(ExpiryReport {
        at: rfc3339(now),
        certificates,
    }))
}

/// `GET /api/v1/namespaces/{namespace}/usage`: what the gateway saw, per accepted CA and per
/// client leaf. What answers "has traffic on the old CA stopped?" during a rotation.
pub(crate) async fn usage(c: Call, Path(name): Path<String>) -> Answer<UsageView> {
    let usage = c.control().usage(&c.caller, &name).await?;
    Ok(Json(UsageView::from(&usage)))
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
    let now = state.control.now();
    let mut out = String::new();
    out.push_str("# HELP gatehouse_certificate_expiry_timestamp_seconds notAfter of each accepted CA and observed client certificate.\n");
    out.push_str("# TYPE gatehouse_certificate_expiry_timestamp_seconds gauge\n");
    for ns in state.control.list_namespaces(&caller).await? {
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
    for l in state
        .control
        .observed_leaves(&caller, now - LEAF_SEEN_WINDOW)
        .await?
    {
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
    let stats = state
        .control
        .store()
        .notification_stats()
        .await
        .map_err(crate::control::ControlError::from)?;
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
    out.push_str("# HELP gatehouse_api_auth_failures_total Unknown, revoked or expired API keys presented to the API or the console.\n");
    out.push_str("# TYPE gatehouse_api_auth_failures_total counter\n");
    let _ = writeln!(
        out,
        "gatehouse_api_auth_failures_total {}",
        state
            .control
            .auth_limiter()
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    out.push_str("# HELP gatehouse_api_auth_rate_limited_total Requests refused because their address presented too many wrong API keys.\n");
    out.push_str("# TYPE gatehouse_api_auth_rate_limited_total counter\n");
    let _ = writeln!(
        out,
        "gatehouse_api_auth_rate_limited_total {}",
        state
            .control
            .auth_limiter()
            .limited
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    for source in &state.metrics {
        source(&mut out, &|ns: &str| caller.can_read(ns));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}
