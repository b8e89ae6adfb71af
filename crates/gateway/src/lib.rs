//! Gatehouse mTLS front door — **in progress** (issue #4). What exists: the TLS handshake
//! layer. The SNI `<namespace>.<domain>` picks the namespace; its client-certificate verifier
//! applies `gatehouse-policy` to the presented chain (path to a bundle certificate, Temporal's
//! chain rules on the verified path, the bundle certificate's own validity, the filters).
//! Not yet: the gRPC proxy, namespace checks on requests, hot reload from the store, CA usage.
//! Nothing here is wired into `gatehouse serve`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use gatehouse_pki::CertificateInfo;
use gatehouse_policy::{verify_client, CaBundle, CertificateFilters, Rule};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use time::OffsetDateTime;

/// The namespace an SNI names under `domain` (`payments.gw.acme.io` → `payments` for domain
/// `gw.acme.io`); names may contain dots. Case-insensitive, as DNS is.
pub fn namespace_from_sni<'a>(sni: &'a str, domain: &str) -> Option<&'a str> {
    let sni_l = sni.to_ascii_lowercase();
    let suffix = format!(".{}", domain.to_ascii_lowercase().trim_end_matches('.'));
    if sni_l.len() > suffix.len() && sni_l.ends_with(&suffix) {
        Some(&sni[..sni.len() - suffix.len()])
    } else {
        None
    }
}

/// The rustls error a refusal becomes (and so the TLS alert the client sees).
fn tls_error(rule: Rule) -> rustls::Error {
    let e = match rule {
        Rule::CertExpired => CertificateError::Expired,
        Rule::CertNotYetValid => CertificateError::NotValidYet,
        Rule::ChainUntrusted => CertificateError::UnknownIssuer,
        Rule::ChainSignature => CertificateError::BadSignature,
        _ => CertificateError::ApplicationVerificationFailure,
    };
    rustls::Error::InvalidCertificate(e)
}

/// A namespace's client-certificate verifier: the policy crate, on the presented chain.
pub struct PolicyVerifier {
    namespace: String,
    bundle: CaBundle,
    filters: CertificateFilters,
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for PolicyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyVerifier")
            .field("namespace", &self.namespace)
            .field("bundle", &self.bundle.certificates().len())
            .finish_non_exhaustive()
    }
}

impl PolicyVerifier {
    pub fn new(namespace: &str, bundle: CaBundle, filters: CertificateFilters) -> Self {
        let hints = bundle
            .certificates()
            .iter()
            .filter_map(|c| subject_der(&c.info.der).map(DistinguishedName::from))
            .collect();
        Self {
            namespace: namespace.to_owned(),
            bundle,
            filters,
            hints,
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        }
    }
}

/// The DER of a certificate's subject Name (for the CertificateRequest's CA hints).
fn subject_der(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der).ok()?;
    Some(cert.subject().as_raw().to_vec())
}

impl ClientCertVerifier for PolicyVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        for der in std::iter::once(end_entity).chain(intermediates) {
            let info = CertificateInfo::from_der(der).map_err(|e| {
                tracing::info!(namespace = %self.namespace, rule = "chain.invalid", error = %e, "client refused: unreadable certificate");
                rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
            })?;
            chain.push(info);
        }
        let at =
            OffsetDateTime::from_unix_timestamp(i64::try_from(now.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        match verify_client(&chain, &self.bundle, &self.filters, at) {
            Ok(v) => {
                tracing::debug!(namespace = %self.namespace, leaf = %v.leaf.fingerprint, ca = %v.anchor.fingerprint, "client admitted");
                Ok(ClientCertVerified::assertion())
            }
            Err(r) => {
                let cert = r.reason.certificate.as_ref();
                tracing::info!(
                    namespace = %self.namespace,
                    rule = r.reason.rule.id(),
                    certificate = cert.map(|c| c.fingerprint.as_str()).unwrap_or("-"),
                    subject = cert.map(|c| c.subject.as_str()).unwrap_or("-"),
                    reason = %r.reason.message,
                    "client refused"
                );
                Err(tls_error(r.reason.rule))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The gateway's server identity.
#[derive(Debug)]
pub struct ServerIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Every namespace's TLS configuration, swapped whole on change: a handshake reads one
/// consistent snapshot and never waits for a writer (O(1) lookup by name).
#[derive(Debug)]
pub struct Registry {
    domain: String,
    identity: ServerIdentity,
    configs: RwLock<Arc<HashMap<String, Arc<ServerConfig>>>>,
}

impl Registry {
    pub fn new(domain: &str, identity: ServerIdentity) -> Self {
        Self {
            domain: domain.to_owned(),
            identity,
            configs: RwLock::new(Arc::new(HashMap::new())),
        }
    }

    /// Builds every namespace's configuration, then swaps them in at once.
    pub fn replace(
        &self,
        namespaces: Vec<(String, CaBundle, CertificateFilters)>,
    ) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut next = HashMap::new();
        for (name, bundle, filters) in namespaces {
            let verifier = Arc::new(PolicyVerifier::new(&name, bundle, filters));
            let mut config = ServerConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()?
                .with_client_cert_verifier(verifier)
                .with_single_cert(self.identity.chain.clone(), self.identity.key.clone_key())?;
            config.alpn_protocols = vec![b"h2".to_vec()];
            next.insert(name.to_ascii_lowercase(), Arc::new(config));
        }
        let mut slot = self
            .configs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Arc::new(next);
        Ok(())
    }

    /// The namespace and configuration an SNI selects.
    pub fn select(&self, sni: Option<&str>) -> Result<(String, Arc<ServerConfig>), Refusal> {
        let sni = sni.ok_or(Refusal::NoSni)?;
        let ns = namespace_from_sni(sni, &self.domain)
            .ok_or_else(|| Refusal::UnknownNamespace(sni.to_owned()))?
            .to_ascii_lowercase();
        let configs = self
            .configs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        configs
            .get(&ns)
            .map(|c| (ns.clone(), c.clone()))
            .ok_or(Refusal::UnknownNamespace(sni.to_owned()))
    }

    /// Accepts one TLS connection: SNI first, then that namespace's handshake.
    pub async fn accept<IO>(
        &self,
        io: IO,
    ) -> Result<(String, tokio_rustls::server::TlsStream<IO>), Refusal>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let start = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io)
            .await
            .map_err(|e| Refusal::Handshake(e.to_string()))?;
        let (namespace, config) = self.select(start.client_hello().server_name())?;
        let stream = start
            .into_stream(config)
            .await
            .map_err(|e| Refusal::Handshake(e.to_string()))?;
        Ok((namespace, stream))
    }
}

/// Why a connection was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    NoSni,
    UnknownNamespace(String),
    Handshake(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSni => f.write_str("no SNI: connect to <namespace>.<gateway domain>"),
            Self::UnknownNamespace(s) => write!(f, "SNI {s:?} names no namespace of this gateway"),
            Self::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
