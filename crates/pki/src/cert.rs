//! Facts about a certificate, parsed once from DER. No judgement here: what is *valid* is
//! decided by `gatehouse-policy`.

use std::fmt;
use std::net::IpAddr;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use crate::fingerprint::Fingerprint;
use crate::random::hex;

/// Why bytes are not a usable certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The DER could not be parsed as an X.509 certificate (truncated, garbage, bad extension…).
    #[error("not a valid X.509 certificate: {reason}")]
    Malformed { reason: String },
    /// Bytes followed the certificate's DER.
    #[error("not a valid X.509 certificate: {trailing} trailing bytes after the DER")]
    TrailingData { trailing: usize },
}

/// BasicConstraints, when present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u32>,
    pub critical: bool,
}

/// The KeyUsage bits Gatehouse cares about, when the extension is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyUsage {
    pub digital_signature: bool,
    pub key_encipherment: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
    pub critical: bool,
}

/// ExtendedKeyUsage, when present.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ExtendedKeyUsage {
    pub client_auth: bool,
    pub server_auth: bool,
    pub any: bool,
}

/// One subjectAltName entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SubjectAltName {
    Dns(String),
    Uri(String),
    Email(String),
    Ip(IpAddr),
}

impl SubjectAltName {
    /// The kinds Gatehouse knows (DNS, URI, email, IP); `None` for other name forms.
    pub(crate) fn from_general_name(name: &GeneralName<'_>) -> Option<Self> {
        Some(match name {
            GeneralName::DNSName(s) => Self::Dns((*s).to_owned()),
            GeneralName::URI(s) => Self::Uri((*s).to_owned()),
            GeneralName::RFC822Name(s) => Self::Email((*s).to_owned()),
            GeneralName::IPAddress(bytes) => Self::Ip(ip_from_bytes(bytes)?),
            _ => return None,
        })
    }

    /// Why this name is not well-formed (RFC 5280 4.2.1.6 syntax, loosely), if it is not.
    pub fn syntax_problem(&self) -> Option<&'static str> {
        let bad_char = |s: &str| s.chars().any(|c| c.is_whitespace() || c.is_control());
        match self {
            Self::Dns(s) => {
                if s.is_empty() || bad_char(s) {
                    Some("a DNS name is non-empty and has no spaces")
                } else if s
                    .split('.')
                    .any(|label| label.is_empty() || label.len() > 63)
                {
                    Some("a DNS name has no empty labels and labels of at most 63 characters")
                } else {
                    None
                }
            }
            Self::Uri(s) => {
                let scheme = s.split(':').next().unwrap_or_default();
                let valid_scheme = scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                if !s.contains(':') || !valid_scheme || s.len() == scheme.len() + 1 || bad_char(s) {
                    Some("a URI is scheme:rest with no spaces, e.g. spiffe://acme/worker")
                } else {
                    None
                }
            }
            Self::Email(s) => match s.split_once('@') {
                Some((local, domain))
                    if !local.is_empty()
                        && !domain.is_empty()
                        && !domain.contains('@')
                        && !bad_char(s) =>
                {
                    None
                }
                _ => Some("an email address is local@domain"),
            },
            Self::Ip(_) => None,
        }
    }

    /// The value as text (the form certificate filters match on).
    pub fn value(&self) -> String {
        match self {
            Self::Dns(s) | Self::Uri(s) | Self::Email(s) => s.clone(),
            Self::Ip(ip) => ip.to_string(),
        }
    }
}

impl fmt::Display for SubjectAltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(s) => write!(f, "DNS:{s}"),
            Self::Uri(s) => write!(f, "URI:{s}"),
            Self::Email(s) => write!(f, "email:{s}"),
            Self::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// A parsed certificate: the DER plus every fact the rules need.
#[derive(Clone, Debug)]
pub struct CertificateInfo {
    pub der: CertificateDer<'static>,
    pub fingerprint: Fingerprint,
    /// X.509 version as people say it: 1, 2 or 3.
    pub version: u32,
    /// RFC 4514-style text of the subject.
    pub subject: String,
    pub issuer: String,
    /// Subject and issuer as `(attribute OID, value)` pairs, for case-insensitive comparison.
    pub subject_attrs: Vec<(String, String)>,
    pub issuer_attrs: Vec<(String, String)>,
    pub common_names: Vec<String>,
    pub organizations: Vec<String>,
    pub organizational_units: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub serial_hex: String,
    pub basic_constraints: Option<BasicConstraints>,
    pub key_usage: Option<KeyUsage>,
    pub extended_key_usage: Option<ExtendedKeyUsage>,
    pub subject_alt_names: Vec<SubjectAltName>,
    pub subject_key_id: Option<Vec<u8>>,
    pub authority_key_id: Option<Vec<u8>>,
    /// Dotted OID of the signature algorithm.
    pub signature_algorithm_oid: String,
    /// For RSASSA-PSS, the dotted OID of the hash in its parameters.
    pub pss_hash_oid: Option<String>,
    /// DER of the SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// Dotted OID of the public key algorithm (rsaEncryption, id-ecPublicKey, …).
    pub public_key_algorithm_oid: String,
}

