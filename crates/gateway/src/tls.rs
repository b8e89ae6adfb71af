//! The handshake: the SNI `<namespace>.<domain>` picks the namespace, and that namespace's
//! client-certificate verifier applies `gatehouse-policy` to the presented chain (path to a
//! bundle certificate, Temporal's chain rules on the verified path, the bundle certificate's
//! own validity, the filters).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use gatehouse_pki::{CertificateAuthority, CertificateInfo, ServerParams, ValidityPeriod};
use gatehouse_policy::{verify_client, CaBundle, CertificateFilters, Rule, VerifiedClient};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::metrics::Metrics;

/// The namespace an SNI names under `domain` (`payments.gw.acme.io` → `payments` for domain
/// `gw.acme.io`); names may contain dots. Case-insensitive, as DNS is.
pub fn namespace_from_sni<'a>(sni: &'a str, domain: &str) -> Option<&'a str> {
    let domain = domain.trim_end_matches('.');
    let sni_trim = sni.trim_end_matches('.');
    if sni_trim.len() <= domain.len() + 1 {
        return None;
    }
    let split = sni_trim.len() - domain.len();
    let (head, tail) = (sni_trim.get(..split - 1)?, sni_trim.get(split..)?);
    if sni_trim.as_bytes().get(split - 1) == Some(&b'.') && tail.eq_ignore_ascii_case(domain) {
        Some(head)
    } else {
        None
    }
}

pub(crate) fn now_utc(now: UnixTime) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(i64::try_from(now.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
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

/// A namespace's admission policy: its bundle and filters.
#[derive(Debug)]
pub struct NamespacePolicy {
    pub name: Arc<str>,
    pub bundle: CaBundle,
    pub filters: CertificateFilters,
}

impl NamespacePolicy {
    pub(crate) fn verify(
        &self,
        chain: &[CertificateInfo],
        now: OffsetDateTime,
    ) -> Result<VerifiedClient, gatehouse_policy::Rejection> {
        verify_client(chain, &self.bundle, &self.filters, now)
    }
}

/// Verified results, from the verifier to the connection that asked (keyed by namespace and
/// leaf DER), so the handshake's path is not verified twice.
#[derive(Debug, Default)]
pub(crate) struct Admissions(Mutex<HashMap<AdmissionKey, Arc<VerifiedClient>>>);

/// (namespace, leaf DER).
type AdmissionKey = (Arc<str>, Vec<u8>);

impl Admissions {
    fn put(&self, namespace: &Arc<str>, leaf: &[u8], v: VerifiedClient) {
        let mut m = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // Entries are taken right after their handshake; one that failed later is dropped here.
        if m.len() > 4096 {
            m.clear();
        }
        m.insert((namespace.clone(), leaf.to_vec()), Arc::new(v));
    }

    pub(crate) fn take(&self, namespace: &Arc<str>, leaf: &[u8]) -> Option<Arc<VerifiedClient>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace.clone(), leaf.to_vec()))
    }
}

/// A namespace's client-certificate verifier: the policy crate, on the presented chain.
pub struct PolicyVerifier {
    policy: Arc<NamespacePolicy>,
    provider: Arc<CryptoProvider>,
    metrics: Arc<Metrics>,
    admissions: Arc<Admissions>,
}

