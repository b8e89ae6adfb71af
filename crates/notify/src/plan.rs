//! What is due: the 15/10/5-day schedule for CA certificates, the 15-day notice for client
//! leaves the gateway has seen, and the expiry report. Pure functions of the stored state and
//! `now`.

use gatehouse_pki::{parse_certificates, rfc3339};
use gatehouse_store::{Namespace, NewNotification, NewTicket, ObservedLeaf, Role, User};
use serde::Serialize;
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// Leaves seen within this window are watched.
pub const LEAF_SEEN_WINDOW: Duration = Duration::days(7);

/// The notice a CA certificate is due, by time left: 15, 10 or 5 days (expired counts as 5:
/// a CA nobody was told about still gets its notice and ticket).
pub fn ca_threshold(left: Duration) -> Option<&'static str> {
    if left <= Duration::days(5) {
        Some("5d")
    } else if left <= Duration::days(10) {
        Some("10d")
    } else if left <= Duration::days(15) {
        Some("15d")
    } else {
        None
    }
}

/// Whole days left, rounded down; negative once expired.
pub fn days_left(not_after: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let secs = (not_after - now).whole_seconds();
    secs.div_euclid(86_400)
}

/// "expires in N day(s)", or "expired N day(s) ago" once `not_after` has passed.
fn expiry_phrase(not_after: OffsetDateTime, now: OffsetDateTime) -> String {
    if not_after < now {
        format!("expired {} day(s) ago", (now - not_after).whole_days())
    } else {
        format!("expires in {} day(s)", days_left(not_after, now))
    }
}

/// Who hears about a namespace: account owners, global admins, and its namespace admins.
/// Read-only users and admins of other namespaces never do.
pub fn recipients<'a>(users: &'a [User], namespace: &str) -> Vec<&'a str> {
    let mut out: Vec<&str> = users
        .iter()
        .filter(|u| match u.role {
            Role::AccountOwner | Role::GlobalAdmin => true,
            Role::NamespaceAdmin => u.namespaces.iter().any(|n| n == namespace),
            Role::ReadOnly => false,
        })
        .map(|u| u.email.as_str())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The namespace admins of a namespace (not account owners or global admins).
pub fn namespace_admins<'a>(users: &'a [User], namespace: &str) -> Vec<&'a str> {
    users
        .iter()
        .filter(|u| u.role == Role::NamespaceAdmin && u.namespaces.iter().any(|n| n == namespace))
        .map(|u| u.email.as_str())
        .collect()
}

/// Which channels are configured.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    pub email: bool,
    pub webhooks: Vec<String>,
}

/// The outcome of planning a pass.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub notifications: Vec<NewNotification>,
    pub tickets: Vec<NewTicket>,
}

fn rotation_commands(namespace: &str, sha256: &str, org: &str) -> String {
    format!(
        "  gatehouse gen ca --org {org:?} -d 1y --ca-cert new-ca.pem --ca-key new-ca.key\n\
         \x20 gatehouse namespace accepted-client-ca add -n {namespace} -f new-ca.pem\n\
         \x20 gatehouse gen leaf --org {org:?} -d 364d --ca-cert new-ca.pem --ca-key new-ca.key --cert client.pem --key client.key\n\
         \x20 # deploy client.pem/client.key to every worker and client, then watch the old CA's traffic stop:\n\
         \x20 gatehouse namespace accepted-client-ca list -n {namespace}\n\
         \x20 gatehouse namespace accepted-client-ca remove -n {namespace} --fp {sha256}\n"
    )
}

