//! The bundle rules: what the control plane checks before it stores a CA bundle.

use super::*;

#[test]
fn a_good_bundle_is_clean() {
    let r = root("Acme Root 2026");
    let inter = signed(ca_params("Acme Issuing 2026"), &r);
    let b = bundle(&[&r.info, &inter.info]);
    assert_eq!(b.lint(false, NOW), vec![]);
    assert!(b.validate(false, NOW).is_ok());
}

#[test]
fn bundle_rules() {
    let r = root("Acme Root");
    // bundle.empty
    assert_eq!(rules(&bundle(&[]).lint(false, NOW)), [Rule::BundleEmpty]);
    // Submitted text: empty, too big, not certificates.
    let submitted = |pem: &str| CaBundle::from_submitted_pem(pem).map(|_| ()).unwrap_err();
    assert_eq!(rules(&submitted("  \n")), [Rule::BundleEmpty]);
    assert_eq!(
        rules(&submitted(&"A".repeat(MAX_BUNDLE_BYTES + 1))),
        [Rule::BundleMaxSize]
    );
    assert_eq!(
        rules(&submitted(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )),
        [Rule::BundleMalformed]
    );
    let pem = gatehouse_pki::certificate_pem(&r.info.der);
    assert_eq!(
        CaBundle::from_submitted_pem(&pem)
            .unwrap()
            .certificates()
            .len(),
        1
    );
    // bundle.max-certs: 17 distinct roots
    let many: Vec<Made> = (0..17).map(|i| root(&format!("Root {i}"))).collect();
    let refs: Vec<&CertificateInfo> = many.iter().map(|m| &m.info).collect();
    assert_eq!(
        errors(&bundle(&refs).lint(false, NOW)),
        [Rule::BundleMaxCerts]
    );
    assert!(bundle(&refs[..16]).validate(false, NOW).is_ok());
    // bundle.max-size
    let big = CaBundle::from_certificates(vec![r.info.clone()], MAX_BUNDLE_BYTES + 1);
    assert_eq!(rules(&big.lint(false, NOW)), [Rule::BundleMaxSize]);
    let ok = CaBundle::from_certificates(vec![r.info.clone()], MAX_BUNDLE_BYTES);
    assert_eq!(rules(&ok.lint(false, NOW)), []);
    // bundle.duplicate (a warning)
    let dup = bundle(&[&r.info, &r.info]).lint(false, NOW);
    assert_eq!(rules(&dup), [Rule::BundleDuplicate]);
    assert!(!dup[0].is_error());
    // bundle.unique-subject: a rollover CA with the same subject, in different case.
    let same = root("ACME ROOT");
    let f = bundle(&[&r.info, &same.info]).lint(false, NOW);
    assert_eq!(rules(&f), [Rule::BundleUniqueSubject]);
    assert_eq!(f[0].certificate.as_ref().unwrap().position, "bundle #2");
}

#[test]
fn ca_rules() {
    // ca.x509-v3 (a v1 root has no BasicConstraints either, so ca.is-ca also fires)
    let v1root = v1(base("Old Root"), None);
    assert_eq!(v1root.info.version, 1);
    let f = errors(&bundle(&[&v1root.info]).lint(false, NOW));
    assert_eq!(f, [Rule::CaX509V3, Rule::CaIsCa]);
    // ca.is-ca: a client certificate put in the bundle
    let r = root("Acme Root");
    let l = signed(leaf_params("worker"), &r);
    let f = bundle(&[&r.info, &l.info]).lint(false, NOW);
    assert_eq!(errors(&f), [Rule::CaIsCa, Rule::CaKeyCertSign]);
    // ca.key-cert-sign
    let mut p = ca_params("No Sign Root");
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let nosign = self_signed(p);
    assert_eq!(
        errors(&bundle(&[&nosign.info]).lint(false, NOW)),
        [Rule::CaKeyCertSign]
    );
    // ca.chains-in-bundle: an intermediate without its root
    let inter = signed(ca_params("Acme Issuing"), &r);
    let f = bundle(&[&inter.info]).lint(false, NOW);
    assert_eq!(errors(&f), [Rule::CaChainsInBundle]);
    assert!(f[0].message.contains("Acme Root"), "{}", f[0].message);
    // …and a same-named impostor root does not make it chain: the signature is checked.
    let impostor = root("Acme Root");
    assert_eq!(
        errors(&bundle(&[&impostor.info, &inter.info]).lint(false, NOW)),
        [Rule::CaChainsInBundle]
    );
    // ca.well-known: a CA carrying a Mozilla root's subject
    let public = isrg_lookalike();
    let f = bundle(&[&public.info]).lint(false, NOW);
    assert_eq!(errors(&f), [Rule::CaWellKnown]);
    assert!(f[0].message.contains("ISRG Root X1"));
    let with_filters = bundle(&[&public.info]).lint(true, NOW);
    assert_eq!(rules(&with_filters), [Rule::CaWellKnown]);
    assert!(!with_filters[0].is_error(), "accepted with filters");
}

#[test]
fn certificate_rules_in_a_bundle() {
    // cert.signature-algorithm
    let r = root("Acme Root");
    let weak = relabel_sha1(&r);
    let f = bundle(&[&weak]).lint(false, NOW);
    assert!(errors(&f).contains(&Rule::CertSignatureAlgorithm), "{f:?}");
    assert!(f.iter().any(|x| x.message.contains("ecdsa-with-SHA224")));
    // cert.expired / cert.not-yet-valid / cert.expiring-soon
    let mut p = ca_params("Expired Root");
    p.not_before = NOW - Duration::days(400);
    p.not_after = NOW - Duration::days(1);
    let expired = self_signed(p);
    let f = bundle(&[&expired.info]).lint(false, NOW);
    assert_eq!(errors(&f), [Rule::CertExpired]);
    assert!(
        f[0].message.contains("2026-11-21T12:00:00Z"),
        "{}",
        f[0].message
    );
    let mut p = ca_params("Future Root");
    p.not_before = NOW + Duration::days(1);
    let future = self_signed(p);
    assert_eq!(
        errors(&bundle(&[&future.info]).lint(false, NOW)),
        [Rule::CertNotYetValid]
    );
    let mut p = ca_params("Soon Root");
    p.not_after = NOW + Duration::days(15);
    let soon = self_signed(p);
    let f = bundle(&[&soon.info]).lint(false, NOW);
    assert_eq!(rules(&f), [Rule::CertExpiringSoon]);
    assert!(!f[0].is_error());
    // Edge: exactly at notAfter is still valid; one second later it is expired.
    assert_eq!(
        errors(&bundle(&[&expired.info]).lint(false, expired.info.not_after - Duration::days(20))),
        []
    );
    assert_eq!(
        errors(&bundle(&[&soon.info]).lint(false, soon.info.not_after + Duration::seconds(1))),
        [Rule::CertExpired]
    );
}
