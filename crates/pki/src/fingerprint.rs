//! SHA-256 certificate fingerprints, the identifier Gatehouse logs and stores for a certificate.

use std::fmt;

/// SHA-256 of a certificate's DER, shown as 64 lowercase hex digits (as `step certificate
/// fingerprint` prints it; `openssl x509 -fingerprint -sha256` prints the same bytes in
/// upper case with colons).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Hashes `der`.
    pub fn of(der: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits, with or without colons, in either case.
    pub fn parse(s: &str) -> Option<Self> {
        let digits: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let text = std::str::from_utf8(pair).ok()?;
            out[i] = u8::from_str_radix(text, 16).ok()?;
        }
        Some(Self(out))
    }
}

/// The SHA-1 fingerprint tcld prints and accepts (`--ca-certificate-fingerprint`), as 40
/// lowercase hex digits. Identification only; never used for security decisions.
pub fn sha1_fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    crate::random::hex(digest.as_ref())
}

/// SHA-256 as lowercase hex, for API key hashes and other non-certificate uses.
pub fn sha256_hex(data: &[u8]) -> String {
    Fingerprint::of(data).to_string()
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::random::hex(&self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_round_trip() {
        // sha256("abc")
        let fp = Fingerprint::of(b"abc");
        assert_eq!(
            fp.to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Fingerprint::parse(&fp.to_string()), Some(fp));
        assert_eq!(
            Fingerprint::parse("BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"),
            Some(fp)
        );
        assert_eq!(Fingerprint::parse("zz"), None);
        assert_eq!(
            sha1_fingerprint(b"abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
