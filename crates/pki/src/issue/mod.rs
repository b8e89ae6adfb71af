//! Issuing certificates: CA, client leaf, server, CSR and signing a CSR.
//!
//! Every field is set explicitly (rcgen's defaults — validity 1975–4096, no AKI — are not
//! production values). Profiles follow Temporal Cloud's certificate requirements and RFC 5280.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints as RcBasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;

use crate::cert::{CertificateInfo, SubjectAltName};
use crate::duration::ValidityPeriod;
use crate::key::{KeyAlgorithm, KeyError, PrivateKey};

mod authority;
mod ca;
mod csr;
mod profiles;

pub use authority::{CertificateAuthority, ExternalSigner};
pub use ca::CaParams;
pub use csr::{CsrParams, CsrRequest, NewCsr};
pub use profiles::{LeafParams, Profile, ServerParams};

/// tcld's bounds for a CA's validity period: more than 7 days, at most 365 days.
pub const CA_MIN_VALIDITY: Duration = Duration::days(7);
/// See [`CA_MIN_VALIDITY`].
pub const CA_MAX_VALIDITY: Duration = Duration::days(365);
/// How far notBefore is backdated, to tolerate clock skew between issuer and verifier.
pub const BACKDATE: Duration = Duration::minutes(1);
/// Default leaf lifetime ends this long before its CA expires (tcld's default).
pub const LEAF_DEFAULT_MARGIN: Duration = Duration::hours(24);

/// Why a certificate was not issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The validity period is outside what the certificate kind allows.
    #[error("validity period {period} is out of range: {reason}")]
    Validity {
        period: ValidityPeriod,
        reason: String,
    },
    /// The leaf would still be valid after its CA expired.
    #[error("validity period {period} puts the certificate's expiry ({not_after}) after the CA's expiry ({ca_not_after}); use a shorter -d, at most {max_days} days")]
    OutlivesCa {
        period: ValidityPeriod,
        not_after: String,
        ca_not_after: String,
        max_days: i64,
    },
    /// The CA expires too soon to issue anything by default.
    #[error("the CA {subject} expires at {ca_not_after}, less than 24 hours from now; issue from a newer CA")]
    CaExpiresTooSoon {
        subject: String,
        ca_not_after: String,
    },
    /// The issuing certificate is not a CA.
    #[error("{subject} (sha256 {fingerprint}) is not a CA certificate (BasicConstraints CA:TRUE is missing), so it cannot issue certificates")]
    NotACa {
        subject: String,
        fingerprint: String,
    },
    /// The CA key does not belong to the CA certificate.
    #[error("the CA key does not match the CA certificate {subject} (sha256 {fingerprint}): their public keys differ")]
    KeyMismatch {
        subject: String,
        fingerprint: String,
    },
    /// The CA certificate has expired.
    #[error("the CA certificate {subject} (sha256 {fingerprint}) expired at {not_after}")]
    CaExpired {
        subject: String,
        fingerprint: String,
        not_after: String,
    },
    /// The CA certificate is not valid yet.
    #[error("the CA certificate {subject} (sha256 {fingerprint}) is not valid until {not_before}")]
    CaNotYetValid {
        subject: String,
        fingerprint: String,
        not_before: String,
    },
    /// A name, SAN or other input was unusable.
    #[error("{0}")]
    InvalidInput(String),
    /// The CSR could not be parsed or its signature does not verify.
    #[error("CSR: {0}")]
    Csr(String),
    /// The certificate library refused the parameters.
    #[error("certificate generation failed: {0}")]
    Generation(String),
}

fn gen_err(e: rcgen::Error) -> IssueError {
    IssueError::Generation(e.to_string())
}

/// A freshly issued certificate (and its new key, unless it was issued for a CSR).
#[derive(Debug)]
pub struct Issued {
    pub certificate: CertificateInfo,
    pub pem: String,
    pub key: Option<PrivateKey>,
}

/// How long a renewal of `cert` is valid: its lifetime, less the minute its notBefore was
/// backdated (so renewals do not grow by a minute each time).
pub fn renewal_period(cert: &CertificateInfo) -> ValidityPeriod {
    let lifetime = cert.not_after - cert.not_before;
    let backdated = if lifetime > BACKDATE * 2 {
        BACKDATE
    } else {
        Duration::ZERO
    };
    ValidityPeriod::from_secs((lifetime - backdated).whole_seconds())
}

