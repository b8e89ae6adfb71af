//! Certificate signing requests: making one, and signing one.

use super::profiles::apply_profile;
use super::*;

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
        let mut names = present(vec![
            (DnType::OrganizationName, self.organization.as_deref()),
            (
                DnType::OrganizationalUnitName,
                self.organizational_unit.as_deref(),
            ),
        ]);
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
    /// The requested subject, exactly as encoded; it becomes the certificate's subject.
    subject_der: Vec<u8>,
    subject_key: String,
    public_key: rcgen::SubjectPublicKeyInfo,
    rsa: bool,
}

impl CsrRequest {
    /// Parses a PEM CSR and verifies its self-signature.
    pub fn from_pem(pem: &[u8]) -> Result<Self, IssueError> {
        use rustls_pki_types::pem::PemObject;
        use x509_parser::extensions::ParsedExtension;
        use x509_parser::public_key::PublicKey;
        let der = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(pem)
            .map_err(|e| IssueError::Csr(format!("no PEM CERTIFICATE REQUEST found: {e}")))?;
        let (_, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der)
                .map_err(|e| IssueError::Csr(format!("not a valid PKCS#10 request: {e}")))?;
        let info = &parsed.certification_request_info;
        if let Ok(PublicKey::RSA(rsa)) = info.subject_pki.parsed() {
            if rsa.key_size() < 2048 {
                return Err(IssueError::Csr(format!(
                    "the request's RSA key is {} bits; at least 2048 are required",
                    rsa.key_size()
                )));
            }
        }
        parsed.verify_signature().map_err(|_| {
            IssueError::Csr("the request's signature does not verify with its own public key; it was altered or is corrupt".into())
        })?;
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
        let attrs: Vec<(String, String)> = info
            .subject
            .iter_attributes()
            .map(|a| {
                (
                    a.attr_type().to_id_string(),
                    a.as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        Ok(Self {
            subject: info.subject.to_string(),
            subject_alt_names,
            asked_for_ca,
            subject_der: info.subject.as_raw().to_vec(),
            subject_key: crate::cert::dn_key(&attrs),
            public_key,
            rsa,
        })
    }

    /// A renewal: the same public key, subject (byte for byte) and SANs as `cert`, for a new
    /// certificate (step-ca's `renew`). The private key is not needed and never read.
    pub fn renewal_of(cert: &CertificateInfo) -> Result<Self, IssueError> {
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(&cert.der)
            .map_err(|e| IssueError::InvalidInput(format!("the certificate to renew: {e}")))?;
        if cert.is_ca() {
            return Err(IssueError::InvalidInput(format!(
                "{} is a CA certificate; renew client and server certificates only",
                cert.display_subject()
            )));
        }
        let public_key = rcgen::SubjectPublicKeyInfo::from_der(&cert.spki_der)
            .map_err(|e| IssueError::InvalidInput(format!("unsupported public key type: {e}")))?;
        Ok(Self {
            subject: cert.subject.clone(),
            subject_alt_names: cert.subject_alt_names.clone(),
            asked_for_ca: false,
            subject_der: parsed.subject().as_raw().to_vec(),
            subject_key: cert.subject_key(),
            public_key,
            rsa: parsed.public_key().algorithm.algorithm.to_id_string() == "1.2.840.113549.1.1.1",
        })
    }

    /// Signs the request. The CA decides every extension from `profile`: CA:FALSE, KeyUsage,
    /// EKU, SKI/AKI. Subject (byte for byte) and SANs come from the request.
    pub fn sign(
        &self,
        ca: &CertificateAuthority,
        profile: Profile,
        validity: Option<ValidityPeriod>,
        now: OffsetDateTime,
    ) -> Result<Issued, IssueError> {
        ca.check_distinct(&self.subject_key, &self.subject)?;
        let not_after = ca.not_after(validity, now)?;
        let mut params = base_params(
            ca.not_before(now),
            not_after,
            rcgen::PublicKeyData::der_bytes(&self.public_key),
        )?;
        // The subject is replaced with the request's exact bytes after building; an empty one
        // stays empty so rcgen marks the subjectAltName critical, as RFC 5280 requires.
        if self.subject_der != [0x30, 0x00] {
            params.distinguished_name = placeholder_name();
        }
        params.subject_alt_names = sans(&self.subject_alt_names)?;
        apply_profile(&mut params, profile, self.rsa);
        Issued::from_der(
            &ca.sign(&params, &self.public_key, Some(&self.subject_der))?,
            None,
        )
    }
}
