//! `gatehouse namespace …`: namespaces, their CA bundle and certificate filters, shaped like
//! `tcld namespace …` (same nouns, aliases and flags), printing JSON as tcld does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::api::{ns_path, print, Client};
use crate::fail::Failure;

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
    Get(NamespaceFlag),
    /// Gateway traffic per accepted CA and per client certificate (is the old CA still used?)
    #[command(after_help = "Examples:\n  gatehouse namespace usage -n payments")]
    Usage(NamespaceFlag),
    /// Delete a namespace (asks first)
    #[command(after_help = "Examples:\n  gatehouse namespace delete -n payments --auto-confirm")]
    Delete(NsWrite),
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
    /// Sends `body` to `path` with the resource version and request id.
    fn send(
        &self,
        c: &Client,
        method: reqwest::Method,
        path: &str,
        mut body: Value,
    ) -> Result<Value, Failure> {
        self.add_to(&mut body);
        c.call(method, path, Some(body))
    }

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

// A namespace and the write flags, for a delete.
#[derive(Debug, Args)]
pub(crate) struct NsWrite {
    #[command(flatten)]
    ns: NamespaceFlag,
    #[command(flatten)]
    write: WriteFlags,
}

impl NsWrite {
    /// Deletes the namespace's `rest` (the namespace itself for "").
    fn delete(&self, c: &Client, rest: &str) -> Result<Value, Failure> {
        let path = format!(
            "{}{}",
            ns_path(&self.ns.namespace, rest),
            self.write.query()
        );
        c.call(reqwest::Method::DELETE, &path, None)
    }
}

// A namespace, what to send it (`T`: CA certificates or certificate filters) and the write flags.
#[derive(Debug, Args)]
pub(crate) struct NsInput<T: Args> {
    #[command(flatten)]
    ns: NamespaceFlag,
    #[command(flatten)]
    input: T,
    #[command(flatten)]
    write: WriteFlags,
}

impl<T: Args> NsInput<T> {
    /// Sends `body` to the namespace's `rest`, with the write flags.
    fn send(
        &self,
        c: &Client,
        method: reqwest::Method,
        rest: &str,
        body: Value,
    ) -> Result<Value, Failure> {
        self.write
            .send(c, method, &ns_path(&self.ns.namespace, rest), body)
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

    fn required(&self) -> Result<Value, Failure> {
        self.filters()?.ok_or_else(|| {
            Failure::Input(
                "exactly one of --certificate-filter-file and --certificate-filter-input".into(),
            )
        })
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum CaCommand {
    /// List the accepted CA certificates (tcld's fields plus sha256)
    #[command(
        alias = "l",
        after_help = "Examples:\n  gatehouse namespace accepted-client-ca list -n payments\n  gatehouse n ca l -n payments"
    )]
    List(NamespaceFlag),
    /// Add CA certificates (the first step of a rollover)
    #[command(
        alias = "a",
        after_help = "Examples:\n  gatehouse n ca add -n payments -f new-ca.pem\n  gatehouse n ca a -n payments -c \"$(base64 -w0 new-ca.pem)\""
    )]
    Add(NsInput<CaInput>),
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
    Set(NsInput<CaInput>),
}

#[derive(Debug, Subcommand)]
pub(crate) enum FilterCommand {
    /// Replace the filters (asks first)
    #[command(
        alias = "imp",
        after_help = "Examples:\n  gatehouse n cf import -n payments --certificate-filter-file filters.json"
    )]
    Import(NsInput<CfInput>),
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
    Add(NsInput<CfInput>),
    /// Remove every filter (asks first; refused while a well-known CA needs them)
    #[command(
        alias = "c",
        after_help = "Examples:\n  gatehouse n cf clear -n payments --auto-confirm"
    )]
    Clear(NsWrite),
}

pub(crate) fn namespace(c: &Client, command: NamespaceCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
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
        NamespaceCommand::Get(ns) => print(&c.get(&ns_path(&ns.namespace, ""))?),
        NamespaceCommand::Usage(ns) => print(&c.get(&ns_path(&ns.namespace, "/usage"))?),
        NamespaceCommand::Delete(a) => {
            c.confirm(&format!("Delete namespace {:?}", a.ns.namespace))?;
            a.delete(c, "")?;
            eprintln!("deleted namespace {}", a.ns.namespace);
            Ok(ExitCode::SUCCESS)
        }
        NamespaceCommand::AcceptedClientCa { command } => ca_command(c, command),
        NamespaceCommand::CertificateFilters { command } => filter_command(c, command),
    }
}

fn ca_command(c: &Client, command: CaCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    match command {
        CaCommand::List(ns) => {
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
        CaCommand::Add(a) => {
            let body = json!({ "caCertificate": a.input.required()? });
            print(&a.send(c, M::POST, "/accepted-client-ca", body)?["acceptedClientCas"])
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
            c.confirm(&format!("Remove CA certificate(s) from namespace {:?}; clients of those CAs will be refused", ns.namespace))?;
            let path = ns_path(&ns.namespace, "/accepted-client-ca/remove");
            print(&write.send(c, M::POST, &path, body)?["acceptedClientCas"])
        }
        CaCommand::Set(a) => {
            let body = json!({ "caCertificate": a.input.required()? });
            c.confirm(&format!(
                "Replace the whole CA bundle of namespace {:?}",
                a.ns.namespace
            ))?;
            print(&a.send(c, M::PUT, "/accepted-client-ca", body)?["acceptedClientCas"])
        }
    }
}

/// A namespace's filters as tcld prints them.
fn print_filters(namespace: &Value) -> Result<ExitCode, Failure> {
    print(&json!({ "filters": namespace["spec"]["mtlsAuth"]["certificateFilters"] }))
}

fn filter_command(c: &Client, command: FilterCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    match command {
        FilterCommand::Import(a) => {
            let body = json!({ "filters": a.input.required()? });
            c.confirm(&format!(
                "Replace the certificate filters of namespace {:?}",
                a.ns.namespace
            ))?;
            print_filters(&a.send(c, M::PUT, "/certificate-filters", body)?)
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
        FilterCommand::Add(a) => {
            let body = json!({ "filters": a.input.required()? });
            print_filters(&a.send(c, M::POST, "/certificate-filters", body)?)
        }
        FilterCommand::Clear(a) => {
            c.confirm(&format!("Clear every certificate filter of namespace {:?}: any client of its CAs will be admitted", a.ns.namespace))?;
            print_filters(&a.delete(c, "/certificate-filters")?)
        }
    }
}
