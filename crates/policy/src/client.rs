//! Would this client be admitted? Chain building against a namespace's bundle (webpki, with
//! aws-lc-rs), then Temporal's chain rules on the *verified path* and the certificate filters.

use std::fmt;

use gatehouse_pki::{CertificateInfo, Fingerprint};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;
use webpki::aws_lc_rs as algs;

use crate::bundle::CaBundle;
use crate::checks;
use crate::filter::{CertificateFilters, Permissions};
use crate::rule::{CertRef, Finding, Rule};

/// Signature algorithms chain building accepts: RSA and ECDSA only (Temporal's rule). Weak
/// hashes are refused by [`Rule::CertSignatureAlgorithm`] before this list matters.
static SIGNATURE_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    algs::ECDSA_P256_SHA256,
    algs::ECDSA_P256_SHA384,
    algs::ECDSA_P256_SHA512,
    algs::ECDSA_P384_SHA256,
    algs::ECDSA_P384_SHA384,
    algs::ECDSA_P384_SHA512,
    algs::ECDSA_P521_SHA256,
    algs::ECDSA_P521_SHA384,
    algs::ECDSA_P521_SHA512,
    algs::RSA_PKCS1_2048_8192_SHA256,
    algs::RSA_PKCS1_2048_8192_SHA384,
    algs::RSA_PKCS1_2048_8192_SHA512,
    algs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    algs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    algs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    algs::RSA_PKCS1_3072_8192_SHA384,
    algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Position label of the `index`-th certificate a client sent.
fn chain_position(index: usize) -> String {
    if index == 0 {
        "chain #1 (leaf)".to_owned()
    } else {
        format!("chain #{}", index + 1)
    }
}

/// Everything learned about a client chain.
#[derive(Clone, Debug, Serialize)]
pub struct ClientReport {
    /// In check order: the first error is the reason a client is refused.
    pub findings: Vec<Finding>,
    /// The verified path, leaf first, ending at a bundle certificate (empty if none was found).
    pub path: Vec<CertRef>,
    /// The bundle certificate the path ends at: the CA this client uses.
    pub anchor: Option<CertRef>,
    /// Index (0-based) of the first certificate filter that admits the leaf.
    pub matched_filter: Option<usize>,
    /// What the client may do in the namespace (from the roles of the filters it matches).
    #[serde(serialize_with = "describe_permissions")]
    pub permissions: Permissions,
}

fn describe_permissions<S: serde::Serializer>(p: &Permissions, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.describe())
}

impl ClientReport {
    /// The first error-level finding, if any.
    pub fn first_error(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.is_error())
    }
}

/// Proof that a client chain is admitted: what the gateway records for CA usage.
#[derive(Clone, Debug, Serialize)]
pub struct VerifiedClient {
    pub leaf: CertRef,
    #[serde(with = "time::serde::rfc3339")]
    pub leaf_not_after: OffsetDateTime,
    /// The bundle certificate the chain ends at.
    pub anchor: CertRef,
    #[serde(skip)]
    pub anchor_fingerprint: Fingerprint,
    pub path: Vec<CertRef>,
    pub matched_filter: Option<usize>,
    /// What the client may do in the namespace.
    #[serde(serialize_with = "describe_permissions")]
    pub permissions: Permissions,
    /// Warning-level findings (e.g. expiring soon).
    pub warnings: Vec<Finding>,
}

/// Why a client is refused: the first failing rule, plus everything else that was found.
#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    pub reason: Box<Finding>,
    pub report: Box<ClientReport>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for Rejection {}

/// Decides whether a client presenting `chain` (leaf first, then any intermediates it sends)
/// is admitted to a namespace with `bundle` and `filters`, at time `now`.
pub fn verify_client(
    chain: &[CertificateInfo],
    bundle: &CaBundle,
    filters: &CertificateFilters,
    now: OffsetDateTime,
) -> Result<VerifiedClient, Rejection> {
    let report = check_client(chain, Some(bundle), filters, now);
    if let Some(reason) = report.first_error() {
        return Err(Rejection {
            reason: Box::new(reason.clone()),
            report: Box::new(report),
        });
    }
    // No error means a path was found (its absence is a `chain.untrusted` error).
    let (Some(leaf), Some(anchor)) = (chain.first(), report.anchor.clone()) else {
        let reason = Finding::new(Rule::ChainUntrusted, None, "no client certificate");
        return Err(Rejection {
            reason: Box::new(reason),
            report: Box::new(report),
        });
    };
    let anchor_fingerprint =
        Fingerprint::parse(&anchor.fingerprint).unwrap_or_else(|| Fingerprint::of(&[]));
    Ok(VerifiedClient {
        leaf: CertRef::new(chain_position(0), leaf),
        leaf_not_after: leaf.not_after,
        anchor,
        anchor_fingerprint,
        path: report.path.clone(),
        matched_filter: report.matched_filter,
        permissions: report.permissions,
        warnings: report.findings.clone(),
    })
}

