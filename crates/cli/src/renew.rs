//! `gatehouse renew`: renews a client or server certificate before it expires, in place.
//!
//! A renewal keeps the key (step-ca's `renew`): the new certificate has the same public key,
//! subject (byte for byte), SANs and profile, so only the certificate file changes, by an atomic
//! rename. The key and certificate on disk therefore never disagree, whenever the process dies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use clap::Args;
use gatehouse_pki::{
    parse_certificates, read_input_file, rfc3339, write_files, Backoff, CertificateInfo,
    CsrRequest, FileKind, OutputFile, PrivateKey, Profile, ValidityPeriod,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tokio_util::sync::CancellationToken;

use crate::flags::{IssuerArgs, OutputArgs, OutputFormat};

impl RenewArgs {
    /// The local CA's files (absent when renewing through a gateway).
    fn issuer(&self) -> Option<IssuerArgs> {
        match (&self.ca_cert, &self.ca_key) {
            (Some(c), Some(k)) => Some(IssuerArgs {
                ca_cert: c.clone(),
                ca_key: k.clone(),
            }),
            _ => None,
        }
    }
}
use crate::fail::Failure;

#[derive(Debug, Args)]
#[command(
    after_help = "A renewal keeps the private key, the subject, the SANs and the \
    certificate's profile (client, server or internode); only the certificate file is replaced, \
    atomically, so the pair on disk always matches. Give another CA's files to move a \
    certificate to a new CA during a rotation.\n\n\
    Exit status: 0 renewed or not yet due; 1 the gateway or the CA's token refused, or a hook \
    failed after renewing; 2 unusable input (files, flags, a CA that cannot sign).\n\nExamples:\n  \
    gatehouse renew --cert client.pem --key client.key --ca-cert ca.pem --ca-key ca.key\n  \
    gatehouse renew --cert client.pem --key client.key --ca-cert ca.pem --ca-key ca.key --renew-before 10d --force\n  \
    gatehouse renew --cert worker.pem --key worker.key --ca-cert ca.pem --ca-key ca.key --daemon --signal 4242:SIGHUP\n  \
    gatehouse renew --cert worker.pem --key worker.key --ca-cert ca.pem --ca-key ca.key --daemon --exec 'systemctl reload temporal-worker'"
)]
pub(crate) struct RenewArgs {
    /// The certificate to renew (PEM); replaced in place, atomically
    #[arg(long = "certificate-file", visible_alias = "cert", value_name = "FILE")]
    pub(crate) cert: PathBuf,
    /// Its private key: checked to match the certificate; never rewritten, logged or sent
    #[arg(long = "key-file", visible_alias = "key", value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The CA certificate that signs (renewing locally)
    #[arg(
        long = "ca-certificate-file",
        visible_alias = "ca-cert",
        value_name = "FILE",
        required_unless_present = "gateway",
        requires = "ca_key"
    )]
    pub(crate) ca_cert: Option<PathBuf>,
    /// The CA's private key: a key file (encrypted keys: GATEHOUSE_CA_KEY_PASSPHRASE_FILE) or
    /// a pkcs11: URI
    #[arg(
        long = "ca-key-file",
        visible_alias = "ca-key",
        value_name = "FILE|URI",
        requires = "ca_cert"
    )]
    pub(crate) ca_key: Option<PathBuf>,
    /// Renew through a Gatehouse gateway that holds the CA (`--renewal-ca`), presenting the
    /// current certificate over mTLS: HOST:PORT of the gateway
    #[arg(
        long,
        value_name = "HOST:PORT",
        conflicts_with_all = ["ca_cert", "ca_key", "validity_period"],
        requires_all = ["tls_server_name", "tls_ca_path"]
    )]
    pub(crate) gateway: Option<String>,
    /// The namespace endpoint: <namespace>.<gateway domain>
    #[arg(long, requires = "gateway")]
    pub(crate) tls_server_name: Option<String>,
    /// The CA of the gateway's server certificate (e.g. <data-dir>/gateway-ca.pem)
    #[arg(long, requires = "gateway", value_name = "FILE")]
    pub(crate) tls_ca_path: Option<PathBuf>,
    /// Renew once this much of the lifetime is left: a share (33%) or a duration (10d)
    #[arg(long, value_name = "SHARE|DURATION", default_value = "33%")]
    pub(crate) renew_before: String,
    /// Lifetime of the renewed certificate [default: the current one's]
    #[arg(long = "validity-period", short = 'd', value_name = "DURATION")]
    pub(crate) validity_period: Option<String>,
    /// Keep running and renew each time the certificate is due (up to 10% of the margin
    /// earlier, at random, so a fleet does not renew at once)
    #[arg(long)]
    pub(crate) daemon: bool,
    /// Renew now even if not due
    #[arg(long)]
    pub(crate) force: bool,
    /// After each renewal, run this shell command (repeatable); GATEHOUSE_CERT_FILE and
    /// GATEHOUSE_KEY_FILE name the files
    #[arg(long, value_name = "COMMAND")]
    pub(crate) exec: Vec<String>,
    /// After each renewal, send a signal: PID:SIGNAL, e.g. 4242:SIGHUP (repeatable)
    #[arg(long, value_name = "PID:SIGNAL")]
    pub(crate) signal: Vec<String>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// When to renew: a share of the lifetime, or a fixed margin before expiry.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Margin {
    Share(f64),
    Before(Duration),
}

