//! Issuance tests.

use super::*;
use crate::cert::SubjectAltName;

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
    let key = PrivateKey::from_pem(issued.key.as_ref().unwrap().to_pkcs8_pem().as_bytes()).unwrap();
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
fn default_ca_names_fit_x509_limits() {
    let issued = CaParams {
        organization: "Example Financial Services Ltd and Subsidiaries".into(),
        common_name: None,
        validity: ValidityPeriod::parse("30d").unwrap(),
        algorithm: KeyAlgorithm::EcdsaP384,
        now: NOW,
    }
    .self_signed()
    .unwrap();
    let cn = &issued.certificate.common_names[0];
    assert!(cn.chars().count() <= 64, "{cn}");
    assert!(
        cn.starts_with("Example Financial Services")
            && cn.contains(" Root CA 2026-11-22T12:00:00Z ")
    );
}

#[test]
fn a_leaf_named_like_its_ca_is_refused() {
    let (_, authority) = ca(KeyAlgorithm::EcdsaP384, "30d");
    let ca_cn = authority.certificate().common_names[0].to_uppercase();
    let mut p = leaf(None);
    p.organization = "TEMPORAL".into();
    p.common_name = Some(ca_cn);
    let err = p.signed_by(&authority).unwrap_err().to_string();
    assert!(err.contains("chain.unique-dn"), "{err}");
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
    let key =
        || PrivateKey::from_pem(ca_issued.key.as_ref().unwrap().to_pkcs8_pem().as_bytes()).unwrap();
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
        rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(csr.pem.as_bytes()).unwrap();
    let mut bytes = der.as_ref().to_vec();
    // Flip a byte inside the CN "worker".
    let pos = bytes.windows(6).position(|w| w == b"worker").unwrap();
    bytes[pos] = b'W';
    let pem = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", bytes));
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
    let alphabet = b"0123456789.+-smhdyMSHDY \n-----BEGIN CERTIFICATE REQUEST-----PRIVATE KEY=/+";
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

/// A stand-in for a PKCS#11 token: the key lives in a signer the CA only calls.
#[derive(Debug)]
struct SoftToken(aws_lc_rs::signature::EcdsaKeyPair);

impl ExternalSigner for SoftToken {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.0
            .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| "token refused".into())
    }
}

#[derive(Debug)]
struct BrokenToken;

impl ExternalSigner for BrokenToken {
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, String> {
        Err("CKR_PIN_EXPIRED".into())
    }
}

fn soft_token(issued: &Issued) -> Box<dyn ExternalSigner> {
    let der = issued.key.as_ref().unwrap().to_pkcs8_der();
    Box::new(SoftToken(
        aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
            &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            &der,
        )
        .unwrap(),
    ))
}

#[test]
fn an_external_key_signs_like_a_local_one_and_must_be_the_cas() {
    let (issued, local) = ca(KeyAlgorithm::EcdsaP384, "1y");
    let external = CertificateAuthority::with_external_key(
        issued.certificate.clone(),
        soft_token(&issued),
        NOW,
    )
    .unwrap();
    assert_eq!(external.leaf_key_algorithm(), local.leaf_key_algorithm());
    let leaf = leaf(Some("30d")).signed_by(&external).unwrap();
    let (_, parsed) =
        x509_parser::certificate::X509Certificate::from_der(&leaf.certificate.der).unwrap();
    let (_, ca_parsed) =
        x509_parser::certificate::X509Certificate::from_der(&issued.certificate.der).unwrap();
    parsed
        .verify_signature(Some(ca_parsed.public_key()))
        .expect("the leaf verifies under the CA");
    assert_eq!(leaf.certificate.issuer, issued.certificate.subject);
    // Another CA's key in the token is refused when pairing, not at the first leaf.
    let (other, _) = ca(KeyAlgorithm::EcdsaP384, "1y");
    assert!(matches!(
        CertificateAuthority::with_external_key(
            issued.certificate.clone(),
            soft_token(&other),
            NOW
        ),
        Err(IssueError::KeyMismatch { .. })
    ));
    let err = CertificateAuthority::with_external_key(
        issued.certificate.clone(),
        Box::new(BrokenToken),
        NOW,
    )
    .unwrap_err();
    assert!(err.to_string().contains("CKR_PIN_EXPIRED"), "{err}");
}

#[test]
fn renewals_keep_the_lifetime_but_end_a_day_before_the_ca() {
    let (_, authority) = ca(KeyAlgorithm::EcdsaP384, "30d");
    let leaf = leaf(Some("10d")).signed_by(&authority).unwrap().certificate;
    // The same lifetime (the backdated minute is not added again).
    let p = authority.renewal_period(&leaf, NOW).unwrap();
    assert_eq!(p.to_duration(), Duration::days(10));
    // Later, capped at 24 hours before the CA's end.
    let later = NOW + Duration::days(25);
    let p = authority.renewal_period(&leaf, later).unwrap();
    assert_eq!(later + p.to_duration(), NOW + Duration::days(29));
    // Within a day of the CA's end there is nothing left to give.
    assert!(authority
        .renewal_period(&leaf, NOW + Duration::days(29))
        .is_err());
}
