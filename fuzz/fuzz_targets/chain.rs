//! A client chain as the gateway's verifier sees it: DER certificates (x509-parser), then
//! path building, the chain rules and the filters against a fixed bundle. The input is a
//! sequence of `[u16 big-endian length][DER]` items, leaf first.
#![no_main]

mod common;

use std::sync::OnceLock;

use gatehouse_pki::CertificateInfo;
use gatehouse_policy::{check_client, verify_client, CaBundle, CertificateFilters};
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fn fixture() -> &'static (CaBundle, CertificateFilters, OffsetDateTime) {
    static F: OnceLock<(CaBundle, CertificateFilters, OffsetDateTime)> = OnceLock::new();
    F.get_or_init(|| {
        let now = OffsetDateTime::now_utc();
        let ca = common::fuzz_root(now);
        let bundle = CaBundle::from_pem(ca.pem.as_bytes(), "fixture").expect("bundle");
        let filters =
            CertificateFilters::from_json(r#"{"filters":[{"commonName":"worker-*"},{"subjectAlternativeName":"*.acme.com"}]}"#)
                .expect("filters");
        (bundle, filters, now)
    })
}

fuzz_target!(|data: &[u8]| {
    let (bundle, filters, now) = fixture();
    let mut chain = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && chain.len() < 8 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + len).min(rest.len());
        if let Ok(c) = CertificateInfo::from_der(&rest[2..end]) {
            let _ = c.display_subject();
            chain.push(c);
        }
        rest = &rest[end..];
    }
    if chain.is_empty() {
        return;
    }
    let _ = check_client(&chain, Some(bundle), filters, *now);
    let _ = check_client(&chain, None, &CertificateFilters::none(), *now);
    if let Ok(v) = verify_client(&chain, bundle, filters, *now) {
        // Admission needs a chain ending at the bundle: the fuzzer cannot forge one.
        panic!("a fuzzed chain was admitted: {v:?}");
    }
});
