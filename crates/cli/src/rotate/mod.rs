//! `gatehouse rotate`: the zero-downtime CA rollover of Temporal's rotation guide as one
//! resumable procedure.
//!
//! 1. a new CA (generated, or the files given), with a subject distinct from every CA in the
//!    bundle;
//! 2. added beside the old ones (so clients of either are admitted);
//! 3. clients move to certificates of the new CA (`gatehouse gen leaf`, or `gatehouse renew`
//!    with the new CA's files, which keeps each client's key);
//! 4. wait, watching the gateways' usage, until no old CA has had a handshake or an open
//!    connection for `--quiet-period`;
//! 5. remove the old CAs.
//!
//! Every step is recorded in a state file before the next starts, and each API write carries a
//! request id, so an interrupted rotation resumes where it stopped (`rotate resume`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gatehouse_api::wire::{CaBody, CaList, NamespaceView, UsageView};
use gatehouse_pki::{read_input_file, rfc3339};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

mod ca_files;
mod record;

use self::ca_files::{generate_ca, read_ca_files, reuse};
use self::record::{load, CaRef, Period, Rotation, Stage};
use crate::client::Client;
use crate::fail::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum RotateCommand {
    /// Start a CA rotation: new CA, add it, wait for the old CAs' traffic to stop, remove them
    #[command(after_help = "Examples:\n  \
        gatehouse rotate ca -n payments --org acme -d 1y --ca-cert ca-2026.pem --ca-key ca-2026.key\n  \
        gatehouse rotate ca -n payments --org acme --ca-cert ca-2026.pem --ca-key ca-2026.key --dry-run\n  \
        gatehouse rotate ca -n payments --org acme --ca-cert ca-2026.pem --ca-key ca-2026.key --quiet-period 30m --no-wait")]
    Ca(RotateCaArgs),
    /// Show a rotation's recorded steps and the old CAs' traffic now
    #[command(after_help = "Examples:\n  gatehouse rotate status -n payments")]
    Status(RotateStateArgs),
    /// Continue an interrupted rotation from its last recorded step
    #[command(
        after_help = "Examples:\n  gatehouse rotate resume -n payments\n  gatehouse rotate resume -n payments --quiet-period 10m"
    )]
    Resume(RotateResumeArgs),
    /// Stop a rotation; with --remove-new-ca also take the new CA out of the bundle again
    #[command(
        after_help = "Examples:\n  gatehouse rotate abort -n payments\n  gatehouse rotate abort -n payments --remove-new-ca --auto-confirm"
    )]
    Abort(RotateAbortArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RotateStateArgs {
    /// The namespace
    #[arg(long, short = 'n')]
    pub(crate) namespace: String,
    /// Where the rotation's steps are recorded [default: ./gatehouse-rotation-<namespace>.json]
    #[arg(long, value_name = "FILE")]
    pub(crate) state_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// How long the old CAs must see no handshake and no open connection before removal
    #[arg(long, value_name = "DURATION")]
    pub(crate) quiet_period: Option<String>,
    /// How often to read the gateways' usage while waiting
    #[arg(long, value_name = "DURATION")]
    pub(crate) poll: Option<String>,
    /// Stop after adding the new CA (resume later with `gatehouse rotate resume`)
    #[arg(long)]
    pub(crate) no_wait: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RotateCaArgs {
    #[command(flatten)]
    pub(crate) target: RotateStateArgs,
    /// Organization (O=) of a new CA
    #[arg(long = "organization", visible_alias = "org")]
    pub(crate) organization: String,
    /// Validity of a new CA: more than 7 days, at most 1y [default: 1y]
    #[arg(long = "validity-period", short = 'd')]
    pub(crate) validity_period: Option<String>,
    /// RSA-4096 instead of ECDSA P-384 for a new CA
    #[arg(long)]
    pub(crate) rsa: bool,
    /// The new CA's certificate: used if it exists (with --ca-key), else generated here
    #[arg(
        long = "ca-certificate-file",
        visible_alias = "ca-cert",
        value_name = "FILE"
    )]
    pub(crate) ca_cert: PathBuf,
    /// The new CA's private key (mode 0600; never sent anywhere)
    #[arg(long = "ca-key-file", visible_alias = "ca-key", value_name = "FILE")]
    pub(crate) ca_key: PathBuf,
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    /// Print the plan and change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RotateResumeArgs {
    #[command(flatten)]
    pub(crate) target: RotateStateArgs,
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RotateAbortArgs {
    #[command(flatten)]
    pub(crate) target: RotateStateArgs,
    /// Also remove the new CA from the bundle (only while the old CAs are still in it)
    #[arg(long)]
    pub(crate) remove_new_ca: bool,
}

fn state_path(t: &RotateStateArgs) -> PathBuf {
    t.state_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("gatehouse-rotation-{}.json", t.namespace)))
}

