//! The new CA's files in a rotation: generated here, or an existing pair read, checked and
//! (with `rotate ca`) checked against the flags and the other namespaces' bundles.

use std::path::Path;

use gatehouse_api::wire::NamespaceList;
use gatehouse_pki::{
    parse_certificates, read_input_file, rfc3339, write_files, CaParams, CertificateAuthority,
    CertificateInfo, FileKind, KeyAlgorithm, OutputFile, PrivateKey, ValidityPeriod,
};
use time::{Duration, OffsetDateTime};

use super::record::Rotation;
use super::RotateCaArgs;
use crate::client::Client;
use crate::fail::Failure;

/// `rotate ca` with a CA file that already exists: say so, refuse an `--org` or `-d` the file
/// contradicts (they apply only to a CA generated here), and ask before a CA that another
/// namespace already accepts goes into this one (its clients would be admitted here too).
pub(super) fn reuse(c: &Client, a: &RotateCaArgs) -> Result<(), Failure> {
    let info = read_ca_files(&a.ca_cert, &a.ca_key)?;
    let file = a.ca_cert.display();
    // (A CA without O= is taken as it is: --org only names a CA generated here.)
    let same_org = |o: &String| o.eq_ignore_ascii_case(&a.organization);
    if !info.organizations.is_empty() && !info.organizations.iter().any(same_org) {
        return Err(Failure::Input(format!(
            "--org {:?} contradicts {file}, which already exists: its CA is {}. Use that CA's organization, or name a new file with --ca-cert/--ca-key to generate a CA here",
            a.organization,
            info.display_subject()
        )));
    }
    if let Some(d) = &a.validity_period {
        let wanted = ValidityPeriod::parse(d)
            .map_err(|e| Failure::Input(format!("--validity-period: {e}")))?
            .to_duration();
        let has = info.not_after - info.not_before;
        if (has - wanted).abs() > Duration::days(1) {
            return Err(Failure::Input(format!(
                "-d {d} contradicts {file}, which already exists: its CA is valid from {} to {} ({} days). Drop -d to use it as it is, or name a new file to generate a CA here",
                rfc3339(info.not_before),
                rfc3339(info.not_after),
                has.whole_days()
            )));
        }
    }
    eprintln!(
        "using the existing CA in {file}: {} (sha256 {}, valid until {})",
        info.display_subject(),
        info.fingerprint,
        rfc3339(info.not_after)
    );
    let sha256 = info.fingerprint.to_string();
    let namespace = &a.target.namespace;
    let list: NamespaceList = c.get("/api/v1/namespaces")?;
    let elsewhere: Vec<_> = list
        .namespaces
        .iter()
        .filter(|n| n.name != *namespace)
        .filter(|n| n.accepted_client_cas.iter().any(|ca| ca.sha256 == sha256))
        .map(|n| n.name.as_str())
        .collect();
    if !elsewhere.is_empty() {
        let what = format!(
            "the CA in {file} is already accepted by namespace(s) {}: adding it to {namespace} would admit their clients to {namespace} too (give each namespace its own CA)",
            elsewhere.join(", ")
        );
        if a.dry_run {
            eprintln!("warning: {what}");
        } else {
            c.confirm(&what)?;
        }
    }
    Ok(())
}

pub(super) fn read_ca_files(cert: &Path, key: &Path) -> Result<CertificateInfo, Failure> {
    let name = cert.display().to_string();
    let info = parse_certificates(&read_input_file(cert)?, &name)?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Input(format!("{name}: no certificate")))?;
    let key_pem = read_input_file(key)?;
    let key = PrivateKey::from_pem(&key_pem)
        .map_err(|e| Failure::Input(format!("{}: {e}", key.display())))?;
    // Checks CA:TRUE, that the key matches, and that it is valid now.
    CertificateAuthority::new(info.clone(), key, OffsetDateTime::now_utc())?;
    Ok(info)
}

/// A new CA for rotation `r` (its organization, validity and key type), written to its
/// `--ca-cert`/`--ca-key` (the key 0600; neither overwritten).
pub(super) fn generate_ca(r: &Rotation) -> Result<CertificateInfo, Failure> {
    let validity = ValidityPeriod::parse(&r.validity_period)
        .map_err(|e| Failure::Input(format!("--validity-period: {e}")))?;
    let issued = CaParams {
        organization: r.organization.clone(),
        common_name: None,
        validity,
        algorithm: if r.rsa {
            KeyAlgorithm::Rsa4096
        } else {
            KeyAlgorithm::EcdsaP384
        },
        now: OffsetDateTime::now_utc(),
    }
    .self_signed()?;
    let key = issued
        .key
        .as_ref()
        .ok_or_else(|| Failure::Internal("no key was generated".into()))?;
    write_files(
        &[
            OutputFile {
                path: &r.ca_key,
                contents: key.to_pkcs8_pem().as_bytes(),
                kind: FileKind::PrivateKey,
            },
            OutputFile {
                path: &r.ca_cert,
                contents: issued.pem.as_bytes(),
                kind: FileKind::Public,
            },
        ],
        &[],
        false,
    )?;
    Ok(issued.certificate)
}
