//! `gatehouse-bench`: what `bench/run` drives. See bench/README.md.
//!
//! - `fixtures`: N namespaces, each with its own CA; client leaves (ECDSA P-384 and RSA-2048)
//!   for the first K; one wildcard server certificate for every server under test; and a
//!   Gatehouse data dir holding the N namespaces.
//! - `handshakes`: full mTLS handshakes (no resumption) to random namespaces, closed loop
//!   (C connections back to back) or open loop (a fixed rate).
//! - `unary`: gRPC unary calls through a proxy (or straight to the upstream), C in flight.
//! - `upstream`: a trivial gRPC server (h2c) that answers every call with an empty message, so
//!   the upstream's own cost does not hide the proxy's.

mod fixtures;
mod load;
mod upstream;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse-bench",
    about = "Gatehouse benchmark harness (see bench/README.md)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the certificates and the Gatehouse data dir for N namespaces
    Fixtures(fixtures::Args),
    /// Full mTLS handshakes per second against a server
    Handshakes(load::HandshakeArgs),
    /// Proxied gRPC unary calls per second, with latency percentiles
    Unary(load::UnaryArgs),
    /// A trivial gRPC upstream (h2c)
    Upstream(upstream::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Fixtures(args) => fixtures::run(&args),
        Command::Handshakes(args) => load::handshakes(&args),
        Command::Unary(args) => load::unary(&args),
        Command::Upstream(args) => upstream::run(&args),
    }
}
