//! `gatehouse serve`: the control plane API, the expiry watch and (with `--upstream`) the mTLS
//! gateway. The flags become a [`ServerConfig`] once; `gatehouse_server` does the rest.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use gatehouse_server::{Server, ServerConfig};
use tokio_util::sync::CancellationToken;

use crate::fail::Failure;
use crate::flags::StoreArgs;
use crate::gateway::GatewayArgs;
use crate::watch::NotifyArgs;

#[derive(Debug, Args)]
#[command(
    after_help = "On first start an account-owner and its API key are created; the key is \
    written to <data-dir>/admin.key (mode 0600) and never printed. The CLI uses that file when no \
    --api-key is given. The web console is at http://<api-listen>/: sign in with an API key. \
    Browsers keep its Secure session cookie only over HTTPS or on localhost, so reach it through \
    a TLS-terminating proxy, or an SSH tunnel to 127.0.0.1.\n\nExamples:\n  \
    gatehouse serve\n  \
    gatehouse serve --data-dir /var/lib/gatehouse --api-listen 0.0.0.0:8080 --admin-email ops@acme.io\n  \
    gatehouse serve --upstream 127.0.0.1:7233 --gateway-listen 0.0.0.0:7443 --gateway-domain gw.acme.io"
)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Address of the REST API (/api/v1) and the web console (/)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) api_listen: SocketAddr,
    /// Email of the account owner created on first start
    #[arg(long, default_value = "admin@localhost")]
    pub(crate) admin_email: String,
    /// Time between expiry-watch passes (15/10/5-day notices, tickets)
    #[arg(long, default_value = "1h")]
    pub(crate) notify_interval: String,
    #[command(flatten)]
    pub(crate) notify: NotifyArgs,
    #[command(flatten)]
    pub(crate) gateway: GatewayArgs,
}

impl TryFrom<ServeArgs> for ServerConfig {
    type Error = Failure;

    /// Reads the files the flags name (certificates, keys) and checks every value; writes
    /// nothing (the data dir's own files are made at start).
    fn try_from(args: ServeArgs) -> Result<Self, Failure> {
        let store = args.store.location();
        let watch = args
            .notify
            .watch_config(crate::watch::interval(&args.notify_interval)?);
        let gateway = args.gateway.server_config(&store.data_dir)?;
        Ok(ServerConfig {
            store,
            api_listen: args.api_listen,
            admin_email: args.admin_email,
            watch,
            gateway,
            namespace_hooks: Vec::new(),
        })
    }
}

pub(crate) fn run(args: ServeArgs, shutdown: CancellationToken) -> Result<ExitCode, Failure> {
    crate::runtime::init_tracing();
    let config = ServerConfig::try_from(args)?;
    crate::runtime::until_shutdown(&shutdown, async {
        let running = Server::start(config, shutdown.clone()).await?;
        running.stopped().await?;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(argv: &str) -> Result<ServerConfig, Failure> {
        ServerConfig::try_from(crate::flags::parse_flags::<ServeArgs>(argv)?)
    }

    #[test]
    fn the_defaults_are_an_embedded_store_and_no_gateway() {
        let c = config("--data-dir /d").expect("config");
        assert_eq!(
            c.store.data_dir.database(),
            std::path::Path::new("/d/gatehouse.db")
        );
        assert!(c.store.is_embedded());
        assert_eq!(c.api_listen, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(c.admin_email, "admin@localhost");
        assert_eq!(c.watch.every, std::time::Duration::from_secs(3600));
        assert!(c.gateway.is_none());
    }

    #[test]
    fn an_upstream_brings_a_gateway_with_the_gateway_crates_default_limits() {
        let c = config("--data-dir /d --upstream 127.0.0.1:7233").expect("config");
        let g = c.gateway.expect("a gateway");
        assert_eq!(g.listen, "0.0.0.0:7233".parse().expect("addr"));
        assert_eq!(g.gateway.upstream, "127.0.0.1:7233");
        assert_eq!(g.gateway.domain, "localhost");
        // The flags' defaults and the library's are the same numbers.
        assert_eq!(
            format!("{:?}", g.gateway.limits),
            format!("{:?}", gatehouse_gateway::Limits::default())
        );
        assert!(matches!(
            g.identity,
            gatehouse_server::ServerIdentity::GatewayCa
        ));
        assert_eq!(
            g.gateway.jwt_key_file.as_deref(),
            Some(std::path::Path::new("/d/upstream-jwt-keys.json"))
        );
    }

    #[test]
    fn bad_values_are_input_errors_that_name_the_flag() {
        let err = config("--notify-interval 0s").expect_err("too short");
        assert!(err.to_string().contains("--notify-interval"), "{err}");
        let err = config("--upstream u:1 --max-message-bytes 10").expect_err("small");
        assert!(err.to_string().contains("--max-message-bytes"), "{err}");
        let err =
            config("--upstream u:1 --gateway-cert /nonexistent.pem --gateway-key /nonexistent.key")
                .expect_err("no such file");
        assert!(matches!(err, Failure::Input(_)), "{err}");
    }
}
