//! Issuing a client certificate (`gatehouse gen leaf` without the file I/O): key generation
//! plus signing, under an ECDSA P-384 CA and under an RSA-4096 CA.

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_pki::{CaParams, CertificateAuthority, KeyAlgorithm, LeafParams, ValidityPeriod};
use time::OffsetDateTime;

fn authority(algorithm: KeyAlgorithm, now: OffsetDateTime) -> CertificateAuthority {
    let issued = CaParams {
        organization: "temporal".into(),
        common_name: None,
        validity: ValidityPeriod::parse("1y").expect("duration"),
        algorithm,
        now,
    }
    .self_signed()
    .expect("CA");
    let key = issued.key.expect("CA key");
    CertificateAuthority::new(issued.certificate, key, now).expect("usable CA")
}

fn bench_gen_leaf(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let leaf = LeafParams {
        organization: "temporal".into(),
        organizational_unit: None,
        common_name: Some("worker".into()),
        validity: Some(ValidityPeriod::parse("30d").expect("duration")),
        subject_alt_names: vec![],
        now,
    };
    let ec = authority(KeyAlgorithm::EcdsaP384, now);
    c.bench_function("gen leaf (ECDSA P-384 key + signature)", |b| {
        b.iter(|| leaf.signed_by(&ec).expect("issued"))
    });
    let rsa = authority(KeyAlgorithm::Rsa4096, now);
    let mut group = c.benchmark_group("rsa");
    group.sample_size(10);
    group.bench_function("gen leaf (RSA-4096 key + signature)", |b| {
        b.iter(|| leaf.signed_by(&rsa).expect("issued"))
    });
    group.finish();
}

criterion_group!(benches, bench_gen_leaf);
criterion_main!(benches);
