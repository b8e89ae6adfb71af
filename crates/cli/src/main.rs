//! `gatehouse`: the one binary.

mod args;
mod cert_args;
mod check;
mod client;
mod database;
mod deploy;
mod dev;
mod fail;
mod flags;
mod gateway;
mod gen;
mod pkcs11;
mod renew;
mod rotate;
mod runtime;
mod serve;
mod shell;
mod watch;

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The one shutdown signal: Ctrl-C and SIGTERM cancel it (see `runtime`), and every
    // long-running command winds down from it.
    let shutdown = CancellationToken::new();
    let auto_confirm = cli.auto_confirm;
    let result = match cli.command {
        Command::Gen { command } => gen::run(command),
        Command::Sign(args) => gen::sign(args),
        Command::Lint(args) => check::lint(args),
        Command::Verify(args) => check::verify(args),
        Command::Renew(args) => renew::run(args, shutdown),
        Command::Rotate(c) => c.run(auto_confirm, rotate::run),
        Command::Serve(args) => serve::run(args, shutdown),
        Command::Gateway(args) => gateway::run(args, shutdown),
        Command::Migrate(args) => database::migrate(args),
        Command::Export(args) => database::export(args),
        Command::Import(args) => database::import(args),
        Command::Dev(args) => dev::run(args, shutdown),
        Command::Namespace(c) => c.run(auto_confirm, client::namespace),
        Command::User(c) => c.run(auto_confirm, client::user),
        Command::Apikey(c) => c.run(auto_confirm, client::apikey),
        Command::Expirations { command } => watch::expirations(command),
        Command::Tickets { command } => watch::tickets(command),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}
