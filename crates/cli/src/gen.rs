//! `gatehouse gen …` and `gatehouse sign`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gatehouse_pki::{
    parse_certificates, read_input_file, rfc3339, write_files, CaParams, CertificateAuthority,
    CertificateInfo, CsrParams, CsrRequest, FileKind, Issued, KeyAlgorithm, LeafParams, OutputFile,
    PrivateKey, Profile, ServerParams, SubjectAltName, ValidityPeriod,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::cert_args::{
    GenCaArgs, GenCommand, GenCsrArgs, GenLeafArgs, GenServerArgs, ProfileArg, SignArgs,
    SignedFiles,
};
use crate::deploy::{check_deploy, deploy_outputs};
use crate::fail::Failure;
use crate::flags::{IssuerArgs, OutputFormat};

pub(crate) fn run(command: GenCommand) -> Result<ExitCode, Failure> {
    match command {
        GenCommand::Ca(a) => ca(a),
        GenCommand::Leaf(a) => leaf(a),
        GenCommand::Server(a) => server(a),
        GenCommand::Csr(a) => csr(a),
    }
}

/// An optional `-d`: as in tcld, absent or zero means "until 24 hours before the CA expires".
fn period(flag: &Option<String>) -> Result<Option<ValidityPeriod>, Failure> {
    let parsed = flag
        .as_deref()
        .map(|s| {
            ValidityPeriod::parse(s).map_err(|e| Failure::Input(format!("--validity-period: {e}")))
        })
        .transpose()?;
    Ok(parsed.filter(|p| p.as_nanos() != 0))
}

fn algorithm(rsa: bool) -> KeyAlgorithm {
    if rsa {
        KeyAlgorithm::Rsa4096
    } else {
        KeyAlgorithm::EcdsaP384
    }
}

/// Parses `--san` values: explicit `DNS:`, `URI:`, `email:`, `IP:` prefixes, or guessed.
pub(crate) fn parse_san(value: &str) -> Result<SubjectAltName, Failure> {
    let bad = |why: &str| Failure::Input(format!("--san {value:?}: {why}"));
    if value.trim().is_empty() {
        return Err(bad("empty"));
    }
    let lower = value.to_ascii_lowercase();
    let san = if let Some(rest) = lower.strip_prefix("dns:").map(|_| &value[4..]) {
        SubjectAltName::Dns(rest.to_owned())
    } else if lower.starts_with("uri:") {
        SubjectAltName::Uri(value[4..].to_owned())
    } else if lower.starts_with("email:") {
        SubjectAltName::Email(value[6..].to_owned())
    } else if lower.starts_with("ip:") {
        SubjectAltName::Ip(value[3..].parse().map_err(|_| bad("not an IP address"))?)
    } else if let Ok(ip) = value.parse() {
        SubjectAltName::Ip(ip)
    } else if value.contains("://") {
        SubjectAltName::Uri(value.to_owned())
    } else if value.contains('@') {
        SubjectAltName::Email(value.to_owned())
    } else {
        SubjectAltName::Dns(value.to_owned())
    };
    match san.syntax_problem() {
        Some(why) => Err(bad(why)),
        None => Ok(san),
    }
}

pub(crate) fn load_ca(
    args: &IssuerArgs,
    now: OffsetDateTime,
) -> Result<CertificateAuthority, Failure> {
    let cert_name = args.ca_cert.display().to_string();
    let certs = parse_certificates(&read_input_file(&args.ca_cert)?, &cert_name)?;
    let cert = certs
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Input(format!("{cert_name}: no certificate")))?;
    let key_name = args.ca_key.display().to_string();
    if key_name.starts_with("pkcs11:") {
        let token = crate::pkcs11::open(&key_name)?;
        return Ok(CertificateAuthority::with_external_key(
            cert,
            Box::new(token),
            now,
        )?);
    }
    let key = read_ca_key(&args.ca_key, None)?;
    Ok(CertificateAuthority::new(cert, key, now)?)
}

