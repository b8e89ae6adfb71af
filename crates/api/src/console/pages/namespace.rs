//! The namespaces list, a namespace's page and its rollover card.

use super::super::{role_name, Card, Draft, NsData, Outcome, Session};
use crate::ApiError;
use gatehouse_pki::{rfc3339, sha1_fingerprint};
use gatehouse_store::{Namespace, ObservedLeaf};
use maud::{html, Markup};
use time::OffsetDateTime;

use super::*;

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

pub(super) fn hidden(s: &Session, version: i64) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(s.csrf);
        input type="hidden" name="resource_version" value=(version);
    }
}

pub(super) fn outcome_for(outcome: &Outcome, card: Card) -> Markup {
    html! {
        @match outcome {
            Outcome::Refused(c, e) if *c == card && !is_conflict(e) => (violations(e)),
            Outcome::Checked(c, msg) if *c == card => div.ok role="status" { (msg) },
            _ => {}
        }
    }
}

pub(super) fn is_conflict(e: &ApiError) -> bool {
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
pub(super) fn rollover_card(s: &Session, d: &NsData, now: OffsetDateTime, live: bool) -> Markup {
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
