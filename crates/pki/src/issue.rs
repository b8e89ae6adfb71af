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

impl Issued {
    fn new(cert: rcgen::Certificate, key: Option<PrivateKey>) -> Result<Self, IssueError> {
        let certificate = CertificateInfo::from_der(cert.der())
            .map_err(|e| IssueError::Generation(e.to_string()))?;
        Ok(Self {
            certificate,
            pem: cert.pem(),
            key,
        })
    }
}

/// A CA certificate with its private key, checked to belong together and usable at `now`.
#[derive(Debug)]
pub struct CertificateAuthority {
    certificate: CertificateInfo,
    key: PrivateKey,
    /// The CA's subject as rcgen will write it into the issuer field, and the key id for AKI.
    issuer_params: CertificateParams,
}

impl CertificateAuthority {
    /// Pairs a CA certificate with its key. Refuses a certificate that is not a CA, a key that
    /// does not match, and a CA that is expired or not yet valid at `now`.
    pub fn new(
        certificate: CertificateInfo,
        key: PrivateKey,
        now: OffsetDateTime,
    ) -> Result<Self, IssueError> {
        let subject = certificate.display_subject().to_owned();
        let fingerprint = certificate.fingerprint.to_string();
        if !certificate.is_ca() {
            return Err(IssueError::NotACa {
                subject,
                fingerprint,
            });
        }
        if key.public_key_spki() != certificate.spki_der {
            return Err(IssueError::KeyMismatch {
                subject,
                fingerprint,
            });
        }
        if certificate.not_after < now {
            return Err(IssueError::CaExpired {
                subject,
                fingerprint,
                not_after: rfc3339(certificate.not_after),
            });
        }
        if certificate.not_before > now {
            return Err(IssueError::CaNotYetValid {
                subject,
                fingerprint,
                not_before: rfc3339(certificate.not_before),
            });
        }
        // The CA's subject becomes the issuer name of what it signs, re-encoded by rcgen.
        // Convert it here with full validation (rcgen's own conversion panics on some
        // malformed names), keeping every attribute's string type so names chain byte for byte.
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(&certificate.der)
            .map_err(|e| IssueError::InvalidInput(format!("CA certificate: {e}")))?;
        let mut issuer_params = CertificateParams::default();
        issuer_params.distinguished_name = dn_from_x509(parsed.subject())
            .map_err(|e| IssueError::InvalidInput(format!("the CA subject {subject}: {e}")))?;
        let key_id = certificate.subject_key_id.clone().unwrap_or_else(|| {
            key_identifier(parsed.public_key().subject_public_key.data.as_ref())
        });
        issuer_params.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
        Ok(Self {
            certificate,
            key,
            issuer_params,
        })
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &CertificateInfo {
        &self.certificate
    }

    /// The key type new leaves get: RSA-4096 under an RSA CA, ECDSA P-384 otherwise.
    pub fn leaf_key_algorithm(&self) -> KeyAlgorithm {
        if self.key.is_rsa() {
            KeyAlgorithm::Rsa4096
        } else {
            KeyAlgorithm::EcdsaP384
        }
    }

    fn issuer(&self) -> Result<Issuer<'_, &rcgen::KeyPair>, IssueError> {
        Ok(Issuer::from_params(&self.issuer_params, self.key.pair()))
    }

