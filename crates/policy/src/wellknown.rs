//! Well-known CAs: the Mozilla root store as shipped in `webpki-roots`. A namespace that trusts
//! one of these (or a CA one of them issued) must also have certificate filters, or it would
//! admit anybody who can buy a certificate (Temporal Cloud CA requirements).

use std::collections::HashMap;
use std::sync::OnceLock;

use gatehouse_pki::CertificateInfo;
use x509_parser::prelude::{FromDer, X509Name};

struct Index {
    /// Full SPKI DER -> root name.
    by_spki: HashMap<Vec<u8>, String>,
    /// Case-folded subject -> root name.
    by_subject: HashMap<String, String>,
}

fn der_sequence(contents: &[u8]) -> Vec<u8> {
    gatehouse_pki::encode_tlv(0x30, contents)
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_spki = HashMap::new();
        let mut by_subject = HashMap::new();
        for root in webpki_roots::TLS_SERVER_ROOTS {
            let subject_der = der_sequence(root.subject.as_ref());
            let Ok((_, name)) = X509Name::from_der(&subject_der) else {
                continue;
            };
            let label = name.to_string();
            let attrs: Vec<(String, String)> = name
                .iter_attributes()
                .map(|a| {
                    (
                        a.attr_type().to_id_string(),
                        a.as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            by_subject.insert(gatehouse_pki::dn_key(&attrs), label.clone());
            by_spki.insert(der_sequence(root.subject_public_key_info.as_ref()), label);
        }
        Index {
            by_spki,
            by_subject,
        }
    })
}

/// If `cert` is a well-known CA — a Mozilla root (same key or same subject) or issued by one —
/// the name of that root.
pub fn well_known_root(cert: &CertificateInfo) -> Option<&'static str> {
    let idx = index();
    idx.by_spki
        .get(&cert.spki_der)
        .or_else(|| idx.by_subject.get(&cert.subject_key()))
        .or_else(|| idx.by_subject.get(&cert.issuer_key()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_holds_the_mozilla_roots() {
        assert!(index().by_spki.len() > 100);
        assert!(index()
            .by_subject
            .values()
            .any(|n| n.contains("ISRG Root X1")));
    }
}