/// A certificate as PEM (LF line endings).
pub fn certificate_pem(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

impl Issued {
    fn from_der(der: &[u8], key: Option<PrivateKey>) -> Result<Self, IssueError> {
        let certificate =
            CertificateInfo::from_der(der).map_err(|e| IssueError::Generation(e.to_string()))?;
        let pem = certificate_pem(der);
        Ok(Self {
            certificate,
            pem,
            key,
        })
    }
}

/// A stand-in name for rcgen; the real one is spliced in by `der::replace_names`.
pub(super) fn placeholder_name() -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "placeholder");
    dn
}

/// The OID and the short label of a name attribute Gatehouse writes.
fn attribute(ty: &DnType) -> (&'static str, &'static str) {
    match ty {
        DnType::CommonName => ("2.5.4.3", "CN"),
        DnType::OrganizationName => ("2.5.4.10", "O"),
        DnType::OrganizationalUnitName => ("2.5.4.11", "OU"),
        _ => ("?", "?"),
    }
}

/// The case-insensitive comparison key of a name Gatehouse is about to write.
pub(super) fn name_key(entries: &[(DnType, &str)]) -> String {
    let attrs: Vec<(String, String)> = entries
        .iter()
        .map(|(ty, v)| (attribute(ty).0.to_owned(), (*v).to_owned()))
        .collect();
    crate::cert::dn_key(&attrs)
}

pub(super) fn name_text(entries: &[(DnType, &str)]) -> String {
    entries
        .iter()
        .map(|(ty, v)| format!("{}={v}", attribute(ty).1))
        .collect::<Vec<_>>()
        .join(", ")
}

fn base_params(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    subject_public_key: &[u8],
) -> Result<CertificateParams, IssueError> {
    let mut params = CertificateParams::default();
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(subject_public_key));
    params.distinguished_name = DistinguishedName::new();
    Ok(params)
}

/// RFC 7093 section 2 method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey
/// BIT STRING value (linters such as pkilint recognise it; rcgen's own method is not standard).
fn key_identifier(subject_public_key: &[u8]) -> Vec<u8> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject_public_key);
    digest.as_ref()[..20].to_vec()
}

/// A positive serial with 126 random bits (RFC 5280: at most 20 octets; CA/B Forum: at least
/// 64 bits of entropy). The top bit is clear so it is positive; the next is set so the DER
/// INTEGER is always 16 octets, with no leading zero to strip.
fn random_serial() -> Result<SerialNumber, IssueError> {
    let mut bytes =
        crate::random::random_bytes::<16>().map_err(|e| IssueError::Generation(e.to_string()))?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn non_blank<'a>(flag: &str, value: &'a str) -> Result<&'a str, IssueError> {
    if value.trim().is_empty() {
        Err(IssueError::InvalidInput(format!(
            "{flag} must not be empty"
        )))
    } else {
        Ok(value)
    }
}

/// The optional name attributes that are given and not blank, in order (an empty one is left
/// out: tcld writes an empty OU=).
fn present(entries: Vec<(DnType, Option<&str>)>) -> Vec<(DnType, &str)> {
    entries
        .into_iter()
        .filter_map(|(ty, value)| Some((ty, value.filter(|s| !s.trim().is_empty())?)))
        .collect()
}

fn dn(entries: &[(DnType, &str)]) -> Result<DistinguishedName, IssueError> {
    let mut dn = DistinguishedName::new();
    for (ty, value) in entries {
        if value.chars().count() > 64 {
            return Err(IssueError::InvalidInput(format!(
                "{value:?} is longer than the 64 characters X.509 allows for a name attribute"
            )));
        }
        dn.push(ty.clone(), *value);
    }
    Ok(dn)
}

fn sans(names: &[SubjectAltName]) -> Result<Vec<SanType>, IssueError> {
    names
        .iter()
        .map(|n| {
            let ia5 = |s: &str| {
                rcgen::string::Ia5String::try_from(s).map_err(|_| {
                    IssueError::InvalidInput(format!("subjectAltName {n} must be ASCII"))
                })
            };
            if let Some(why) = n.syntax_problem() {
                return Err(IssueError::InvalidInput(format!(
                    "subjectAltName {n:?} is not valid: {why}"
                )));
            }
            Ok(match n {
                SubjectAltName::Dns(s) => SanType::DnsName(ia5(s)?),
                SubjectAltName::Uri(s) => SanType::URI(ia5(s)?),
                SubjectAltName::Email(s) => SanType::Rfc822Name(ia5(s)?),
                SubjectAltName::Ip(ip) => SanType::IpAddress(*ip),
            })
        })
        .collect()
}

/// RFC 3339 in UTC to the second, the form every message and JSON output uses.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests;
