//! A CA bundle as a user pastes it: PEM parsing, the size and count caps, and every bundle
//! rule (the validator the API and the gateway run). Nothing may panic; the parse of a bundle's
//! own re-encoding must give the same certificates.
#![no_main]

use gatehouse_policy::CaBundle;
use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;

fuzz_target!(|data: &[u8]| {
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    if let Ok(bundle) = CaBundle::from_pem(data, "fuzz") {
        let _ = bundle.lint(false, now);
        let _ = bundle.lint(true, now);
        let _ = bundle.validate(false, now);
        // The certificates, written back as PEM, read back as the same certificates.
        let pem: String = bundle
            .certificates()
            .iter()
            .map(|c| gatehouse_pki::certificate_pem(&c.info.der))
            .collect();
        let again = CaBundle::from_pem(pem.as_bytes(), "fuzz again").expect("re-encoded bundle parses");
        assert_eq!(again.certificates().len(), bundle.certificates().len());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = CaBundle::from_submitted_pem(text);
    }
});
