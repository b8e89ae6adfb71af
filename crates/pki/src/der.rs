//! Just enough DER to splice exact names into a certificate rcgen built.
//!
//! rcgen keeps a distinguished name as a map, so it cannot write a name that repeats an
//! attribute type (`DC=com, DC=example`, common under Active Directory CAs) or has multi-valued
//! RDNs. Gatehouse therefore lets rcgen build the certificate, then replaces the issuer (and,
//! for a signed CSR, the subject) with the exact bytes of the CA's subject (or the request's),
//! and signs the edited TBSCertificate again with the CA key.

/// One TLV: its tag byte, and where its contents start and the whole element ends.
struct Tlv {
    tag: u8,
    header: usize,
    end: usize,
}

fn read(input: &[u8], at: usize) -> Option<Tlv> {
    let tag = *input.get(at)?;
    let first = *input.get(at + 1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(at + 2..at + 2 + n)?;
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | *b as usize),
            2 + n,
        )
    };
    let end = at.checked_add(header)?.checked_add(len)?;
    (end <= input.len()).then_some(Tlv { tag, header, end })
}

/// One DER TLV: `tag`, a minimal length, `contents`.
pub fn encode_tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
    out
}

/// Replaces the issuer and/or subject Name of a certificate and re-signs it with `sign`.
/// Returns `None` if `cert` is not shaped like a certificate.
pub(crate) fn replace_names(
    cert: &[u8],
    issuer: Option<&[u8]>,
    subject: Option<&[u8]>,
    sign: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let outer = read(cert, 0)?;
    let tbs = read(cert, outer.header)?;
    let alg = read(cert, tbs.end)?;
    let tbs_bytes = &cert[outer.header..tbs.end];
    // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, ...
    let mut fields = Vec::new();
    let mut at = tbs.header;
    while at < tbs_bytes.len() {
        let f = read(tbs_bytes, at)?;
        fields.push((at, f.end, f.tag));
        at = f.end;
    }
    let first = usize::from(fields.first()?.2 == 0xa0);
    let (issuer_i, subject_i) = (first + 2, first + 4);
    let mut body = Vec::with_capacity(tbs_bytes.len() + 64);
    for (i, (start, end, _)) in fields.iter().enumerate() {
        match (i, issuer, subject) {
            (i, Some(name), _) if i == issuer_i => body.extend_from_slice(name),
            (i, _, Some(name)) if i == subject_i => body.extend_from_slice(name),
            _ => body.extend_from_slice(&tbs_bytes[*start..*end]),
        }
    }
    let new_tbs = encode_tlv(0x30, &body);
    let signature = sign(&new_tbs)?;
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0);
    bits.extend_from_slice(&signature);
    let mut out = new_tbs;
    out.extend_from_slice(&cert[tbs.end..alg.end]);
    out.extend_from_slice(&encode_tlv(0x03, &bits));
    Some(encode_tlv(0x30, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_input_is_none_not_a_panic() {
        assert!(replace_names(&[], None, None, |_| Some(vec![])).is_none());
        assert!(
            replace_names(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], None, None, |_| Some(
                vec![]
            ))
            .is_none()
        );
        assert!(
            replace_names(&[0x30, 0x03, 0x30, 0x01, 0x00], None, None, |_| Some(
                vec![]
            ))
            .is_none()
        );
    }

    #[test]
    fn long_lengths_round_trip() {
        let big = vec![7u8; 300];
        let e = encode_tlv(0x04, &big);
        let t = read(&e, 0).unwrap();
        assert_eq!((t.tag, t.header, t.end), (0x04, 4, 304));
    }
}