    /// notAfter for a certificate issued now: `now + period`, or by default the CA's
    /// notAfter minus 24 hours; never after the CA's notAfter.
    fn not_after(
        &self,
        period: Option<ValidityPeriod>,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, IssueError> {
        let ca_not_after = self.certificate.not_after;
        match period {
            Some(period) => {
                if period.as_nanos() <= 0 {
                    return Err(IssueError::Validity {
                        period,
                        reason: "it must be positive".into(),
                    });
                }
                let not_after =
                    now.checked_add(period.to_duration())
                        .ok_or_else(|| IssueError::Validity {
                            period,
                            reason: "the expiry date is out of range".into(),
                        })?;
                if not_after > ca_not_after {
                    return Err(IssueError::OutlivesCa {
                        period,
                        not_after: rfc3339(not_after),
                        ca_not_after: rfc3339(ca_not_after),
                        max_days: (ca_not_after - now).whole_days(),
                    });
                }
                Ok(not_after)
            }
            None => {
                let not_after = ca_not_after - LEAF_DEFAULT_MARGIN;
                if not_after <= now {
                    return Err(IssueError::CaExpiresTooSoon {
                        subject: self.certificate.display_subject().to_owned(),
                        ca_not_after: rfc3339(ca_not_after),
                    });
                }
                Ok(not_after)
            }
        }
    }

    fn not_before(&self, now: OffsetDateTime) -> OffsetDateTime {
        (now - BACKDATE).max(self.certificate.not_before)
    }
}

/// Parameters of a new self-signed CA (`gatehouse gen ca`).
#[derive(Clone, Debug)]
pub struct CaParams {
    pub organization: String,
    /// Defaults to "`<organization>` Root CA `<UTC issue time>` `<6 random hex digits>`", so two
    /// CAs made for a rollover never share a subject (Temporal requires distinct subjects; tcld
    /// issue #396), even when made in the same second.
    pub common_name: Option<String>,
    pub validity: ValidityPeriod,
    pub algorithm: KeyAlgorithm,
    pub now: OffsetDateTime,
}

impl CaParams {
    /// Generates a key and a self-signed CA certificate.
    pub fn self_signed(&self) -> Result<Issued, IssueError> {
        let validity = self.validity.to_duration();
        if validity <= CA_MIN_VALIDITY || validity > CA_MAX_VALIDITY {
            return Err(IssueError::Validity {
                period: self.validity,
                reason: "a CA must be valid for more than 7 days and at most 1 year (365d), as with tcld".into(),
            });
        }
        let organization = non_blank("--organization", &self.organization)?;
        let common_name = match &self.common_name {
            Some(cn) => non_blank("--common-name", cn)?.to_owned(),
            None => {
                let issued_at = self
                    .now
                    .to_offset(time::UtcOffset::UTC)
                    .format(&time::macros::format_description!(
                        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                    ))
                    .map_err(|e| IssueError::Generation(e.to_string()))?;
                // The random tag keeps two CAs made in the same second distinct too.
                let mut tag = [0u8; 3];
                aws_lc_rs::rand::fill(&mut tag)
                    .map_err(|_| IssueError::Generation("random number generator failed".into()))?;
                format!(
                    "{organization} Root CA {issued_at} {}",
                    crate::cert::hex(&tag)
                )
            }
        };
        let key = PrivateKey::generate(self.algorithm)?;
        let mut params = base_params(
            self.now - BACKDATE,
            self.now + validity,
            key.pair().public_key_raw(),
        )?;
        params.distinguished_name = dn(&[
            (DnType::OrganizationName, organization),
            (DnType::CommonName, &common_name),
        ])?;
        params.is_ca = IsCa::Ca(RcBasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(key.pair()).map_err(gen_err)?;
        Issued::new(cert, Some(key))
    }
}

/// Parameters of a client (end-entity) certificate (`gatehouse gen leaf`).
#[derive(Clone, Debug)]
pub struct LeafParams {
    pub organization: String,
    pub organizational_unit: Option<String>,
    pub common_name: Option<String>,
    /// `None`: until 24 hours before the CA expires.
    pub validity: Option<ValidityPeriod>,
    pub subject_alt_names: Vec<SubjectAltName>,
    pub now: OffsetDateTime,
}

impl LeafParams {
    /// Generates a key (same family as the CA's) and a client certificate signed by `ca`.
    pub fn signed_by(&self, ca: &CertificateAuthority) -> Result<Issued, IssueError> {
        let not_after = ca.not_after(self.validity, self.now)?;
        let mut names = vec![(
            DnType::OrganizationName,
            non_blank("--organization", &self.organization)?,
        )];
        // Optional attributes are left out when empty (tcld writes an empty OU=).
        if let Some(ou) = self
            .organizational_unit
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            names.push((DnType::OrganizationalUnitName, ou));
        }
        if let Some(cn) = self.common_name.as_deref().filter(|s| !s.trim().is_empty()) {
            names.push((DnType::CommonName, cn));
        }
        let key = PrivateKey::generate(ca.leaf_key_algorithm())?;
        let mut params = base_params(
            ca.not_before(self.now),
            not_after,
            key.pair().public_key_raw(),
        )?;
        params.distinguished_name = dn(&names)?;
        params.subject_alt_names = sans(&self.subject_alt_names)?;
        client_profile(&mut params);
        let cert = params
            .signed_by(key.pair(), &ca.issuer()?)
            .map_err(gen_err)?;
        Issued::new(cert, Some(key))
    }
}

/// Which extensions a signed CSR gets: the CA decides, never the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    /// Client certificate: EKU clientAuth.
    #[default]
    Client,
    /// Server certificate: EKU serverAuth.
    Server,
    /// Temporal internode: EKU serverAuth and clientAuth.
    Internode,
}

