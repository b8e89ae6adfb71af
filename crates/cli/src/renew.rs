//! `gatehouse renew`: renews a client or server certificate before it expires, in place.
//!
//! A renewal keeps the key (step-ca's `renew`): the new certificate has the same public key,
//! subject (byte for byte), SANs and profile, so only the certificate file changes, by an atomic
//! rename. The key and certificate on disk therefore never disagree, whenever the process dies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration as StdDuration;

use clap::Args;
use gatehouse_pki::{
    parse_certificates, read_input_file, rfc3339, write_files, CertificateInfo, CsrRequest,
    FileKind, OutputFile, PrivateKey, Profile, ValidityPeriod, BACKDATE,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::args::{IssuerArgs, OutputArgs, OutputFormat};
use crate::fail::Failure;

#[derive(Debug, Args)]
#[command(
    after_help = "A renewal keeps the private key, the subject, the SANs and the \
    certificate's profile (client, server or internode); only the certificate file is replaced, \
    atomically, so the pair on disk always matches. Give another CA's files to move a \
    certificate to a new CA during a rotation.\n\n\
    Exit status: 0 renewed or not yet due, 1 a hook failed after renewing, 2 unusable input or \
    the renewal was refused.\n\nExamples:\n  \
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
    #[command(flatten)]
    pub(crate) issuer: IssuerArgs,
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

fn human(d: Duration) -> String {
    if d.whole_days() >= 2 {
        format!("{}d", d.whole_days())
    } else if d.whole_hours() >= 2 {
        format!("{}h", d.whole_hours())
    } else if d.whole_minutes() >= 2 {
        format!("{}m", d.whole_minutes())
    } else {
        format!("{}s", d.whole_seconds())
    }
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
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Renews once: signs, writes the certificate file atomically, returns the new leaf.
fn renew_once(a: &RenewArgs, current: &Current) -> Result<CertificateInfo, Failure> {
    let now = OffsetDateTime::now_utc();
    check_pair(a, &current.leaf)?;
    let authority = crate::gen::load_ca(&a.issuer, now)?;
    let validity = match &a.validity_period {
        Some(v) => ValidityPeriod::parse(v)
            .map_err(|e| Failure::Input(format!("--validity-period: {e}")))?,
        // The same lifetime from now: notBefore was backdated, so that part is not repeated.
        None => {
            let lifetime = current.leaf.not_after - current.leaf.not_before;
            let backdated = if lifetime > BACKDATE * 2 {
                BACKDATE
            } else {
                Duration::ZERO
            };
            ValidityPeriod::from_secs((lifetime - backdated).whole_seconds())
        }
    };
    let issued = CsrRequest::renewal_of(&current.leaf)?.sign(
        &authority,
        Profile::of(&current.leaf),
        Some(validity),
        now,
    )?;
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
        &[&a.issuer.ca_cert, &a.issuer.ca_key, &a.key],
        true,
    )?;
    Ok(issued.certificate)
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

pub(crate) fn run(a: RenewArgs) -> Result<ExitCode, Failure> {
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
    daemon(&a, margin)
}

/// Renews whenever due, forever. Failures are retried with backoff (1 min, doubling, at most
/// 1 h, never past the certificate's expiry), each logged.
fn daemon(a: &RenewArgs, margin: Margin) -> Result<ExitCode, Failure> {
    // Unusable input is refused at once, not retried.
    let first = read_current(&a.cert)?;
    check_pair(a, &first.leaf)?;
    crate::gen::load_ca(&a.issuer, OffsetDateTime::now_utc())?;
    let mut force = a.force;
    let mut backoff = StdDuration::from_secs(60);
    let mut target: Option<(String, OffsetDateTime)> = None;
    loop {
        let now = OffsetDateTime::now_utc();
        let step = (|| -> Result<Option<OffsetDateTime>, Failure> {
            let current = read_current(&a.cert)?;
            let due = due_at(&current.leaf, margin)?;
            // Jitter is drawn once per certificate, so waking up does not redraw it.
            let fp = current.leaf.fingerprint.to_string();
            let at = match &target {
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
                    target = Some((fp, at));
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
        })();
        match step {
            Ok(Some(at)) => {
                let wait = (at - now).clamp(Duration::ZERO, Duration::seconds(60));
                std::thread::sleep(wait.unsigned_abs().max(StdDuration::from_millis(200)));
            }
            Ok(None) => {
                force = false;
                backoff = StdDuration::from_secs(60);
            }
            Err(e) => {
                eprintln!(
                    "gatehouse renew: renewal failed, retrying in {}s: {e}",
                    backoff.as_secs()
                );
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(StdDuration::from_secs(3600));
            }
        }
    }
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
