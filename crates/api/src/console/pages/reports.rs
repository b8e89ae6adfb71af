//! The expiry timeline and the audit log.

use super::super::Session;
use gatehouse_notify::ExpiryEntry;
use gatehouse_store::{AuditEvent, Ticket};
use maud::{html, Markup};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::*;

pub(crate) fn expirations(
    s: &Session,
    entries: &[ExpiryEntry],
    tickets: &[Ticket],
    now: OffsetDateTime,
) -> Markup {
    let shown: Vec<&ExpiryEntry> = entries.iter().take(200).collect();
    layout(
        "Expirations",
        Some(s),
        html! {
            h1 { "Expirations" }
            p.muted { "Every accepted CA and every client certificate seen in the last 7 days, soonest first. "
                "Notifications go out at 15, 10 and 5 days; a ticket opens at 5." }
            @if shown.is_empty() { p.muted { "Nothing to show." } } @else {
                section.card { (timeline(&shown)) }
                div.scroll {
                    table #expirations {
                        thead { tr { th { "Expires" } th { "Namespace" } th { "Kind" } th { "Subject" } th { "Last used" } th { "Ticket" } } }
                        tbody {
                            @for e in &shown {
                                @let at = OffsetDateTime::parse(&e.not_after, &Rfc3339).unwrap_or(now);
                                @let ticket = tickets.iter().find(|t| t.namespace == e.namespace && t.fingerprint == e.sha256);
                                tr {
                                    td { span class=(format!("pill {}", band(at, now))) { (date(at)) " · " (until(at, now)) } }
                                    td { a href=(ns_url(&e.namespace)) { (e.namespace) } }
                                    td { (e.kind) }
                                    td { (e.subject) br; span.mono.small { (e.sha256) } }
                                    td { (last_used(e.last_used.as_deref().and_then(|u| OffsetDateTime::parse(u, &Rfc3339).ok()), now)) }
                                    td { @if let Some(t) = ticket { "#" (t.id) " " (t.status) } }
                                }
                            }
                        }
                    }
                }
                @if entries.len() > shown.len() { p.muted { "Showing the " (shown.len()) " soonest of " (entries.len()) "." } }
            }
        },
    )
}

/// An SVG timeline: one bar per certificate from now to its notAfter, on a square-root scale
/// so the next weeks stay readable beside certificates that live for years.
pub(super) fn timeline(entries: &[&ExpiryEntry]) -> Markup {
    let max_days = entries
        .iter()
        .map(|e| e.days_left)
        .max()
        .unwrap_or(30)
        .clamp(30, 3650) as f64;
    let (x0, x1, row) = (8.0_f64, 952.0_f64, 22.0_f64);
    let x = |days: i64| x0 + ((days.max(0) as f64) / max_days).sqrt() * (x1 - x0);
    let height = 22.0 + row * entries.len() as f64;
    let ticks: Vec<i64> = [5, 10, 15, 30, 90, 180, 365, 730, 1825]
        .into_iter()
        .filter(|d| (*d as f64) <= max_days)
        .collect();
    let fill = |e: &ExpiryEntry| match e.days_left {
        _ if e.expired => "#e03131",
        d if d <= 5 => "#ffa8a8",
        d if d <= 10 => "#ffc078",
        d if d <= 15 => "#ffe066",
        _ => "#b2f2bb",
    };
    html! {
        svg #timeline xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 960 {height}")) role="img" aria-label="Expiry timeline" {
            text x=(x0) y="10" font-size="10" fill="#495057" { "now" }
            @for d in &ticks {
                line x1=(x(*d)) x2=(x(*d)) y1="14" y2=(height) stroke="#adb5bd" stroke-dasharray="3 3" {}
                text x=(x(*d)) y="10" font-size="10" text-anchor="middle" fill="#495057" { (d) "d" }
            }
            @for (i, e) in entries.iter().enumerate() {
                @let y = 20.0 + row * i as f64;
                rect x=(x0) y=(y) width=((x(e.days_left) - x0).max(3.0)) height=(row - 6.0) rx="3" fill=(fill(e)) {}
                text x=(x0 + 4.0) y=(y + 12.0) font-size="11" fill="#212529" {
                    (e.namespace) " · " (e.kind) " · " (e.subject) " · "
                    @if e.expired { "expired" } @else { (e.days_left) " days" }
                }
            }
        }
    }
}

pub(crate) fn audit(
    s: &Session,
    events: &[AuditEvent],
    next: Option<i64>,
    namespaces: &[String],
    namespace: &str,
    user: &str,
) -> Markup {
    let next_url = next.map(|n| {
        let mut q = format!("/audit?before={n}");
        if !namespace.is_empty() {
            q.push_str(&format!("&namespace={}", path_segment(namespace)));
        }
        if !user.is_empty() {
            q.push_str(&format!("&user={}", query_escape(user)));
        }
        q
    });
    layout(
        "Audit log",
        Some(s),
        html! {
            h1 { "Audit log" }
            form.inline #audit-filter method="get" action="/audit" {
                label { "Namespace "
                    select name="namespace" {
                        option value="" { "all" }
                        @for n in namespaces { option value=(n) selected[n == namespace] { (n) } }
                    }
                }
                label { "User " input name="user" value=(user) placeholder="email"; }
                button.secondary type="submit" { "Filter" }
            }
            div.scroll {
                table #audit {
                    thead { tr { th { "When" } th { "Who" } th { "What" } th { "Namespace" } th { "Change" } } }
                    tbody {
                        @for e in events {
                            tr {
                                td { (date(e.at)) }
                                td { (e.actor) }
                                td.mono { (e.action) }
                                td { @if let Some(n) = &e.namespace { a href=(ns_url(n)) { (n) } } }
                                td { details { summary { "before / after" }
                                    pre.small { (serde_json::to_string_pretty(&e.before).unwrap_or_default()) }
                                    pre.small { (serde_json::to_string_pretty(&e.after).unwrap_or_default()) } } }
                            }
                        }
                        @if events.is_empty() { tr { td colspan="5" .muted { "No events." } } }
                    }
                }
            }
            @if let Some(u) = next_url { p { a href=(u) { "Older events" } } }
        },
    )
}

pub(super) fn query_escape(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
