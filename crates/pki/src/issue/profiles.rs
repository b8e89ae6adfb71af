//! Client and server certificates, and the extension profiles the CA decides.

use super::*;

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
        names.extend(present(vec![
            (
                DnType::OrganizationalUnitName,
                self.organizational_unit.as_deref(),
            ),
            (DnType::CommonName, self.common_name.as_deref()),
        ]));
        ca.check_distinct(&name_key(&names), &name_text(&names))?;
        let validity = (ca.not_before(self.now), not_after);
        with_new_key(
            ca,
            validity,
            &names,
            &self.subject_alt_names,
            Profile::Client,
        )
    }
}

/// Generates a key (same family as the CA's) and a certificate for it signed by `ca`, valid
/// from `validity.0` to `validity.1`, for `names` and `alt`, with `profile`'s extensions.
fn with_new_key(
    ca: &CertificateAuthority,
    validity: (OffsetDateTime, OffsetDateTime),
    names: &[(DnType, &str)],
    alt: &[SubjectAltName],
    profile: Profile,
) -> Result<Issued, IssueError> {
    let algorithm = ca.leaf_key_algorithm();
    let key = PrivateKey::generate(algorithm)?;
    let mut params = base_params(validity.0, validity.1, key.pair().public_key_raw())?;
    params.distinguished_name = dn(names)?;
    params.subject_alt_names = sans(alt)?;
    apply_profile(&mut params, profile, algorithm == KeyAlgorithm::Rsa4096);
    let der = ca.sign(&params, key.pair(), None)?;
    Issued::from_der(&der, Some(key))
}

impl Profile {
    /// The profile a certificate was issued with, from its extended key usage: what a renewal
    /// keeps.
    pub fn of(cert: &CertificateInfo) -> Self {
        match &cert.extended_key_usage {
            Some(eku) if eku.server_auth && eku.client_auth => Self::Internode,
            Some(eku) if eku.server_auth => Self::Server,
            _ => Self::Client,
        }
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

pub(super) fn client_profile(params: &mut CertificateParams) {
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
}

pub(super) fn apply_profile(params: &mut CertificateParams, profile: Profile, rsa: bool) {
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
        let cn = match self.common_name.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(cn) => cn.to_owned(),
            None => self
                .dns_names
                .first()
                .cloned()
                .or_else(|| self.ip_addresses.first().map(IpAddr::to_string))
                .unwrap_or_default(),
        };
        let mut names = present(vec![(
            DnType::OrganizationName,
            self.organization.as_deref(),
        )]);
        names.push((DnType::CommonName, cn.as_str()));
        ca.check_distinct(&name_key(&names), &name_text(&names))?;
        let mut alt: Vec<SubjectAltName> = self
            .dns_names
            .iter()
            .cloned()
            .map(SubjectAltName::Dns)
            .collect();
        alt.extend(self.ip_addresses.iter().copied().map(SubjectAltName::Ip));
        let profile = if self.internode {
            Profile::Internode
        } else {
            Profile::Server
        };
        let validity = (ca.not_before(self.now), not_after);
        with_new_key(ca, validity, &names, &alt, profile)
    }
}
