//! Checks on a single certificate, shared by the bundle and the client chain.

use gatehouse_pki::{rfc3339, CertificateInfo};
use time::{Duration, OffsetDateTime};

use crate::rule::{CertRef, Finding, Rule, Severity};
use crate::sigalg;

/// Temporal starts warning 15 days before a certificate expires.
pub const EXPIRY_WARNING: Duration = Duration::days(15);

pub(crate) fn signature_algorithm(cert: &CertificateInfo, at: &CertRef, out: &mut Vec<Finding>) {
    let verdict = sigalg::judge(&cert.signature_algorithm_oid, cert.pss_hash_oid.as_deref());
    if !verdict.acceptable {
        out.push(Finding::new(
            Rule::CertSignatureAlgorithm,
            Some(at.clone()),
            format!(
                "signed with {} ({}); RSA or ECDSA with SHA-256 or stronger is required",
                verdict.name, cert.signature_algorithm_oid
            ),
        ));
    }
}

pub(crate) fn validity(
    cert: &CertificateInfo,
    at: &CertRef,
    now: OffsetDateTime,
    out: &mut Vec<Finding>,
) {
    if now > cert.not_after {
        out.push(Finding::new(
            Rule::CertExpired,
            Some(at.clone()),
            format!(
                "expired at {} ({} days ago)",
                rfc3339(cert.not_after),
                (now - cert.not_after).whole_days()
            ),
        ));
    } else if now < cert.not_before {
        out.push(Finding::new(
            Rule::CertNotYetValid,
            Some(at.clone()),
            format!("not valid until {}", rfc3339(cert.not_before)),
        ));
    } else if cert.not_after - now <= EXPIRY_WARNING {
        out.push(Finding::new(
            Rule::CertExpiringSoon,
            Some(at.clone()),
            format!(
                "expires at {}, in {} days",
                rfc3339(cert.not_after),
                (cert.not_after - now).whole_days()
            ),
        ));
    }
}

fn version_3(cert: &CertificateInfo, rule: Rule, at: &CertRef, out: &mut Vec<Finding>) {
    if cert.version != 3 {
        out.push(Finding::new(
            rule,
            Some(at.clone()),
            format!("is X.509 version {}, not 3", cert.version),
        ));
    }
}

/// A KeyUsage requirement: an error when the extension lacks the bit, a warning when the
/// extension is absent altogether.
fn key_usage(
    cert: &CertificateInfo,
    rule: Rule,
    has_bit: fn(&gatehouse_pki::KeyUsage) -> bool,
    (lacking, absent): (&str, &str),
    at: &CertRef,
    out: &mut Vec<Finding>,
) {
    match &cert.key_usage {
        Some(ku) if !has_bit(ku) => out.push(Finding::new(rule, Some(at.clone()), lacking)),
        None => {
            out.push(Finding::new(rule, Some(at.clone()), absent).with_severity(Severity::Warning))
        }
        Some(_) => {}
    }
}

/// Rules for any CA certificate (in a bundle or sent as an intermediate).
pub(crate) fn ca_certificate(
    cert: &CertificateInfo,
    at: &CertRef,
    now: OffsetDateTime,
    out: &mut Vec<Finding>,
) {
    version_3(cert, Rule::CaX509V3, at, out);
    if !cert.is_ca() {
        let why = match cert.basic_constraints {
            None => "has no BasicConstraints extension",
            Some(_) => "has BasicConstraints CA:FALSE",
        };
        out.push(Finding::new(
            Rule::CaIsCa,
            Some(at.clone()),
            format!("{why}; a CA certificate needs CA:TRUE"),
        ));
    }
    // RFC 5280 4.2.1.3: a CA MUST include KeyUsage; strict verifiers (openssl verify
    // -x509_strict) refuse chains through a CA without it. Temporal does not ask for it.
    key_usage(
        cert,
        Rule::CaKeyCertSign,
        |ku| ku.key_cert_sign,
        (
            "KeyUsage lacks keyCertSign, so it may not sign certificates",
            "has no KeyUsage extension; RFC 5280 requires keyCertSign on a CA and strict verifiers refuse it",
        ),
        at,
        out,
    );
    signature_algorithm(cert, at, out);
    validity(cert, at, now, out);
}

