//! Real rustls handshakes over loopback TCP: a rustls client with a Gatehouse-issued client
//! certificate against the registry's per-namespace verifier.

use std::sync::Arc;

use gatehouse_pki::{
    CaParams, CertificateAuthority, CertificateInfo, KeyAlgorithm, LeafParams, PrivateKey,
    ValidityPeriod,
};
use gatehouse_policy::{CaBundle, CertificateFilters};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::*;

struct Pki {
    pem: String,
    info: CertificateInfo,
    authority: CertificateAuthority,
    key_pem: String,
}

fn ca(cn: &str, validity: &str, now: OffsetDateTime) -> Pki {
    let issued = CaParams {
        organization: "Acme".into(),
        common_name: Some(cn.into()),
        validity: ValidityPeriod::parse(validity).unwrap(),
        algorithm: KeyAlgorithm::EcdsaP384,
        now,
    }
    .self_signed()
    .unwrap();
    let key_pem = issued.key.as_ref().unwrap().to_pkcs8_pem();
    let key = PrivateKey::from_pem(key_pem.as_bytes()).unwrap();
    let authority = CertificateAuthority::new(issued.certificate.clone(), key, now).unwrap();
    Pki {
        pem: issued.pem,
        info: issued.certificate,
        authority,
        key_pem,
    }
}

fn leaf(ca: &Pki, cn: &str, validity: Option<&str>, now: OffsetDateTime) -> (String, String) {
    let issued = LeafParams {
        organization: "Acme".into(),
        organizational_unit: None,
        common_name: Some(cn.into()),
        validity: validity.map(|v| ValidityPeriod::parse(v).unwrap()),
        subject_alt_names: vec![],
        now,
    }
    .signed_by(&ca.authority)
    .unwrap();
    (issued.pem, issued.key.unwrap().to_pkcs8_pem())
}

struct Gateway {
    registry: Arc<Registry>,
    server_ca: String,
    addr: std::net::SocketAddr,
}

fn policies(namespaces: Vec<(&str, CaBundle, CertificateFilters)>) -> Vec<NamespacePolicy> {
    namespaces
        .into_iter()
        .map(|(name, bundle, filters)| NamespacePolicy {
            name: Arc::from(name),
            bundle,
            filters,
        })
        .collect()
}

