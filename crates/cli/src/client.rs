//! `gatehouse namespace|user|apikey …`: the REST API from the command line, shaped like
//! `tcld namespace …` (same nouns, aliases and flags), printing JSON as tcld does.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

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

fn print(v: &Value) -> Result<ExitCode, Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
    Ok(ExitCode::SUCCESS)
}

fn ns_path(name: &str, rest: &str) -> String {
    format!("/api/v1/namespaces/{name}{rest}")
}

// --- namespace --------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum NamespaceCommand {
    /// Create a namespace with its CA bundle (and optional filters)
    #[command(
        alias = "c",
        after_help = "Examples:\n  gatehouse namespace create -n payments -f ca.pem\n  gatehouse n create -n payments -f ca.pem --certificate-filter-input '{\"filters\":[{\"commonName\":\"*.payments\"}]}'"
    )]
    Create {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        ca: CaInput,
        #[command(flatten)]
        filters: FilterInput,
    },
    /// List the namespaces you may read
    #[command(alias = "l", after_help = "Examples:\n  gatehouse namespace list")]
    List,
    /// Show a namespace
    #[command(
        alias = "g",
        after_help = "Examples:\n  gatehouse namespace get -n payments"
    )]
    Get {
        #[command(flatten)]
        ns: NamespaceFlag,
    },
    /// Gateway traffic per accepted CA and per client certificate (is the old CA still used?)
    #[command(after_help = "Examples:\n  gatehouse namespace usage -n payments")]
    Usage {
        #[command(flatten)]
        ns: NamespaceFlag,
    },
    /// Delete a namespace (asks first)
    #[command(after_help = "Examples:\n  gatehouse namespace delete -n payments --auto-confirm")]
    Delete {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// The namespace's accepted client CA certificates (tcld: `n ca`)
    #[command(
        name = "accepted-client-ca",
        alias = "ca",
        after_help = "Examples:\n  gatehouse n ca list -n payments\n  gatehouse n ca add -n payments -f new-ca.pem\n  gatehouse n ca remove -n payments -f old-ca.pem --auto-confirm"
    )]
    AcceptedClientCa {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// The namespace's certificate filters (tcld: `n cf`)
    #[command(
        name = "certificate-filters",
        alias = "cf",
        after_help = "Examples:\n  gatehouse n cf export -n payments\n  gatehouse n cf add -n payments --input '{\"filters\":[{\"commonName\":\"*.payments\"}]}'"
    )]
    CertificateFilters {
        #[command(subcommand)]
        command: FilterCommand,
    },
}

#[derive(Debug, Args)]
pub(crate) struct NamespaceFlag {
    /// The namespace
    #[arg(long = "namespace", short = 'n', env = "TEMPORAL_CLOUD_NAMESPACE")]
    namespace: String,
}

#[derive(Debug, Args)]
pub(crate) struct WriteFlags {
    /// Only apply if the namespace is still at this resource version
    #[arg(long = "resource-version", short = 'v')]
    resource_version: Option<String>,
    /// Idempotency key: a retry with the same id is not applied twice
    #[arg(long = "request-id", short = 'r')]
    request_id: Option<String>,
}

impl WriteFlags {
    fn add_to(&self, body: &mut Value) {
        if let Some(v) = &self.resource_version {
            body["resourceVersion"] = json!(v);
        }
        if let Some(r) = &self.request_id {
            body["requestId"] = json!(r);
        }
    }

