//! What `gen leaf` writes beside the certificate and key for deployments: a Kubernetes TLS
//! Secret, a Temporal environment-config profile, PKCS#12 and PKCS#8 for the Java SDK.

use std::path::{Path, PathBuf};

use gatehouse_pki::{write_files, CertificateInfo, FileKind, Issued, OutputFile, PrivateKey};

use crate::fail::Failure;

/// A PKCS#12 keystore with one entry: the key, and the certificate followed by its CA. The
/// alias is the certificate's common name (or "client").
fn pkcs12(
    key: &PrivateKey,
    cert: &CertificateInfo,
    ca: &CertificateInfo,
    password: &str,
) -> Result<Vec<u8>, Failure> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKeyChain};
    let bad = |e: p12_keystore::error::Error| Failure::Internal(format!("PKCS#12: {e}"));
    let chain = [
        Certificate::from_der(&cert.der).map_err(bad)?,
        Certificate::from_der(&ca.der).map_err(bad)?,
    ];
    // The local key id is the certificate's SHA-1, as OpenSSL and keytool make it.
    let local_key_id =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der)
            .as_ref()
            .to_vec();
    let alias = cert
        .common_names
        .first()
        .cloned()
        .unwrap_or_else(|| "client".into());
    let mut store = KeyStore::new();
    store.add_entry(
        &alias,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
            local_key_id,
            p12_keystore::PrivateKey::from_der(&key.to_pkcs8_der()).map_err(bad)?,
            chain,
        )),
    );
    store
        .writer(password)
        .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
        .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
        .write()
        .map_err(bad)
}

/// A Kubernetes object name (RFC 1123 subdomain) or namespace (RFC 1123 label).
fn k8s_name_problem(name: &str, label: bool) -> Option<&'static str> {
    let max = if label { 63 } else { 253 };
    let ok_char =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (!label && c == '.');
    if name.is_empty() || name.len() > max {
        Some("must be 1 to 253 characters (63 for a namespace)")
    } else if !name.chars().all(ok_char) {
        Some("may hold only lowercase letters, digits and '-' (and '.' in a name)")
    } else if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        Some("must start and end with a letter or digit")
    } else {
        None
    }
}

/// The environment-config file a profile goes to.
fn profile_file(d: &crate::cert_args::DeployOutputs) -> Result<PathBuf, Failure> {
    Ok(match &d.temporal_config_file {
        Some(f) => f.clone(),
        None => match std::env::var_os("TEMPORAL_CONFIG_FILE") {
            Some(f) => PathBuf::from(f),
            None => PathBuf::from(
                std::env::var_os("HOME")
                    .ok_or_else(|| Failure::Input("no HOME: pass --temporal-config-file".into()))?,
            )
            .join(".config/temporalio/temporal.toml"),
        },
    })
}

fn read_profiles(file: &Path) -> Result<toml_edit::DocumentMut, Failure> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Failure::Input(format!("{}: {e}", file.display()))),
    };
    text.parse()
        .map_err(|e| Failure::Input(format!("{}: not a TOML config file: {e}", file.display())))
}

/// Checks the deployment outputs' names and files before any file is written.
pub(crate) fn check_deploy(
    d: &crate::cert_args::DeployOutputs,
    force: bool,
) -> Result<(), Failure> {
    if let Some(name) = &d.k8s_secret {
        if let Some(why) = k8s_name_problem(name, false) {
            return Err(Failure::Input(format!("--k8s-secret {name:?}: {why}")));
        }
    }
    if let Some(ns) = &d.k8s_namespace {
        if let Some(why) = k8s_name_problem(ns, true) {
            return Err(Failure::Input(format!("--k8s-namespace {ns:?}: {why}")));
        }
    }
    for path in [&d.pkcs8, &d.pkcs12].into_iter().flatten() {
        if !force && path.symlink_metadata().is_ok() {
            return Err(Failure::Input(format!(
                "{} exists; pass --force to replace it",
                path.display()
            )));
        }
    }
    if d.pkcs12.is_some() {
        pkcs12_password(d)?;
    }
    if let Some(profile) = &d.temporal_profile {
        let file = profile_file(d)?;
        let doc = read_profiles(&file)?;
        if doc.get("profile").and_then(|p| p.get(profile)).is_some() && !force {
            return Err(Failure::Input(format!(
                "{}: profile {profile:?} exists; pass --force to replace it",
                file.display()
            )));
        }
    }
    Ok(())
}

/// The PKCS#12 password: the first line of --pkcs12-password-file, else
/// $GATEHOUSE_PKCS12_PASSWORD.
fn pkcs12_password(d: &crate::cert_args::DeployOutputs) -> Result<String, Failure> {
    let password = match &d.pkcs12_password_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| Failure::Input(format!("--pkcs12-password-file {}: {e}", f.display())))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => std::env::var("GATEHOUSE_PKCS12_PASSWORD").map_err(|_| {
            Failure::Input(
                "--pkcs12 needs a password: --pkcs12-password-file FILE or GATEHOUSE_PKCS12_PASSWORD"
                    .into(),
            )
        })?,
    };
    if password.chars().count() < 6 {
        return Err(Failure::Input(
            "the PKCS#12 password must have at least 6 characters (keytool refuses shorter ones)"
                .into(),
        ));
    }
    Ok(password)
}

