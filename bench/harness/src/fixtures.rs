//! The fixtures every server under test shares.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use gatehouse_pki::{
    CaParams, CertificateAuthority, CsrRequest, Issued, KeyAlgorithm, LeafParams, Profile,
    ServerParams, ValidityPeriod,
};
use gatehouse_store::SqlStore;
use serde_json::json;
use time::OffsetDateTime;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where to write them (reused when its manifest matches)
    #[arg(long)]
    dir: PathBuf,
    /// Namespaces, each with its own CA
    #[arg(long)]
    namespaces: usize,
    /// Namespaces (the first ones) that get client leaves and CA files for the peers
    #[arg(long, default_value_t = 1000)]
    leaves: usize,
    /// The domain: namespace i is ns-i.<domain>
    #[arg(long, default_value = "bench.test")]
    domain: String,
}

/// The API key the fixtures' account owner has (a benchmark, not a secret).
pub(crate) const BENCH_TOKEN: &str = "ghk_bench-token-for-the-benchmark-account-only";

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| path.display().to_string())
}

fn ca(name: &str, now: OffsetDateTime) -> anyhow::Result<(Issued, CertificateAuthority)> {
    let issued = CaParams {
        organization: "Gatehouse bench".into(),
        common_name: Some(name.into()),
        validity: ValidityPeriod::parse("90d")?,
        algorithm: KeyAlgorithm::EcdsaP384,
        now,
    }
    .self_signed()?;
    let key = issued.key.as_ref().context("a new CA has a key")?;
    let authority = CertificateAuthority::new(
        issued.certificate.clone(),
        gatehouse_pki::PrivateKey::from_pem(key.to_pkcs8_pem().as_bytes())?,
        now,
    )?;
    Ok((issued, authority))
}

