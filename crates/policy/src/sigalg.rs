//! Which signature algorithms are acceptable: "RSA or ECDSA … with SHA-256 or stronger; SHA-1
//! and MD5 cannot be used" (Temporal Cloud certificate requirements).

const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const SHA384: &str = "2.16.840.1.101.3.4.2.2";
const SHA512: &str = "2.16.840.1.101.3.4.2.3";

/// The verdict on one certificate's signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignatureVerdict {
    pub(crate) name: &'static str,
    pub(crate) acceptable: bool,
}

/// Judges a signature algorithm by OID (and, for RSASSA-PSS, the hash in its parameters).
pub(crate) fn judge(oid: &str, pss_hash: Option<&str>) -> SignatureVerdict {
    let (name, acceptable) = match oid {
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", true),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", true),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", true),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", true),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", true),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", true),
        "1.2.840.113549.1.1.10" => match pss_hash {
            Some(SHA256) => ("RSASSA-PSS with SHA-256", true),
            Some(SHA384) => ("RSASSA-PSS with SHA-384", true),
            Some(SHA512) => ("RSASSA-PSS with SHA-512", true),
            _ => ("RSASSA-PSS with a hash weaker than SHA-256", false),
        },
        "1.2.840.113549.1.1.5" => ("sha1WithRSAEncryption", false),
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", false),
        "1.2.840.113549.1.1.2" => ("md2WithRSAEncryption", false),
        "1.2.840.113549.1.1.14" => ("sha224WithRSAEncryption", false),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", false),
        "1.2.840.10045.4.3.1" => ("ecdsa-with-SHA224", false),
        "1.3.101.112" => ("Ed25519 (not RSA or ECDSA)", false),
        "1.3.101.113" => ("Ed448 (not RSA or ECDSA)", false),
        "1.2.840.10040.4.3" => ("dsa-with-sha1", false),
        "2.16.840.1.101.3.4.3.2" => ("dsa-with-sha256 (not RSA or ECDSA)", false),
        _ => ("an unrecognised algorithm", false),
    };
    SignatureVerdict { name, acceptable }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_and_up_only() {
        assert!(judge("1.2.840.113549.1.1.11", None).acceptable);
        assert!(judge("1.2.840.10045.4.3.3", None).acceptable);
        assert!(judge("1.2.840.113549.1.1.10", Some(SHA256)).acceptable);
        assert!(!judge("1.2.840.113549.1.1.10", Some("1.3.14.3.2.26")).acceptable);
        assert!(!judge("1.2.840.113549.1.1.5", None).acceptable);
        assert!(!judge("1.2.840.113549.1.1.4", None).acceptable);
        assert!(!judge("1.3.101.112", None).acceptable);
        assert!(!judge("1.2.3.4", None).acceptable);
    }
}
