//! Randomness and hex: the one place the workspace draws random bytes and spells bytes as hex.

use std::fmt::Write as _;

/// The system's random number generator failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[error("the system random number generator failed")]
pub struct RandomError;

/// `N` random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(bytes)
}

/// `len` random bytes as `2 * len` lowercase hex digits.
pub fn random_hex(len: usize) -> Result<String, RandomError> {
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(hex(&bytes))
}

/// Lowercase hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lowercase_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn random_hex_has_the_asked_length_and_differs() {
        let a = random_hex(16).expect("rng");
        let b = random_hex(16).expect("rng");
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        assert_eq!(random_hex(0).expect("rng"), "");
        assert_ne!(random_bytes::<16>().expect("rng"), [0u8; 16]);
    }
}
