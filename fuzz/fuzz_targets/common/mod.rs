//! Fixtures the targets share (each target is its own crate and includes this module).

use gatehouse_pki::{CaParams, Issued, KeyAlgorithm, ValidityPeriod};
use time::OffsetDateTime;

/// A 30-day ECDSA P-384 root, "O=Acme, CN=Fuzz Root", made at `now`.
pub fn fuzz_root(now: OffsetDateTime) -> Issued {
    CaParams {
        organization: "Acme".into(),
        common_name: Some("Fuzz Root".into()),
        validity: ValidityPeriod::parse("30d").expect("duration"),
        algorithm: KeyAlgorithm::EcdsaP384,
        now,
    }
    .self_signed()
    .expect("CA")
}