impl fmt::Debug for PolicyVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyVerifier")
            .field("namespace", &self.policy.name)
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for PolicyVerifier {
    /// No CA names in the CertificateRequest: they would tell any unauthenticated caller the
    /// subjects of each namespace's CAs, and clients such as Go's then send no certificate at
    /// all when theirs is from another CA, so the gateway could only log "no certificate"
    /// instead of naming the certificate and the rule (`chain.untrusted`).
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ns = &self.policy.name;
        let mut chain = Vec::with_capacity(1 + intermediates.len());
        for der in std::iter::once(end_entity).chain(intermediates) {
            let info = CertificateInfo::from_der(der).map_err(|e| {
                tracing::info!(namespace = %ns, rule = "chain.invalid", error = %e, "client refused: unreadable certificate");
                self.metrics.handshake(ns, false, "chain.invalid");
                rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
            })?;
            chain.push(info);
        }
        match self.policy.verify(&chain, now_utc(now)) {
            Ok(v) => {
                tracing::debug!(namespace = %ns, leaf = %v.leaf.fingerprint, ca = %v.anchor.fingerprint, "client certificate admitted");
                self.admissions.put(ns, end_entity.as_ref(), v);
                Ok(ClientCertVerified::assertion())
            }
            Err(r) => {
                let cert = r.reason.certificate.as_ref();
                tracing::info!(
                    namespace = %ns,
                    rule = r.reason.rule.id(),
                    certificate = cert.map(|c| c.fingerprint.as_str()).unwrap_or("-"),
                    subject = cert.map(|c| c.subject.as_str()).unwrap_or("-"),
                    leaf = %chain[0].fingerprint,
                    reason = %r.reason.message,
                    fix = r.reason.rule.hint(),
                    "client refused"
                );
                self.metrics.handshake(ns, false, r.reason.rule.id());
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

/// The gateway's server certificate.
#[derive(Debug)]
pub enum Identity {
    /// One certificate (chain and key) for every namespace: `--gateway-cert/--gateway-key`.
    Fixed {
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    },
    /// A gateway CA that issues each namespace endpoint its own certificate on first use (so
    /// dotted namespace names, which a wildcard cannot cover, work too).
    Issuing(Box<CertificateAuthority>),
}

/// Resolves the server certificate for an SNI.
#[derive(Debug)]
struct ServerCerts {
    fixed: Option<Arc<CertifiedKey>>,
    issuing: Option<CertificateAuthority>,
    issued: Mutex<HashMap<String, (Arc<CertifiedKey>, OffsetDateTime)>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCerts {
    fn new(identity: Identity, provider: Arc<CryptoProvider>) -> Result<Self, rustls::Error> {
        Ok(match identity {
            Identity::Fixed { chain, key } => Self {
                fixed: Some(Arc::new(CertifiedKey::from_der(chain, key, &provider)?)),
                issuing: None,
                issued: Mutex::default(),
                provider,
            },
            Identity::Issuing(ca) => Self {
                fixed: None,
                issuing: Some(*ca),
                issued: Mutex::default(),
                provider,
            },
        })
    }

    fn issue(
        &self,
        ca: &CertificateAuthority,
        name: &str,
    ) -> Option<(Arc<CertifiedKey>, OffsetDateTime)> {
        let now = OffsetDateTime::now_utc();
        let validity = if ca.certificate().not_after - now > time::Duration::days(31) {
            ValidityPeriod::parse("30d").ok()
        } else {
            None
        };
        let issued = ServerParams {
            common_name: None,
            organization: None,
            dns_names: vec![name.to_owned()],
            ip_addresses: vec![],
            internode: false,
            validity,
            now,
        }
        .signed_by(ca)
        .map_err(|e| tracing::error!(sni = name, error = %e, "cannot issue the gateway's server certificate"))
        .ok()?;
        let key = issued.key.as_ref()?;
        let key = {
            use rustls::pki_types::pem::PemObject as _;
            PrivateKeyDer::from_pem_slice(key.to_pkcs8_pem().as_bytes()).ok()?
        };
        let cert = issued.certificate.der.clone();
        let ck = CertifiedKey::from_der(vec![cert], key, &self.provider)
            .map_err(
                |e| tracing::error!(sni = name, error = %e, "issued server certificate unusable"),
            )
            .ok()?;
        Some((Arc::new(ck), issued.certificate.not_after))
    }
}

impl ResolvesServerCert for ServerCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(f) = &self.fixed {
            return Some(f.clone());
        }
        let ca = self.issuing.as_ref()?;
        let name = hello.server_name()?.to_ascii_lowercase();
        let now = OffsetDateTime::now_utc();
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((ck, not_after)) = issued.get(&name) {
            if *not_after - now > time::Duration::days(7) {
                return Some(ck.clone());
            }
        }
        let (ck, not_after) = self.issue(ca, &name)?;
        issued.insert(name, (ck.clone(), not_after));
        Some(ck)
    }
}

/// A namespace as the gateway holds it.
#[derive(Debug)]
pub struct Endpoint {
    pub policy: Arc<NamespacePolicy>,
    config: Arc<ServerConfig>,
}

/// Every namespace's TLS configuration. A handshake looks its namespace up under a read lock
/// (O(1), and the lock is held only for the lookup). A change updates the map in place under
/// the write lock: O(changed namespaces), whatever the number of namespaces. (Cloning the map
/// per change, as before, made one update take 26 ms to be enforced at 100,000 namespaces
/// against 6 ms now; see bench/README.md.)
#[derive(Debug)]
pub struct Registry {
    domain: String,
    certs: Arc<ServerCerts>,
    provider: Arc<CryptoProvider>,
    metrics: Arc<Metrics>,
    pub(crate) admissions: Arc<Admissions>,
    endpoints: RwLock<HashMap<String, Arc<Endpoint>>>,
}

/// The TLS alert record for `unrecognized_name` (fatal), sent when the SNI names no namespace.
const UNRECOGNIZED_NAME: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112];

impl Registry {
    pub fn new(
        domain: &str,
        identity: Identity,
        metrics: Arc<Metrics>,
    ) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(Self {
            domain: domain.trim_end_matches('.').to_owned(),
            certs: Arc::new(ServerCerts::new(identity, provider.clone())?),
            provider,
            metrics,
            admissions: Arc::default(),
            endpoints: RwLock::new(HashMap::new()),
        })
    }

    fn endpoint(&self, policy: NamespacePolicy) -> Result<Endpoint, rustls::Error> {
        let policy = Arc::new(policy);
        let verifier = Arc::new(PolicyVerifier {
            policy: policy.clone(),
            provider: self.provider.clone(),
            metrics: self.metrics.clone(),
            admissions: self.admissions.clone(),
        });
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(self.certs.clone());
        config.alpn_protocols = vec![b"h2".to_vec()];
        // No session resumption: every connection's chain goes through the verifier, so a
        // removed CA or changed filter cannot be bypassed with a ticket from before the change.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(Endpoint {
            policy,
            config: Arc::new(config),
        })
    }

    /// Applies changes: `Some(policy)` adds or replaces a namespace, `None` removes it. The
    /// endpoints are built first, outside the lock, then applied together under the write
    /// lock, so a handshake sees all of a batch or none of it.
    pub fn apply(
        &self,
        changes: Vec<(String, Option<NamespacePolicy>)>,
    ) -> Result<(), rustls::Error> {
        let mut built = Vec::with_capacity(changes.len());
        for (name, policy) in changes {
            let endpoint = policy.map(|p| self.endpoint(p)).transpose()?;
            built.push((name.to_ascii_lowercase(), endpoint));
        }
        let mut replaced = Vec::with_capacity(built.len());
        {
            let mut map = self
                .endpoints
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for (name, endpoint) in built {
                replaced.push(match endpoint {
                    Some(e) => map.insert(name, Arc::new(e)),
                    None => map.remove(&name),
                });
            }
        }
        // The old endpoints are freed after the lock is released.
        drop(replaced);
        Ok(())
    }

    /// Replaces every namespace at once.
    pub fn replace_all(&self, policies: Vec<NamespacePolicy>) -> Result<(), rustls::Error> {
        let mut next = HashMap::with_capacity(policies.len());
        for p in policies {
            let name = p.name.to_ascii_lowercase();
            next.insert(name, Arc::new(self.endpoint(p)?));
        }
        let old = std::mem::replace(
            &mut *self
                .endpoints
                .write()
                .unwrap_or_else(PoisonError::into_inner),
            next,
        );
        // Freed after the lock is released.
        drop(old);
        Ok(())
    }

    /// The endpoint of a namespace (by its name, case-insensitively).
    pub(crate) fn get(&self, namespace: &str) -> Option<Arc<Endpoint>> {
        self.endpoints
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&namespace.to_ascii_lowercase())
            .cloned()
    }

    /// The endpoint an SNI selects.
    pub(crate) fn select(&self, sni: Option<&str>) -> Result<Arc<Endpoint>, Refusal> {
        let sni = sni.ok_or(Refusal::NoSni)?;
        let ns = namespace_from_sni(sni, &self.domain)
            .ok_or_else(|| Refusal::UnknownNamespace(sni.to_owned()))?;
        self.get(ns)
            .ok_or_else(|| Refusal::UnknownNamespace(sni.to_owned()))
    }

    /// Accepts one TLS connection: SNI first, then that namespace's handshake.
    pub async fn accept(
        &self,
        mut tcp: tokio::net::TcpStream,
    ) -> Result<
        (
            Arc<Endpoint>,
            tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        ),
        Refusal,
    > {
        let mut acceptor = rustls::server::Acceptor::default();
        let mut buf = vec![0u8; 16 * 1024];
        let accepted = loop {
            let n = tcp
                .read(&mut buf)
                .await
                .map_err(|e| Refusal::Handshake(e.to_string()))?;
            if n == 0 {
                return Err(Refusal::Handshake(
                    "connection closed before ClientHello".into(),
                ));
            }
            let mut rd = &buf[..n];
            while !rd.is_empty() {
                let used = acceptor
                    .read_tls(&mut rd)
                    .map_err(|e| Refusal::Handshake(e.to_string()))?;
                if used == 0 {
                    return Err(Refusal::Handshake("ClientHello does not fit".into()));
                }
            }
            match acceptor.accept() {
                Ok(Some(a)) => break a,
                Ok(None) => continue,
                Err((e, mut alert)) => {
                    let mut out = Vec::new();
                    let _ = alert.write_all(&mut out);
                    let _ = tcp.write_all(&out).await;
                    return Err(Refusal::Handshake(e.to_string()));
                }
            }
        };
        let endpoint = match self.select(accepted.client_hello().server_name()) {
            Ok(e) => e,
            Err(r) => {
                let _ = tcp.write_all(&UNRECOGNIZED_NAME).await;
                linger(tcp).await;
                return Err(r);
            }
        };
        match tokio_rustls::StartHandshake::from_parts(accepted, tcp)
            .into_stream(endpoint.config.clone())
            .into_fallible()
            .await
        {
            Ok(stream) => Ok((endpoint, stream)),
            Err((e, tcp)) => {
                linger(tcp).await;
                Err(Refusal::from_io(&e))
            }
        }
    }
}