impl Margin {
    fn parse(v: &str) -> Result<Self, Failure> {
        let bad = |why: String| Failure::Input(format!("--renew-before {v:?}: {why}"));
        if let Some(pct) = v.trim().strip_suffix('%') {
            let p: f64 = pct
                .trim()
                .parse()
                .map_err(|_| bad("not a percentage such as 33%".into()))?;
            if !(p > 0.0 && p < 100.0) {
                return Err(bad("the share must be above 0% and below 100%".into()));
            }
            return Ok(Self::Share(p / 100.0));
        }
        let d = ValidityPeriod::parse(v).map_err(|e| bad(e.to_string()))?;
        if d.as_nanos() <= 0 {
            return Err(bad("the margin must be positive".into()));
        }
        Ok(Self::Before(d.to_duration()))
    }

    /// How long before notAfter a certificate with this lifetime is due.
    fn before_expiry(self, lifetime: Duration) -> Result<Duration, String> {
        let margin = match self {
            Self::Share(p) => Duration::seconds_f64(lifetime.as_seconds_f64() * p),
            Self::Before(d) => d,
        };
        if margin >= lifetime {
            return Err(format!(
                "a margin of {} is not shorter than the certificate's lifetime ({}): it would renew continuously",
                human(margin),
                human(lifetime)
            ));
        }
        Ok(margin)
    }
}

/// `d` in the largest unit (d, h, m) it holds at least two of, else in seconds.
fn human(d: Duration) -> String {
    [
        (d.whole_days(), "d"),
        (d.whole_hours(), "h"),
        (d.whole_minutes(), "m"),
    ]
    .into_iter()
    .find(|(n, _)| *n >= 2)
    .map_or_else(
        || format!("{}s", d.whole_seconds()),
        |(n, unit)| format!("{n}{unit}"),
    )
}

/// The certificate file as it is now: the leaf, and any chain after it.
struct Current {
    leaf: CertificateInfo,
    chain: Vec<CertificateInfo>,
}

fn read_current(path: &Path) -> Result<Current, Failure> {
    let name = path.display().to_string();
    let mut certs = parse_certificates(&read_input_file(path)?, &name)?.into_iter();
    let leaf = certs
        .next()
        .ok_or_else(|| Failure::Input(format!("{name}: no certificate")))?;
    Ok(Current {
        leaf,
        chain: certs.collect(),
    })
}

fn check_pair(a: &RenewArgs, leaf: &CertificateInfo) -> Result<(), Failure> {
    let key = PrivateKey::from_pem(&read_input_file(&a.key)?)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.key.display())))?;
    if key.public_key_spki() != leaf.spki_der {
        return Err(Failure::Input(format!(
            "{} does not belong to {} ({}): renewing keeps the key, so the pair must match first",
            a.key.display(),
            a.cert.display(),
            leaf.display_subject()
        )));
    }
    Ok(())
}