/// The rotation recorded for these flags, and where it is recorded.
fn recorded(t: &RotateStateArgs) -> Result<(PathBuf, Rotation), Failure> {
    let path = state_path(t);
    let r = load(&path)?
        .ok_or_else(|| Failure::Input(format!("no rotation recorded in {}", path.display())))?;
    Ok((path, r))
}

/// The first 16 hex digits of a fingerprint (all of it if shorter).
fn short(sha256: &str) -> &str {
    sha256.get(..16).unwrap_or(sha256)
}

fn random_id() -> Result<String, Failure> {
    gatehouse_pki::random_hex(8).map_err(|e| Failure::Internal(e.to_string()))
}

fn ns_path(ns: &str, rest: &str) -> String {
    format!("/api/v1/namespaces/{ns}{rest}")
}

fn bundle(c: &Client, ns: &str) -> Result<Vec<CaRef>, Failure> {
    let list: CaList = c.get(&ns_path(ns, "/accepted-client-ca"))?;
    Ok(list
        .accepted_client_cas
        .into_iter()
        .map(|ca| CaRef {
            sha256: ca.sha256,
            subject: ca.subject,
        })
        .collect())
}

/// A bundle write to namespace `ns`'s `rest` (`/accepted-client-ca` or its `/remove`).
fn post_ca(c: &Client, ns: &str, rest: &str, body: CaBody) -> Result<NamespaceView, Failure> {
    c.send(reqwest::Method::POST, &ns_path(ns, rest), Some(&body))
}

/// Old CAs' traffic from the gateways' usage: (quiet long enough, one line per old CA).
fn old_ca_traffic(
    c: &Client,
    r: &Rotation,
    quiet: Duration,
    now: OffsetDateTime,
) -> Result<(bool, Vec<String>), Failure> {
    let usage: UsageView = c.get(&ns_path(&r.namespace, "/usage"))?;
    let in_bundle = bundle(c, &r.namespace)?;
    let added = r.added_at.unwrap_or(now);
    let mut all_quiet = true;
    let mut lines = Vec::new();
    for old in &r.old_cas {
        if !in_bundle.iter().any(|b| b.sha256 == old.sha256) {
            lines.push(format!("{}: already removed from the bundle", old.subject));
            continue;
        }
        let u = usage.cas.iter().find(|u| u.sha256 == old.sha256);
        let last = u
            .and_then(|u| u.last_handshake.as_deref())
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        let open = u.map_or(0, |u| u.open_connections);
        let quiet_since = last.map_or(added, |l| l.max(added));
        let quiet_for = now - quiet_since;
        let ok = open == 0 && quiet_for >= quiet;
        all_quiet &= ok;
        // The quiet period counts from the later of the last handshake and the new CA's
        // addition: a client could not have moved before there was a CA to move to.
        let since = if last.is_some_and(|l| l > added) {
            "the last handshake"
        } else {
            "the new CA's addition"
        };
        lines.push(format!(
            "{}: last handshake {}, {} open connection(s); quiet for {}s of {}s (counted from {since} at {}){}",
            old.subject,
            last.map(rfc3339).unwrap_or_else(|| "never".into()),
            open,
            quiet_for.whole_seconds().max(0),
            quiet.whole_seconds(),
            rfc3339(quiet_since),
            if ok { " — ready to remove" } else { "" }
        ));
    }
    Ok((all_quiet, lines))
}

