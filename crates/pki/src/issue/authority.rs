//! A CA certificate and key, ready to sign.

use super::*;

/// A key held outside the process (a PKCS#11 token, say) that signs for a CA.
pub trait ExternalSigner: Send + Sync + std::fmt::Debug {
    /// Signs `message` with the CA's key and the algorithm X.509 names for it (SHA-384 with
    /// ECDSA P-384, SHA-256 with ECDSA P-256 or RSA PKCS#1 v1.5); ECDSA signatures are DER.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String>;
}

/// The CA's private key: in memory, or external.
#[derive(Debug)]
enum CaKey {
    Local(PrivateKey),
    External(ExternalKey),
}

/// An external key with its public half (from the CA certificate), as rcgen needs it.
#[derive(Debug)]
struct ExternalKey {
    public: rcgen::SubjectPublicKeyInfo,
    signer: Box<dyn ExternalSigner>,
}

impl rcgen::PublicKeyData for ExternalKey {
    fn der_bytes(&self) -> &[u8] {
        rcgen::PublicKeyData::der_bytes(&self.public)
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        rcgen::PublicKeyData::algorithm(&self.public)
    }
}

impl rcgen::SigningKey for ExternalKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.signer.sign(msg).map_err(|e| {
            remember_external_error(&e);
            rcgen::Error::RemoteKeyError
        })
    }
}

/// rcgen's error carries no text; the reason is kept for the caller's message.
fn remember_external_error(reason: &str) {
    LAST_EXTERNAL_ERROR.with(|l| *l.borrow_mut() = Some(reason.to_owned()));
}

thread_local! {
    static LAST_EXTERNAL_ERROR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

fn external_error() -> IssueError {
    let reason = LAST_EXTERNAL_ERROR
        .with(|l| l.borrow_mut().take())
        .unwrap_or_else(|| "the external key did not sign".into());
    IssueError::Generation(format!("the CA's external key failed to sign: {reason}"))
}

/// The key as rcgen's signing key.
#[derive(Debug)]
enum Signing<'a> {
    Local(&'a rcgen::KeyPair),
    External(&'a ExternalKey),
}

impl rcgen::PublicKeyData for Signing<'_> {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Self::Local(k) => rcgen::PublicKeyData::der_bytes(*k),
            Self::External(k) => rcgen::PublicKeyData::der_bytes(*k),
        }
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Self::Local(k) => rcgen::PublicKeyData::algorithm(*k),
            Self::External(k) => rcgen::PublicKeyData::algorithm(*k),
        }
    }
}

impl rcgen::SigningKey for Signing<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        match self {
            Self::Local(k) => rcgen::SigningKey::sign(*k, msg),
            Self::External(k) => rcgen::SigningKey::sign(*k, msg),
        }
    }
}

