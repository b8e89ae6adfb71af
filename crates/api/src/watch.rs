//! Tickets, the expiry report and Prometheus metrics.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_notify::{expirations, LEAF_SEEN_WINDOW};
use gatehouse_pki::{parse_certificates, rfc3339, ValidityPeriod};
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
        .store
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
        .store
        .observed_leaves(time::OffsetDateTime::UNIX_EPOCH, None)
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
    for l in state
        .store
        .observed_leaves(now - LEAF_SEEN_WINDOW, None)
        .await?
    {
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
    let stats = state.store.notification_stats().await?;
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
            .auth_limiter
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    out.push_str("# HELP gatehouse_api_auth_rate_limited_total Requests refused because their address presented too many wrong API keys.\n");
    out.push_str("# TYPE gatehouse_api_auth_rate_limited_total counter\n");
    let _ = writeln!(
        out,
        "gatehouse_api_auth_rate_limited_total {}",
        state
            .auth_limiter
            .limited
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    for source in &state.metrics {
        source(&mut out, &|ns: &str| visible(&caller, ns));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

/// How long a gateway instance's open-connection counts stay current without a new flush.
pub(crate) const USAGE_FRESH: time::Duration = time::Duration::seconds(30);

/// `GET /api/v1/namespaces/{namespace}/usage`: what the gateway saw, per accepted CA and per
/// client leaf. What answers "has traffic on the old CA stopped?" during a rotation.
pub(crate) async fn usage(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ns = crate::namespaces::get(
        State(state.clone()),
        caller,
        axum::extract::Path(name.clone()),
    )
    .await?
    .0;
    let now = (state.clock)();
    let leaves = state
        .store
        .observed_leaves(time::OffsetDateTime::UNIX_EPOCH, Some(&name))
        .await?;
    let open = state
        .store
        .open_connections(&name, now - USAGE_FRESH)
        .await?;
    // Every CA in the bundle, then any CA that traffic used but the bundle no longer holds.
    let mut order: Vec<(String, Option<String>)> = ns
        .accepted_client_cas
        .iter()
        .map(|c| (c.sha256.clone(), Some(c.subject.clone())))
        .collect();
    for l in &leaves {
        if !order.iter().any(|(fp, _)| *fp == l.ca_fingerprint) {
            order.push((l.ca_fingerprint.clone(), None));
        }
    }
    let cas: Vec<_> = order
        .iter()
        .map(|(fp, subject)| {
            let mine = leaves.iter().filter(|l| l.ca_fingerprint == *fp);
            let last_handshake = mine.clone().filter_map(|l| l.last_handshake).max();
            let last_seen = mine.clone().map(|l| l.last_seen).max();
            let handshakes: i64 = mine.clone().map(|l| l.connections).sum();
            let requests: i64 = mine.map(|l| l.requests).sum();
            let open_connections: i64 =
                open.iter().filter(|(ca, _)| ca == fp).map(|(_, n)| n).sum();
            json!({
                "sha256": fp,
                "subject": subject,
                "inBundle": subject.is_some(),
                "lastHandshake": last_handshake.map(rfc3339),
                "lastSeen": last_seen.map(rfc3339),
                "handshakes": handshakes,
                "requests": requests,
                "openConnections": open_connections,
            })
        })
        .collect();
    let leaves: Vec<_> = leaves
        .iter()
        .map(|l| {
            json!({
                "sha256": l.leaf_fingerprint,
                "subject": l.leaf_subject,
                "notAfter": rfc3339(l.leaf_not_after),
                "caSha256": l.ca_fingerprint,
                "firstSeen": rfc3339(l.first_seen),
                "lastSeen": rfc3339(l.last_seen),
                "lastHandshake": l.last_handshake.map(rfc3339),
                "handshakes": l.connections,
                "requests": l.requests,
            })
        })
        .collect();
    Ok(Json(
        json!({ "namespace": name, "cas": cas, "leaves": leaves }),
    ))
}