/// A client leaf with an RSA-2048 key, signed by a P-384 CA (through a CSR: the CA's own
/// leaves take its key family).
fn rsa_leaf(
    ca: &CertificateAuthority,
    cn: &str,
    now: OffsetDateTime,
) -> anyhow::Result<(String, String)> {
    let key = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Gatehouse bench");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let csr = params.serialize_request(&key)?;
    let issued = CsrRequest::from_pem(csr.pem()?.as_bytes())?.sign(
        ca,
        Profile::Client,
        Some(ValidityPeriod::parse("30d")?),
        now,
    )?;
    Ok((issued.pem, key.serialize_pem()))
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let manifest_path = args.dir.join("manifest.json");
    let wanted = json!({"namespaces": args.namespaces, "leaves": args.leaves.min(args.namespaces), "domain": args.domain, "format": 1});
    if let Ok(text) = std::fs::read_to_string(&manifest_path) {
        let have: serde_json::Value = serde_json::from_str(&text)?;
        // Leaves are valid for 30 days: remake the fixtures well before they expire.
        let age =
            OffsetDateTime::now_utc().unix_timestamp() - have["created_unix"].as_i64().unwrap_or(0);
        if have["params"] == wanted && age < 20 * 86_400 {
            eprintln!("fixtures in {} are current", args.dir.display());
            return Ok(());
        }
    }
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    let leaves = args.leaves.min(args.namespaces);
    for d in ["ca", "leaf/p384", "leaf/rsa", "gh"] {
        std::fs::create_dir_all(args.dir.join(d))?;
    }
    let now = OffsetDateTime::now_utc();
    let started = std::time::Instant::now();

    // One server certificate for every server under test: *.<domain>, from its own CA.
    let (server_ca, server_authority) = ca("bench server CA", now)?;
    let server = ServerParams {
        common_name: None,
        organization: None,
        dns_names: vec![format!("*.{}", args.domain)],
        ip_addresses: vec![],
        internode: false,
        validity: Some(ValidityPeriod::parse("30d")?),
        now,
    }
    .signed_by(&server_authority)?;
    let server_key = server.key.as_ref().context("server key")?.to_pkcs8_pem();
    write(&args.dir.join("server-ca.pem"), &server_ca.pem)?;
    write(&args.dir.join("server.pem"), &server.pem)?;
    write(&args.dir.join("server.key"), &server_key)?;
    write(
        &args.dir.join("server-bundle.pem"),
        &format!("{}{}", server.pem, server_key),
    )?;
    // A CA no client has, to swap in when measuring how fast an update is enforced.
    let (alt, _) = ca("bench replacement CA", now)?;
    write(&args.dir.join("alt-ca.pem"), &alt.pem)?;

    // The namespaces' CAs (and leaves for the first ones), on every core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunks: Vec<Vec<usize>> = (0..threads)
        .map(|t| (0..args.namespaces).filter(|i| i % threads == t).collect())
        .collect();
    let mut pems: Vec<Option<String>> = vec![None; args.namespaces];
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let dir = args.dir.clone();
                scope.spawn(move || -> anyhow::Result<Vec<(usize, String)>> {
                    let mut out = Vec::with_capacity(chunk.len());
                    for i in chunk {
                        let (issued, authority) = ca(&format!("bench ns-{i} CA"), now)?;
                        if i < leaves {
                            write(&dir.join(format!("ca/{i}.pem")), &issued.pem)?;
                            let leaf = LeafParams {
                                organization: "Gatehouse bench".into(),
                                organizational_unit: None,
                                common_name: Some(format!("worker-{i}")),
                                validity: Some(ValidityPeriod::parse("30d")?),
                                subject_alt_names: vec![],
                                now,
                            }
                            .signed_by(&authority)?;
                            write(&dir.join(format!("leaf/p384/{i}.pem")), &leaf.pem)?;
                            let key = leaf.key.as_ref().context("leaf key")?.to_pkcs8_pem();
                            write(&dir.join(format!("leaf/p384/{i}.key")), &key)?;
                            let (cert, key) =
                                rsa_leaf(&authority, &format!("worker-rsa-{i}"), now)?;
                            write(&dir.join(format!("leaf/rsa/{i}.pem")), &cert)?;
                            write(&dir.join(format!("leaf/rsa/{i}.key")), &key)?;
                        }
                        out.push((i, issued.pem));
                    }
                    Ok(out)
                })
            })
            .collect();
        for h in handles {
            let Ok(done) = h.join() else {
                bail!("a fixture thread panicked");
            };
            for (i, pem) in done? {
                pems[i] = Some(pem);
            }
        }
        Ok(())
    })?;
    eprintln!(
        "generated {} CAs and {} leaf pairs in {:.1} s",
        args.namespaces,
        leaves,
        started.elapsed().as_secs_f64()
    );

    // The Gatehouse data dir: every namespace, and an owner whose key is BENCH_TOKEN, loaded
    // in one transaction through the store's import.
    let at = gatehouse_pki::rfc3339(now);
    let namespaces: Vec<_> = pems
        .into_iter()
        .enumerate()
        .map(|(i, pem)| {
            json!({"name": format!("ns-{i}"), "accepted_client_ca": pem.unwrap_or_default(),
                   "certificate_filters": "[]", "resource_version": 1, "created_at": at, "updated_at": at})
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = SqlStore::open(&args.dir.join("gh/gatehouse.db")).await?;
        let dump = json!({
            "format": gatehouse_store::DUMP_FORMAT,
            "schemaVersion": store.schema_version().await?,
            "tables": {
                "namespaces": namespaces,
                "users": [{"id": "u_bench", "email": "bench@localhost", "role": "account-owner", "namespaces": "[]", "created_at": at}],
                "api_keys": [{"id": "k_bench", "user_id": "u_bench", "name": "bench", "secret_hash": gatehouse_pki::sha256_hex(BENCH_TOKEN.as_bytes()),
                              "created_at": at, "expires_at": null, "revoked_at": null}],
                "audit_events": [], "requests": [], "ca_usage": [], "notifications": [], "tickets": [],
            },
        });
        store.import(&dump).await?;
        anyhow::Ok(())
    })?;
    write(&args.dir.join("gh/admin.key"), &format!("{BENCH_TOKEN}\n"))?;
    write(
        &manifest_path,
        &serde_json::to_string_pretty(
            &json!({"params": wanted, "seconds": started.elapsed().as_secs_f64(),
                     "created_unix": now.unix_timestamp()}),
        )?,
    )?;
    eprintln!(
        "fixtures ready in {} ({:.1} s)",
        args.dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
