//! The accepted client CA bundle of a namespace, and the rules it must meet.

use gatehouse_pki::{parse_certificates, CertificateInfo, Fingerprint, InputError};
use rustls_pki_types::TrustAnchor;
use time::OffsetDateTime;

use crate::checks;
use crate::rule::{CertRef, Finding, Rule, Severity};
use crate::wellknown::well_known_root;

/// At most 16 CA certificates per bundle.
pub const MAX_BUNDLE_CERTS: usize = 16;
/// At most 32 KB of PEM, before base64 encoding.
pub const MAX_BUNDLE_BYTES: usize = 32 * 1024;

/// One certificate of a bundle, with what verification needs precomputed.
#[derive(Clone, Debug)]
pub struct BundleCertificate {
    pub info: CertificateInfo,
    /// The certificate as a webpki trust anchor (`None` if webpki cannot read it).
    pub(crate) anchor: Option<TrustAnchor<'static>>,
    /// The Mozilla root it is, or was issued by.
    pub well_known: Option<&'static str>,
}

impl BundleCertificate {
    fn new(info: CertificateInfo) -> Self {
        let anchor = webpki::anchor_from_trusted_cert(&info.der)
            .ok()
            .map(|a| a.to_owned());
        let well_known = well_known_root(&info);
        Self {
            info,
            anchor,
            well_known,
        }
    }
}

/// A parsed CA bundle. Parsing checks only that it *is* certificates; [`CaBundle::lint`]
/// applies the rules.
#[derive(Clone, Debug, Default)]
pub struct CaBundle {
    certs: Vec<BundleCertificate>,
    /// The certificates webpki can use as trust anchors, built once (not per handshake).
    anchors: Vec<TrustAnchor<'static>>,
    pem_bytes: usize,
}

impl CaBundle {
    /// Parses a PEM bundle. `source_name` names it in errors.
    pub fn from_pem(pem: &[u8], source_name: &str) -> Result<Self, InputError> {
        let certs = parse_certificates(pem, source_name)?;
        Ok(Self::from_certificates(certs, pem.len()))
    }

    /// Parses a bundle submitted to a namespace, turning unusable input into findings: too big
    /// (checked before parsing), empty, or not PEM certificates.
    pub fn from_submitted_pem(pem: &str) -> Result<Self, Vec<Finding>> {
        if pem.len() > MAX_BUNDLE_BYTES {
            return Err(vec![Finding::new(
                Rule::BundleMaxSize,
                None,
                format!(
                    "the bundle is {} bytes; at most {MAX_BUNDLE_BYTES} bytes (32 KB) are allowed",
                    pem.len()
                ),
            )]);
        }
        if pem.trim().is_empty() {
            return Err(vec![Finding::new(
                Rule::BundleEmpty,
                None,
                "the bundle holds no certificates",
            )]);
        }
        Self::from_pem(pem.as_bytes(), "acceptedClientCa")
            .map_err(|e| vec![Finding::new(Rule::BundleMalformed, None, e.to_string())])
    }

    /// A bundle from already parsed certificates; `pem_bytes` is the size of its PEM text.
    pub fn from_certificates(certs: Vec<CertificateInfo>, pem_bytes: usize) -> Self {
        let certs: Vec<BundleCertificate> = certs.into_iter().map(BundleCertificate::new).collect();
        let anchors = certs.iter().filter_map(|c| c.anchor.clone()).collect();
        Self {
            certs,
            anchors,
            pem_bytes,
        }
    }

    /// The trust anchors for path building.
    pub(crate) fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// The certificates, in bundle order.
    pub fn certificates(&self) -> &[BundleCertificate] {
        &self.certs
    }

    /// Position label used in findings ("bundle #2").
    pub fn position(index: usize) -> String {
        format!("bundle #{}", index + 1)
    }

    /// The bundle certificate with this fingerprint.
    pub fn find(&self, fingerprint: &Fingerprint) -> Option<(usize, &BundleCertificate)> {
        self.certs
            .iter()
            .enumerate()
            .find(|(_, c)| c.info.fingerprint == *fingerprint)
    }