/// Every check on a client chain, for `lint` (all findings) and `verify` (the first error).
/// Without a bundle, only the chain's own rules are checked.
pub fn check_client(
    chain: &[CertificateInfo],
    bundle: Option<&CaBundle>,
    filters: &CertificateFilters,
    now: OffsetDateTime,
) -> ClientReport {
    let mut report = ClientReport {
        findings: Vec::new(),
        path: Vec::new(),
        anchor: None,
        matched_filter: None,
        permissions: Permissions::ALL,
    };
    let Some(leaf) = chain.first() else {
        report.findings.push(Finding::new(
            Rule::ChainUntrusted,
            None,
            "no client certificate was given",
        ));
        return report;
    };
    let refs: Vec<CertRef> = chain
        .iter()
        .enumerate()
        .map(|(i, c)| CertRef::new(chain_position(i), c))
        .collect();
    let out = &mut report.findings;
    checks::leaf_certificate(leaf, &refs[0], now, out);
    for (cert, at) in chain.iter().zip(&refs).skip(1) {
        checks::ca_certificate(cert, at, now, out);
    }

    // The path to check chain rules on: the verified one when there is a bundle, otherwise
    // the chain as sent.
    let mut path: Vec<(&CertificateInfo, CertRef)> = Vec::new();
    match bundle {
        Some(bundle) => match build_path(chain, bundle, now) {
            Ok(p) => path = p,
            Err(finding) => {
                // Skip a webpki error that repeats a rule our own checks already reported
                // (webpki does not say which certificate; ours do).
                if !out.iter().any(|f| f.rule == finding.rule) {
                    out.push(finding);
                }
            }
        },
        None => {
            path = chain.iter().zip(refs.iter().cloned()).collect();
            for pair in path.windows(2) {
                let (child, child_at) = &pair[0];
                let (parent, _) = &pair[1];
                if child.issuer_key() == parent.subject_key() && !child.is_signed_by(parent) {
                    out.push(Finding::new(
                        Rule::ChainSignature,
                        Some(child_at.clone()),
                        format!(
                            "names {} as issuer but its signature does not verify with that certificate's key",
                            parent.display_subject()
                        ),
                    ));
                }
            }
        }
    }

    if path.len() < 2 && leaf.is_self_issued() {
        // No issuer on hand to compare with: the leaf's own issuer field tells.
        out.push(Finding::new(
            Rule::ChainUniqueDn,
            Some(refs[0].clone()),
            format!(
                "has the same Distinguished Name as its issuer ({}); every certificate in a chain needs its own",
                leaf.display_subject()
            ),
        ));
    }
    if !path.is_empty() {
        if let (Some(bundle), Some((anchor, anchor_at))) = (bundle, path.last()) {
            // rustls/webpki do not check a trust anchor's own validity or profile: do it here
            // ("an expired root CA certificate invalidates all downstream certificates").
            let before = out.len();
            checks::ca_certificate(anchor, anchor_at, now, out);
            // Keep only the errors about the anchor (its warnings are the bundle's business,
            // except expiry, which every client of that CA should hear about).
            let mut i = before;
            while i < out.len() {
                if !out[i].is_error() && out[i].rule != Rule::CertExpiringSoon {
                    out.remove(i);
                } else {
                    i += 1;
                }
            }
            if filters.is_empty() {
                if let Some((_, c)) = bundle.find(&anchor.fingerprint) {
                    if let Some(root) = c.well_known {
                        out.push(Finding::new(
                            Rule::CaWellKnown,
                            Some(anchor_at.clone()),
                            format!(
                                "the chain ends at a well-known public CA ({root}) and the namespace has no certificate filters"
                            ),
                        ));
                    }
                }
            }
            report.anchor = Some(anchor_at.clone());
        }
        checks::unique_dns(&path, out);
        checks::path_lengths(&path, out);
        checks::leaf_before_cas(leaf, &refs[0], &path[1..], out);
        report.path = path.iter().map(|(_, r)| r.clone()).collect();
    }

    if !filters.is_empty() {
        report.permissions = filters.permissions(leaf);
        report.matched_filter = filters.first_match(leaf);
        if report.matched_filter.is_none() {
            report.findings.push(Finding::new(
                Rule::FilterNoMatch,
                Some(refs[0].clone()),
                format!(
                    "matches none of the {} certificate filters (CN {:?}, O {:?}, OU {:?}, SANs {:?})",
                    filters.filters().len(),
                    leaf.common_names,
                    leaf.organizations,
                    leaf.organizational_units,
                    leaf.subject_alt_names.iter().map(ToString::to_string).collect::<Vec<_>>()
                ),
            ));
        }
    }
    report
}

fn unix_time(t: OffsetDateTime) -> UnixTime {
    let secs = u64::try_from(t.unix_timestamp()).unwrap_or(0);
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs))
}