/// Rules for a client (end-entity) certificate.
pub(crate) fn leaf_certificate(
    cert: &CertificateInfo,
    at: &CertRef,
    now: OffsetDateTime,
    out: &mut Vec<Finding>,
) {
    version_3(cert, Rule::LeafX509V3, at, out);
    if cert.is_ca() {
        out.push(Finding::new(
            Rule::LeafNotCa,
            Some(at.clone()),
            "has BasicConstraints CA:TRUE; a client certificate must be CA:FALSE",
        ));
    }
    key_usage(
        cert,
        Rule::LeafKeyUsage,
        |ku| ku.digital_signature,
        (
            "KeyUsage lacks digitalSignature, which TLS client authentication needs",
            "has no KeyUsage extension; Temporal requires digitalSignature, so state it",
        ),
        at,
        out,
    );
    if let Some(eku) = cert.extended_key_usage {
        if !eku.client_auth && !eku.any {
            out.push(Finding::new(
                Rule::LeafExtKeyUsage,
                Some(at.clone()),
                "ExtendedKeyUsage is present without clientAuth, so TLS clients cannot use it",
            ));
        }
    }
    signature_algorithm(cert, at, out);
    validity(cert, at, now, out);
}

/// Distinct DNs along a path, leaf to root ("each certificate in the chain … must have a
/// unique Distinguished Name"; case-insensitive). A self-signed root's own issuer field is not
/// a second certificate, so it is not compared with itself.
pub(crate) fn unique_dns(path: &[(&CertificateInfo, CertRef)], out: &mut Vec<Finding>) {
    for (i, (cert, at)) in path.iter().enumerate() {
        if let Some((_, first)) = path[..i]
            .iter()
            .find(|(prev, _)| prev.subject_key() == cert.subject_key())
        {
            out.push(Finding::new(
                Rule::ChainUniqueDn,
                Some(at.clone()),
                format!(
                    "has the same Distinguished Name as {} ({}); every certificate in a chain needs its own",
                    first.position, cert.display_subject()
                ),
            ));
        }
    }
}

/// The leaf must expire before every CA on its path.
pub(crate) fn leaf_before_cas(
    leaf: &CertificateInfo,
    leaf_at: &CertRef,
    cas: &[(&CertificateInfo, CertRef)],
    out: &mut Vec<Finding>,
) {
    if let Some((ca, at)) = cas
        .iter()
        .filter(|(ca, _)| leaf.not_after > ca.not_after)
        .min_by_key(|(ca, _)| ca.not_after)
    {
        out.push(Finding::new(
            Rule::LeafExpiresAfterCa,
            Some(leaf_at.clone()),
            format!(
                "expires at {}, after {} {} which expires at {}; it stops working when that CA does",
                rfc3339(leaf.not_after),
                at.position,
                ca.display_subject(),
                rfc3339(ca.not_after)
            ),
        ));
    }
}

/// pathLenConstraint along a verified path, including the bundle certificate at its end
/// (webpki does not apply a trust anchor's own constraint; RFC 5280 4.2.1.9 says it limits the
/// non-self-issued intermediates below it).
pub(crate) fn path_lengths(path: &[(&CertificateInfo, CertRef)], out: &mut Vec<Finding>) {
    for (k, (ca, at)) in path.iter().enumerate().skip(1) {
        let Some(limit) = ca.basic_constraints.and_then(|bc| bc.path_len) else {
            continue;
        };
        let below = path[1..k]
            .iter()
            .filter(|(c, _)| !c.is_self_issued())
            .count();
        if below > limit as usize {
            out.push(Finding::new(
                Rule::ChainInvalid,
                Some(at.clone()),
                format!(
                    "has pathLenConstraint {limit} but {below} intermediate CA(s) sit below it on this path"
                ),
            ));
        }
    }
}