/// When the certificate is due, before jitter.
fn due_at(leaf: &CertificateInfo, margin: Margin) -> Result<OffsetDateTime, Failure> {
    let lifetime = leaf.not_after - leaf.not_before;
    let before = margin
        .before_expiry(lifetime)
        .map_err(|e| Failure::Input(format!("--renew-before: {e}")))?;
    Ok(leaf.not_after - before)
}

fn random_fraction() -> f64 {
    // Jitter only: without randomness, the middle of the window.
    let Ok(b) = gatehouse_pki::random_bytes::<8>() else {
        return 0.5;
    };
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Asks the gateway for the renewal, and checks the answer is the same certificate renewed.
fn renew_through_gateway(
    a: &RenewArgs,
    gateway: &str,
    current: &Current,
) -> Result<gatehouse_pki::Issued, Failure> {
    use rustls::pki_types::pem::PemObject;
    let (Some(server_name), Some(ca_path)) = (&a.tls_server_name, &a.tls_ca_path) else {
        return Err(Failure::Input(
            "--gateway needs --tls-server-name and --tls-ca-path".into(),
        ));
    };
    let server_ca = read_input_file(ca_path)?;
    let chain: Vec<_> = std::iter::once(&current.leaf)
        .chain(&current.chain)
        .map(|c| c.der.clone())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(&read_input_file(&a.key)?)
        .map_err(|e| Failure::Input(format!("{}: {e}", a.key.display())))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let pem = runtime
        .block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(30),
                gatehouse_gateway::request_renewal(gateway, server_name, &server_ca, chain, key),
            )
            .await
            .map_err(|_| format!("no answer from {gateway} within 30 s"))?
        })
        .map_err(Failure::Refused)?;
    let new = parse_certificates(pem.as_bytes(), "the gateway's answer")?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Refused("the gateway answered without a certificate".into()))?;
    if new.spki_der != current.leaf.spki_der || new.subject != current.leaf.subject {
        return Err(Failure::Refused(
            "the gateway answered with a certificate for another key or subject; nothing was written".into(),
        ));
    }
    Ok(gatehouse_pki::Issued {
        pem: gatehouse_pki::certificate_pem(&new.der),
        certificate: new,
        key: None,
    })
}

/// Renews once: signs, writes the certificate file atomically, returns the new leaf.
fn renew_once(a: &RenewArgs, current: &Current) -> Result<CertificateInfo, Failure> {
    let now = OffsetDateTime::now_utc();
    check_pair(a, &current.leaf)?;
    let issued = match (&a.gateway, a.issuer()) {
        (Some(gw), _) => renew_through_gateway(a, gw, current)?,
        (None, Some(issuer)) => sign_locally(a, current, &issuer, now)?,
        (None, None) => {
            return Err(Failure::Input(
                "give --ca-cert and --ca-key, or --gateway".into(),
            ))
        }
    };
    write_renewed(a, current, &issued)
}

fn sign_locally(
    a: &RenewArgs,
    current: &Current,
    issuer: &IssuerArgs,
    now: OffsetDateTime,
) -> Result<gatehouse_pki::Issued, Failure> {
    let authority = crate::gen::load_ca(issuer, now)?;
    let validity = match &a.validity_period {
        Some(v) => ValidityPeriod::parse(v)
            .map_err(|e| Failure::Input(format!("--validity-period: {e}")))?,
        None => authority.renewal_period(&current.leaf, now)?,
    };
    Ok(CsrRequest::renewal_of(&current.leaf)?.sign(
        &authority,
        Profile::of(&current.leaf),
        Some(validity),
        now,
    )?)
}

fn write_renewed(
    a: &RenewArgs,
    current: &Current,
    issued: &gatehouse_pki::Issued,
) -> Result<CertificateInfo, Failure> {
    // The chain after the leaf is kept when the issuer is the same; a new CA's leaf stands
    // alone.
    let mut pem = issued.pem.clone();
    if issued.certificate.issuer == current.leaf.issuer {
        for c in &current.chain {
            pem.push_str(&gatehouse_pki::certificate_pem(&c.der));
        }
    }
    write_files(
        &[OutputFile {
            path: &a.cert,
            contents: pem.as_bytes(),
            kind: FileKind::Public,
        }],
        &[&a.key],
        true,
    )?;
    Ok(issued.certificate.clone())
}