/// A CA key file. An `ENCRYPTED PRIVATE KEY` (PKCS#8 with PBES2, as `openssl pkcs8 -topk8
/// -v2 aes-256-cbc` writes) is decrypted with the first line of `passphrase_file`, or of
/// $GATEHOUSE_CA_KEY_PASSPHRASE_FILE: how a CA key stays encrypted at rest.
pub(crate) fn read_ca_key(
    path: &Path,
    passphrase_file: Option<&Path>,
) -> Result<PrivateKey, Failure> {
    use base64::Engine as _;
    let name = path.display().to_string();
    let bytes = read_input_file(path)?;
    if !gatehouse_pki::is_encrypted_pem(&bytes) {
        return PrivateKey::from_pem(&bytes).map_err(|e| Failure::Input(format!("{name}: {e}")));
    }
    let text = String::from_utf8_lossy(&bytes);
    let (Some(start), Some(end)) = (
        text.find("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        text.find("-----END ENCRYPTED PRIVATE KEY-----"),
    ) else {
        return Err(Failure::Input(format!(
            "{name}: the key is encrypted with a passphrase in the legacy OpenSSL format; convert it to encrypted PKCS#8 (openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out KEY.p8) or decrypt it (openssl pkey -in KEY -out KEY.plain)"
        )));
    };
    let b64: String = text[start + "-----BEGIN ENCRYPTED PRIVATE KEY-----".len()..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    let pass_path = passphrase_file
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("GATEHOUSE_CA_KEY_PASSPHRASE_FILE").map(PathBuf::from))
        .ok_or_else(|| {
            Failure::Input(format!(
                "{name} is encrypted with a passphrase: give the passphrase in a file named by GATEHOUSE_CA_KEY_PASSPHRASE_FILE (or, for a gateway's --renewal-ca, --renewal-ca-passphrase-file)"
            ))
        })?;
    let passphrase = std::fs::read_to_string(&pass_path)
        .map_err(|e| Failure::Input(format!("{}: {e}", pass_path.display())))?
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| Failure::Input(format!("{name}: not an encrypted PKCS#8 key: {e}")))?;
    let plain = info.decrypt(passphrase.as_bytes()).map_err(|_| {
        Failure::Input(format!(
            "{name}: could not decrypt it with the passphrase in {} (wrong passphrase, or an unsupported cipher)",
            pass_path.display()
        ))
    })?;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(plain.as_bytes())
    );
    PrivateKey::from_pem(pem.as_bytes()).map_err(|e| Failure::Input(format!("{name}: {e}")))
}

