//! New self-signed CAs.

use super::*;

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
                let tag = crate::random::random_hex(3)
                    .map_err(|e| IssueError::Generation(e.to_string()))?;
                let suffix = format!(" Root CA {issued_at} {tag}");
                // X.509 caps a CN at 64 characters: shorten a long organisation name to fit.
                let room = 64usize.saturating_sub(suffix.chars().count());
                let org: String = organization.chars().take(room).collect();
                format!("{}{suffix}", org.trim_end())
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
        Issued::from_der(cert.der(), Some(key))
    }
}