async fn gateway(namespaces: Vec<(&str, CaBundle, CertificateFilters)>) -> Gateway {
    let now = OffsetDateTime::now_utc();
    // The gateway CA issues each endpoint its own certificate (dotted names included).
    let server_ca = ca("Gateway CA", "30d", now);
    let registry = Arc::new(
        Registry::new(
            "gw.test",
            Identity::Issuing(Box::new(server_ca.authority)),
            Arc::default(),
        )
        .unwrap(),
    );
    registry.replace_all(policies(namespaces)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let r = registry.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let r = r.clone();
            tokio::spawn(async move {
                if let Ok((endpoint, mut tls)) = r.accept(tcp).await {
                    // Echo the namespace, so the client knows which one admitted it.
                    let _ = tls.write_all(endpoint.policy.name.as_bytes()).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    Gateway {
        registry,
        server_ca: server_ca.pem,
        addr,
    }
}

/// Connects with `client` (cert, key) to `sni`; returns the namespace the gateway reported.
async fn connect(g: &Gateway, sni: &str, client: Option<(&str, &str)>) -> Result<String, String> {
    connect_with(g, sni, client, rustls::DEFAULT_VERSIONS).await
}

async fn connect_with(
    g: &Gateway,
    sni: &str,
    client: Option<(&str, &str)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(g.server_ca.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain: Vec<_> = CertificateDer::pem_slice_iter(cert.as_bytes())
                .map(|c| c.unwrap())
                .collect();
            builder
                .with_client_auth_cert(
                    chain,
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(g.addr).await.unwrap();
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    // TLS 1.3: a refused client certificate surfaces on the first read.
    tls.read_to_string(&mut out)
        .await
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn bundle(pems: &[&str]) -> CaBundle {
    let pem = pems.concat();
    CaBundle::from_pem(pem.as_bytes(), "bundle").unwrap()
}

/// Namespace a alone, trusting `pems`, without filters.
fn only_a(pems: &[&str]) -> Vec<(&'static str, CaBundle, CertificateFilters)> {
    vec![("a", bundle(pems), CertificateFilters::none())]
}

/// Asserts `client` (cert, key) is admitted on `sni`, into `namespace`.
async fn assert_admits(g: &Gateway, sni: &str, client: (&str, &str), namespace: &str) {
    assert_eq!(connect(g, sni, Some(client)).await.unwrap(), namespace);
}

/// Whether the gateway refuses `client` (cert, key) on `sni`.
async fn refuses(g: &Gateway, sni: &str, client: Option<(&str, &str)>) -> bool {
    connect(g, sni, client).await.is_err()
}

#[tokio::test]
async fn the_namespace_bundle_and_filters_decide_at_the_handshake() {
    let now = OffsetDateTime::now_utc();
    let a = ca("Acme A", "30d", now);
    let b = ca("Acme B", "30d", now);
    let filters =
        CertificateFilters::from_json(r#"{"filters":[{"commonName":"*.payments"}]}"#).unwrap();
    let g = gateway(vec![
        ("a", bundle(&[&a.pem]), CertificateFilters::none()),
        ("b", bundle(&[&b.pem]), filters),
        ("team.prod", bundle(&[&a.pem]), CertificateFilters::none()),
    ])
    .await;
    let (a_cert, a_key) = leaf(&a, "worker", None, now);
    let a_client = (a_cert.as_str(), a_key.as_str());
    let (b_ok, b_ok_key) = leaf(&b, "billing.payments", None, now);
    let (b_bad, b_bad_key) = leaf(&b, "billing.other", None, now);
    // Admitted, and the SNI chose the namespace (names may contain dots).
    assert_admits(&g, "a.gw.test", a_client, "a").await;
    assert_admits(&g, "team.prod.gw.test", a_client, "team.prod").await;
    assert_admits(&g, "A.GW.TEST", a_client, "a").await;
    // Namespace a's certificate on b's SNI: unknown issuer.
    let e = connect(&g, "b.gw.test", Some(a_client)).await.unwrap_err();
    assert!(e.contains("UnknownCA") || e.contains("unknown"), "{e}");
    // b's filters: a matching wildcard admits, a mismatch is refused.
    assert_admits(&g, "b.gw.test", (&b_ok, &b_ok_key), "b").await;
    assert!(refuses(&g, "b.gw.test", Some((&b_bad, &b_bad_key))).await);
    // No client certificate, unknown namespace.
    assert!(refuses(&g, "a.gw.test", None).await);
    assert!(refuses(&g, "nope.gw.test", Some(a_client)).await);
    assert!(refuses(&g, "a.other.test", Some(a_client)).await);
    assert_eq!(g.registry.select(None).unwrap_err(), Refusal::NoSni);
    // Each endpoint got its own server certificate from the gateway CA, so the dotted name
    // verified above without a wildcard.
    assert_eq!(
        namespace_from_sni("team.prod.gw.test", "gw.test"),
        Some("team.prod")
    );
    assert_eq!(namespace_from_sni("gw.test", "gw.test"), None);
    assert_eq!(namespace_from_sni("xgw.test", "gw.test"), None);
    assert_eq!(namespace_from_sni("a.GW.test.", "gw.test"), Some("a"));
}

#[tokio::test]
async fn a_bundle_change_reaches_the_next_handshake() {
    // (An expired bundle CA refusing its still-valid leaves is the policy crate's
    // `an_expired_ca_refuses_its_valid_leaves`; the verifier here delegates to it.)
    let now = OffsetDateTime::now_utc();
    let old = ca("Old Root", "30d", now);
    let fresh = ca("New Root", "30d", now);
    let (old_leaf, old_key) = leaf(&old, "worker", None, now);
    let (new_leaf, new_key) = leaf(&fresh, "worker", None, now);
    let old_client = (old_leaf.as_str(), old_key.as_str());
    let new_client = (new_leaf.as_str(), new_key.as_str());
    let g = gateway(only_a(&[&old.pem])).await;
    assert_admits(&g, "a.gw.test", old_client, "a").await;
    assert!(
        refuses(&g, "a.gw.test", Some(new_client)).await,
        "new CA not yet in the bundle"
    );
    // Rollover: both CAs, then only the new one; each change reaches the next handshake.
    let both = policies(only_a(&[&old.pem, &fresh.pem]));
    g.registry.replace_all(both).unwrap();
    assert_admits(&g, "a.gw.test", new_client, "a").await;
    assert_admits(&g, "a.gw.test", old_client, "a").await;
    let only_new = policies(only_a(&[&fresh.pem]));
    g.registry.replace_all(only_new).unwrap();
    assert!(
        refuses(&g, "a.gw.test", Some(old_client)).await,
        "old CA removed"
    );
    assert_admits(&g, "a.gw.test", new_client, "a").await;
    let _ = (&old.info, &old.key_pem);
}

#[tokio::test]
async fn tls_1_2_clients_are_verified_the_same_way() {
    let now = OffsetDateTime::now_utc();
    let a = ca("Acme A", "30d", now);
    let other = ca("Other", "30d", now);
    let g = gateway(only_a(&[&a.pem])).await;
    let (cert, key) = leaf(&a, "worker", None, now);
    let (stranger, stranger_key) = leaf(&other, "worker", None, now);
    let tls12 = &[&rustls::version::TLS12];
    assert_eq!(
        connect_with(&g, "a.gw.test", Some((&cert, &key)), tls12)
            .await
            .unwrap(),
        "a"
    );
    let e = connect_with(&g, "a.gw.test", Some((&stranger, &stranger_key)), tls12)
        .await
        .unwrap_err();
    assert!(e.contains("UnknownCA") || e.contains("unknown"), "{e}");
    assert!(connect_with(&g, "a.gw.test", None, tls12).await.is_err());
}
