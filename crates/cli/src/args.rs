//! The command tree. Where tcld has the command, its names, aliases and flags are kept, so the
//! commands in Temporal's documentation work unchanged.

use clap::{Parser, Subcommand};

use crate::cert_args::{GenCommand, LintArgs, SignArgs, VerifyArgs};
use crate::client::ClientCommand;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Certificate management for Temporal: issue, lint and diagnose mTLS certificates",
    long_about = "Certificate management for Temporal: issue CA and client certificates with tcld's \
                  commands, lint CA bundles and client chains against Temporal Cloud's rules, and \
                  explain why a client would or would not be admitted to a namespace.",
    after_help = "Examples:\n  \
        gatehouse gen ca --org temporal -d 1y --ca-cert ca.pem --ca-key ca.key\n  \
        gatehouse gen leaf --org temporal -d 364d --ca-cert ca.pem --ca-key ca.key --cert client.pem --key client.key\n  \
        gatehouse lint --ca-bundle ca.pem\n  \
        gatehouse verify --ca-bundle ca.pem --cert client.pem\n  \
        gatehouse serve\n  \
        gatehouse namespace create -n payments -f ca.pem"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Do not ask before destructive changes (tcld's --auto_confirm is accepted too)
    #[arg(long, global = true, env = "AUTO_CONFIRM", alias = "auto_confirm")]
    pub(crate) auto_confirm: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Generate CA, client, server certificates and CSRs (tcld's `generate-certificates`)
    #[command(
        name = "gen",
        visible_alias = "generate-certificates",
        after_help = "Examples:\n  \
            gatehouse gen ca --org temporal -d 1y --ca-cert ca.pem --ca-key ca.key\n  \
            gatehouse generate-certificates end-entity-certificate --org temporal --ca-cert ca.pem --ca-key ca.key --cert client.pem --key client.key"
    )]
    Gen {
        #[command(subcommand)]
        command: GenCommand,
    },
    /// Sign a certificate signing request with a CA; the CA decides every extension
    #[command(after_help = "Examples:\n  \
        gatehouse gen csr --common-name worker.payments --csr worker.csr --key worker.key\n  \
        gatehouse sign --csr worker.csr --ca-cert ca.pem --ca-key ca.key --cert worker.pem -d 30d\n  \
        gatehouse sign --csr frontend.csr --profile server --ca-cert ca.pem --ca-key ca.key --cert frontend.pem")]
    Sign(SignArgs),
    /// Check a CA bundle, a client chain and/or a key against Temporal's certificate rules
    #[command(
        after_help = "Exit status: 0 no errors (warnings allowed), 1 a rule failed at error level, 2 unusable input.\n\n\
        Examples:\n  \
        gatehouse lint --ca-bundle ca.pem\n  \
        gatehouse lint --cert client.pem --key client.key\n  \
        gatehouse lint --ca-bundle ca.pem --cert client.pem --output json"
    )]
    Lint(LintArgs),
    /// Would this client be admitted to a namespace with this bundle and these filters?
    #[command(
        after_help = "Exit status: 0 admitted, 1 refused (the first failing rule is explained), 2 unusable input.\n\n\
        Examples:\n  \
        gatehouse verify --ca-bundle ca.pem --cert client.pem\n  \
        gatehouse verify --ca-bundle ca.pem --cert chain.pem --filters filters.json --at 2027-01-01T00:00:00Z"
    )]
    Verify(VerifyArgs),
    /// Renew a client or server certificate in place before it expires (once, or as a daemon)
    Renew(crate::renew::RenewArgs),
    /// Rotate a namespace's CA without downtime: add the new CA, wait for the old one's
    /// traffic to stop, remove it (resumable)
    #[command(after_help = "Examples:\n  \
        gatehouse rotate ca -n payments --org acme -d 1y --ca-cert ca-2026.pem --ca-key ca-2026.key\n  \
        gatehouse rotate status -n payments\n  \
        gatehouse rotate resume -n payments")]
    Rotate(ClientCommand<crate::rotate::RotateCommand>),
    /// Run the control plane (REST API, expiry watch) and, with --upstream, the mTLS gateway
    Serve(crate::serve::ServeArgs),
    /// Run the mTLS gateway alone against a data dir's store (serve --upstream runs it too)
    Gateway(crate::gateway::GatewayCommandArgs),
    /// Apply schema migrations, or copy an account between databases (SQLite ⇄ PostgreSQL)
    Migrate(crate::database::MigrateArgs),
    /// Write a whole account (namespaces, users, key hashes, audit log…) as JSON
    Export(crate::database::ExportArgs),
    /// Load an account exported with `gatehouse export` into an empty database
    Import(crate::database::ImportArgs),
    /// Try it: a Temporal dev server, the API and the gateway on loopback, with a demo namespace
    Dev(crate::dev::DevArgs),
    /// Namespaces, their accepted client CAs and certificate filters (tcld's `namespace`)
    #[command(
        alias = "n",
        after_help = "Examples:\n  \
        gatehouse namespace create -n payments -f ca.pem\n  \
        gatehouse n ca add -n payments -f new-ca.pem\n  \
        gatehouse n ca remove -n payments --fp <sha1-or-sha256> --auto-confirm\n  \
        gatehouse n cf add -n payments --input '{\"filters\":[{\"commonName\":\"payments.worker\"}]}'"
    )]
    Namespace(ClientCommand<crate::client::NamespaceCommand>),
    /// Users and their roles
    #[command(
        alias = "u",
        after_help = "Examples:\n  gatehouse user create --email ops@acme.io --role global-admin\n  gatehouse user list"
    )]
    User(ClientCommand<crate::client::UserCommand>),
    /// Certificate expiry: the notifier pass and the report
    #[command(
        after_help = "Examples:\n  gatehouse expirations list --within 30d\n  gatehouse expirations check --once --smtp-url smtp://127.0.0.1:25"
    )]
    Expirations {
        #[command(subcommand)]
        command: crate::watch::ExpirationsCommand,
    },
    /// Tickets opened for CA certificates within 5 days of expiry
    #[command(after_help = "Examples:\n  gatehouse tickets list")]
    Tickets {
        #[command(subcommand)]
        command: crate::watch::TicketsCommand,
    },
    /// API keys for the REST API and this CLI
    #[command(
        alias = "ak",
        after_help = "Examples:\n  gatehouse apikey create --name ci --duration 90d\n  gatehouse apikey list"
    )]
    Apikey(ClientCommand<crate::client::ApiKeyCommand>),
}