    fn query(&self) -> String {
        let mut q = Vec::new();
        if let Some(v) = &self.resource_version {
            q.push(format!("resourceVersion={v}"));
        }
        if let Some(r) = &self.request_id {
            q.push(format!("requestId={r}"));
        }
        if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct CaInput {
    /// A PEM file of CA certificates
    #[arg(long = "ca-certificate-file", short = 'f', visible_alias = "cf")]
    ca_certificate_file: Option<PathBuf>,
    /// CA certificates as base64-encoded PEM (tcld's form); plain PEM is accepted too
    #[arg(long = "ca-certificate", short = 'c')]
    ca_certificate: Option<String>,
}

impl CaInput {
    fn pem(&self) -> Result<Option<String>, Failure> {
        match (&self.ca_certificate_file, &self.ca_certificate) {
            (Some(_), Some(_)) => Err(Failure::Input(
                "give only one of --ca-certificate-file and --ca-certificate".into(),
            )),
            (Some(path), None) => Ok(Some(read_text(path)?)),
            (None, Some(value)) => {
                let v = value.trim();
                if v.starts_with("-----BEGIN") {
                    return Ok(Some(v.to_owned()));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|e| Failure::Input(format!("--ca-certificate is not base64: {e}")))?;
                String::from_utf8(bytes).map(Some).map_err(|_| {
                    Failure::Input("--ca-certificate does not decode to PEM text".into())
                })
            }
            (None, None) => Ok(None),
        }
    }

    fn required(&self) -> Result<String, Failure> {
        self.pem()?.ok_or_else(|| {
            Failure::Input("give --ca-certificate-file (-f) or --ca-certificate (-c)".into())
        })
    }
}

fn read_text(path: &Path) -> Result<String, Failure> {
    let bytes = gatehouse_pki::read_input_file(path)?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::Input(format!("{}: not UTF-8 text", path.display())))
}

#[derive(Debug, Args)]
pub(crate) struct FilterInput {
    /// A JSON file of certificate filters: {"filters":[{"commonName":"…"}]}
    #[arg(long = "certificate-filter-file", visible_aliases = ["file", "cff"])]
    certificate_filter_file: Option<PathBuf>,
    /// Certificate filters as JSON: {"filters":[{"commonName":"…"}]}
    #[arg(long = "certificate-filter-input", visible_aliases = ["input", "cfi"])]
    certificate_filter_input: Option<String>,
}

impl FilterInput {
    fn filters(&self) -> Result<Option<Value>, Failure> {
        let text = match (
            &self.certificate_filter_file,
            &self.certificate_filter_input,
        ) {
            (Some(_), Some(_)) => {
                return Err(Failure::Input(
                    "exactly one of --certificate-filter-file and --certificate-filter-input"
                        .into(),
                ))
            }
            (Some(p), None) => read_text(p)?,
            (None, Some(s)) => s.clone(),
            (None, None) => return Ok(None),
        };
        // Parsed and validated locally too, so a typo fails before any request is made.
        let filters = gatehouse_policy::CertificateFilters::from_json(&text)?;
        Ok(Some(json!(filters.filters())))
    }
}

/// The same inputs with tcld's short flags, for the `certificate-filters` commands.
#[derive(Debug, Args)]
pub(crate) struct CfInput {
    /// A JSON file of certificate filters: {"filters":[{"commonName":"…"}]}
    #[arg(long = "certificate-filter-file", short = 'f', visible_alias = "file")]
    certificate_filter_file: Option<PathBuf>,
    /// Certificate filters as JSON: {"filters":[{"commonName":"…"}]}
    #[arg(
        long = "certificate-filter-input",
        short = 'i',
        visible_alias = "input"
    )]
    certificate_filter_input: Option<String>,
}

