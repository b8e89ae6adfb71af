//! Rule tests. Every fixture is generated here with rcgen (plus small DER edits for shapes rcgen
//! will not produce, such as X.509 v1 or a SHA-1 algorithm identifier).

use gatehouse_pki::CertificateInfo;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SigningKey,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::*;

mod bundle;
mod client;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

struct Made {
    info: CertificateInfo,
    key: KeyPair,
    params: CertificateParams,
}

impl Made {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

fn base(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::OrganizationName, "Acme");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = NOW - Duration::days(1);
    p.not_after = NOW + Duration::days(300);
    p.use_authority_key_identifier_extension = true;
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = base(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn leaf_params(cn: &str) -> CertificateParams {
    let mut p = base(cn);
    p.is_ca = IsCa::ExplicitNoCa;
    p.not_after = NOW + Duration::days(200);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p
}

fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

fn info(der: &[u8]) -> CertificateInfo {
    CertificateInfo::from_der(der).unwrap()
}

fn self_signed(params: CertificateParams) -> Made {
    let key = key();
    let cert = params.self_signed(&key).unwrap();
    Made {
        info: info(cert.der()),
        key,
        params,
    }
}

fn signed(params: CertificateParams, by: &Made) -> Made {
    let key = key();
    let cert = params.signed_by(&key, &by.issuer()).unwrap();
    Made {
        info: info(cert.der()),
        key,
        params,
    }
}

fn root(cn: &str) -> Made {
    self_signed(ca_params(cn))
}

/// A private CA carrying the subject of a Mozilla root (ISRG Root X1): `ca.well-known`.
fn isrg_lookalike() -> Made {
    let mut p = ca_params("ISRG Root X1");
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CountryName, "US");
    p.distinguished_name
        .push(DnType::OrganizationName, "Internet Security Research Group");
    p.distinguished_name
        .push(DnType::CommonName, "ISRG Root X1");
    self_signed(p)
}

fn bundle(certs: &[&CertificateInfo]) -> CaBundle {
    let size = certs.iter().map(|c| c.der.len() * 4 / 3 + 60).sum();
    CaBundle::from_certificates(certs.iter().map(|c| (*c).clone()).collect(), size)
}

fn rules(findings: &[Finding]) -> Vec<Rule> {
    findings.iter().map(|f| f.rule).collect()
}

fn errors(findings: &[Finding]) -> Vec<Rule> {
    findings
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.rule)
        .collect()
}

// --- DER surgery for shapes rcgen will not make --------------------------------------------

/// Splits one TLV at the start of `der`: (header length, total length).
fn tlv(der: &[u8]) -> (usize, usize) {
    let first = der[1];
    if first < 0x80 {
        (2, 2 + first as usize)
    } else {
        let n = (first & 0x7f) as usize;
        let len = der[2..2 + n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | *b as usize);
        (2 + n, 2 + n + len)
    }
}

fn wrap(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(contents);
    out
}

/// Rebuilds a certificate from edited TBS bytes, signing it with `key`.
fn resign(tbs: &[u8], alg_id: &[u8], key: &KeyPair) -> Vec<u8> {
    let sig = key.sign(tbs).unwrap();
    let mut bits = vec![0u8];
    bits.extend_from_slice(&sig);
    let mut body = tbs.to_vec();
    body.extend_from_slice(alg_id);
    body.extend_from_slice(&wrap(0x03, &bits));
    wrap(0x30, &body)
}

/// (TBS, signatureAlgorithm) of a certificate.
fn split_cert(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (h, _) = tlv(der);
    let inner = &der[h..];
    let (_, tbs_len) = tlv(inner);
    let tbs = inner[..tbs_len].to_vec();
    let (_, alg_len) = tlv(&inner[tbs_len..]);
    (tbs, inner[tbs_len..tbs_len + alg_len].to_vec())
}

/// An X.509 v1 certificate: rcgen params with no extensions, version field removed, re-signed.
fn v1(params: CertificateParams, issuer: Option<&Made>) -> Made {
    let mut params = params;
    params.is_ca = IsCa::NoCa;
    params.key_usages.clear();
    params.extended_key_usages.clear();
    params.use_authority_key_identifier_extension = false;
    let key = key();
    let der = match issuer {
        None => params.self_signed(&key).unwrap().der().to_vec(),
        Some(by) => params.signed_by(&key, &by.issuer()).unwrap().der().to_vec(),
    };
    let (tbs, alg) = split_cert(&der);
    let (h, _) = tlv(&tbs);
    let fields = &tbs[h..];
    assert_eq!(fields[0], 0xa0, "version field expected");
    let (_, vlen) = tlv(fields);
    let tbs_v1 = wrap(0x30, &fields[vlen..]);
    let signer = issuer.map_or(&key, |m| &m.key);
    let der = resign(&tbs_v1, &alg, signer);
    Made {
        info: info(&der),
        key,
        params,
    }
}

/// The same certificate labelled sha1WithRSAEncryption (the signature no longer verifies;
/// the algorithm rule reads the label).
fn relabel_sha1(made: &Made) -> CertificateInfo {
    // ecdsa-with-SHA256 (2a 86 48 ce 3d 04 03 02) -> sha1WithRSAEncryption is longer, so use
    // an equal-length swap: ecdsa-with-SHA256 -> ecdsa-with-SHA224 (…04 03 01), also refused,
    // and check the RSA/SHA-1 name through sigalg's own unit test.
    let mut der = made.info.der.to_vec();
    let oid = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let mut n = 0;
    let mut i = 0;
    while i + oid.len() <= der.len() {
        if der[i..i + oid.len()] == oid {
            der[i + oid.len() - 1] = 0x01;
            n += 1;
        }
        i += 1;
    }
    assert_eq!(n, 2, "algorithm appears in TBS and outside it");
    info(&der)
}