/// A CA certificate with its private key, checked to belong together and usable at `now`.
#[derive(Debug)]
pub struct CertificateAuthority {
    certificate: CertificateInfo,
    key: CaKey,
    /// The CA's subject, exactly as encoded in its certificate: the issuer name of everything
    /// it signs (see `der::replace_names`).
    subject_der: Vec<u8>,
    /// Issuer parameters for rcgen: the key id for AKI (the name is replaced afterwards).
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
        if key.public_key_spki() != certificate.spki_der {
            return Err(IssueError::KeyMismatch {
                subject: certificate.display_subject().to_owned(),
                fingerprint: certificate.fingerprint.to_string(),
            });
        }
        // Temporal requires RSA or ECDSA signatures; refuse a CA key that would make others.
        if !(key.is_rsa() || key.describe().starts_with("ECDSA")) {
            return Err(IssueError::InvalidInput(format!(
                "the CA key is {}; Temporal requires RSA or ECDSA signatures (cert.signature-algorithm)",
                key.describe()
            )));
        }
        Self::build(certificate, CaKey::Local(key), now)
    }

    /// Pairs a CA certificate with a key held elsewhere (a PKCS#11 token). A test signature is
    /// verified with the certificate's public key, so a token key that is not the CA's is
    /// refused here rather than producing certificates nobody can verify.
    pub fn with_external_key(
        certificate: CertificateInfo,
        signer: Box<dyn ExternalSigner>,
        now: OffsetDateTime,
    ) -> Result<Self, IssueError> {
        let subject = certificate.display_subject().to_owned();
        let fingerprint = certificate.fingerprint.to_string();
        let public = rcgen::SubjectPublicKeyInfo::from_der(&certificate.spki_der).map_err(|e| {
            IssueError::InvalidInput(format!(
                "the CA's public key is not one Gatehouse can sign for: {e}"
            ))
        })?;
        let alg = rcgen::PublicKeyData::algorithm(&public);
        let verify: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = if alg
            == &rcgen::PKCS_ECDSA_P384_SHA384
        {
            &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1
        } else if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1
        } else if alg == &rcgen::PKCS_RSA_SHA256 {
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256
        } else {
            return Err(IssueError::InvalidInput(format!(
                "the CA {subject} has a key type an external signer cannot use here; use ECDSA P-384, P-256 or RSA"
            )));
        };
        let probe = format!("gatehouse key check {fingerprint}");
        let signature = signer.sign(probe.as_bytes()).map_err(|e| {
            IssueError::InvalidInput(format!("the external CA key could not sign: {e}"))
        })?;
        aws_lc_rs::signature::UnparsedPublicKey::new(
            verify,
            rcgen::PublicKeyData::der_bytes(&public),
        )
        .verify(probe.as_bytes(), &signature)
        .map_err(|_| IssueError::KeyMismatch {
            subject: subject.clone(),
            fingerprint: fingerprint.clone(),
        })?;
        Self::build(
            certificate,
            CaKey::External(ExternalKey { public, signer }),
            now,
        )
    }

    fn build(
        certificate: CertificateInfo,
        key: CaKey,
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
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(&certificate.der)
            .map_err(|e| IssueError::InvalidInput(format!("CA certificate: {e}")))?;
        let subject_der = parsed.subject().as_raw().to_vec();
        let mut issuer_params = CertificateParams::default();
        issuer_params.distinguished_name = placeholder_name();
        let key_id = certificate.subject_key_id.clone().unwrap_or_else(|| {
            key_identifier(parsed.public_key().subject_public_key.data.as_ref())
        });
        issuer_params.key_identifier_method = KeyIdMethod::PreSpecified(key_id);
        Ok(Self {
            certificate,
            key,
            subject_der,
            issuer_params,
        })
    }

    /// Refuses a subject equal to the CA's own ("each certificate in the chain … must have a
    /// unique Distinguished Name", case-insensitive): such a leaf would never be admitted.
    pub(super) fn check_distinct(
        &self,
        subject_key: &str,
        subject: &str,
    ) -> Result<(), IssueError> {
        if subject_key == self.certificate.subject_key() {
            return Err(IssueError::InvalidInput(format!(
                "the subject {subject} equals the CA's subject {}; every certificate in a chain needs its own Distinguished Name (chain.unique-dn)",
                self.certificate.display_subject()
            )));
        }
        Ok(())
    }

    /// Signs `params` for `public_key`, then writes the CA's exact subject as the issuer (and
    /// `subject_der`, when given, as the subject) and signs again.
    pub(super) fn sign(
        &self,
        params: &CertificateParams,
        public_key: &impl rcgen::PublicKeyData,
        subject_der: Option<&[u8]>,
    ) -> Result<Vec<u8>, IssueError> {
        use rcgen::SigningKey;
        let signing = match &self.key {
            CaKey::Local(k) => Signing::Local(k.pair()),
            CaKey::External(k) => Signing::External(k),
        };
        let external = matches!(self.key, CaKey::External(_));
        let built = params
            .signed_by(
                public_key,
                &Issuer::from_params(&self.issuer_params, &signing),
            )
            .map_err(|e| match e {
                rcgen::Error::RemoteKeyError if external => external_error(),
                other => gen_err(other),
            })?;
        let der =
            crate::der::replace_names(built.der(), Some(&self.subject_der), subject_der, |tbs| {
                signing.sign(tbs).ok()
            })
            .ok_or_else(|| {
                if external {
                    external_error()
                } else {
                    IssueError::Generation("could not write the issuer name".into())
                }
            })?;
        Ok(der)
    }

    /// How long a renewal of `cert` issued now is valid: the same lifetime
    /// ([`renewal_period`](super::renewal_period)), but ending no later than 24 hours before
    /// this CA expires (as a default `gen leaf` does). Refused when that leaves nothing.
    pub fn renewal_period(
        &self,
        cert: &CertificateInfo,
        now: OffsetDateTime,
    ) -> Result<ValidityPeriod, IssueError> {
        let same = super::renewal_period(cert);
        let latest = self.certificate.not_after - LEAF_DEFAULT_MARGIN;
        let room = latest - now;
        if room <= Duration::minutes(1) {
            return Err(IssueError::InvalidInput(format!(
                "the CA {} expires at {}, too soon to renew {} under it: rotate the CA (gatehouse rotate ca) and renew under the new one",
                self.certificate.display_subject(),
                rfc3339(self.certificate.not_after),
                cert.display_subject()
            )));
        }
        Ok(if same.to_duration() > room {
            ValidityPeriod::from_secs(room.whole_seconds())
        } else {
            same
        })
    }

    /// The CA certificate.
    pub fn certificate(&self) -> &CertificateInfo {
        &self.certificate
    }

    /// The key type new leaves get: RSA-4096 under an RSA CA, ECDSA P-384 otherwise.
    pub fn leaf_key_algorithm(&self) -> KeyAlgorithm {
        let rsa = match &self.key {
            CaKey::Local(k) => k.is_rsa(),
            CaKey::External(k) => {
                rcgen::PublicKeyData::algorithm(&k.public) == &rcgen::PKCS_RSA_SHA256
            }
        };
        if rsa {
            KeyAlgorithm::Rsa4096
        } else {
            KeyAlgorithm::EcdsaP384
        }
    }

    /// notAfter for a certificate issued now: `now + period`, or by default the CA's
    /// notAfter minus 24 hours; never after the CA's notAfter.
    pub(super) fn not_after(
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

    pub(super) fn not_before(&self, now: OffsetDateTime) -> OffsetDateTime {
        (now - BACKDATE).max(self.certificate.not_before)
    }
}