impl CfInput {
    fn filters(&self) -> Result<Option<Value>, Failure> {
        FilterInput {
            certificate_filter_file: self.certificate_filter_file.clone(),
            certificate_filter_input: self.certificate_filter_input.clone(),
        }
        .filters()
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum CaCommand {
    /// List the accepted CA certificates (tcld's fields plus sha256)
    #[command(
        alias = "l",
        after_help = "Examples:\n  gatehouse namespace accepted-client-ca list -n payments\n  gatehouse n ca l -n payments"
    )]
    List {
        #[command(flatten)]
        ns: NamespaceFlag,
    },
    /// Add CA certificates (the first step of a rollover)
    #[command(
        alias = "a",
        after_help = "Examples:\n  gatehouse n ca add -n payments -f new-ca.pem\n  gatehouse n ca a -n payments -c \"$(base64 -w0 new-ca.pem)\""
    )]
    Add {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        ca: CaInput,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// Remove CA certificates by PEM or fingerprint (the last step of a rollover; asks first)
    #[command(
        alias = "r",
        after_help = "Examples:\n  gatehouse n ca remove -n payments -f old-ca.pem\n  gatehouse n ca r -n payments --fp 0b8a…  (SHA-1 as tcld prints it, or SHA-256)"
    )]
    Remove {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        ca: CaInput,
        /// Fingerprint of the CA to remove: tcld's SHA-1 hex, or SHA-256 hex
        #[arg(long = "ca-certificate-fingerprint", visible_alias = "fp")]
        fingerprint: Option<String>,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// Replace the whole bundle (asks first)
    #[command(
        alias = "s",
        after_help = "Examples:\n  cat old-ca.pem new-ca.pem > both.pem\n  gatehouse namespace accepted-client-ca set -n payments --ca-certificate-file both.pem"
    )]
    Set {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        ca: CaInput,
        #[command(flatten)]
        write: WriteFlags,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FilterCommand {
    /// Replace the filters (asks first)
    #[command(
        alias = "imp",
        after_help = "Examples:\n  gatehouse n cf import -n payments --certificate-filter-file filters.json"
    )]
    Import {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        input: CfInput,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// Print the filters as tcld JSON, or write them to a file
    #[command(
        alias = "exp",
        after_help = "Examples:\n  gatehouse n cf export -n payments\n  gatehouse n cf exp -n payments --certificate-filter-file filters.json"
    )]
    Export {
        #[command(flatten)]
        ns: NamespaceFlag,
        /// Write to this file instead of stdout
        #[arg(long = "certificate-filter-file", short = 'f', visible_alias = "file")]
        file: Option<PathBuf>,
    },
    /// Add filters
    #[command(
        alias = "a",
        after_help = "Examples:\n  gatehouse n cf add -n payments --input '{\"filters\":[{\"commonName\":\"temporal-booking.sdvdw\"}]}'"
    )]
    Add {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        input: CfInput,
        #[command(flatten)]
        write: WriteFlags,
    },
    /// Remove every filter (asks first; refused while a well-known CA needs them)
    #[command(
        alias = "c",
        after_help = "Examples:\n  gatehouse n cf clear -n payments --auto-confirm"
    )]
    Clear {
        #[command(flatten)]
        ns: NamespaceFlag,
        #[command(flatten)]
        write: WriteFlags,
    },
}

pub(crate) fn namespace(
    server: &ServerArgs,
    auto_confirm: bool,
    command: NamespaceCommand,
) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    let c = Client::new(server, auto_confirm)?;
    match command {
        NamespaceCommand::Create { ns, ca, filters } => {
            let body = json!({
                "name": ns.namespace,
                "spec": { "mtlsAuth": {
                    "acceptedClientCa": ca.required()?,
                    "certificateFilters": filters.filters()?.unwrap_or_else(|| json!([])),
                } }
            });
            print(&c.call(M::POST, "/api/v1/namespaces", Some(body))?)
        }
        NamespaceCommand::List => print(&c.get("/api/v1/namespaces")?),
        NamespaceCommand::Get { ns } => print(&c.get(&ns_path(&ns.namespace, ""))?),
        NamespaceCommand::Usage { ns } => print(&c.get(&ns_path(&ns.namespace, "/usage"))?),
        NamespaceCommand::Delete { ns, write } => {
            c.confirm(&format!("Delete namespace {:?}", ns.namespace))?;
            c.call(
                M::DELETE,
                &format!("{}{}", ns_path(&ns.namespace, ""), write.query()),
                None,
            )?;
            eprintln!("deleted namespace {}", ns.namespace);
            Ok(ExitCode::SUCCESS)
        }
        NamespaceCommand::AcceptedClientCa { command } => ca_command(&c, command),
        NamespaceCommand::CertificateFilters { command } => filter_command(&c, command),
    }
}

