//! `verify_client` on a realistic worst case: a 3-certificate chain (leaf, intermediate sent
//! by the client, root in the bundle), a full 16-certificate bundle and 25 filters, of which
//! only the last matches.

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_pki::CertificateInfo;
use gatehouse_policy::{verify_client, CaBundle, CertificateFilter, CertificateFilters};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::hint::black_box;
use time::{Duration, OffsetDateTime};

fn params(cn: &str, ca: bool, now: OffsetDateTime) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::OrganizationName, "Acme");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = now - Duration::days(1);
    p.not_after = now + Duration::days(if ca { 300 } else { 90 });
    p.use_authority_key_identifier_extension = true;
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    p
}

fn info(der: &[u8]) -> CertificateInfo {
    CertificateInfo::from_der(der).expect("generated certificate parses")
}

fn bench_verify(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let alg = &rcgen::PKCS_ECDSA_P384_SHA384;
    let root_key = KeyPair::generate_for(alg).expect("key");
    let root_params = params("Acme Root", true, now);
    let root = root_params.self_signed(&root_key).expect("root");
    let inter_key = KeyPair::generate_for(alg).expect("key");
    let inter_params = params("Acme Issuing", true, now);
    let inter = inter_params
        .signed_by(&inter_key, &Issuer::from_params(&root_params, &root_key))
        .expect("intermediate");
    let leaf_key = KeyPair::generate_for(alg).expect("key");
    let leaf = params("payments.worker.acme", false, now)
        .signed_by(&leaf_key, &Issuer::from_params(&inter_params, &inter_key))
        .expect("leaf");

    // 15 other roots first, the right one last.
    let mut bundle_certs = Vec::new();
    let mut pem_len = 0;
    for i in 0..15 {
        let k = KeyPair::generate_for(alg).expect("key");
        let cert = params(&format!("Other Root {i}"), true, now)
            .self_signed(&k)
            .expect("root");
        pem_len += cert.pem().len();
        bundle_certs.push(info(cert.der()));
    }
    pem_len += root.pem().len();
    bundle_certs.push(info(root.der()));
    let bundle = CaBundle::from_certificates(bundle_certs, pem_len);

    let mut filters: Vec<CertificateFilter> = (0..24)
        .map(|i| CertificateFilter {
            common_name: format!("service-{i}.acme"),
            organization: "Acme".into(),
            ..Default::default()
        })
        .collect();
    filters.push(CertificateFilter {
        common_name: "*.worker.acme".into(),
        organization: "acme".into(),
        ..Default::default()
    });
    let filters = CertificateFilters::new(filters).expect("valid filters");
    let chain = vec![info(leaf.der()), info(inter.der())];

    // Sanity: the benchmark measures an admission, not an early refusal.
    let v = verify_client(&chain, &bundle, &filters, now).expect("admitted");
    assert_eq!(v.matched_filter, Some(24));

    c.bench_function(
        "verify_client: 3-cert chain, 16-cert bundle, 25 filters",
        |b| b.iter(|| verify_client(black_box(&chain), black_box(&bundle), &filters, now)),
    );
    c.bench_function("parse client chain (2 certs, DER)", |b| {
        b.iter(|| {
            (
                CertificateInfo::from_der(black_box(leaf.der())),
                CertificateInfo::from_der(black_box(inter.der())),
            )
        })
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
