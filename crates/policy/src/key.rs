//! Private key rules: not passphrase-protected, parseable, and matching its certificate.

use gatehouse_pki::{CertificateInfo, KeyError, PrivateKey};

use crate::rule::{CertRef, Finding, Rule};

/// Checks a PEM private key; with `cert`, also that the key belongs to it.
pub fn lint_key(pem: &[u8], source_name: &str, cert: Option<&CertificateInfo>) -> Vec<Finding> {
    match PrivateKey::from_pem(pem) {
        Err(KeyError::Encrypted) => vec![Finding::new(
            Rule::KeyEncrypted,
            None,
            format!("{source_name}: the private key is encrypted with a passphrase"),
        )],
        Err(e) => vec![Finding::new(
            Rule::KeyUnparseable,
            None,
            format!("{source_name}: {e}"),
        )],
        Ok(key) => match cert {
            Some(cert) if key.public_key_spki() != cert.spki_der => vec![Finding::new(
                Rule::KeyMismatch,
                Some(CertRef::new("chain #1 (leaf)", cert)),
                format!(
                    "{source_name} ({}) is not the key of this certificate",
                    key.describe()
                ),
            )],
            _ => Vec::new(),
        },
    }
}
