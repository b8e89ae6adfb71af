//! Private keys: generation, loading (PKCS#8, SEC1, PKCS#1) and PKCS#8 output.

use std::fmt;

use rcgen::{KeyPair, PublicKeyData, RsaKeySize};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

/// The key types Gatehouse generates. tcld's choice: ECDSA P-384 by default, RSA-4096 on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA on P-384, signing with SHA-384.
    #[default]
    EcdsaP384,
    /// RSA 4096-bit, PKCS#1 v1.5 signatures with SHA-256.
    Rsa4096,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EcdsaP384 => "ECDSA P-384",
            Self::Rsa4096 => "RSA 4096",
        })
    }
}

/// Why a private key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is passphrase-protected (`ENCRYPTED PRIVATE KEY` or a `Proc-Type: 4,ENCRYPTED` header).
    #[error("the private key is encrypted with a passphrase; Temporal does not accept passphrase-protected keys (decrypt it first: openssl pkey -in KEY -out KEY.plain)")]
    Encrypted,
    /// No `PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY` PEM block was found.
    #[error("no PEM private key found (expected a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block)")]
    NotFound,
    /// A PEM block was found but the key inside could not be parsed or is of an unsupported type.
    #[error("the private key could not be parsed or its type is unsupported (supported: ECDSA P-256/P-384/P-521, RSA 2048+): {reason}")]
    Unsupported { reason: String },
    /// Key generation failed inside the crypto library.
    #[error("key generation failed: {reason}")]
    Generation { reason: String },
}

/// A private key. Its `Debug` never prints key material.
pub struct PrivateKey {
    pair: KeyPair,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.describe())
            .field("key", &"[elided]")
            .finish()
    }
}

impl PrivateKey {
    /// Generates a fresh key.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let pair = match algorithm {
            KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyAlgorithm::Rsa4096 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
            }
        }
        .map_err(|e| KeyError::Generation {
            reason: e.to_string(),
        })?;
        Ok(Self { pair })
    }

    /// Loads a key from PEM: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or
    /// PKCS#1 (`RSA PRIVATE KEY`). Encrypted keys are refused.
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        if is_encrypted_pem(pem) {
            return Err(KeyError::Encrypted);
        }
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => KeyError::NotFound,
            other => KeyError::Unsupported {
                reason: other.to_string(),
            },
        })?;
        let pair = KeyPair::try_from(&der).map_err(|e| KeyError::Unsupported {
            reason: e.to_string(),
        })?;
        Ok(Self { pair })
    }

    /// The key as an unencrypted PKCS#8 `PRIVATE KEY` PEM block.
    ///
    /// Keys loaded from SEC1 or PKCS#1 are written back as they were read; Gatehouse only
    /// writes keys it generated, and those are always PKCS#8.
    pub fn to_pkcs8_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// The key as unencrypted PKCS#8 DER (for keystores, and Java's `PKCS8EncodedKeySpec`).
    pub fn to_pkcs8_der(&self) -> Vec<u8> {
        self.pair.serialize_der()
    }

    /// The DER `SubjectPublicKeyInfo` of the public half.
    pub fn public_key_spki(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// Which of the generated kinds this key is, if it is one of them.
    pub fn algorithm(&self) -> Option<KeyAlgorithm> {
        let alg = self.pair.algorithm();
        if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
            Some(KeyAlgorithm::EcdsaP384)
        } else if is_rsa(alg) {
            Some(KeyAlgorithm::Rsa4096)
        } else {
            None
        }
    }

    /// True for RSA keys of any size.
    pub fn is_rsa(&self) -> bool {
        is_rsa(self.pair.algorithm())
    }

    /// A short description such as "ECDSA P-256".
    pub fn describe(&self) -> &'static str {
        let alg = self.pair.algorithm();
        if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
            "ECDSA P-256"
        } else if alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
            "ECDSA P-384"
        } else if alg == &rcgen::PKCS_ECDSA_P521_SHA512 {
            "ECDSA P-521"
        } else if is_rsa(alg) {
            "RSA"
        } else if alg == &rcgen::PKCS_ED25519 {
            "Ed25519"
        } else {
            "unknown"
        }
    }

    pub(crate) fn pair(&self) -> &KeyPair {
        &self.pair
    }
}

fn is_rsa(alg: &rcgen::SignatureAlgorithm) -> bool {
    alg == &rcgen::PKCS_RSA_SHA256
        || alg == &rcgen::PKCS_RSA_SHA384
        || alg == &rcgen::PKCS_RSA_SHA512
}

/// True when the PEM text holds a passphrase-protected key, in either the PKCS#8
/// (`ENCRYPTED PRIVATE KEY`) or the legacy OpenSSL (`Proc-Type: 4,ENCRYPTED`) form.
pub fn is_encrypted_pem(pem: &[u8]) -> bool {
    contains(pem, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || contains(pem, b"Proc-Type: 4,ENCRYPTED")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pkcs8_pem() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
        let pem = key.to_pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = PrivateKey::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(back.public_key_spki(), key.public_key_spki());
        assert_eq!(back.algorithm(), Some(KeyAlgorithm::EcdsaP384));
    }

    #[test]
    fn debug_never_prints_the_key() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
        let dbg = format!("{key:?}");
        assert!(dbg.contains("[elided]"));
        assert!(!dbg.contains("MI"), "{dbg}");
    }

    #[test]
    fn encrypted_and_garbage_keys_are_refused_with_a_reason() {
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(PrivateKey::from_pem(enc).unwrap_err(), KeyError::Encrypted);
        let legacy = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            PrivateKey::from_pem(legacy).unwrap_err(),
            KeyError::Encrypted
        );
        assert_eq!(PrivateKey::from_pem(b"").unwrap_err(), KeyError::NotFound);
        assert_eq!(
            PrivateKey::from_pem(b"hello").unwrap_err(),
            KeyError::NotFound
        );
        let bad = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            PrivateKey::from_pem(bad).unwrap_err(),
            KeyError::Unsupported { .. }
        ));
    }
}
