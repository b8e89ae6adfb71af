//! The console's HTML (maud escapes every interpolated value).

use gatehouse_notify::ExpiryEntry;
use gatehouse_pki::{rfc3339, sha1_fingerprint};
use gatehouse_store::{AuditEvent, Namespace, ObservedLeaf, Ticket};
use maud::{html, Markup, DOCTYPE};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{role_name, Card, Draft, NsData, Outcome, Session};
use crate::ApiError;

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

fn ns_url(name: &str) -> String {
    format!("/namespaces/{}", path_segment(name))
}

fn layout(title: &str, s: Option<&Session>, body: Markup) -> Markup {
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
fn violations(e: &ApiError) -> Markup {
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
fn api_answer(e: &ApiError) -> Markup {
    html! {
        details.api-answer {
            summary { "The API's answer (" (e.status.as_u16()) ")" }
            pre.api-error { (e.body()) }
        }
    }
}

fn date(t: OffsetDateTime) -> String {
    let s = rfc3339(t);
    format!("{} {} UTC", &s[..10], &s[11..16])
}

/// "in 3 days", "expired 2 days ago".
fn until(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = t - now;
    if d.is_negative() {
        format!("expired {} ago", span(-d))
    } else {
        format!("in {}", span(d))
    }
}

fn ago(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = now - t;
    if d < time::Duration::minutes(1) {
        "just now".into()
    } else {
        format!("{} ago", span(d))
    }
}

fn span(d: time::Duration) -> String {
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
fn band(t: OffsetDateTime, now: OffsetDateTime) -> &'static str {
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

fn last_used(t: Option<OffsetDateTime>, now: OffsetDateTime) -> Markup {
    html! {
        @match t {
            Some(t) => time title=(rfc3339(t)) { (ago(t, now)) },
            None => span.muted { "never" },
        }
    }
}

pub(crate) fn namespaces(
    s: &Session,
    namespaces: &[Namespace],
    leaves: &[ObservedLeaf],
    now: OffsetDateTime,
) -> Markup {
    layout(
        "Namespaces",
        Some(s),
        html! {
            h1 { "Namespaces" }
            @if namespaces.is_empty() {
                p.muted { "No namespaces you may see. Create one with " code { "gatehouse namespace create" } "." }
            } @else {
                div.scroll {
                    table #namespaces {
                        thead { tr { th { "Namespace" } th { "CAs" } th { "Soonest CA expiry" } th { "Filters" } th { "Last traffic" } } }
                        tbody {
                            @for n in namespaces {
                                @let certs = gatehouse_pki::parse_certificates(n.spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default();
                                @let soonest = certs.iter().map(|c| c.not_after).min();
                                @let traffic = leaves.iter().filter(|l| l.namespace == n.name).map(|l| l.last_seen).max();
                                tr {
                                    td { a href=(ns_url(&n.name)) { (n.name) } }
                                    td.num { (certs.len()) }
                                    td {
                                        @if let Some(t) = soonest {
                                            span class=(format!("pill {}", band(t, now))) title=(rfc3339(t)) { (date(t)) " · " (until(t, now)) }
                                        } @else { span.muted { "none" } }
                                    }
                                    td.num { (n.spec.certificate_filters.len()) }
                                    td { (last_used(traffic, now)) }
                                }
                            }
                        }
                    }
                }
                p.legend {
                    span.pill.band-expired { "expired" } " "
                    span.pill.band-5 { "≤ 5 days" } " "
                    span.pill.band-10 { "≤ 10 days" } " "
                    span.pill.band-15 { "≤ 15 days" } " "
                    span.pill.band-ok { "later" }
                }
            }
        },
    )
}

fn hidden(s: &Session, version: i64) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(s.csrf);
        input type="hidden" name="resource_version" value=(version);
    }
}

fn outcome_for(outcome: &Outcome, card: Card) -> Markup {
    html! {
        @match outcome {
            Outcome::Refused(c, e) if *c == card && !is_conflict(e) => (violations(e)),
            Outcome::Checked(c, msg) if *c == card => div.ok role="status" { (msg) },
            _ => {}
        }
    }
}

fn is_conflict(e: &ApiError) -> bool {
    e.violations
        .iter()
        .any(|v| v.rule == "namespace.resource-version")
}

pub(crate) fn namespace(
    s: &Session,
    d: &NsData,
    now: OffsetDateTime,
    draft: &Draft,
    outcome: &Outcome,
    notice: Option<&str>,
) -> Markup {
    let name = &d.ns.name;
    let rv = d.ns.resource_version;
    let url = ns_url(name);
    layout(
        name,
        Some(s),
        html! {
            h1 { "Namespace " span.mono { (name) } }
            p.muted { "Version " span #resource-version { (rv) } " · updated " (date(d.ns.updated_at))
                @if !d.can_write { " · read-only for you" } }
            @if let Some(n) = notice { div.ok #notice role="status" { (n) } }
            @if let Outcome::Refused(_, e) = outcome {
                @if is_conflict(e) {
                    div.error #conflict role="alert" {
                        p.message { strong { "Not saved: this namespace changed since you loaded it." }
                            " Someone else saved it in the meantime; it is now at version " (rv) ". "
                            "The page below shows the current state and keeps what you typed: review it, then save again." }
                        p.muted { code.rule { "namespace.resource-version" } " " (e.message) }
                        (api_answer(e))
                    }
                }
            }

            // --- CA certificates ---
            section.card #cas {
                h2 { "CA certificates" }
                p.muted { "Clients must present a certificate issued by one of these CAs (the accepted client CA bundle)." }
                @if let Outcome::ConfirmRemove(fp) = outcome {
                    @let i = d.certs.iter().position(|c| c.fingerprint.to_string() == *fp);
                    @if let Some(i) = i {
                        @let c = &d.certs[i];
                        @let u = &d.usage[i];
                        div.warn #remove-warning role="alert" {
                            p { strong { "This CA is still in use." } " Clients used " (c.display_subject()) " "
                                (u.last_seen.map(|t| ago(t, now)).unwrap_or_else(|| "recently".into()))
                                @if u.open_connections > 0 { ", and " (u.open_connections) " connection(s) through the gateway are open now" }
                                ". "
                                "Removing it refuses those clients at once. Move them to the new CA first, or remove it anyway." }
                            form method="post" action=(format!("{url}/ca/remove")) {
                                (hidden(s, rv))
                                input type="hidden" name="fingerprint" value=(fp);
                                input type="hidden" name="confirm" value="yes";
                                button.danger type="submit" { "Remove anyway" }
                                " " a href=(url) { "Keep it" }
                            }
                        }
                    }
                }
                (outcome_for(outcome, Card::Cas))
                div.scroll {
                    table #ca-table {
                        thead { tr { th { "Subject" } th { "Fingerprints" } th { "Valid" } th { "Last used" } @if d.can_write { th {} } } }
                        tbody {
                            @for (c, u) in d.certs.iter().zip(&d.usage) {
                                tr.ca data-sha256=(c.fingerprint.to_string()) {
                                    td { (c.display_subject()) }
                                    td.mono.small {
                                        "SHA-256 " (c.fingerprint.to_string()) br;
                                        "SHA-1 " (sha1_fingerprint(&c.der))
                                    }
                                    td {
                                        (date(c.not_before)) " – " br;
                                        span class=(format!("pill {}", band(c.not_after, now))) { (date(c.not_after)) " · " (until(c.not_after, now)) }
                                    }
                                    td { (last_used(u.last_seen, now))
                                        @if u.open_connections > 0 { br; span.small { (u.open_connections) " open connection(s)" } } }
                                    @if d.can_write {
                                        td {
                                            form method="post" action=(format!("{url}/ca/remove")) {
                                                (hidden(s, rv))
                                                input type="hidden" name="fingerprint" value=(c.fingerprint.to_string());
                                                button.danger.small type="submit" { "Remove" }
                                            }
                                        }
                                    }
                                }
                            }
                            @if d.certs.is_empty() { tr { td colspan="5" .muted { "No CA: no client can connect." } } }
                        }
                    }
                }
                @if d.can_write {
                    form.stack method="post" action=(format!("{url}/ca") ) {
                        (hidden(s, rv))
                        label for="pem" { "Add CA certificates: paste one or more PEM blocks" }
                        textarea #pem name="pem" rows="6" spellcheck="false" placeholder="-----BEGIN CERTIFICATE-----" { (draft.ca_pem) }
                        div.buttons {
                            button.secondary type="submit" name="op" value="check" { "Check" }
                            button type="submit" name="op" value="save" { "Add to bundle" }
                        }
                    }
                }
            }

            @if d.certs.len() > 1 { (rollover_card(s, d, now, false)) }

            // --- certificate filters ---
            section.card #filters {
                h2 { "Certificate filters" }
                p.muted { "A client is admitted when its certificate matches at least one filter (no filters: any certificate of the CAs). "
                    "Each field is matched without regard to case; one * at the start or the end is a wildcard. The role limits what matching clients may do." }
                (outcome_for(outcome, Card::Filters))
                div.scroll {
                    table #filter-table {
                        thead { tr { th { "#" } th { "Common name" } th { "Organization" } th { "Org. unit" } th { "SAN" } th { "Role" } @if d.can_write { th {} } } }
                        tbody {
                            @for (i, f) in d.ns.spec.certificate_filters.iter().enumerate() {
                                tr.filter {
                                    td.num { (i + 1) }
                                    td.mono { (f.common_name) } td.mono { (f.organization) }
                                    td.mono { (f.organizational_unit) } td.mono { (f.subject_alternative_name) }
                                    td { (f.role.map(role_name).unwrap_or("all")) }
                                    @if d.can_write {
                                        td.actions {
                                            a.button.secondary.small href=(format!("{url}?edit={i}#filter-form")) { "Edit" }
                                            form method="post" action=(format!("{url}/filters")) {
                                                (hidden(s, rv))
                                                input type="hidden" name="index" value=(i);
                                                button.danger.small type="submit" name="op" value="remove" { "Remove" }
                                            }
                                        }
                                    }
                                }
                            }
                            @if d.ns.spec.certificate_filters.is_empty() { tr { td colspan="7" .muted { "No filters: every certificate issued by the CAs above is admitted." } } }
                        }
                    }
                }
                @if d.can_write {
                    @let f = &draft.filter;
                    form.grid #filter-form method="post" action=(format!("{url}/filters")) {
                        (hidden(s, rv))
                        h3 { @if let Some(i) = f.index { "Edit filter " (i + 1) } @else { "Add a filter" } }
                        @if let Some(i) = f.index { input type="hidden" name="index" value=(i); }
                        label { "Common name" input name="common_name" value=(f.common_name) placeholder="worker.payments.acme.io"; }
                        label { "Organization" input name="organization" value=(f.organization) placeholder="Acme"; }
                        label { "Organizational unit" input name="organizational_unit" value=(f.organizational_unit); }
                        label { "Subject alternative name" input name="subject_alternative_name" value=(f.subject_alternative_name) placeholder="*.payments.acme.io"; }
                        label { "Role"
                            select name="role" {
                                @for (v, label) in [("", "all (no limit)"), ("worker", "worker"), ("reader", "reader"), ("writer", "writer"), ("admin", "admin")] {
                                    option value=(v) selected[f.role == v] { (label) }
                                }
                            }
                        }
                        div.buttons {
                            button.secondary type="submit" name="op" value="check" { "Check" }
                            button type="submit" name="op" value="save" { "Save filter" }
                            @if f.index.is_some() { " " a href=(format!("{url}#filters")) { "Cancel" } }
                        }
                    }
                    details #import open[!draft.import_json.is_empty()] {
                        summary { "Import or export filters (tcld's JSON)" }
                        p { a href=(format!("{url}/filters.json")) download { "Export filters as JSON" } }
                        (outcome_for(outcome, Card::Import))
                        form.stack method="post" action=(format!("{url}/filters/import")) {
                            (hidden(s, rv))
                            label for="import-json" { "Replace all filters with:" }
                            textarea #import-json name="json" rows="5" spellcheck="false" placeholder=r#"{"filters": [{"commonName": "worker.acme.io"}]}"# { (draft.import_json) }
                            div.buttons {
                                button.secondary type="submit" name="op" value="check" { "Check" }
                                button type="submit" name="op" value="save" { "Import" }
                            }
                        }
                    }
                }
            }

            // --- usage ---
            section.card #usage {
                h2 { "Usage" }
                p.muted { "What the gateways saw: per CA, and the client certificates that connected." }
                div.scroll {
                    table #usage-cas {
                        thead { tr { th { "CA" } th { "Last handshake" } th { "Last request" } th { "Handshakes" } th { "Requests" } th { "Open" } } }
                        tbody {
                            @for (c, u) in d.certs.iter().zip(&d.usage) {
                                tr { td { (c.display_subject()) } td { (last_used(u.last_handshake, now)) } td { (last_used(u.last_seen, now)) }
                                     td.num { (u.handshakes) } td.num { (u.requests) } td.num { (u.open_connections) } }
                            }
                        }
                    }
                }
                h3 { "Client certificates seen" }
                @if d.leaves.is_empty() { p.muted { "None yet." } } @else {
                    div.scroll {
                        table #usage-leaves {
                            thead { tr { th { "Client" } th { "Issued by" } th { "Expires" } th { "Last seen" } th { "Handshakes" } th { "Requests" } } }
                            tbody {
                                @for l in d.leaves.iter().take(200) {
                                    @let ca = d.certs.iter().find(|c| c.fingerprint.to_string() == l.ca_fingerprint);
                                    tr {
                                        td { (l.leaf_subject) br; span.mono.small { (l.leaf_fingerprint) } }
                                        td { @if let Some(c) = ca { (c.display_subject()) } @else { span.muted { "a CA no longer in the bundle" } } }
                                        td { span class=(format!("pill {}", band(l.leaf_not_after, now))) { (date(l.leaf_not_after)) } }
                                        td { (last_used(Some(l.last_seen), now)) }
                                        td.num { (l.connections) } td.num { (l.requests) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The rollover helper: which CA is new, how much traffic the old ones still carry, and the
/// one-click removal once they are quiet.
fn rollover_card(s: &Session, d: &NsData, now: OffsetDateTime, live: bool) -> Markup {
    let url = ns_url(&d.ns.name);
    let newest = d
        .certs
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| c.not_before)
        .map(|(i, _)| i);
    html! {
        section.card #rollover {
            h2 { "CA rollover" }
            ol.steps {
                li.done { "Add the new CA beside the old one (done: " (d.certs.len()) " CAs accepted)." }
                li { "Issue client certificates from the new CA and deploy them." }
                li { "Watch traffic on the old CA fall to zero"
                    @if !live { " (" a href=(format!("{url}/rollover")) { "watch live" } ")" } "." }
                li { "Remove the old CA." }
            }
            div.scroll {
                table #rollover-table {
                    thead { tr { th {} th { "CA" } th { "Last handshake" } th { "Open connections" } th { "Status" } @if d.can_write { th {} } } }
                    tbody {
                        @for (i, (c, u)) in d.certs.iter().zip(&d.usage).enumerate() {
                            @let is_new = Some(i) == newest;
                            tr {
                                td { @if is_new { span.pill.band-ok { "new" } } @else { span.pill.band-15 { "old" } } }
                                td { (c.display_subject()) br; span.mono.small { (c.fingerprint.to_string()) } }
                                td { (last_used(u.last_handshake, now)) }
                                td.num { (u.open_connections) }
                                td.status {
                                    @if u.recently_used(now) { span.pill.band-5 { "in use" } }
                                    @else if u.last_seen.is_some() { span.pill.band-ok { "quiet for over an hour" } }
                                    @else { span.pill.band-ok { "never used" } }
                                }
                                @if d.can_write {
                                    td { @if !is_new {
                                        form method="post" action=(format!("{url}/ca/remove")) {
                                            (hidden(s, d.ns.resource_version))
                                            input type="hidden" name="fingerprint" value=(c.fingerprint.to_string());
                                            button.danger.small type="submit" { "Remove old CA" }
                                        }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn rollover(s: &Session, d: &NsData, now: OffsetDateTime) -> Markup {
    let body = html! {
        h1 { "Rollover · " span.mono { (d.ns.name) } }
        p.muted { "This page refreshes every 10 seconds. " a href=(ns_url(&d.ns.name)) { "Back to the namespace" } }
        (rollover_card(s, d, now, true))
    };
    // The refresh is a meta tag, so the page needs no script.
    let page = layout(&format!("Rollover {}", d.ns.name), Some(s), body).into_string();
    maud::PreEscaped(page.replacen(
        "<head>",
        "<head><meta http-equiv=\"refresh\" content=\"10\">",
        1,
    ))
}

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
fn timeline(entries: &[&ExpiryEntry]) -> Markup {
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

fn query_escape(v: &str) -> String {
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
