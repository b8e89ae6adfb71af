//! `gatehouse namespace …`: namespaces, their CA bundle and certificate filters, shaped like
//! `tcld namespace …` (same nouns, aliases and flags), printing JSON as tcld does.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use clap::{Args, Subcommand};
use gatehouse_api::wire::{
    CaBody, CaList, CaView, CreateNamespace, FilterList, FiltersBody, MtlsAuth, NamespaceList,
    NamespaceView, SpecBody, UsageView, WriteQuery,
};
use gatehouse_policy::CertificateFilter;
use gatehouse_store::ResourceVersion;
use serde::Serialize;
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
    /// The resource version (a number, as the API takes it) and the request id as a write's
    /// query string.
    fn query(&self) -> Result<WriteQuery, Failure> {
        // An empty -v pins nothing, as the API reads an empty resourceVersion.
        let resource_version = self
            .resource_version
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                v.trim().parse::<ResourceVersion>().map_err(|_| {
                    Failure::Input(format!("--resource-version {v:?} is not a number"))
                })
            })
            .transpose()?;
        Ok(WriteQuery {
            resource_version,
            request_id: self.request_id.clone(),
            dry_run: false,
        })
    }

    /// A bundle write: PEM to add, set or remove, or a fingerprint to remove.
    fn ca_body(
        &self,
        ca_certificate: Option<String>,
        fingerprint: Option<String>,
    ) -> Result<CaBody, Failure> {
        let q = self.query()?;
        Ok(CaBody {
            ca_certificate,
            fingerprint,
            resource_version: q.resource_version,
            request_id: q.request_id,
            dry_run: false,
        })
    }

    /// A filters write.
    fn filters_body(&self, filters: Vec<CertificateFilter>) -> Result<FiltersBody, Failure> {
        let q = self.query()?;
        Ok(FiltersBody {
            filters,
            resource_version: q.resource_version,
            request_id: q.request_id,
            dry_run: false,
        })
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
    fn delete<R: serde::de::DeserializeOwned>(&self, c: &Client, rest: &str) -> Result<R, Failure> {
        c.delete(&ns_path(&self.ns.namespace, rest), &self.write.query()?)
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
    /// Sends `body` (made with the write flags) to the namespace's `rest`.
    fn send<B: Serialize>(
        &self,
        c: &Client,
        method: reqwest::Method,
        rest: &str,
        body: &B,
    ) -> Result<NamespaceView, Failure> {
        c.send(method, &ns_path(&self.ns.namespace, rest), Some(body))
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
    fn filters(&self) -> Result<Option<Vec<CertificateFilter>>, Failure> {
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
        Ok(Some(filters.filters().to_vec()))
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
    fn filters(&self) -> Result<Option<Vec<CertificateFilter>>, Failure> {
        FilterInput {
            certificate_filter_file: self.certificate_filter_file.clone(),
            certificate_filter_input: self.certificate_filter_input.clone(),
        }
        .filters()
    }

    fn required(&self) -> Result<Vec<CertificateFilter>, Failure> {
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
            let body = CreateNamespace {
                name: ns.namespace,
                spec: SpecBody {
                    mtls_auth: MtlsAuth {
                        accepted_client_ca: ca.required()?,
                        certificate_filters: filters.filters()?.unwrap_or_default(),
                    },
                },
                request_id: None,
            };
            print(&c.send::<_, NamespaceView>(M::POST, "/api/v1/namespaces", Some(&body))?)
        }
        NamespaceCommand::List => print(&c.get::<NamespaceList>("/api/v1/namespaces")?),
        NamespaceCommand::Get(ns) => print(&c.get::<NamespaceView>(&ns_path(&ns.namespace, ""))?),
        NamespaceCommand::Usage(ns) => {
            print(&c.get::<UsageView>(&ns_path(&ns.namespace, "/usage"))?)
        }
        NamespaceCommand::Delete(a) => {
            c.confirm(&format!("Delete namespace {:?}", a.ns.namespace))?;
            a.delete::<Value>(c, "")?;
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
            let list: CaList = c.get(&ns_path(&ns.namespace, "/accepted-client-ca"))?;
            let usage: UsageView = c.get(&ns_path(&ns.namespace, "/usage"))?;
            // tcld's fields, plus when the gateway last saw traffic on each CA.
            let cas: Vec<_> = list
                .accepted_client_cas
                .into_iter()
                .map(|ca| {
                    let seen = usage.cas.iter().find(|u| u.sha256 == ca.sha256);
                    CaInUse {
                        last_used: seen.and_then(|u| u.last_seen.clone()),
                        open_connections: seen.map_or(0, |u| u.open_connections),
                        ca,
                    }
                })
                .collect();
            print(&cas)
        }
        CaCommand::Add(a) => {
            let body = a.write.ca_body(Some(a.input.required()?), None)?;
            print(
                &a.send(c, M::POST, "/accepted-client-ca", &body)?
                    .accepted_client_cas,
            )
        }
        CaCommand::Remove {
            ns,
            ca,
            fingerprint,
            write,
        } => {
            let pem = ca.pem()?;
            if pem.is_none() && fingerprint.is_none() {
                return Err(Failure::Input(
                    "give the CA to remove: -f FILE, -c BASE64 or --fp FINGERPRINT".into(),
                ));
            }
            let body = write.ca_body(pem, fingerprint)?;
            c.confirm(&format!("Remove CA certificate(s) from namespace {:?}; clients of those CAs will be refused", ns.namespace))?;
            let path = ns_path(&ns.namespace, "/accepted-client-ca/remove");
            let ns: NamespaceView = c.send(M::POST, &path, Some(&body))?;
            print(&ns.accepted_client_cas)
        }
        CaCommand::Set(a) => {
            let body = a.write.ca_body(Some(a.input.required()?), None)?;
            c.confirm(&format!(
                "Replace the whole CA bundle of namespace {:?}",
                a.ns.namespace
            ))?;
            print(
                &a.send(c, M::PUT, "/accepted-client-ca", &body)?
                    .accepted_client_cas,
            )
        }
    }
}

/// One accepted CA as `accepted-client-ca list` prints it: tcld's fields, `sha256`, and the
/// gateways' last sight of it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CaInUse {
    #[serde(flatten)]
    ca: CaView,
    last_used: Option<String>,
    open_connections: i64,
}

/// A namespace's filters as tcld prints them.
fn print_filters(namespace: &NamespaceView) -> Result<ExitCode, Failure> {
    print(&json!({ "filters": namespace.spec.mtls_auth.certificate_filters }))
}

fn filter_command(c: &Client, command: FilterCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    match command {
        FilterCommand::Import(a) => {
            let body = a.write.filters_body(a.input.required()?)?;
            c.confirm(&format!(
                "Replace the certificate filters of namespace {:?}",
                a.ns.namespace
            ))?;
            print_filters(&a.send(c, M::PUT, "/certificate-filters", &body)?)
        }
        FilterCommand::Export { ns, file } => {
            let list: FilterList = c.get(&ns_path(&ns.namespace, "/certificate-filters"))?;
            let doc = json!({ "filters": list.filters });
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
            let body = a.write.filters_body(a.input.required()?)?;
            print_filters(&a.send(c, M::POST, "/certificate-filters", &body)?)
        }
        FilterCommand::Clear(a) => {
            c.confirm(&format!("Clear every certificate filter of namespace {:?}: any client of its CAs will be admitted", a.ns.namespace))?;
            print_filters(&a.delete(c, "/certificate-filters")?)
        }
    }
}