fn ca_command(c: &Client, command: CaCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    match command {
        CaCommand::List { ns } => {
            let v = c.get(&ns_path(&ns.namespace, "/accepted-client-ca"))?;
            let usage = c.get(&ns_path(&ns.namespace, "/usage"))?;
            // tcld's fields, plus when the gateway last saw traffic on each CA.
            let mut cas = v["acceptedClientCas"].clone();
            if let Some(list) = cas.as_array_mut() {
                for ca in list {
                    let seen = usage["cas"]
                        .as_array()
                        .and_then(|u| u.iter().find(|u| u["sha256"] == ca["sha256"]));
                    ca["lastUsed"] =
                        seen.map_or(serde_json::Value::Null, |u| u["lastSeen"].clone());
                    ca["openConnections"] = seen.map_or(json!(0), |u| u["openConnections"].clone());
                }
            }
            print(&cas)
        }
        CaCommand::Add { ns, ca, write } => {
            let mut body = json!({ "caCertificate": ca.required()? });
            write.add_to(&mut body);
            let v = c.call(
                M::POST,
                &ns_path(&ns.namespace, "/accepted-client-ca"),
                Some(body),
            )?;
            print(&v["acceptedClientCas"])
        }
        CaCommand::Remove {
            ns,
            ca,
            fingerprint,
            write,
        } => {
            let mut body = json!({});
            if let Some(pem) = ca.pem()? {
                body["caCertificate"] = json!(pem);
            }
            if let Some(fp) = &fingerprint {
                body["fingerprint"] = json!(fp);
            }
            if body.as_object().is_some_and(serde_json::Map::is_empty) {
                return Err(Failure::Input(
                    "give the CA to remove: -f FILE, -c BASE64 or --fp FINGERPRINT".into(),
                ));
            }
            write.add_to(&mut body);
            c.confirm(&format!("Remove CA certificate(s) from namespace {:?}; clients of those CAs will be refused", ns.namespace))?;
            let v = c.call(
                M::POST,
                &ns_path(&ns.namespace, "/accepted-client-ca/remove"),
                Some(body),
            )?;
            print(&v["acceptedClientCas"])
        }
        CaCommand::Set { ns, ca, write } => {
            let mut body = json!({ "caCertificate": ca.required()? });
            write.add_to(&mut body);
            c.confirm(&format!(
                "Replace the whole CA bundle of namespace {:?}",
                ns.namespace
            ))?;
            let v = c.call(
                M::PUT,
                &ns_path(&ns.namespace, "/accepted-client-ca"),
                Some(body),
            )?;
            print(&v["acceptedClientCas"])
        }
    }
}