fn client_profile(params: &mut CertificateParams) {
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
}

fn apply_profile(params: &mut CertificateParams, profile: Profile, rsa: bool) {
    client_profile(params);
    if profile == Profile::Client {
        return;
    }
    if rsa {
        // RSA key exchange in TLS 1.2 needs keyEncipherment on a server certificate.
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = match profile {
        Profile::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        _ => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    };
}

/// Parameters of a server certificate (`gatehouse gen server`): a Temporal frontend, internode
/// or the Gatehouse gateway.
#[derive(Clone, Debug)]
pub struct ServerParams {
    pub common_name: Option<String>,
    pub organization: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// Adds clientAuth, for Temporal's internode TLS where each node is also a client.
    pub internode: bool,
    pub validity: Option<ValidityPeriod>,
    pub now: OffsetDateTime,
}

impl ServerParams {
    /// Generates a key and a server certificate signed by `ca`.
    pub fn signed_by(&self, ca: &CertificateAuthority) -> Result<Issued, IssueError> {
        if self.dns_names.is_empty() && self.ip_addresses.is_empty() {
            return Err(IssueError::InvalidInput(
                "a server certificate needs at least one --dns or --ip name (clients check the subjectAltName, not the CN)".into(),
            ));
        }
        let not_after = ca.not_after(self.validity, self.now)?;
        let cn = match &self.common_name {
            Some(cn) => cn.clone(),
            None => self
                .dns_names
                .first()
                .cloned()
                .or_else(|| self.ip_addresses.first().map(IpAddr::to_string))
                .unwrap_or_default(),
        };
        let mut names = Vec::new();
        if let Some(o) = self
            .organization
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            names.push((DnType::OrganizationName, o));
        }
        names.push((DnType::CommonName, cn.as_str()));
        let mut alt: Vec<SubjectAltName> = self
            .dns_names
            .iter()
            .cloned()
            .map(SubjectAltName::Dns)
            .collect();
        alt.extend(self.ip_addresses.iter().copied().map(SubjectAltName::Ip));
        let algorithm = ca.leaf_key_algorithm();
        let key = PrivateKey::generate(algorithm)?;
        let mut params = base_params(
            ca.not_before(self.now),
            not_after,
            key.pair().public_key_raw(),
        )?;
        params.distinguished_name = dn(&names)?;
        params.subject_alt_names = sans(&alt)?;
        let profile = if self.internode {
            Profile::Internode
        } else {
            Profile::Server
        };
        apply_profile(&mut params, profile, algorithm == KeyAlgorithm::Rsa4096);
        let cert = params
            .signed_by(key.pair(), &ca.issuer()?)
            .map_err(gen_err)?;
        Issued::new(cert, Some(key))
    }
}

