//! The REST API's client: the server and key flags, requests, confirmations, printing.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use gatehouse_api::wire::ErrorBody;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::fail::Failure;

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// The Gatehouse API
    #[arg(
        long,
        global = true,
        env = "GATEHOUSE_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// API key [default: the key in <data-dir>/admin.key]
    #[arg(long, global = true, env = "GATEHOUSE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Data dir of a local `gatehouse serve`, for its admin.key
    #[arg(
        long,
        global = true,
        env = "GATEHOUSE_DATA_DIR",
        default_value = "./gatehouse-data"
    )]
    data_dir: PathBuf,
}

// A client command and the server it talks to (`namespace`, `user`, `apikey`, `rotate`).
#[derive(Debug, Args)]
pub(crate) struct ClientCommand<C: Subcommand> {
    #[command(flatten)]
    server: ServerArgs,
    #[command(subcommand)]
    command: C,
}

impl<C: Subcommand> ClientCommand<C> {
    /// Runs the command with `run`, against the server (`auto_confirm`: --auto-confirm).
    pub(crate) fn run(
        self,
        auto_confirm: bool,
        run: impl FnOnce(&Client, C) -> Result<ExitCode, Failure>,
    ) -> Result<ExitCode, Failure> {
        run(&Client::new(&self.server, auto_confirm)?, self.command)
    }
}

pub(crate) struct Client {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
    auto_confirm: bool,
}

impl Client {
    pub(crate) fn new(args: &ServerArgs, auto_confirm: bool) -> Result<Self, Failure> {
        let token = match &args.api_key {
            Some(k) => k.trim().to_owned(),
            None => {
                let path = gatehouse_server::DataDir::new(&args.data_dir).admin_key();
                std::fs::read_to_string(&path)
                    .map(|s| s.trim().to_owned())
                    .map_err(|e| {
                        Failure::Input(format!(
                            "no --api-key (or GATEHOUSE_API_KEY) and {} is not readable: {e}. The admin key is in the data dir of the `gatehouse serve` (or `dev`) you talk to: pass --data-dir DIR or set GATEHOUSE_DATA_DIR",
                            path.display()
                        ))
                    })?
            }
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| Failure::Internal(e.to_string()))?;
        Ok(Self {
            base: args.server.trim_end_matches('/').to_owned(),
            token,
            http,
            auto_confirm,
        })
    }

    /// One request: `body` (a `gatehouse_api::wire` type) as JSON, the answer decoded as `R`
    /// (a wire type, or `Value` to print the server's JSON as it is). A refusal becomes
    /// [`Failure::Refused`] with each violation's rule, certificate and fix.
    pub(crate) fn send<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .map_err(|e| Failure::Internal(format!("cannot reach {}: {e}", self.base)))?;
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        if status.is_success() {
            // A 204 (a delete) has no body: it reads as `null`.
            let text = if text.trim().is_empty() {
                "null"
            } else {
                &text
            };
            return serde_json::from_str(text).map_err(|e| {
                Failure::Internal(format!("{url}: an answer this CLI cannot read: {e}"))
            });
        }
        Err(Failure::Refused(refusal(status, &text)))
    }

    /// `GET path`.
    pub(crate) fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, Failure> {
        self.send::<(), R>(reqwest::Method::GET, path, None)
    }

    /// `DELETE path` with `query` (e.g. `wire::WriteQuery`: the resource version and request id).
    pub(crate) fn delete<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<R, Failure> {
        let query = serde_urlencoded::to_string(query)
            .map_err(|e| Failure::Internal(format!("query for {path}: {e}")))?;
        let path = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        self.send::<(), R>(reqwest::Method::DELETE, &path, None)
    }

    /// tcld-style confirmation: skipped with --auto-confirm; never waits on a non-terminal.
    pub(crate) fn confirm(&self, what: &str) -> Result<(), Failure> {
        if self.auto_confirm {
            return Ok(());
        }
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(Failure::Input(format!(
                "{what}: confirmation needed but stdin is not a terminal; pass --auto-confirm (or AUTO_CONFIRM=true)"
            )));
        }
        eprint!("{what}. Continue? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::Input(e.to_string()))?;
        if matches!(line.trim(), "y" | "Y" | "yes" | "Yes") {
            Ok(())
        } else {
            Err(Failure::Input("cancelled".into()))
        }
    }
}

/// The API's error body (`ErrorBody`) as the CLI prints it.
fn refusal(status: reqwest::StatusCode, text: &str) -> String {
    let Ok(body) = serde_json::from_str::<ErrorBody>(text) else {
        return format!("error ({}): {text}", status.as_u16());
    };
    let mut msg = format!("{} ({}): {}", body.code, status.as_u16(), body.message);
    for v in &body.violations {
        msg.push_str(&format!(
            "\n  [{}] {}{}",
            v.rule,
            v.message,
            v.fingerprint
                .as_deref()
                .map(|f| format!(" (sha256 {f})"))
                .unwrap_or_default()
        ));
        if let Some(h) = &v.hint {
            msg.push_str(&format!("\n    fix: {h}"));
        }
    }
    msg
}

/// Prints `v` as the API's JSON (keys sorted, two-space indent).
pub(super) fn print<T: Serialize + ?Sized>(v: &T) -> Result<ExitCode, Failure> {
    let v = serde_json::to_value(v).map_err(|e| Failure::Internal(e.to_string()))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn ns_path(name: &str, rest: &str) -> String {
    format!("/api/v1/namespaces/{name}{rest}")
}

// --- namespace --------------------------------------------------------------------------------