/// Runs the hooks; the first failure is returned (all are tried).
fn run_hooks(a: &RenewArgs) -> Result<(), String> {
    let mut first_error = None;
    for cmd in &a.exec {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("GATEHOUSE_CERT_FILE", &a.cert)
            .env("GATEHOUSE_KEY_FILE", &a.key)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                first_error.get_or_insert(format!("--exec {cmd:?} exited with {s}"));
            }
            Err(e) => {
                first_error.get_or_insert(format!("--exec {cmd:?}: {e}"));
            }
        }
    }
    for spec in &a.signal {
        let (pid, signal) = parse_signal(spec)?;
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(_) | Err(_) => {
                first_error.get_or_insert(format!(
                    "--signal {spec}: could not send SIG{signal} to process {pid}"
                ));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

const SIGNALS: &[&str] = &["HUP", "INT", "QUIT", "USR1", "USR2", "TERM"];

fn parse_signal(spec: &str) -> Result<(u32, &str), String> {
    let (pid, sig) = spec.split_once(':').unwrap_or((spec, "SIGHUP"));
    let pid: u32 = pid
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| format!("--signal {spec:?}: the process id must be a number above 1"))?;
    let name = sig.trim().trim_start_matches("SIG");
    let name = SIGNALS
        .iter()
        .find(|s| s.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            format!(
                "--signal {spec:?}: use one of SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM"
            )
        })?;
    Ok((pid, name))
}

fn report(a: &RenewArgs, old: &CertificateInfo, new: &CertificateInfo, next: OffsetDateTime) {
    match a.output.output {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "renewed": true,
                "path": a.cert.display().to_string(),
                "subject": new.subject,
                "issuer": new.issuer,
                "sha256": new.fingerprint.to_string(),
                "previousSha256": old.fingerprint.to_string(),
                "notBefore": rfc3339(new.not_before),
                "notAfter": rfc3339(new.not_after),
                "nextRenewal": rfc3339(next),
            })
        ),
        OutputFormat::Text => {
            println!(
                "Renewed {} ({}): expires {} (was {}); sha256 {}; next renewal due {}",
                a.cert.display(),
                new.display_subject(),
                rfc3339(new.not_after),
                rfc3339(old.not_after),
                new.fingerprint,
                rfc3339(next)
            );
            if new.issuer != old.issuer {
                println!("  issuer changed: {} -> {}", old.issuer, new.issuer);
            }
        }
    }
}

pub(crate) fn run(a: RenewArgs, shutdown: CancellationToken) -> Result<ExitCode, Failure> {
    let margin = Margin::parse(&a.renew_before)?;
    for spec in &a.signal {
        parse_signal(spec).map_err(Failure::Input)?;
    }
    if !a.daemon {
        let current = read_current(&a.cert)?;
        let due = due_at(&current.leaf, margin)?;
        let now = OffsetDateTime::now_utc();
        if !a.force && now < due {
            check_pair(&a, &current.leaf)?;
            match a.output.output {
                OutputFormat::Json => println!(
                    "{}",
                    json!({ "renewed": false, "path": a.cert.display().to_string(), "notAfter": rfc3339(current.leaf.not_after), "due": rfc3339(due) })
                ),
                OutputFormat::Text => println!(
                    "{} is not due: it expires {}, renewal is due from {} (--force renews now)",
                    a.cert.display(),
                    rfc3339(current.leaf.not_after),
                    rfc3339(due)
                ),
            }
            return Ok(ExitCode::SUCCESS);
        }
        let new = renew_once(&a, &current)?;
        report(&a, &current.leaf, &new, due_at(&new, margin)?);
        return match run_hooks(&a) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => {
                eprintln!("error: renewed, but a hook failed: {e}");
                Ok(ExitCode::from(1))
            }
        };
    }
    daemon(a, margin, shutdown)
}