fn cert_json(path: &Path, c: &CertificateInfo) -> serde_json::Value {
    json!({
        "path": path.display().to_string(),
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial_hex,
        "sha256": c.fingerprint.to_string(),
        "notBefore": rfc3339(c.not_before),
        "notAfter": rfc3339(c.not_after),
        "subjectAltNames": c.subject_alt_names.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn print_cert(kind: &str, path: &Path, c: &CertificateInfo) {
    println!("Wrote {kind} certificate {}", path.display());
    println!("  subject:  {}", c.display_subject());
    if c.issuer != c.subject {
        println!("  issuer:   {}", c.issuer);
    }
    println!("  sha256:   {}", c.fingerprint);
    println!("  expires:  {}", rfc3339(c.not_after));
    if !c.subject_alt_names.is_empty() {
        let sans: Vec<String> = c
            .subject_alt_names
            .iter()
            .map(ToString::to_string)
            .collect();
        println!("  SANs:     {}", sans.join(", "));
    }
}

/// Writes a certificate and its new key together (or neither), then reports them. `inputs`
/// are the files the command read, which are never overwritten.
fn write_issued(
    kind: &str,
    issued: &Issued,
    (cert_path, key_path): (&Path, &Path),
    inputs: &[&Path],
    force: bool,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let key = issued
        .key
        .as_ref()
        .ok_or_else(|| Failure::Internal("no key was generated".into()))?;
    let key_pem = key.to_pkcs8_pem();
    write_files(
        &[
            OutputFile {
                path: key_path,
                contents: key_pem.as_bytes(),
                kind: FileKind::PrivateKey,
            },
            OutputFile {
                path: cert_path,
                contents: issued.pem.as_bytes(),
                kind: FileKind::Public,
            },
        ],
        inputs,
        force,
    )?;
    format.print(
        || {
            json!({
                "certificate": cert_json(cert_path, &issued.certificate),
                "key": { "path": key_path.display().to_string(), "algorithm": key.describe(), "mode": "0600" },
            })
        },
        || {
            print_cert(kind, cert_path, &issued.certificate);
            println!(
                "Wrote {kind} private key {} ({}, PKCS#8, mode 0600): keep it secret, never upload it",
                key_path.display(),
                key.describe()
            );
        },
    );
    Ok(ExitCode::SUCCESS)
}

/// [`write_issued`] for a certificate the CA of `files` signed: its files are inputs.
fn write_signed(
    kind: &str,
    issued: &Issued,
    files: &SignedFiles,
    force: bool,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    write_issued(
        kind,
        issued,
        (&files.cert, &files.key),
        &[&files.issuer.ca_cert, &files.issuer.ca_key],
        force,
        format,
    )
}

fn ca(a: GenCaArgs) -> Result<ExitCode, Failure> {
    let validity = ValidityPeriod::parse(&a.validity_period)
        .map_err(|e| Failure::Input(format!("--validity-period: {e}")))?;
    let issued = CaParams {
        organization: a.organization,
        common_name: a.common_name,
        validity,
        algorithm: algorithm(a.rsa),
        now: OffsetDateTime::now_utc(),
    }
    .self_signed()?;
    write_issued(
        "CA",
        &issued,
        (&a.ca_cert, &a.ca_key),
        &[],
        a.force,
        a.output.output,
    )
}

fn leaf(a: GenLeafArgs) -> Result<ExitCode, Failure> {
    let now = OffsetDateTime::now_utc();
    let validity = period(&a.validity_period)?;
    let sans = a
        .san
        .iter()
        .map(|s| parse_san(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Refuse unusable deployment outputs before anything is written.
    check_deploy(&a.deploy, a.force)?;
    let authority = load_ca(&a.files.issuer, now)?;
    let issued = LeafParams {
        organization: a.organization,
        organizational_unit: a.organization_unit,
        common_name: a.common_name,
        validity,
        subject_alt_names: sans,
        now,
    }
    .signed_by(&authority)?;
    let code = write_signed("client", &issued, &a.files, a.force, a.output.output)?;
    deploy_outputs(
        &a.deploy,
        (&a.files.cert, &a.files.key),
        &issued,
        authority.certificate(),
        a.force,
    )?;
    Ok(code)
}

fn server(a: GenServerArgs) -> Result<ExitCode, Failure> {
    let now = OffsetDateTime::now_utc();
    let validity = period(&a.validity_period)?;
    for d in &a.dns {
        if let Some(why) = SubjectAltName::Dns(d.clone()).syntax_problem() {
            return Err(Failure::Input(format!("--dns {d:?}: {why}")));
        }
    }
    let authority = load_ca(&a.files.issuer, now)?;
    let issued = ServerParams {
        common_name: a.common_name,
        organization: a.organization,
        dns_names: a.dns,
        ip_addresses: a.ip,
        internode: a.internode,
        validity,
        now,
    }
    .signed_by(&authority)?;
    if a.temporal_config && a.output.output == OutputFormat::Json {
        return Err(Failure::Input(
            "--temporal-config prints YAML after the report; use it with -o text".into(),
        ));
    }
    if let Some(f) = &a.frontend_client_ca {
        parse_certificates(&read_input_file(f)?, &f.display().to_string())?;
    }
    let code = write_signed("server", &issued, &a.files, a.force, a.output.output)?;
    if a.temporal_config {
        let server_name = issued
            .certificate
            .subject_alt_names
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let server_name = server_name
            .split_once(':')
            .map_or(server_name.as_str(), |(_, v)| v)
            .to_owned();
        println!(
            "{}",
            temporal_tls_yaml(
                (&a.files.cert, &a.files.key),
                &a.files.issuer.ca_cert,
                a.frontend_client_ca
                    .as_deref()
                    .unwrap_or(&a.files.issuer.ca_cert),
                &server_name,
            )
        );
    }
    Ok(code)
}

/// The Temporal server's `global.tls` section for a server certificate written by
/// `gen server --internode`. Values are JSON strings, which YAML reads as they are.
fn temporal_tls_yaml(
    (cert, key): (&Path, &Path),
    ca: &Path,
    client_ca: &Path,
    server_name: &str,
) -> String {
    let q = |p: &Path| {
        serde_json::Value::String(
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string(),
        )
        .to_string()
    };
    let name = serde_json::Value::String(server_name.to_owned()).to_string();
    let (cert, key, ca, client_ca) = (q(cert), q(key), q(ca), q(client_ca));
    format!(
        "# Temporal server TLS for these files (merge into the server's config YAML).
# internode: the services authenticate each other with this certificate (it allows client
#   and server auth). frontend: callers (the gatehouse gateway, with --upstream-cert and
#   --upstream-key) must present a certificate from the frontend client CA.
# Certificate files are re-read every refreshInterval, so `gatehouse renew` needs no restart;
# expirationChecks log warnings and errors before they expire.
global:
  tls:
    refreshInterval: 1h
    expirationChecks:
      warningWindow: 720h
      errorWindow: 168h
      checkInterval: 1h
    internode:
      server:
        certFile: {cert}
        keyFile: {key}
        requireClientAuth: true
        clientCaFiles:
          - {ca}
      client:
        serverName: {name}
        rootCaFiles:
          - {ca}
    frontend:
      server:
        certFile: {cert}
        keyFile: {key}
        requireClientAuth: true
        clientCaFiles:
          - {client_ca}
      client:
        serverName: {name}
        rootCaFiles:
          - {ca}"
    )
}

fn csr(a: GenCsrArgs) -> Result<ExitCode, Failure> {
    let sans = a
        .san
        .iter()
        .map(|s| parse_san(s))
        .collect::<Result<Vec<_>, _>>()?;
    let new = CsrParams {
        common_name: a.common_name,
        organization: a.organization,
        organizational_unit: a.organization_unit,
        subject_alt_names: sans,
        algorithm: algorithm(a.rsa),
    }
    .generate()?;
    let key_pem = new.key.to_pkcs8_pem();
    write_files(
        &[
            OutputFile {
                path: &a.key,
                contents: key_pem.as_bytes(),
                kind: FileKind::PrivateKey,
            },
            OutputFile {
                path: &a.csr,
                contents: new.pem.as_bytes(),
                kind: FileKind::Public,
            },
        ],
        &[],
        a.force,
    )?;
    a.output.output.print(
        || {
            json!({
                "csr": { "path": a.csr.display().to_string() },
                "key": { "path": a.key.display().to_string(), "algorithm": new.key.describe(), "mode": "0600" },
            })
        },
        || {
            println!("Wrote certificate signing request {}", a.csr.display());
            println!(
                "Wrote private key {} ({}, PKCS#8, mode 0600): it stays here; send only the CSR to the CA",
                a.key.display(),
                new.key.describe()
            );
        },
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn sign(a: SignArgs) -> Result<ExitCode, Failure> {
    let now = OffsetDateTime::now_utc();
    let validity = period(&a.validity_period)?;
    let request = CsrRequest::from_pem(&read_input_file(&a.csr)?)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.csr.display())))?;
    let authority = load_ca(&a.issuer, now)?;
    let profile = match a.profile {
        ProfileArg::Client => Profile::Client,
        ProfileArg::Server => Profile::Server,
        ProfileArg::Internode => Profile::Internode,
    };
    let issued = request.sign(&authority, profile, validity, now)?;
    write_files(
        &[OutputFile {
            path: &a.cert,
            contents: issued.pem.as_bytes(),
            kind: FileKind::Public,
        }],
        &[&a.csr, &a.issuer.ca_cert, &a.issuer.ca_key],
        a.force,
    )?;
    a.output.output.print(
        || {
            json!({
                "certificate": cert_json(&a.cert, &issued.certificate),
                "requestedCa": request.asked_for_ca,
            })
        },
        || {
            if request.asked_for_ca {
                println!("Note: the request asked for CA:TRUE; issued as CA:FALSE (the CA decides extensions)");
            }
            print_cert("signed", &a.cert, &issued.certificate);
        },
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_forms() {
        assert_eq!(
            parse_san("a.example.com").unwrap(),
            SubjectAltName::Dns("a.example.com".into())
        );
        assert_eq!(parse_san("DNS:a").unwrap(), SubjectAltName::Dns("a".into()));
        assert_eq!(
            parse_san("spiffe://x/y").unwrap(),
            SubjectAltName::Uri("spiffe://x/y".into())
        );
        assert_eq!(
            parse_san("URI:urn:x").unwrap(),
            SubjectAltName::Uri("urn:x".into())
        );
        assert_eq!(
            parse_san("ops@acme.io").unwrap(),
            SubjectAltName::Email("ops@acme.io".into())
        );
        assert_eq!(
            parse_san("::1").unwrap(),
            SubjectAltName::Ip("::1".parse().unwrap())
        );
        assert_eq!(
            parse_san("IP:10.0.0.1").unwrap(),
            SubjectAltName::Ip("10.0.0.1".parse().unwrap())
        );
        assert!(parse_san("IP:nope").is_err());
        assert!(parse_san("").is_err());
        assert!(parse_san("a b").is_err());
        assert!(parse_san("URI:").is_err());
        assert!(parse_san("email:").is_err());
        assert!(parse_san("URI:not a uri").is_err());
        assert!(parse_san("a..b").is_err());
    }
}