impl CertificateInfo {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| CertificateError::Malformed {
                reason: e.to_string(),
            })?;
        if !rest.is_empty() {
            return Err(CertificateError::TrailingData {
                trailing: rest.len(),
            });
        }
        let mut info = Self {
            der: CertificateDer::from(der.to_vec()),
            fingerprint: Fingerprint::of(der),
            version: cert.version().0 + 1,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            subject_attrs: name_attrs(cert.subject()),
            issuer_attrs: name_attrs(cert.issuer()),
            common_names: strings(cert.subject().iter_common_name()),
            organizations: strings(cert.subject().iter_organization()),
            organizational_units: strings(cert.subject().iter_organizational_unit()),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            serial_hex: hex(cert.raw_serial()),
            basic_constraints: None,
            key_usage: None,
            extended_key_usage: None,
            subject_alt_names: Vec::new(),
            subject_key_id: None,
            authority_key_id: None,
            signature_algorithm_oid: cert.signature_algorithm.algorithm.to_id_string(),
            pss_hash_oid: None,
            spki_der: cert.public_key().raw.to_vec(),
            public_key_algorithm_oid: cert.public_key().algorithm.algorithm.to_id_string(),
        };
        if let Ok(x509_parser::signature_algorithm::SignatureAlgorithm::RSASSA_PSS(params)) =
            x509_parser::signature_algorithm::SignatureAlgorithm::try_from(
                &cert.signature_algorithm,
            )
        {
            info.pss_hash_oid = Some(params.hash_algorithm_oid().to_id_string());
        }
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::BasicConstraints(bc) => {
                    info.basic_constraints = Some(BasicConstraints {
                        ca: bc.ca,
                        path_len: bc.path_len_constraint,
                        critical: ext.critical,
                    });
                }
                ParsedExtension::KeyUsage(ku) => {
                    info.key_usage = Some(KeyUsage {
                        digital_signature: ku.digital_signature(),
                        key_encipherment: ku.key_encipherment(),
                        key_cert_sign: ku.key_cert_sign(),
                        crl_sign: ku.crl_sign(),
                        critical: ext.critical,
                    });
                }
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    info.extended_key_usage = Some(ExtendedKeyUsage {
                        client_auth: eku.client_auth,
                        server_auth: eku.server_auth,
                        any: eku.any,
                    });
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    info.subject_alt_names.extend(
                        san.general_names
                            .iter()
                            .filter_map(SubjectAltName::from_general_name),
                    );
                }
                ParsedExtension::SubjectKeyIdentifier(id) => {
                    info.subject_key_id = Some(id.0.to_vec());
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    info.authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                ParsedExtension::ParseError { error } => {
                    return Err(CertificateError::Malformed {
                        reason: format!("extension {}: {error}", ext.oid.to_id_string()),
                    });
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// True when BasicConstraints says CA:TRUE.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|bc| bc.ca)
    }

    /// The subject's distinguished name in a form where case does not matter
    /// ("Distinguished Names are not case sensitive", Temporal Cloud certificate rules).
    pub fn subject_key(&self) -> String {
        dn_key(&self.subject_attrs)
    }

    /// The issuer's distinguished name, compared the same way as [`Self::subject_key`].
    pub fn issuer_key(&self) -> String {
        dn_key(&self.issuer_attrs)
    }

    /// Subject equals issuer (ignoring case): a root or another self-issued certificate.
    pub fn is_self_issued(&self) -> bool {
        self.subject_key() == self.issuer_key()
    }

    /// "CN=…, O=…" or, for an empty subject, a placeholder that still reads well in messages.
    pub fn display_subject(&self) -> &str {
        if self.subject.is_empty() {
            "(empty subject)"
        } else {
            &self.subject
        }
    }
}

/// The case-folded comparison key of a name given as `(OID, value)` pairs.
pub fn dn_key(attrs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (oid, value) in attrs {
        out.push_str(oid);
        out.push('=');
        // Case-insensitive and insensitive to runs of inner whitespace, like RFC 4518 matching.
        let folded = value.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&folded.to_lowercase());
        out.push('\u{1}');
    }
    out
}

fn name_attrs(name: &X509Name<'_>) -> Vec<(String, String)> {
    name.iter_attributes()
        .map(|a| {
            let value = a
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| hex(a.as_slice()));
            (a.attr_type().to_id_string(), value)
        })
        .collect()
}

fn strings<'a, 'b: 'a>(
    it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'b>>,
) -> Vec<String> {
    it.filter_map(|a| a.as_str().ok().map(str::to_owned))
        .collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

impl CertificateInfo {
    /// True when `issuer`'s public key verifies this certificate's signature.
    pub fn is_signed_by(&self, issuer: &CertificateInfo) -> bool {
        let (Ok((_, this)), Ok((_, by))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        this.verify_signature(Some(by.public_key())).is_ok()
    }
}