/// Plans every notice due at `now`.
pub fn plan(
    namespaces: &[Namespace],
    users: &[User],
    leaves: &[ObservedLeaf],
    channels: &Channels,
    now: OffsetDateTime,
) -> Plan {
    let mut plan = Plan::default();
    for ns in namespaces {
        let certs =
            parse_certificates(ns.spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default();
        for cert in certs {
            let sha256 = cert.fingerprint.to_string();
            let Some(threshold) = ca_threshold(cert.not_after - now) else {
                continue;
            };
            let days = days_left(cert.not_after, now);
            let subject = cert.display_subject().to_owned();
            let org = cert
                .organizations
                .first()
                .cloned()
                .unwrap_or_else(|| "your-org".into());
            // Less than a day past its expiry, a CA "has expired" (not "expired 0 day(s) ago").
            let when = if cert.not_after < now && (now - cert.not_after).whole_days() == 0 {
                "has expired".to_owned()
            } else {
                expiry_phrase(cert.not_after, now)
            };
            let email_subject = format!(
                "[Gatehouse] Action required: CA certificate for namespace {} {when}",
                ns.name
            );
            let body = format!(
                "The CA certificate accepted by namespace {ns_name} {when}.\n\n\
                 Certificate: {subject}\nSHA-256:     {sha256}\nNot after:   {not_after}\n\n\
                 When it expires, every client whose certificate chains to it is refused and its\n\
                 workers stop making progress. Roll over to a new CA now (zero downtime):\n\n{commands}\n\
                 {ticket}You receive this as an account owner, global admin or admin of {ns_name}.\n",
                ns_name = ns.name,
                not_after = rfc3339(cert.not_after),
                commands = rotation_commands(&ns.name, &sha256, &org),
                ticket = if threshold == "5d" {
                    "A ticket has been opened for this certificate (gatehouse tickets list).\n\n"
                } else {
                    ""
                },
            );
            let event = json!({
                "event": "certificate.expiring",
                "threshold": threshold,
                "namespace": ns.name,
                "kind": "ca",
                "certificate": { "subject": subject, "sha256": sha256, "notAfter": rfc3339(cert.not_after) },
                "daysLeft": days,
            });
            if channels.email {
                for to in recipients(users, &ns.name) {
                    plan.notifications.push(NewNotification {
                        namespace: ns.name.clone(),
                        fingerprint: sha256.clone(),
                        kind: "ca".into(),
                        threshold: threshold.into(),
                        channel: "email".into(),
                        recipient: to.into(),
                        payload: json!({ "subject": email_subject, "body": body }),
                    });
                }
            }
            for url in &channels.webhooks {
                plan.notifications.push(NewNotification {
                    namespace: ns.name.clone(),
                    fingerprint: sha256.clone(),
                    kind: "ca".into(),
                    threshold: threshold.into(),
                    channel: "webhook".into(),
                    recipient: url.clone(),
                    payload: event.clone(),
                });
            }
            if threshold == "5d" {
                plan.tickets.push(NewTicket {
                    namespace: ns.name.clone(),
                    fingerprint: sha256.clone(),
                    subject: subject.clone(),
                    not_after: cert.not_after,
                });
            }
        }
    }
    // Client leaves seen lately that expire within 15 days: their namespace's admins hear.
    for leaf in leaves {
        if now - leaf.last_seen > LEAF_SEEN_WINDOW || leaf.leaf_not_after - now > Duration::days(15)
        {
            continue;
        }
        if !namespaces.iter().any(|n| n.name == leaf.namespace) {
            continue;
        }
        let when = expiry_phrase(leaf.leaf_not_after, now);
        let subject = format!(
            "[Gatehouse] A client certificate used in namespace {} {when}",
            leaf.namespace
        );
        let body = format!(
            "A client certificate that connected to namespace {ns} (last seen {seen}) {when}.\n\n\
             Certificate: {subj}\nSHA-256:     {fp}\nNot after:   {na}\n\n\
             Issue a replacement and deploy it before then, e.g.:\n\
             \x20 gatehouse gen leaf --org <org> --common-name <name> -d 90d --ca-cert ca.pem --ca-key ca.key --cert client.pem --key client.key\n",
            ns = leaf.namespace,
            seen = rfc3339(leaf.last_seen),
            subj = leaf.leaf_subject,
            fp = leaf.leaf_fingerprint,
            na = rfc3339(leaf.leaf_not_after),
        );
        if channels.email {
            // Client certificates are the namespace admins' business.
            for to in namespace_admins(users, &leaf.namespace) {
                plan.notifications.push(NewNotification {
                    namespace: leaf.namespace.clone(),
                    fingerprint: leaf.leaf_fingerprint.clone(),
                    kind: "leaf".into(),
                    threshold: "leaf-15d".into(),
                    channel: "email".into(),
                    recipient: to.into(),
                    payload: json!({ "subject": subject, "body": body }),
                });
            }
        }
    }
    plan
}

/// One line of the expiry report.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryEntry {
    pub namespace: String,
    /// "ca" or "leaf".
    pub kind: String,
    pub subject: String,
    pub sha256: String,
    pub not_after: String,
    pub days_left: i64,
    pub expired: bool,
    /// Last time a client used this CA (or this leaf) through the gateway.
    pub last_used: Option<String>,
}

