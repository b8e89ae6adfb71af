//! The REST API's client: the server and key flags, requests, confirmations, printing.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

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
                            "no --api-key (or GATEHOUSE_API_KEY) and {} is not readable: {e}",
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

    pub(crate) fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .map_err(|e| Failure::Internal(format!("cannot reach {}: {e}", self.base)))?;
        let status = resp.status();
        let text = resp.text().unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let mut msg = format!(
            "{} ({}): {}",
            value["code"].as_str().unwrap_or("error"),
            status.as_u16(),
            value["message"].as_str().unwrap_or(&text)
        );
        for v in value["violations"].as_array().into_iter().flatten() {
            msg.push_str(&format!(
                "\n  [{}] {}{}",
                v["rule"].as_str().unwrap_or("?"),
                v["message"].as_str().unwrap_or(""),
                v["fingerprint"]
                    .as_str()
                    .map(|f| format!(" (sha256 {f})"))
                    .unwrap_or_default()
            ));
            if let Some(h) = v["hint"].as_str() {
                msg.push_str(&format!("\n    fix: {h}"));
            }
        }
        Err(Failure::Refused(msg))
    }

    pub(crate) fn get(&self, path: &str) -> Result<Value, Failure> {
        self.call(reqwest::Method::GET, path, None)
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

pub(super) fn print(v: &Value) -> Result<ExitCode, Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn ns_path(name: &str, rest: &str) -> String {
    format!("/api/v1/namespaces/{name}{rest}")
}

// --- namespace --------------------------------------------------------------------------------