    /// Every rule for a namespace's CA bundle, at `now`. `has_filters` says whether the
    /// namespace has certificate filters (a well-known CA needs them).
    pub fn lint(&self, has_filters: bool, now: OffsetDateTime) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.certs.is_empty() {
            out.push(Finding::new(
                Rule::BundleEmpty,
                None,
                "the bundle holds no certificates",
            ));
        }
        if self.certs.len() > MAX_BUNDLE_CERTS {
            out.push(Finding::new(
                Rule::BundleMaxCerts,
                None,
                format!(
                    "the bundle holds {} certificates; at most {MAX_BUNDLE_CERTS} are allowed",
                    self.certs.len()
                ),
            ));
        }
        if self.pem_bytes > MAX_BUNDLE_BYTES {
            out.push(Finding::new(
                Rule::BundleMaxSize,
                None,
                format!(
                    "the bundle is {} bytes; at most {MAX_BUNDLE_BYTES} bytes (32 KB) are allowed",
                    self.pem_bytes
                ),
            ));
        }
        for (i, c) in self.certs.iter().enumerate() {
            let info = &c.info;
            let at = CertRef::new(Self::position(i), info);
            if let Some(first) = self.certs[..i]
                .iter()
                .position(|p| p.info.fingerprint == info.fingerprint)
            {
                out.push(Finding::new(
                    Rule::BundleDuplicate,
                    Some(at),
                    format!("is the same certificate as {}", Self::position(first)),
                ));
                continue;
            }
            if let Some(first) = self.certs[..i]
                .iter()
                .position(|p| p.info.subject_key() == info.subject_key())
            {
                out.push(Finding::new(
                    Rule::BundleUniqueSubject,
                    Some(at.clone()),
                    format!(
                        "has the same subject as {} ({}); a rollover CA needs a different subject",
                        Self::position(first),
                        info.display_subject()
                    ),
                ));
            }
            checks::ca_certificate(info, &at, now, &mut out);
            if !self.chains_in_bundle(i) {
                let why = if info.is_self_issued() {
                    "is self-issued but its signature does not verify with its own key".to_owned()
                } else {
                    format!(
                        "is issued by {} which is not in the bundle",
                        if info.issuer.is_empty() {
                            "(empty issuer)"
                        } else {
                            &info.issuer
                        }
                    )
                };
                out.push(Finding::new(Rule::CaChainsInBundle, Some(at.clone()), why));
            }
            if let Some(root) = c.well_known {
                let f = Finding::new(
                    Rule::CaWellKnown,
                    Some(at.clone()),
                    format!(
                        "is a well-known public CA ({root}); without certificate filters anyone with a certificate from it could connect"
                    ),
                );
                out.push(if has_filters {
                    Finding {
                        message: format!(
                            "is a well-known public CA ({root}); accepted because certificate filters are set"
                        ),
                        ..f
                    }
                    .with_severity(Severity::Warning)
                } else {
                    f
                });
            }
        }
        out
    }

    /// The error-level findings of [`Self::lint`]; empty means a namespace may use the bundle.
    pub fn validate(&self, has_filters: bool, now: OffsetDateTime) -> Result<(), Vec<Finding>> {
        let errors: Vec<Finding> = self
            .lint(has_filters, now)
            .into_iter()
            .filter(Finding::is_error)
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Error-level findings that make the bundle unusable whatever the time: everything except
    /// certificates that have expired or are not yet valid. A stored bundle can come to hold an
    /// expired CA (and removing it must still work, unlike tcld #406); it cannot come to hold a
    /// non-CA or a SHA-1 signature.
    pub fn structural_errors(&self, has_filters: bool, now: OffsetDateTime) -> Vec<Finding> {
        self.errors_excluding_age_of(|_| true, has_filters, now)
    }

    /// The rules for a namespace's bundle after a change: every error, except that certificates
    /// already stored (`stored`) are not refused for having expired since — so a CA can be
    /// added or removed while another one has expired (tcld #406), but an expired CA can never
    /// be added.
    pub fn validate_update(
        &self,
        stored: &[Fingerprint],
        has_filters: bool,
        now: OffsetDateTime,
    ) -> Result<(), Vec<Finding>> {
        let errors = self.errors_excluding_age_of(
            |fp| fp.is_some_and(|fp| stored.contains(&fp)),
            has_filters,
            now,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Error findings, leaving out expiry / not-yet-valid findings about certificates `exempt`
    /// accepts.
    fn errors_excluding_age_of(
        &self,
        exempt: impl Fn(Option<Fingerprint>) -> bool,
        has_filters: bool,
        now: OffsetDateTime,
    ) -> Vec<Finding> {
        self.lint(has_filters, now)
            .into_iter()
            .filter(|f| {
                let aged = matches!(f.rule, Rule::CertExpired | Rule::CertNotYetValid);
                let fp = f
                    .certificate
                    .as_ref()
                    .and_then(|c| Fingerprint::parse(&c.fingerprint));
                f.is_error() && !(aged && exempt(fp))
            })
            .collect()
    }

    /// "Each certificate in the bundle must be either a root certificate or issued by another
    /// certificate in the bundle" — checked by signature, not just by name.
    fn chains_in_bundle(&self, i: usize) -> bool {
        let cert = &self.certs[i].info;
        if cert.is_self_issued() {
            return cert.is_signed_by(cert);
        }
        self.certs.iter().enumerate().any(|(j, other)| {
            j != i
                && other.info.subject_key() == cert.issuer_key()
                && cert.is_signed_by(&other.info)
        })
    }
}