/// Every CA and client leaf seen in the last 7 days expiring within `within` (all when
/// `None`), soonest (and so expired) first. `leaves` may hold older sightings too: they count
/// for a CA's "last used".
pub fn expirations(
    namespaces: &[Namespace],
    leaves: &[ObservedLeaf],
    now: OffsetDateTime,
    within: Option<Duration>,
) -> Vec<ExpiryEntry> {
    let mut out: Vec<(OffsetDateTime, ExpiryEntry)> = Vec::new();
    let keep = |not_after: OffsetDateTime| within.is_none_or(|w| not_after - now <= w);
    for ns in namespaces {
        for cert in
            parse_certificates(ns.spec.accepted_client_ca.as_bytes(), "bundle").unwrap_or_default()
        {
            if !keep(cert.not_after) {
                continue;
            }
            let sha256 = cert.fingerprint.to_string();
            let last_used = leaves
                .iter()
                .filter(|l| l.namespace == ns.name && l.ca_fingerprint == sha256)
                .map(|l| l.last_seen)
                .max()
                .map(rfc3339);
            out.push((
                cert.not_after,
                ExpiryEntry {
                    namespace: ns.name.clone(),
                    kind: "ca".into(),
                    subject: cert.display_subject().to_owned(),
                    sha256,
                    not_after: rfc3339(cert.not_after),
                    days_left: days_left(cert.not_after, now),
                    expired: cert.not_after < now,
                    last_used,
                },
            ));
        }
    }
    for l in leaves {
        if now - l.last_seen > LEAF_SEEN_WINDOW || !keep(l.leaf_not_after) {
            continue;
        }
        out.push((
            l.leaf_not_after,
            ExpiryEntry {
                namespace: l.namespace.clone(),
                kind: "leaf".into(),
                subject: l.leaf_subject.clone(),
                sha256: l.leaf_fingerprint.clone(),
                not_after: rfc3339(l.leaf_not_after),
                days_left: days_left(l.leaf_not_after, now),
                expired: l.leaf_not_after < now,
                last_used: Some(rfc3339(l.last_seen)),
            },
        ));
    }
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.namespace.cmp(&b.1.namespace))
    });
    out.into_iter().map(|(_, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(ca_threshold(Duration::days(20)), None);
        assert_eq!(ca_threshold(Duration::days(15)), Some("15d"));
        assert_eq!(ca_threshold(Duration::days(14)), Some("15d"));
        assert_eq!(ca_threshold(Duration::days(10)), Some("10d"));
        assert_eq!(ca_threshold(Duration::days(9)), Some("10d"));
        assert_eq!(ca_threshold(Duration::days(4)), Some("5d"));
        assert_eq!(ca_threshold(Duration::days(-1)), Some("5d"));
        let now = OffsetDateTime::now_utc();
        assert_eq!(days_left(now + Duration::hours(36), now), 1);
        assert_eq!(days_left(now - Duration::hours(1), now), -1);
    }

    fn user(email: &str, role: Role, ns: &[&str]) -> User {
        User {
            id: email.into(),
            email: email.into(),
            role,
            namespaces: ns.iter().map(|s| s.to_string()).collect(),
            created_at: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn leaves_seen_lately_and_expiring_soon_reach_their_namespace_admins() {
        let now = OffsetDateTime::now_utc();
        let ca = gatehouse_pki::CaParams {
            organization: "Acme".into(),
            common_name: Some("Acme Root".into()),
            validity: gatehouse_pki::ValidityPeriod::parse("300d").unwrap(),
            algorithm: gatehouse_pki::KeyAlgorithm::EcdsaP384,
            now,
        }
        .self_signed()
        .unwrap();
        let ns = |name: &str| Namespace {
            name: name.into(),
            spec: gatehouse_store::NamespaceSpec {
                accepted_client_ca: ca.pem.clone(),
                certificate_filters: vec![],
            },
            resource_version: 1,
            created_at: now,
            updated_at: now,
        };
        let leaf = |fp: &str, days: i64, seen_days_ago: i64| ObservedLeaf {
            namespace: "pay".into(),
            ca_fingerprint: ca.certificate.fingerprint.to_string(),
            leaf_fingerprint: fp.into(),
            leaf_subject: "CN=worker".into(),
            leaf_not_after: now + Duration::days(days),
            first_seen: now - Duration::days(30),
            last_seen: now - Duration::days(seen_days_ago),
            last_handshake: Some(now - Duration::days(seen_days_ago)),
            connections: 3,
            requests: 7,
        };
        let users = [
            user("owner@a.io", Role::AccountOwner, &[]),
            user("pay@a.io", Role::NamespaceAdmin, &["pay"]),
            user("bill@a.io", Role::NamespaceAdmin, &["bill"]),
        ];
        let leaves = [
            leaf("soon", 10, 1),
            leaf("later", 40, 1),
            leaf("stale", 10, 8),
        ];
        let channels = Channels {
            email: true,
            webhooks: vec![],
        };
        let p = plan(&[ns("pay"), ns("bill")], &users, &leaves, &channels, now);
        let leaf_notices: Vec<(&str, &str)> = p
            .notifications
            .iter()
            .filter(|n| n.kind == "leaf")
            .map(|n| (n.fingerprint.as_str(), n.recipient.as_str()))
            .collect();
        assert_eq!(
            leaf_notices,
            [("soon", "pay@a.io")],
            "client certificates go to namespace admins"
        );
        assert!(
            p.notifications.iter().all(|n| n.kind == "leaf"),
            "the CA is far from expiry"
        );
        // The report lists the CA with the leaf's last use, then the leaves, soonest first.
        let report = expirations(&[ns("pay")], &leaves, now, Some(Duration::days(30)));
        // Leaves not seen for over 7 days are not listed (they still count for "last used").
        assert_eq!(
            report.iter().map(|e| e.sha256.as_str()).collect::<Vec<_>>(),
            ["soon"]
        );
        let all = expirations(&[ns("pay")], &leaves, now, None);
        assert_eq!(all.last().unwrap().kind, "ca");
        assert!(all.last().unwrap().last_used.is_some());
    }

    #[test]
    fn recipients_follow_roles() {
        let u = |email: &str, role, ns: &[&str]| User {
            id: email.into(),
            email: email.into(),
            role,
            namespaces: ns.iter().map(|s| s.to_string()).collect(),
            created_at: OffsetDateTime::now_utc(),
        };
        let users = [
            u("owner@a.io", Role::AccountOwner, &[]),
            u("global@a.io", Role::GlobalAdmin, &[]),
            u("pay@a.io", Role::NamespaceAdmin, &["payments"]),
            u("bill@a.io", Role::NamespaceAdmin, &["billing"]),
            u("ro@a.io", Role::ReadOnly, &[]),
        ];
        assert_eq!(
            recipients(&users, "payments"),
            ["global@a.io", "owner@a.io", "pay@a.io"]
        );
    }
}