fn filter_command(c: &Client, command: FilterCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    let required = |input: &CfInput| {
        input.filters()?.ok_or_else(|| {
            Failure::Input(
                "exactly one of --certificate-filter-file and --certificate-filter-input".into(),
            )
        })
    };
    match command {
        FilterCommand::Import { ns, input, write } => {
            let mut body = json!({ "filters": required(&input)? });
            write.add_to(&mut body);
            c.confirm(&format!(
                "Replace the certificate filters of namespace {:?}",
                ns.namespace
            ))?;
            let v = c.call(
                M::PUT,
                &ns_path(&ns.namespace, "/certificate-filters"),
                Some(body),
            )?;
            print(&json!({ "filters": v["spec"]["mtlsAuth"]["certificateFilters"] }))
        }
        FilterCommand::Export { ns, file } => {
            let v = c.get(&ns_path(&ns.namespace, "/certificate-filters"))?;
            let doc = json!({ "filters": v["filters"] });
            match file {
                None => print(&doc),
                Some(path) => {
                    let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
                    gatehouse_pki::write_files(
                        &[gatehouse_pki::OutputFile {
                            path: &path,
                            contents: text.as_bytes(),
                            kind: gatehouse_pki::FileKind::Public,
                        }],
                        &[],
                        true,
                    )?;
                    eprintln!("wrote {}", path.display());
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        FilterCommand::Add { ns, input, write } => {
            let mut body = json!({ "filters": required(&input)? });
            write.add_to(&mut body);
            let v = c.call(
                M::POST,
                &ns_path(&ns.namespace, "/certificate-filters"),
                Some(body),
            )?;
            print(&json!({ "filters": v["spec"]["mtlsAuth"]["certificateFilters"] }))
        }
        FilterCommand::Clear { ns, write } => {
            c.confirm(&format!("Clear every certificate filter of namespace {:?}: any client of its CAs will be admitted", ns.namespace))?;
            let path = format!(
                "{}{}",
                ns_path(&ns.namespace, "/certificate-filters"),
                write.query()
            );
            let v = c.call(M::DELETE, &path, None)?;
            print(&json!({ "filters": v["spec"]["mtlsAuth"]["certificateFilters"] }))
        }
    }
}

// --- expiry report and tickets -----------------------------------------------------------

pub(crate) fn expirations_list(
    server: &ServerArgs,
    within: Option<&str>,
    output: crate::flags::OutputFormat,
) -> Result<ExitCode, Failure> {
    let c = Client::new(server, true)?;
    let path = match within {
        Some(w) => format!("/api/v1/expirations?within={w}"),
        None => "/api/v1/expirations".into(),
    };
    let v = c.get(&path)?;
    if output == crate::flags::OutputFormat::Json {
        return print(&v);
    }
    println!(
        "{:<20} {:<5} {:>5}  {:<20}  {:<20}  SUBJECT / SHA-256",
        "NAMESPACE", "KIND", "DAYS", "NOT AFTER", "LAST USED"
    );
    for e in v["certificates"].as_array().into_iter().flatten() {
        let days = e["daysLeft"].as_i64().unwrap_or_default();
        println!(
            "{:<20} {:<5} {:>5}  {:<20}  {:<20}  {}{}\n{:>77}{}",
            e["namespace"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or(""),
            days,
            e["notAfter"].as_str().unwrap_or(""),
            e["lastUsed"].as_str().unwrap_or("-"),
            e["subject"].as_str().unwrap_or(""),
            if e["expired"].as_bool().unwrap_or(false) {
                "  [EXPIRED]"
            } else {
                ""
            },
            "",
            e["sha256"].as_str().unwrap_or(""),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn tickets_list(server: &ServerArgs) -> Result<ExitCode, Failure> {
    let c = Client::new(server, true)?;
    print(&c.get("/api/v1/tickets")?)
}

// --- users and API keys -----------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// List users
    #[command(alias = "l", after_help = "Examples:\n  gatehouse user list")]
    List,
    /// Create a user
    #[command(
        alias = "c",
        after_help = "Examples:\n  gatehouse user create --email ops@acme.io --role global-admin\n  gatehouse user create --email pay@acme.io --role namespace-admin --namespace payments"
    )]
    Create {
        #[arg(long)]
        email: String,
        /// account-owner, global-admin, namespace-admin or read-only
        #[arg(long)]
        role: String,
        /// For a namespace-admin: a namespace they administer (repeatable)
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<String>,
    },
    /// Show a user (id or email)
    #[command(
        alias = "g",
        after_help = "Examples:\n  gatehouse user get --id ops@acme.io"
    )]
    Get {
        #[arg(long)]
        id: String,
    },
    /// Change a user's role and namespaces
    #[command(
        alias = "u",
        after_help = "Examples:\n  gatehouse user update --id pay@acme.io --role namespace-admin -n payments -n billing"
    )]
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        role: String,
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<String>,
    },
    /// Delete a user and their API keys (asks first)
    #[command(after_help = "Examples:\n  gatehouse user delete --id pay@acme.io --auto-confirm")]
    Delete {
        #[arg(long)]
        id: String,
    },
}