/// Builds and verifies the path from the leaf to a bundle certificate with webpki. Returns the
/// path leaf-first, ending with the bundle certificate.
fn build_path<'a>(
    chain: &'a [CertificateInfo],
    bundle: &'a CaBundle,
    now: OffsetDateTime,
) -> Result<Vec<(&'a CertificateInfo, CertRef)>, Finding> {
    let leaf = &chain[0];
    let leaf_at = CertRef::new(chain_position(0), leaf);
    let intermediates: Vec<CertificateDer<'_>> = chain[1..].iter().map(|c| c.der.clone()).collect();
    let ee = webpki::EndEntityCert::try_from(&leaf.der)
        .map_err(|e| webpki_finding(&e, leaf, &leaf_at, chain, bundle))?;
    // Validity is judged by our own rules at `now`; when the leaf itself is outside its
    // validity, still build the path at a time the leaf was valid, so the report can say
    // whether the chain is otherwise sound.
    let at = if now < leaf.not_before || now > leaf.not_after {
        leaf.not_before + (leaf.not_after - leaf.not_before) / 2
    } else {
        now
    };
    let result = ee.verify_for_usage(
        SIGNATURE_ALGORITHMS,
        bundle.anchors(),
        &intermediates,
        unix_time(at),
        webpki::KeyUsage::client_auth(),
        None,
        None,
    );
    let verified = result.map_err(|e| webpki_finding(&e, leaf, &leaf_at, chain, bundle))?;
    let mut path = vec![(leaf, leaf_at)];
    for cert in verified.intermediate_certificates() {
        let der = cert.der();
        if let Some((i, info)) = chain
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, c)| c.der.as_ref() == der.as_ref())
        {
            path.push((info, CertRef::new(chain_position(i), info)));
        }
    }
    let anchor = verified.anchor();
    let (i, bc) = bundle
        .certificates()
        .iter()
        .enumerate()
        .find(|(_, c)| c.anchor.as_ref() == Some(anchor))
        .ok_or_else(|| {
            Finding::new(
                Rule::ChainInvalid,
                None,
                "internal: verified path ends at a certificate not in the bundle",
            )
        })?;
    path.push((&bc.info, CertRef::new(CaBundle::position(i), &bc.info)));
    Ok(path)
}

fn webpki_finding(
    e: &webpki::Error,
    leaf: &CertificateInfo,
    leaf_at: &CertRef,
    chain: &[CertificateInfo],
    bundle: &CaBundle,
) -> Finding {
    use webpki::Error as E;
    let at = Some(leaf_at.clone());
    match e {
        E::UnknownIssuer => {
            let held: Vec<&str> = bundle
                .certificates()
                .iter()
                .map(|c| c.info.display_subject())
                .collect();
            let top = chain.last().unwrap_or(leaf);
            Finding::new(
                Rule::ChainUntrusted,
                at,
                format!(
                    "no path to a bundle certificate: the chain ends at issuer {:?}, and the bundle holds {:?}{}",
                    top.issuer,
                    held,
                    if chain.len() == 1 {
                        "; if that issuer is an intermediate CA, send it after the client certificate"
                    } else {
                        ""
                    }
                ),
            )
        }
        E::InvalidSignatureForPublicKey | E::SignatureAlgorithmMismatch => Finding::new(
            Rule::ChainSignature,
            at,
            format!(
                "a signature on the path to {:?} does not verify with the issuer's key ({e:?})",
                leaf.issuer
            ),
        ),
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => Finding::new(
            Rule::CertSignatureAlgorithm,
            at,
            format!("the chain uses a signature algorithm that is not RSA or ECDSA with SHA-256+ ({e:?})"),
        ),
        E::CertExpired { .. } => Finding::new(
            Rule::CertExpired,
            at,
            format!("a certificate on the path from this leaf has expired ({e:?})"),
        ),
        E::CertNotValidYet { .. } => Finding::new(
            Rule::CertNotYetValid,
            at,
            format!("a certificate on the path from this leaf is not valid yet ({e:?})"),
        ),
        E::CaUsedAsEndEntity => Finding::new(
            Rule::LeafNotCa,
            at,
            "has BasicConstraints CA:TRUE; a client certificate must be CA:FALSE",
        ),
        E::EndEntityUsedAsCa => Finding::new(
            Rule::CaIsCa,
            at,
            "a certificate used as an issuer on the path is not a CA (CA:FALSE or no BasicConstraints)",
        ),
        E::RequiredEkuNotFoundContext(_) => Finding::new(
            Rule::LeafExtKeyUsage,
            at,
            "ExtendedKeyUsage is present without clientAuth, so TLS clients cannot use it",
        ),
        E::UnsupportedCertVersion => Finding::new(
            Rule::LeafX509V3,
            at,
            "a certificate on the path is not X.509 version 3",
        ),
        other => Finding::new(
            Rule::ChainInvalid,
            at,
            format!("path validation failed: {other:?}"),
        ),
    }
}
