//! The console's HTML (maud escapes every interpolated value).

mod namespace;
mod reports;

use gatehouse_pki::rfc3339;
use maud::{html, Markup, DOCTYPE};
use time::OffsetDateTime;

use super::Session;
use crate::ApiError;

pub(crate) use namespace::{namespace, namespaces, rollover};
pub(crate) use reports::{audit, expirations};

/// A namespace name as a URL path segment (names are DNS labels, so this only guards).
pub(crate) fn path_segment(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(super) fn ns_url(name: &str) -> String {
    format!("/namespaces/{}", path_segment(name))
}

pub(super) fn layout(title: &str, s: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Gatehouse" }
                link rel="stylesheet" href="/console.css";
                link rel="icon" href="/favicon.ico" type="image/svg+xml";
            }
            body {
                header.top {
                    a.brand href="/" { "Gatehouse" }
                    @if let Some(s) = s {
                        nav {
                            a href="/" { "Namespaces" }
                            a href="/expirations" { "Expirations" }
                            a href="/audit" { "Audit log" }
                        }
                        div.who {
                            span.user { (s.caller.user().email) " · " (s.caller.role()) }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub(crate) fn login(error: Option<&str>, insecure: bool) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            section.card.narrow {
                h1 { "Sign in" }
                p { "Use a Gatehouse API key. On first start the account owner's key is in "
                    code { "<data-dir>/admin.key" } "; others come from " code { "gatehouse apikey create" } "." }
                @if let Some(e) = error {
                    div.error role="alert" { (e) }
                }
                @if insecure {
                    div.warn #insecure role="alert" { strong { "This page came over plain HTTP to a non-local address." }
                        " Browsers will not keep the console's Secure session cookie here, and an API key typed in would cross the network in the clear. "
                        "Reach the console through HTTPS (a TLS-terminating proxy in front of --api-listen that sets X-Forwarded-Proto: https) or over localhost, e.g. "
                        code { "ssh -L 8080:127.0.0.1:8080 host" } "." }
                }
                form method="post" action="/login" {
                    label for="api_key" { "API key" }
                    input #api_key type="password" name="api_key" autocomplete="off" required placeholder="ghk_…";
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

pub(crate) fn error(s: Option<&Session>, e: &ApiError) -> Markup {
    layout(
        "Error",
        s,
        html! {
            section.card {
                h1 { (e.status.as_u16()) " " (e.status.canonical_reason().unwrap_or("Error")) }
                (violations(e))
                p { a href="/" { "Back to namespaces" } }
            }
        },
    )
}

/// An API error with its violations: rule id, certificate and fix hint for each.
pub(super) fn violations(e: &ApiError) -> Markup {
    html! {
        div.error role="alert" {
            p.message { (e.message) }
            @if !e.violations.is_empty() {
                ul.violations {
                    @for v in &e.violations {
                        li {
                            code.rule { (v.rule) } " " (v.message)
                            @if let Some(subject) = &v.subject { br; span.muted { "certificate: " (subject) } }
                            @if let Some(fp) = &v.fingerprint { br; span.muted.mono { "SHA-256 " (fp) } }
                            @if let Some(hint) = &v.hint { br; span.hint { "Fix: " (hint) } }
                        }
                    }
                }
            }
            (api_answer(e))
        }
    }
}

/// The same bytes the REST API answers for this refusal, to paste into a ticket or compare
/// with a script's output.
pub(super) fn api_answer(e: &ApiError) -> Markup {
    html! {
        details.api-answer {
            summary { "The API's answer (" (e.status.as_u16()) ")" }
            pre.api-error { (e.body()) }
        }
    }
}

pub(super) fn date(t: OffsetDateTime) -> String {
    let s = rfc3339(t);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// "in 3 days", "expired 2 days ago".
pub(super) fn until(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = t - now;
    if d.is_negative() {
        format!("expired {} ago", span(-d))
    } else {
        format!("in {}", span(d))
    }
}

pub(super) fn ago(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = now - t;
    if d < time::Duration::minutes(1) {
        "just now".into()
    } else {
        format!("{} ago", span(d))
    }
}

pub(super) fn span(d: time::Duration) -> String {
    if d.whole_days() >= 2 {
        format!("{} days", d.whole_days())
    } else if d.whole_hours() >= 2 {
        format!("{} h", d.whole_hours())
    } else if d.whole_minutes() >= 1 {
        format!("{} min", d.whole_minutes())
    } else {
        format!("{} s", d.whole_seconds().max(0))
    }
}

/// The expiry band a date falls in: the notification thresholds (15, 10, 5 days).
pub(super) fn band(t: OffsetDateTime, now: OffsetDateTime) -> &'static str {
    let d = t - now;
    if d.is_negative() {
        "band-expired"
    } else if d <= time::Duration::days(5) {
        "band-5"
    } else if d <= time::Duration::days(10) {
        "band-10"
    } else if d <= time::Duration::days(15) {
        "band-15"
    } else {
        "band-ok"
    }
}

pub(super) fn last_used(t: Option<OffsetDateTime>, now: OffsetDateTime) -> Markup {
    html! {
        @match t {
            Some(t) => time title=(rfc3339(t)) { (ago(t, now)) },
            None => span.muted { "never" },
        }
    }
}