pub(crate) fn user(
    server: &ServerArgs,
    auto_confirm: bool,
    command: UserCommand,
) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    let c = Client::new(server, auto_confirm)?;
    let id_of = |id: &str| -> Result<String, Failure> {
        Ok(c.get(&format!("/api/v1/users/{id}"))?["id"]
            .as_str()
            .unwrap_or(id)
            .to_owned())
    };
    match command {
        UserCommand::List => print(&c.get("/api/v1/users")?),
        UserCommand::Create {
            email,
            role,
            namespaces,
        } => print(&c.call(
            M::POST,
            "/api/v1/users",
            Some(json!({ "email": email, "role": role, "namespaces": namespaces })),
        )?),
        UserCommand::Get { id } => print(&c.get(&format!("/api/v1/users/{id}"))?),
        UserCommand::Update {
            id,
            role,
            namespaces,
        } => {
            let id = id_of(&id)?;
            print(&c.call(
                M::PUT,
                &format!("/api/v1/users/{id}"),
                Some(json!({ "role": role, "namespaces": namespaces })),
            )?)
        }
        UserCommand::Delete { id } => {
            c.confirm(&format!("Delete user {id:?} and their API keys"))?;
            let id = id_of(&id)?;
            c.call(M::DELETE, &format!("/api/v1/users/{id}"), None)?;
            eprintln!("deleted user {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// List API keys (yours; everyone's as an admin)
    #[command(
        alias = "l",
        after_help = "Examples:\n  gatehouse apikey list\n  gatehouse apikey list --user ops@acme.io"
    )]
    List {
        /// Only this user's keys (id or email)
        #[arg(long)]
        user: Option<String>,
    },
    /// Create an API key; the token is printed once
    #[command(
        alias = "c",
        after_help = "Examples:\n  gatehouse apikey create --name ci --duration 90d\n  gatehouse apikey create --name laptop --user ops@acme.io"
    )]
    Create {
        #[arg(long)]
        name: String,
        /// For this user (id or email) instead of yourself
        #[arg(long)]
        user: Option<String>,
        /// Lifetime, e.g. 90d [default: no expiry]
        #[arg(long, short = 'd')]
        duration: Option<String>,
    },
    /// Revoke an API key (asks first)
    #[command(
        alias = "r",
        after_help = "Examples:\n  gatehouse apikey revoke --id k_0123… --auto-confirm"
    )]
    Revoke {
        #[arg(long)]
        id: String,
    },
}

pub(crate) fn apikey(
    server: &ServerArgs,
    auto_confirm: bool,
    command: ApiKeyCommand,
) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    let c = Client::new(server, auto_confirm)?;
    match command {
        ApiKeyCommand::List { user } => {
            let path = match user {
                Some(u) => {
                    let id = c.get(&format!("/api/v1/users/{u}"))?["id"]
                        .as_str()
                        .unwrap_or(&u)
                        .to_owned();
                    format!("/api/v1/apikeys?userId={id}")
                }
                None => "/api/v1/apikeys".into(),
            };
            print(&c.get(&path)?)
        }
        ApiKeyCommand::Create {
            name,
            user,
            duration,
        } => {
            let mut body = json!({ "name": name });
            if let Some(u) = user {
                body["userId"] = json!(u);
            }
            if let Some(d) = duration {
                body["duration"] = json!(d);
            }
            print(&c.call(M::POST, "/api/v1/apikeys", Some(body))?)
        }
        ApiKeyCommand::Revoke { id } => {
            c.confirm(&format!("Revoke API key {id}"))?;
            c.call(M::DELETE, &format!("/api/v1/apikeys/{id}"), None)?;
            eprintln!("revoked API key {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
