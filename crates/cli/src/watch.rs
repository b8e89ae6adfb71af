//! `gatehouse expirations …` and `gatehouse tickets …`, and the notifier settings `serve` shares.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use gatehouse_server::WatchConfig;
use time::OffsetDateTime;

use crate::fail::Failure;
use crate::flags::StoreArgs;

/// Where expiry notices go.
#[derive(Args, Clone)]
pub(crate) struct NotifyArgs {
    /// SMTP server for expiry emails: smtp://host:port, smtps://host, with user:pass@ for auth
    /// and ?tls=required for STARTTLS
    #[arg(long, env = "GATEHOUSE_SMTP_URL", hide_env_values = true)]
    pub(crate) smtp_url: Option<String>,
    /// Sender of expiry emails
    #[arg(long, default_value = "gatehouse@localhost")]
    pub(crate) smtp_from: String,
    /// Webhook to POST expiry events and tickets to (repeatable); signed with
    /// X-Gatehouse-Signature: sha256=<HMAC of the body>
    #[arg(long = "webhook-url")]
    pub(crate) webhook_urls: Vec<String>,
    /// HMAC key for webhook signatures [default: generated once into <data-dir>/webhook.secret]
    #[arg(long, env = "GATEHOUSE_WEBHOOK_SECRET", hide_env_values = true)]
    pub(crate) webhook_secret: Option<String>,
}

/// The secrets are elided, the URLs redacted: the same view as the config it becomes.
impl std::fmt::Debug for NotifyArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.watch_config(std::time::Duration::ZERO), f)
    }
}

impl NotifyArgs {
    /// The expiry watch's settings, with a pass every `every`.
    pub(crate) fn watch_config(&self, every: std::time::Duration) -> WatchConfig {
        WatchConfig {
            every,
            smtp_url: self.smtp_url.clone(),
            smtp_from: self.smtp_from.clone(),
            webhook_urls: self.webhook_urls.clone(),
            webhook_secret: self.webhook_secret.as_ref().map(|s| s.as_bytes().to_vec()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExpirationsCommand {
    /// Run the notifier: queue due notices (15/10/5 days), open tickets, deliver what is due
    #[command(
        after_help = "--now pretends it is another time. It exists for tests: it acts on the \
        real queue (it sends, opens tickets and schedules retries as of that time), so rehearse \
        with --dry-run, which only prints what would be queued. Every notice is sent once, \
        whatever the time.\n\n\
        Examples:\n  \
        gatehouse expirations check --once --smtp-url smtp://mail.acme.io:25 --smtp-from gatehouse@acme.io\n  \
        gatehouse expirations check --once --webhook-url https://hooks.acme.io/gatehouse --now 2027-01-01T00:00:00Z"
    )]
    Check {
        /// One pass, then exit (otherwise a pass every --notify-interval)
        #[arg(long)]
        once: bool,
        /// Act as if it were this time (RFC 3339) — for tests; acts on the real queue
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Print what would be queued and which tickets opened; change and send nothing
        #[arg(long)]
        dry_run: bool,
        /// Time between passes without --once
        #[arg(long, default_value = "1h")]
        notify_interval: String,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        notify: NotifyArgs,
    },
    /// Every accepted CA and observed client certificate, soonest expiry first
    #[command(
        after_help = "Examples:\n  gatehouse expirations list\n  gatehouse expirations list --within 30d --output json"
    )]
    List {
        /// Only certificates expiring within this long (e.g. 30d)
        #[arg(long)]
        within: Option<String>,
        #[command(flatten)]
        output: crate::flags::OutputArgs,
        #[command(flatten)]
        server: crate::client::ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TicketsCommand {
    /// Tickets opened for CAs within 5 days of expiry
    #[command(after_help = "Examples:\n  gatehouse tickets list")]
    List {
        #[command(flatten)]
        server: crate::client::ServerArgs,
    },
}

fn parse_now(now: &Option<String>) -> Result<OffsetDateTime, Failure> {
    match now {
        None => Ok(OffsetDateTime::now_utc()),
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| Failure::Input(format!("--now {s:?}: not an RFC 3339 time ({e})"))),
    }
}

pub(crate) fn interval(s: &str) -> Result<std::time::Duration, Failure> {
    let p = gatehouse_pki::ValidityPeriod::parse(s)
        .map_err(|e| Failure::Input(format!("--notify-interval: {e}")))?;
    u64::try_from(p.as_nanos())
        .ok()
        .filter(|n| *n >= 1_000_000_000)
        .map(std::time::Duration::from_nanos)
        .ok_or_else(|| Failure::Input("--notify-interval must be at least 1s".into()))
}

pub(crate) fn expirations(command: ExpirationsCommand) -> Result<ExitCode, Failure> {
    match command {
        ExpirationsCommand::Check {
            once,
            now,
            dry_run,
            notify_interval,
            store,
            notify,
        } => {
            let fixed_now = now.as_ref().map(|_| parse_now(&now)).transpose()?;
            let watch = notify.watch_config(interval(&notify_interval)?);
            let store = store.location();
            crate::runtime::init_tracing();
            crate::runtime::block_on(async move {
                let n = watch.notifier(&store.data_dir, Arc::new(store.open(true).await?))?;
                if dry_run {
                    let at = fixed_now.unwrap_or_else(OffsetDateTime::now_utc);
                    let plan = n
                        .dry_run(at)
                        .await
                        .map_err(|e| Failure::Internal(e.to_string()))?;
                    let notices: Vec<_> = plan
                        .notifications
                        .iter()
                        .map(|x| {
                            let recipient = if x.channel == "webhook" {
                                gatehouse_notify::redact_url(&x.recipient)
                            } else {
                                x.recipient.clone()
                            };
                            serde_json::json!({
                                "namespace": x.namespace, "fingerprint": x.fingerprint, "kind": x.kind,
                                "threshold": x.threshold, "channel": x.channel, "recipient": recipient,
                            })
                        })
                        .collect();
                    let tickets: Vec<_> = plan
                        .tickets
                        .iter()
                        .map(|t| serde_json::json!({"namespace": t.namespace, "fingerprint": t.fingerprint, "subject": t.subject}))
                        .collect();
                    println!(
                        "{}",
                        serde_json::json!({ "at": gatehouse_pki::rfc3339(at), "notifications": notices, "tickets": tickets })
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                // Runs until killed: nothing is held between two passes.
                let stop = tokio_util::sync::CancellationToken::new();
                loop {
                    let at = fixed_now.unwrap_or_else(OffsetDateTime::now_utc);
                    let report = n
                        .pass(at, &stop)
                        .await
                        .map_err(|e| Failure::Internal(e.to_string()))?;
                    println!("{}", serde_json::to_string(&report).unwrap_or_default());
                    if once {
                        return Ok(ExitCode::SUCCESS);
                    }
                    tokio::time::sleep(watch.every).await;
                }
            })
        }
        ExpirationsCommand::List {
            within,
            output,
            server,
        } => crate::client::expirations_list(&server, within.as_deref(), output.output),
    }
}

pub(crate) fn tickets(command: TicketsCommand) -> Result<ExitCode, Failure> {
    match command {
        TicketsCommand::List { server } => crate::client::tickets_list(&server),
    }
}