/// Parameters of a certificate signing request (`gatehouse gen csr`), for keys that must be
/// made where they are used (certstrap's `request-cert`).
#[derive(Clone, Debug)]
pub struct CsrParams {
    pub common_name: String,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub subject_alt_names: Vec<SubjectAltName>,
    pub algorithm: KeyAlgorithm,
}

/// A new CSR and the key it was made with.
#[derive(Debug)]
pub struct NewCsr {
    pub pem: String,
    pub key: PrivateKey,
}

impl CsrParams {
    /// Generates a key and a CSR signed with it.
    pub fn generate(&self) -> Result<NewCsr, IssueError> {
        let mut names = Vec::new();
        if let Some(o) = self
            .organization
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            names.push((DnType::OrganizationName, o));
        }
        if let Some(ou) = self
            .organizational_unit
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            names.push((DnType::OrganizationalUnitName, ou));
        }
        names.push((
            DnType::CommonName,
            non_blank("--common-name", &self.common_name)?,
        ));
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&names)?;
        params.subject_alt_names = sans(&self.subject_alt_names)?;
        let key = PrivateKey::generate(self.algorithm)?;
        let csr = params.serialize_request(key.pair()).map_err(gen_err)?;
        let pem = csr.pem().map_err(gen_err)?;
        Ok(NewCsr { pem, key })
    }
}

/// What a CSR asks for, once its signature has been checked.
#[derive(Debug, Clone)]
pub struct CsrRequest {
    pub subject: String,
    pub subject_alt_names: Vec<SubjectAltName>,
    /// True when the request asked for CA:TRUE — which is ignored.
    pub asked_for_ca: bool,
    distinguished_name: DistinguishedName,
    public_key: rcgen::SubjectPublicKeyInfo,
    rsa: bool,
}

impl CsrRequest {
    /// Parses a PEM CSR and verifies its self-signature.
    pub fn from_pem(pem: &[u8]) -> Result<Self, IssueError> {
        use rustls_pki_types::pem::PemObject;
        use x509_parser::extensions::ParsedExtension;
        let der = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(pem)
            .map_err(|e| IssueError::Csr(format!("no PEM CERTIFICATE REQUEST found: {e}")))?;
        let (_, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der)
                .map_err(|e| IssueError::Csr(format!("not a valid PKCS#10 request: {e}")))?;
        parsed.verify_signature().map_err(|_| {
            IssueError::Csr("the request's signature does not verify with its own public key; it was altered or is corrupt".into())
        })?;
        let info = &parsed.certification_request_info;
        let mut asked_for_ca = false;
        let mut subject_alt_names = Vec::new();
        for ext in parsed.requested_extensions().into_iter().flatten() {
            match ext {
                ParsedExtension::BasicConstraints(bc) => asked_for_ca |= bc.ca,
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        subject_alt_names.push(
                            SubjectAltName::from_general_name(name).ok_or_else(|| {
                                IssueError::Csr(format!(
                                    "unsupported or malformed subjectAltName in request: {name:?}"
                                ))
                            })?,
                        );
                    }
                }
                // Requested key usages, EKUs and the rest are the CA's decision, not the
                // requester's: ignored.
                _ => {}
            }
        }
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(info.subject_pki.raw)
            .map_err(|e| IssueError::Csr(format!("unsupported public key type: {e}")))?;
        let rsa = info.subject_pki.algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.1";
        Ok(Self {
            subject: info.subject.to_string(),
            subject_alt_names,
            asked_for_ca,
            distinguished_name: dn_from_x509(&info.subject)
                .map_err(|e| IssueError::Csr(format!("subject: {e}")))?,
            public_key,
            rsa,
        })
    }

    /// Signs the request. The CA decides every extension from `profile`: CA:FALSE, KeyUsage,
    /// EKU, SKI/AKI. Subject and SANs come from the request.
    pub fn sign(
        &self,
        ca: &CertificateAuthority,
        profile: Profile,
        validity: Option<ValidityPeriod>,
        now: OffsetDateTime,
    ) -> Result<Issued, IssueError> {
        let not_after = ca.not_after(validity, now)?;
        let mut params = base_params(
            ca.not_before(now),
            not_after,
            rcgen::PublicKeyData::der_bytes(&self.public_key),
        )?;
        params.distinguished_name = self.distinguished_name.clone();
        params.subject_alt_names = sans(&self.subject_alt_names)?;
        apply_profile(&mut params, profile, self.rsa);
        let cert = params
            .signed_by(&self.public_key, &ca.issuer()?)
            .map_err(gen_err)?;
        Issued::new(cert, None)
    }
}