/// Renews whenever due, until Ctrl-C or SIGTERM. Failures are retried with
/// [`Backoff::RETRY`] (1 min, doubling, at most 1 h), each logged. A renewal in progress
/// finishes before the daemon stops.
fn daemon(a: RenewArgs, margin: Margin, shutdown: CancellationToken) -> Result<ExitCode, Failure> {
    // Unusable input is refused at once, not retried.
    let first = read_current(&a.cert)?;
    check_pair(&a, &first.leaf)?;
    if let Some(issuer) = a.issuer() {
        crate::gen::load_ca(&issuer, OffsetDateTime::now_utc())?;
    }
    let a = Arc::new(a);
    crate::runtime::until_shutdown(&shutdown, async {
        let mut force = a.force;
        let mut failures = 0u32;
        let mut target: Option<(String, OffsetDateTime)> = None;
        loop {
            // A renewal is blocking work (files, an HTTP/2 call with its own small runtime).
            let (step, kept) = {
                let a = a.clone();
                tokio::task::spawn_blocking(move || {
                    let step = daemon_step(&a, margin, force, &mut target);
                    (step, target)
                })
                .await
                .map_err(|e| Failure::Internal(format!("the renewal task failed: {e}")))?
            };
            target = kept;
            let wait = match step {
                Ok(Some(at)) => (at - OffsetDateTime::now_utc())
                    .clamp(Duration::ZERO, Duration::seconds(60))
                    .unsigned_abs()
                    .max(StdDuration::from_millis(200)),
                Ok(None) => {
                    force = false;
                    failures = 0;
                    continue;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = Backoff::RETRY.delay(failures);
                    eprintln!(
                        "gatehouse renew: renewal failed, retrying in {}s: {e}",
                        wait.as_secs()
                    );
                    wait
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return Ok(ExitCode::SUCCESS),
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// One look at the certificate: `Some(at)` when it is not due until `at`, `None` once renewed.
/// Jitter is drawn once per certificate (kept in `target`), so waking up does not redraw it.
fn daemon_step(
    a: &RenewArgs,
    margin: Margin,
    force: bool,
    target: &mut Option<(String, OffsetDateTime)>,
) -> Result<Option<OffsetDateTime>, Failure> {
    let now = OffsetDateTime::now_utc();
    let current = read_current(&a.cert)?;
    let due = due_at(&current.leaf, margin)?;
    let fp = current.leaf.fingerprint.to_string();
    let at = match target {
        Some((f, at)) if *f == fp => *at,
        _ => {
            let window = (current.leaf.not_after - due) * 0.1;
            let at = due - window * random_fraction();
            eprintln!(
                "gatehouse renew: {} expires {}; renewing at {}",
                a.cert.display(),
                rfc3339(current.leaf.not_after),
                rfc3339(at)
            );
            *target = Some((fp, at));
            at
        }
    };
    if !force && now < at {
        return Ok(Some(at));
    }
    let new = renew_once(a, &current)?;
    report(a, &current.leaf, &new, due_at(&new, margin)?);
    if let Err(e) = run_hooks(a) {
        eprintln!("gatehouse renew: renewed, but a hook failed: {e}");
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins() {
        let day = Duration::days(1);
        assert_eq!(Margin::parse("33%").unwrap(), Margin::Share(0.33));
        assert_eq!(Margin::parse("10d").unwrap(), Margin::Before(day * 10));
        for bad in ["0%", "100%", "150%", "x%", "0s", "-1d", "ten"] {
            assert!(Margin::parse(bad).is_err(), "{bad}");
        }
        let m = Margin::parse("33%").unwrap();
        assert_eq!(m.before_expiry(day * 100).unwrap().whole_days(), 33);
        assert!(Margin::parse("30d")
            .unwrap()
            .before_expiry(day * 30)
            .is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("4242:SIGHUP").unwrap(), (4242, "HUP"));
        assert_eq!(parse_signal("4242:usr1").unwrap(), (4242, "USR1"));
        assert_eq!(parse_signal("4242").unwrap(), (4242, "HUP"));
        for bad in ["1:HUP", "0:HUP", "x:HUP", "4242:KILL", "4242:SIGSTOP"] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }
}