/// The Secret manifest and the Temporal profile, when asked for.
pub(crate) fn deploy_outputs(
    d: &crate::cert_args::DeployOutputs,
    (cert_path, key_path): (&Path, &Path),
    issued: &Issued,
    ca: &CertificateInfo,
    force: bool,
) -> Result<(), Failure> {
    use base64::Engine as _;
    let key_pem = issued
        .key
        .as_ref()
        .ok_or_else(|| Failure::Internal("no key was generated".into()))?
        .to_pkcs8_pem();
    if let Some(name) = &d.k8s_secret {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut yaml = format!(
            "apiVersion: v1\ndata:\n  tls.crt: {}\n  tls.key: {}\nkind: Secret\nmetadata:\n  name: {name}\n",
            b64(&issued.pem),
            b64(&key_pem)
        );
        if let Some(ns) = &d.k8s_namespace {
            yaml.push_str(&format!("  namespace: {ns}\n"));
        }
        yaml.push_str("type: kubernetes.io/tls\n");
        let path = cert_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(format!("{name}.secret.yaml"));
        write_files(
            &[OutputFile {
                path: &path,
                contents: yaml.as_bytes(),
                kind: FileKind::PrivateKey,
            }],
            &[cert_path, key_path],
            force,
        )?;
        eprintln!(
            "Wrote Kubernetes Secret {name} to {} (mode 0600: it holds the key); kubectl apply -f {}",
            path.display(),
            path.display()
        );
    }
    let key = issued
        .key
        .as_ref()
        .ok_or_else(|| Failure::Internal("no key was generated".into()))?;
    if let Some(path) = &d.pkcs8 {
        write_files(
            &[OutputFile {
                path,
                contents: &key.to_pkcs8_der(),
                kind: FileKind::PrivateKey,
            }],
            &[cert_path, key_path],
            force,
        )?;
        eprintln!(
            "Wrote the private key as PKCS#8 DER to {} (mode 0600)",
            path.display()
        );
    }
    if let Some(path) = &d.pkcs12 {
        let password = pkcs12_password(d)?;
        let p12 = pkcs12(key, &issued.certificate, ca, &password)?;
        write_files(
            &[OutputFile {
                path,
                contents: &p12,
                kind: FileKind::PrivateKey,
            }],
            &[cert_path, key_path],
            force,
        )?;
        eprintln!(
            "Wrote PKCS#12 keystore {} (mode 0600; key, certificate and CA; PBES2 AES-256, HMAC-SHA256): keytool -list -keystore {} -storetype PKCS12",
            path.display(),
            path.display()
        );
    }
    if let Some(profile) = &d.temporal_profile {
        let file = profile_file(d)?;
        let mut doc = read_profiles(&file)?;
        let abs = |p: &Path| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        let mut tls = toml_edit::Table::new();
        tls["client_cert_path"] = toml_edit::value(abs(cert_path));
        tls["client_key_path"] = toml_edit::value(abs(key_path));
        if let Some(ca) = &d.tls_ca_path {
            tls["server_ca_cert_path"] = toml_edit::value(abs(ca));
        }
        if let Some(sni) = &d.tls_server_name {
            tls["server_name"] = toml_edit::value(sni.as_str());
        }
        let mut entry = toml_edit::Table::new();
        if let Some(addr) = &d.address {
            entry["address"] = toml_edit::value(addr.as_str());
        }
        if let Some(ns) = &d.namespace {
            entry["namespace"] = toml_edit::value(ns.as_str());
        }
        entry["tls"] = toml_edit::Item::Table(tls);
        if doc.get("profile").is_none() {
            let mut profiles = toml_edit::Table::new();
            profiles.set_implicit(true);
            doc["profile"] = toml_edit::Item::Table(profiles);
        }
        doc["profile"][profile.as_str()] = toml_edit::Item::Table(entry);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::Input(format!("{}: {e}", dir.display())))?;
        }
        // 0600: environment-config files may hold other profiles' API keys.
        write_files(
            &[OutputFile {
                path: &file,
                contents: doc.to_string().as_bytes(),
                kind: FileKind::PrivateKey,
            }],
            &[cert_path, key_path],
            true,
        )?;
        eprintln!(
            "Wrote Temporal profile {profile:?} to {}: {}",
            file.display(),
            profile_command(profile, d.temporal_config_file.as_deref())
        );
    }
    Ok(())
}

/// The `temporal` command that uses `profile`, as it works when pasted: the CLI reads profiles
/// from `$TEMPORAL_CONFIG_FILE` (else its default file), so a profile written to another file
/// needs that variable.
fn profile_command(profile: &str, written_to: Option<&Path>) -> String {
    let command = format!(
        "temporal --profile {} workflow list",
        crate::shell::quote(profile)
    );
    match written_to {
        Some(file)
            if std::env::var_os("TEMPORAL_CONFIG_FILE").as_deref() != Some(file.as_os_str()) =>
        {
            format!(
                "TEMPORAL_CONFIG_FILE={} {command}",
                crate::shell::quote(&file.display().to_string())
            )
        }
        _ => command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_hint_names_the_file_it_was_written_to() {
        assert_eq!(
            profile_command("billing", None),
            "temporal --profile billing workflow list"
        );
        if std::env::var_os("TEMPORAL_CONFIG_FILE").is_none() {
            assert_eq!(
                profile_command("billing", Some(Path::new("./temporal.toml"))),
                "TEMPORAL_CONFIG_FILE=./temporal.toml temporal --profile billing workflow list"
            );
        }
    }
}
