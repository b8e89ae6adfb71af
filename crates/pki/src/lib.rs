//! Gatehouse PKI: keys, certificate issuance, PEM input, safe file output and tcld's duration
//! grammar. Synchronous, no network, one crypto provider (aws-lc-rs).
//!
//! What counts as a *valid* certificate for a Temporal namespace is not decided here but in
//! `gatehouse-policy`.

mod backoff;
mod cert;
mod der;
mod duration;
mod fingerprint;
mod issue;
mod key;
mod output;
mod pem;
mod random;

pub use backoff::Backoff;
pub use cert::{
    dn_key, BasicConstraints, CertificateError, CertificateInfo, ExtendedKeyUsage, KeyUsage,
    SubjectAltName,
};
pub use der::encode_tlv;
pub use duration::{DurationError, ValidityPeriod};
pub use fingerprint::{sha1_fingerprint, sha256_hex, Fingerprint};
pub use issue::{
    certificate_pem, renewal_period, rfc3339, CaParams, CertificateAuthority, CsrParams,
    CsrRequest, ExternalSigner, IssueError, Issued, LeafParams, NewCsr, Profile, ServerParams,
    BACKDATE, CA_MAX_VALIDITY, CA_MIN_VALIDITY, LEAF_DEFAULT_MARGIN,
};
pub use key::{is_encrypted_pem, KeyAlgorithm, KeyError, PrivateKey};
pub use output::{write_files, FileKind, OutputFile, WriteError};
pub use pem::{parse_certificates, read_input_file, InputError, MAX_INPUT_BYTES};
pub use random::{hex, random_bytes, random_hex, RandomError};
