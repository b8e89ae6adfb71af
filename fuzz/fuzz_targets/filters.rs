//! Certificate filters from JSON (tcld's format plus roles): parsing, the filter rules, and
//! matching against fixed leaves. A document that parses must survive its own round trip.
#![no_main]

mod common;

use std::sync::OnceLock;

use gatehouse_pki::{CertificateAuthority, CertificateInfo, LeafParams, PrivateKey, SubjectAltName};
use gatehouse_policy::CertificateFilters;
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn leaves() -> &'static Vec<CertificateInfo> {
    static L: OnceLock<Vec<CertificateInfo>> = OnceLock::new();
    L.get_or_init(|| {
        let now = OffsetDateTime::now_utc();
        let ca = common::fuzz_root(now);
        let key = PrivateKey::from_pem(ca.key.as_ref().expect("key").to_pkcs8_pem().as_bytes())
            .expect("key");
        let ca = CertificateAuthority::new(ca.certificate.clone(), key, now).expect("authority");
        [
            ("worker-1.acme.com", Some("Payments"), vec![SubjectAltName::Dns("worker-1.acme.com".into())]),
            ("\u{212A}ube-x", None, vec![SubjectAltName::Uri("spiffe://acme/w".into())]),
            ("ops", Some("Ops"), vec![SubjectAltName::Email("ops@acme.com".into()), SubjectAltName::Ip([10, 0, 0, 1].into())]),
        ]
        .into_iter()
        .map(|(cn, ou, sans)| {
            LeafParams {
                organization: "Acme".into(),
                organizational_unit: ou.map(Into::into),
                common_name: Some(cn.into()),
                validity: None,
                subject_alt_names: sans,
                now,
            }
            .signed_by(&ca)
            .expect("leaf")
            .certificate
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    let Ok(filters) = CertificateFilters::from_json(json) else { return };
    for leaf in leaves() {
        let _ = filters.first_match(leaf);
        let _ = filters.permissions(leaf);
    }
    let again = CertificateFilters::from_json(&filters.to_json()).expect("own JSON parses");
    assert_eq!(again, filters, "round trip changed the filters");
});