/// Closes a refused connection so the client reads the alert: a TLS 1.3 client has already
/// sent its Finished (and often its first request) when the alert comes, and closing a socket
/// with unread data makes the kernel send a reset, which the client reports as "broken pipe"
/// instead of the alert. So: send FIN, then read and discard until the client closes (bounded).
async fn linger(mut tcp: tokio::net::TcpStream) {
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let mut budget = 1 << 20;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while budget > 0 {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => budget -= n.min(budget),
            }
        }
    })
    .await;
}

/// Why a connection was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    NoSni,
    UnknownNamespace(String),
    /// The client certificate was refused (already logged and counted with its rule).
    Certificate(String),
    /// The client sent no certificate.
    NoClientCertificate,
    Handshake(String),
}

impl Refusal {
    fn from_io(e: &std::io::Error) -> Self {
        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(c)) => Self::Certificate(format!("{c:?}")),
            Some(rustls::Error::NoCertificatesPresented) => Self::NoClientCertificate,
            Some(other) => Self::Handshake(other.to_string()),
            None => Self::Handshake(e.to_string()),
        }
    }

    /// The id counted and logged for this refusal (certificate refusals carry the policy's).
    pub fn rule(&self) -> &'static str {
        match self {
            Self::NoSni => "sni.missing",
            Self::UnknownNamespace(_) => "sni.unknown-namespace",
            Self::Certificate(_) => "certificate",
            Self::NoClientCertificate => "tls.no-client-certificate",
            Self::Handshake(_) => "tls.handshake",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSni => f.write_str(
                "no SNI: clients must name <namespace>.<gateway domain> (the temporal CLI: --tls-server-name)",
            ),
            Self::UnknownNamespace(s) => write!(
                f,
                "SNI {s:?} names no namespace of this gateway: use --tls-server-name <namespace>.<gateway domain> with a namespace that `gatehouse namespace list` shows"
            ),
            Self::Certificate(e) => write!(f, "client certificate refused: {e}"),
            Self::NoClientCertificate => f.write_str(
                "the client sent no certificate (mTLS is required): give it one issued by a CA in the namespace's bundle (temporal CLI: --tls-cert-path/--tls-key-path)",
            ),
            Self::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}
