//! A CA certificate and key, ready to sign.

use super::*;

/// A CA certificate with its private key, checked to belong together and usable at `now`.
#[derive(Debug)]
pub struct CertificateAuthority {
    certificate: CertificateInfo,
    key: PrivateKey,
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
        // Temporal requires RSA or ECDSA signatures; refuse a CA key that would make others.
        if !(key.is_rsa() || key.describe().starts_with("ECDSA")) {
            return Err(IssueError::InvalidInput(format!(
                "the CA key is {}; Temporal requires RSA or ECDSA signatures (cert.signature-algorithm)",
                key.describe()
            )));
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
        let built = params
            .signed_by(
                public_key,
                &Issuer::from_params(&self.issuer_params, self.key.pair()),
            )
            .map_err(gen_err)?;
        let der =
            crate::der::replace_names(built.der(), Some(&self.subject_der), subject_der, |tbs| {
                self.key.pair().sign(tbs).ok()
            })
            .ok_or_else(|| IssueError::Generation("could not write the issuer name".into()))?;
        Ok(der)
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