/// Runs the rotation from its recorded state to the end (or to `--no-wait`).
fn advance(c: &Client, path: &Path, r: &mut Rotation, no_wait: bool) -> Result<ExitCode, Failure> {
    let (quiet, poll) = (r.quiet_period.duration(), r.poll.duration());
    if r.state == Stage::Planned {
        let current = bundle(c, &r.namespace)?;
        let info = if r.ca_cert.exists() || r.ca_key.exists() {
            read_ca_files(&r.ca_cert, &r.ca_key)?
        } else {
            generate_ca(r)?
        };
        let sha256 = info.fingerprint.to_string();
        // The server judges the bundle with the new CA (a distinct subject, validity, key
        // type…) by the same rules as the add itself, before anything is recorded.
        if !current.iter().any(|b| b.sha256 == sha256) {
            let pem = String::from_utf8_lossy(&read_input_file(&r.ca_cert)?).into_owned();
            let body = CaBody {
                ca_certificate: Some(pem),
                dry_run: true,
                ..CaBody::default()
            };
            post_ca(c, &r.namespace, "/accepted-client-ca", body)?;
        }
        r.new_ca = Some(CaRef {
            sha256: sha256.clone(),
            subject: info.subject.clone(),
        });
        r.old_cas = current.into_iter().filter(|b| b.sha256 != sha256).collect();
        let detail = format!(
            "new CA {} (sha256 {sha256}) in {}; old CAs: {}",
            info.display_subject(),
            r.ca_cert.display(),
            r.old_cas
                .iter()
                .map(|o| o.subject.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        r.complete(path, detail)?;
    }
    let new_ca = r
        .new_ca
        .clone()
        .ok_or_else(|| Failure::Input(format!("{}: no new CA recorded", path.display())))?;
    if r.state == Stage::NewCa {
        if !bundle(c, &r.namespace)?
            .iter()
            .any(|b| b.sha256 == new_ca.sha256)
        {
            let pem = String::from_utf8_lossy(&read_input_file(&r.ca_cert)?).into_owned();
            let body = CaBody {
                ca_certificate: Some(pem),
                request_id: Some(format!("rotate-{}-{}-add", r.run_id, short(&new_ca.sha256))),
                ..CaBody::default()
            };
            post_ca(c, &r.namespace, "/accepted-client-ca", body)?;
            if !bundle(c, &r.namespace)?
                .iter()
                .any(|b| b.sha256 == new_ca.sha256)
            {
                return Err(Failure::Refused(format!(
                    "the new CA {} is not in namespace {}'s bundle after adding it; nothing more was done",
                    new_ca.subject, r.namespace
                )));
            }
        }
        r.added_at = Some(OffsetDateTime::now_utc());
        r.complete(
            path,
            format!(
                "{} is accepted beside the old CAs. Move clients to it: gatehouse gen leaf --ca-cert {} --ca-key {} …, or keep their keys with gatehouse renew --cert C --key K --ca-cert {} --ca-key {} --force",
                new_ca.subject,
                r.ca_cert.display(),
                r.ca_key.display(),
                r.ca_cert.display(),
                r.ca_key.display()
            ),
        )?;
    }
    if r.state == Stage::Added {
        if no_wait {
            println!(
                "Stopped before waiting (--no-wait). Continue with: gatehouse rotate resume -n {}",
                r.namespace
            );
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "Waiting until the old CAs have had no handshake and no open connection for {}s (polling every {}s; Ctrl-C is safe, resume with `gatehouse rotate resume -n {}`)",
            quiet.whole_seconds(),
            poll.whole_seconds(),
            r.namespace
        );
        let mut last_report = Vec::new();
        loop {
            let (ready, lines) = old_ca_traffic(c, r, quiet, OffsetDateTime::now_utc())?;
            // One line per change of traffic, not per poll.
            let summary: Vec<String> = lines
                .iter()
                .map(|l| l.split("; quiet for").next().unwrap_or(l).to_owned())
                .collect();
            if summary != last_report || ready {
                for l in &lines {
                    println!("  {l}");
                }
                last_report = summary;
            }
            if ready {
                break;
            }
            std::thread::sleep(poll.unsigned_abs());
        }
        let in_bundle = bundle(c, &r.namespace)?;
        for old in &r.old_cas {
            if !in_bundle.iter().any(|b| b.sha256 == old.sha256) {
                continue;
            }
            let body = CaBody {
                fingerprint: Some(old.sha256.clone()),
                request_id: Some(format!("rotate-{}-{}-remove", r.run_id, short(&old.sha256))),
                ..CaBody::default()
            };
            post_ca(c, &r.namespace, "/accepted-client-ca/remove", body)?;
        }
        let left = bundle(c, &r.namespace)?;
        if let Some(still) = r
            .old_cas
            .iter()
            .find(|o| left.iter().any(|b| b.sha256 == o.sha256))
        {
            return Err(Failure::Refused(format!(
                "{} is still in namespace {}'s bundle after removing it; run `gatehouse rotate resume -n {}` again",
                still.subject, r.namespace, r.namespace
            )));
        }
        let removed: Vec<&str> = r.old_cas.iter().map(|o| o.subject.as_str()).collect();
        r.complete(path, format!("removed the old CAs: {}", removed.join("; ")))?;
    }
    if r.state == Stage::Removed {
        r.complete(
            path,
            format!(
                "namespace {} accepts only {} now",
                r.namespace, new_ca.subject
            ),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(c: &Client, command: RotateCommand) -> Result<ExitCode, Failure> {
    match command {
        RotateCommand::Ca(a) => {
            let path = state_path(&a.target);
            if let Some(existing) = load(&path)? {
                if !existing.state.finished() {
                    return Err(Failure::Input(format!(
                        "a rotation of namespace {:?} is in progress ({}, step {}): continue it with `gatehouse rotate resume -n {}` or stop it with `gatehouse rotate abort -n {}`",
                        existing.namespace, path.display(), existing.state, existing.namespace, existing.namespace
                    )));
                }
            }
            if a.ca_cert.exists() {
                reuse(c, &a)?;
            }
            let mut r = Rotation {
                namespace: a.target.namespace.clone(),
                run_id: random_id()?,
                state: Stage::Planned,
                ca_cert: a.ca_cert,
                ca_key: a.ca_key,
                organization: a.organization,
                validity_period: a.validity_period.unwrap_or_else(|| "1y".into()),
                rsa: a.rsa,
                quiet_period: Period::parse(
                    "--quiet-period",
                    a.wait.quiet_period.as_deref().unwrap_or("1h"),
                )?,
                poll: Period::parse("--poll", a.wait.poll.as_deref().unwrap_or("10s"))?,
                new_ca: None,
                old_cas: Vec::new(),
                added_at: None,
                steps: Vec::new(),
            };
            let current = bundle(c, &r.namespace)?;
            if a.dry_run {
                let new = if r.ca_cert.exists() {
                    let info = read_ca_files(&r.ca_cert, &r.ca_key)?;
                    format!(
                        "use the CA in {} ({})",
                        r.ca_cert.display(),
                        info.display_subject()
                    )
                } else {
                    format!(
                        "generate a CA (O={}, valid {}) into {} and {}",
                        r.organization,
                        r.validity_period,
                        r.ca_cert.display(),
                        r.ca_key.display()
                    )
                };
                println!(
                    "Plan for namespace {} (dry run: nothing changes):",
                    r.namespace
                );
                println!("  1. {new}");
                println!("  2. add it to the namespace's bundle, beside:");
                for b in &current {
                    println!("       {} (sha256 {})", b.subject, b.sha256);
                }
                println!("  3. move clients to certificates of the new CA (gatehouse gen leaf / gatehouse renew)");
                println!(
                    "  4. wait until the old CAs have had no handshake and no open connection for {} (polling every {})",
                    r.quiet_period, r.poll
                );
                println!("  5. remove the old CAs");
                println!("  Steps are recorded in {}.", path.display());
                return Ok(ExitCode::SUCCESS);
            }
            let detail = format!(
                "rotate namespace {}: {} CA(s) in the bundle now",
                r.namespace,
                current.len()
            );
            r.record(&path, Stage::Planned, detail)?;
            advance(c, &path, &mut r, a.wait.no_wait)
        }
        RotateCommand::Resume(a) => {
            let (path, mut r) = recorded(&a.target)?;
            if r.state.finished() {
                println!(
                    "The rotation of {} is {}; nothing to resume.",
                    r.namespace, r.state
                );
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(q) = a.wait.quiet_period {
                r.quiet_period = Period::parse("--quiet-period", &q)?;
            }
            if let Some(p) = a.wait.poll {
                r.poll = Period::parse("--poll", &p)?;
            }
            if r.run_id.is_empty() {
                r.run_id = random_id()?;
            }
            println!(
                "Resuming the rotation of {} at step {}",
                r.namespace, r.state
            );
            advance(c, &path, &mut r, a.wait.no_wait)
        }
        RotateCommand::Status(t) => {
            let (_, r) = recorded(&t)?;
            println!("Rotation of namespace {}: {}", r.namespace, r.state);
            for s in &r.steps {
                println!("  {} {}: {}", rfc3339(s.at), s.step, s.detail);
            }
            if r.state == Stage::Added {
                let quiet = r.quiet_period.duration();
                let (ready, lines) = old_ca_traffic(c, &r, quiet, OffsetDateTime::now_utc())?;
                println!("Old CAs now:");
                for l in lines {
                    println!("  {l}");
                }
                if ready {
                    println!(
                        "They are quiet: `gatehouse rotate resume -n {}` removes them.",
                        r.namespace
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RotateCommand::Abort(a) => {
            let (path, mut r) = recorded(&a.target)?;
            if r.state.finished() {
                return Err(Failure::Input(format!(
                    "the rotation of {} is already {}",
                    r.namespace, r.state
                )));
            }
            let mut detail = format!("stopped at step {}", r.state);
            if a.remove_new_ca {
                if let Some(new_ca) = r.new_ca.clone() {
                    let in_bundle = bundle(c, &r.namespace)?;
                    let old_left = r
                        .old_cas
                        .iter()
                        .any(|o| in_bundle.iter().any(|b| b.sha256 == o.sha256));
                    if in_bundle.iter().any(|b| b.sha256 == new_ca.sha256) {
                        if !old_left {
                            return Err(Failure::Input(
                                "the old CAs are no longer in the bundle; removing the new CA would leave the namespace without the CA its clients use".into(),
                            ));
                        }
                        c.confirm(&format!(
                            "Remove the new CA {} from namespace {:?}; clients already moved to it will be refused",
                            new_ca.subject, r.namespace
                        ))?;
                        let body = CaBody {
                            fingerprint: Some(new_ca.sha256.clone()),
                            ..CaBody::default()
                        };
                        post_ca(c, &r.namespace, "/accepted-client-ca/remove", body)?;
                        detail.push_str("; removed the new CA from the bundle");
                    }
                }
            }
            r.record(&path, Stage::Aborted, detail)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