/// Copies a parsed name into rcgen's form, keeping each attribute's string type so the name
/// written is byte-for-byte the one read. Refuses (never panics on) multi-valued RDNs, OIDs
/// DER cannot encode and values that do not fit their string type.
fn dn_from_x509(name: &x509_parser::x509::X509Name<'_>) -> Result<DistinguishedName, String> {
    use x509_parser::der_parser::asn1_rs::Tag;
    let mut dn = DistinguishedName::new();
    for rdn in name.iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return Err("multi-valued or empty RDNs are not supported".into());
        };
        let oid: Vec<u64> = attr
            .attr_type()
            .iter()
            .ok_or("an attribute OID is out of range")?
            .collect();
        // X.690 8.19: the first two arcs are 0..2 and, below 2, 0..39.
        if oid.len() < 2 || oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) || oid[1] > u64::MAX - 80 {
            return Err(format!("attribute OID {oid:?} cannot be encoded"));
        }
        let data = attr.attr_value().data;
        let text =
            || std::str::from_utf8(data).map_err(|_| "an attribute is not valid text".to_owned());
        let bad = |_| "an attribute does not fit its string type".to_owned();
        let value = match attr.attr_value().header.tag() {
            Tag::PrintableString => {
                rcgen::DnValue::PrintableString(text()?.try_into().map_err(bad)?)
            }
            Tag::Ia5String => rcgen::DnValue::Ia5String(text()?.try_into().map_err(bad)?),
            Tag::Utf8String => rcgen::DnValue::Utf8String(text()?.to_owned()),
            Tag::T61String => rcgen::DnValue::TeletexString(text()?.try_into().map_err(bad)?),
            Tag::BmpString => rcgen::DnValue::BmpString(
                rcgen::string::BmpString::from_utf16be(data.to_vec()).map_err(bad)?,
            ),
            Tag::UniversalString => rcgen::DnValue::UniversalString(
                rcgen::string::UniversalString::from_utf32be(data.to_vec()).map_err(bad)?,
            ),
            other => return Err(format!("attribute string type {other} is not supported")),
        };
        dn.push(DnType::from_oid(&oid), value);
    }
    Ok(dn)
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
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| IssueError::Generation("random number generator failed".into()))?;
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
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

    fn ca(alg: KeyAlgorithm, period: &str) -> (Issued, CertificateAuthority) {
        let issued = CaParams {
            organization: "temporal".into(),
            common_name: None,
            validity: ValidityPeriod::parse(period).unwrap(),
            algorithm: alg,
            now: NOW,
        }
        .self_signed()
        .unwrap();
        let key =
            PrivateKey::from_pem(issued.key.as_ref().unwrap().to_pkcs8_pem().as_bytes()).unwrap();
        let authority = CertificateAuthority::new(issued.certificate.clone(), key, NOW).unwrap();
        (issued, authority)
    }

    fn leaf(period: Option<&str>) -> LeafParams {
        LeafParams {
            organization: "temporal".into(),
            organizational_unit: None,
            common_name: Some("worker".into()),
            validity: period.map(|p| ValidityPeriod::parse(p).unwrap()),
            subject_alt_names: vec![SubjectAltName::Dns("worker.example.com".into())],
            now: NOW,
        }
    }

    #[test]
    fn ca_profile() {
        let (issued, _) = ca(KeyAlgorithm::EcdsaP384, "1y");
        let c = &issued.certificate;
        assert_eq!(c.version, 3);
        let bc = c.basic_constraints.unwrap();
        assert!(bc.ca && bc.critical);
        let ku = c.key_usage.unwrap();
        assert!(ku.critical && ku.key_cert_sign && ku.crl_sign && ku.digital_signature);
        let raw = issued
            .key
            .as_ref()
            .unwrap()
            .pair()
            .public_key_raw()
            .to_vec();
        assert_eq!(c.subject_key_id.as_deref(), Some(&key_identifier(&raw)[..]));
        assert_eq!(c.authority_key_id, c.subject_key_id);
        assert_eq!(c.not_before, NOW - Duration::minutes(1));
        assert_eq!(c.not_after, NOW + Duration::days(365));
        assert_eq!(c.signature_algorithm_oid, "1.2.840.10045.4.3.3"); // ecdsa-with-SHA384
        assert_eq!(c.organizations, ["temporal"]);
        let cn = &c.common_names[0];
        assert!(
            cn.starts_with("temporal Root CA 2026-11-22T12:00:00Z "),
            "{cn}"
        );
        assert_eq!(cn.len(), "temporal Root CA 2026-11-22T12:00:00Z ".len() + 6);
        let (again, _) = ca(KeyAlgorithm::EcdsaP384, "1y");
        assert_ne!(
            again.certificate.subject, c.subject,
            "same second, distinct subjects"
        );
        // 16-octet positive serial.
        assert_eq!(c.serial_hex.len(), 32);
        assert!(u8::from_str_radix(&c.serial_hex[..2], 16).unwrap() < 0x80);
        assert!(issued.pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn rsa_ca_and_its_leaves_are_rsa_4096_sha256() {
        let (issued, authority) = ca(KeyAlgorithm::Rsa4096, "30d");
        assert_eq!(
            issued.certificate.signature_algorithm_oid,
            "1.2.840.113549.1.1.11"
        );
        assert_eq!(authority.leaf_key_algorithm(), KeyAlgorithm::Rsa4096);
        let l = leaf(Some("7d")).signed_by(&authority).unwrap();
        assert!(l.key.unwrap().is_rsa());
        assert_eq!(
            l.certificate.signature_algorithm_oid,
            "1.2.840.113549.1.1.11"
        );
    }

    #[test]
    fn ca_validity_bounds_are_tclds() {
        for (period, ok) in [
            ("7d", false),
            ("7d1s", true),
            ("1y", true),
            ("365d", true),
            ("365d1s", false),
            ("2y", false),
            ("-30d", false),
        ] {
            let r = CaParams {
                organization: "o".into(),
                common_name: Some("c".into()),
                validity: ValidityPeriod::parse(period).unwrap(),
                algorithm: KeyAlgorithm::EcdsaP384,
                now: NOW,
            }
            .self_signed();
            assert_eq!(r.is_ok(), ok, "{period}: {r:?}");
        }
    }

    #[test]
    fn leaf_profile_and_defaults() {
        let (ca_issued, authority) = ca(KeyAlgorithm::EcdsaP384, "1y");
        let l = leaf(None).signed_by(&authority).unwrap();
        let c = &l.certificate;
        assert_eq!(
            c.not_after,
            ca_issued.certificate.not_after - Duration::hours(24)
        );
        assert!(!c.is_ca() && c.basic_constraints.unwrap().critical);
        let ku = c.key_usage.unwrap();
        assert!(ku.critical && ku.digital_signature && !ku.key_cert_sign);
        assert!(c.extended_key_usage.unwrap().client_auth);
        assert_eq!(c.authority_key_id, ca_issued.certificate.subject_key_id);
        assert!(c.subject_key_id.is_some());
        assert_eq!(c.issuer_key(), ca_issued.certificate.subject_key());
        assert!(c.organizational_units.is_empty(), "no empty OU=");
        assert_eq!(
            c.subject_alt_names,
            [SubjectAltName::Dns("worker.example.com".into())]
        );
    }

    #[test]
    fn leaf_that_outlives_its_ca_is_refused_with_both_dates() {
        let (_, authority) = ca(KeyAlgorithm::EcdsaP384, "30d");
        let err = leaf(Some("31d")).signed_by(&authority).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, IssueError::OutlivesCa { .. }));
        assert!(
            msg.contains("2026-12-23T12:00:00Z") && msg.contains("2026-12-22T12:00:00Z"),
            "{msg}"
        );
        assert!(leaf(Some("30d")).signed_by(&authority).is_ok());
        assert!(matches!(
            leaf(Some("0s")).signed_by(&authority),
            Err(IssueError::Validity { .. })
        ));
    }

    #[test]
    fn issuer_checks() {
        let (ca_issued, authority) = ca(KeyAlgorithm::EcdsaP384, "30d");
        let leaf_issued = leaf(None).signed_by(&authority).unwrap();
        let other_key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
        assert!(matches!(
            CertificateAuthority::new(ca_issued.certificate.clone(), other_key, NOW),
            Err(IssueError::KeyMismatch { .. })
        ));
        assert!(matches!(
            CertificateAuthority::new(
                leaf_issued.certificate.clone(),
                leaf_issued.key.unwrap(),
                NOW
            ),
            Err(IssueError::NotACa { .. })
        ));
        let key = || {
            PrivateKey::from_pem(ca_issued.key.as_ref().unwrap().to_pkcs8_pem().as_bytes()).unwrap()
        };
        let err = CertificateAuthority::new(
            ca_issued.certificate.clone(),
            key(),
            NOW + Duration::days(31),
        )
        .unwrap_err();
        assert!(matches!(err, IssueError::CaExpired { .. }), "{err}");
        assert!(err
            .to_string()
            .contains(&ca_issued.certificate.fingerprint.to_string()));
        assert!(matches!(
            CertificateAuthority::new(
                ca_issued.certificate.clone(),
                key(),
                NOW - Duration::days(1)
            ),
            Err(IssueError::CaNotYetValid { .. })
        ));
    }

    #[test]
    fn server_certificates() {
        let (_, authority) = ca(KeyAlgorithm::EcdsaP384, "30d");
        let params = ServerParams {
            common_name: None,
            organization: None,
            dns_names: vec!["temporal.example.com".into(), "localhost".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            internode: true,
            validity: Some(ValidityPeriod::parse("10d").unwrap()),
            now: NOW,
        };
        let s = params.signed_by(&authority).unwrap();
        let eku = s.certificate.extended_key_usage.unwrap();
        assert!(eku.server_auth && eku.client_auth);
        assert_eq!(s.certificate.common_names, ["temporal.example.com"]);
        assert_eq!(s.certificate.subject_alt_names.len(), 3);
        let none = ServerParams {
            dns_names: vec![],
            ip_addresses: vec![],
            ..params
        };
        assert!(matches!(
            none.signed_by(&authority),
            Err(IssueError::InvalidInput(_))
        ));
    }

    #[test]
    fn csr_round_trip_the_ca_decides_extensions() {
        let (ca_issued, authority) = ca(KeyAlgorithm::EcdsaP384, "30d");
        let csr = CsrParams {
            common_name: "temporal-booking.sdvdw".into(),
            organization: Some("Booking".into()),
            organizational_unit: None,
            subject_alt_names: vec![SubjectAltName::Uri("spiffe://booking/worker".into())],
            algorithm: KeyAlgorithm::EcdsaP384,
        }
        .generate()
        .unwrap();
        let req = CsrRequest::from_pem(csr.pem.as_bytes()).unwrap();
        assert!(!req.asked_for_ca);
        let signed = req.sign(&authority, Profile::Client, None, NOW).unwrap();
        let c = &signed.certificate;
        assert_eq!(c.common_names, ["temporal-booking.sdvdw"]);
        assert_eq!(c.spki_der, csr.key.public_key_spki());
        assert!(!c.is_ca());
        assert!(c.extended_key_usage.unwrap().client_auth);
        assert_eq!(c.authority_key_id, ca_issued.certificate.subject_key_id);
        assert!(signed.key.is_none());

        // A CSR asking for CA:TRUE still gets CA:FALSE.
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(&[(DnType::CommonName, "sneaky")]).unwrap();
        p.is_ca = IsCa::Ca(RcBasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let pem = p.serialize_request(key.pair()).unwrap().pem().unwrap();
        let req = CsrRequest::from_pem(pem.as_bytes()).unwrap();
        assert!(req.asked_for_ca);
        let signed = req.sign(&authority, Profile::Client, None, NOW).unwrap();
        assert!(!signed.certificate.is_ca());
        assert!(!signed.certificate.key_usage.unwrap().key_cert_sign);
    }

    #[test]
    fn tampered_csr_is_refused() {
        let csr = CsrParams {
            common_name: "worker".into(),
            organization: None,
            organizational_unit: None,
            subject_alt_names: vec![],
            algorithm: KeyAlgorithm::EcdsaP384,
        }
        .generate()
        .unwrap();
        use rustls_pki_types::pem::PemObject;
        let der =
            rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(csr.pem.as_bytes())
                .unwrap();
        let mut bytes = der.as_ref().to_vec();
        // Flip a byte inside the CN "worker".
        let pos = bytes.windows(6).position(|w| w == b"worker").unwrap();
        bytes[pos] = b'W';
        let b64 = base64_encode(&bytes);
        let pem = format!(
            "-----BEGIN CERTIFICATE REQUEST-----\n{b64}\n-----END CERTIFICATE REQUEST-----\n"
        );
        let err = CsrRequest::from_pem(pem.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("signature does not verify"),
            "{err}"
        );
        assert!(CsrRequest::from_pem(b"garbage").is_err());
    }

    /// Mutated CA certificates through loading and issuance: errors, never panics (rcgen
    /// re-encodes the CA subject, and has a panic path for an empty RDN that we must not hit).
    #[test]
    fn mutated_ca_certificates_never_panic() {
        let (issued, _) = ca(KeyAlgorithm::EcdsaP384, "30d");
        let key_pem = issued.key.as_ref().unwrap().to_pkcs8_pem();
        let seed = issued.certificate.der.to_vec();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut loaded = 0;
        for _ in 0..1500 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut der = seed.clone();
            let pos = (state as usize) % der.len();
            if state.is_multiple_of(3) {
                der.truncate(pos);
            } else {
                der[pos] ^= 1 << ((state >> 8) % 8);
            }
            let Ok(info) = CertificateInfo::from_der(&der) else {
                continue;
            };
            let key = PrivateKey::from_pem(key_pem.as_bytes()).unwrap();
            let Ok(authority) = CertificateAuthority::new(info, key, NOW) else {
                continue;
            };
            loaded += 1;
            let _ = leaf(None).signed_by(&authority);
        }
        assert!(loaded > 10, "{loaded}");
    }

    #[test]
    fn random_text_inputs_never_panic() {
        let mut state: u64 = 7;
        let alphabet =
            b"0123456789.+-smhdyMSHDY \n-----BEGIN CERTIFICATE REQUEST-----PRIVATE KEY=/+";
        for len in 0..2000 {
            let mut s = Vec::new();
            for _ in 0..(len % 64) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(alphabet[(state >> 33) as usize % alphabet.len()]);
            }
            let text = String::from_utf8_lossy(&s);
            let _ = ValidityPeriod::parse(&text);
            let _ = PrivateKey::from_pem(&s);
            let _ = CsrRequest::from_pem(&s);
            let _ = crate::pem::parse_certificates(&s, "fuzz");
        }
    }

    fn base64_encode(bytes: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
