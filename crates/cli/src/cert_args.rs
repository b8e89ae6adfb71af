//! The flags of the certificate commands: `gen`, `sign`, `lint` and `verify`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::flags::{IssuerArgs, OutputArgs};

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum GenCommand {
    /// Generate a CA certificate and key (ECDSA P-384; RSA-4096 with --rsa)
    #[command(
        name = "ca",
        visible_alias = "certificate-authority-certificate",
        after_help = "Examples:\n  \
            gatehouse gen ca --org temporal -d 1y --ca-cert ca.pem --ca-key ca.key\n  \
            gatehouse gen ca --org temporal -d 180d --rsa --common-name \"Temporal CA 2027\" --ca-cert ca.pem --ca-key ca.key"
    )]
    Ca(GenCaArgs),
    /// Generate a client (end-entity) certificate and key signed by a CA
    #[command(
        name = "leaf",
        visible_alias = "end-entity-certificate",
        after_help = "Examples:\n  \
            gatehouse gen leaf --org temporal -d 364d --ca-cert ca.pem --ca-key ca.key --cert client.pem --key client.key\n  \
            gatehouse gen leaf --org temporal --common-name payments.acme --san spiffe://acme/payments --ca-cert ca.pem --ca-key ca.key --cert client.pem --key client.key\n  \
            gatehouse gen leaf --org temporal --common-name worker --ca-cert ca.pem --ca-key ca.key --cert w.pem --key w.key --k8s-secret worker-tls --k8s-namespace temporal\n  \
            gatehouse gen leaf --org temporal --common-name worker --ca-cert ca.pem --ca-key ca.key --cert w.pem --key w.key --temporal-profile payments --address gw.acme.io:7233 --namespace payments --tls-server-name payments.gw.acme.io --tls-ca-path gateway-ca.pem\n  \
            GATEHOUSE_PKCS12_PASSWORD=changeit gatehouse gen leaf --org temporal --common-name java-worker --ca-cert ca.pem --ca-key ca.key --cert j.pem --key j.key --pkcs12 j.p12 --pkcs8 j.key.der"
    )]
    Leaf(GenLeafArgs),
    /// Generate a server certificate for a Temporal frontend, internode TLS or the gateway
    #[command(after_help = "Examples:\n  \
        gatehouse gen server --dns temporal.example.com --dns localhost --ip 127.0.0.1 --ca-cert ca.pem --ca-key ca.key --cert frontend.pem --key frontend.key\n  \
        gatehouse gen server --internode --dns temporal-history --ca-cert ca.pem --ca-key ca.key --cert internode.pem --key internode.key\n  \
        gatehouse gen server --internode --dns temporal.acme.internal --ca-cert ca.pem --ca-key ca.key --cert server.pem --key server.key --temporal-config > tls.yaml")]
    Server(GenServerArgs),
    /// Generate a key and a certificate signing request, for a CA that signs elsewhere
    #[command(after_help = "Examples:\n  \
        gatehouse gen csr --common-name temporal-booking.sdvdw --csr booking.csr --key booking.key\n  \
        gatehouse gen csr --common-name frontend --san temporal.example.com --san 127.0.0.1 --csr frontend.csr --key frontend.key")]
    Csr(GenCsrArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GenCaArgs {
    /// The name of the organization (O=)
    #[arg(long = "organization", visible_alias = "org")]
    pub(crate) organization: String,
    /// How long the CA is valid: more than 7 days, at most 1y. Units s m h d y, e.g. 1y, 364d, 30d10h
    #[arg(long = "validity-period", short = 'd', value_name = "DURATION")]
    pub(crate) validity_period: String,
    /// Where to write the CA certificate (PEM, mode 0644)
    #[arg(
        long = "ca-certificate-file",
        visible_alias = "ca-cert",
        value_name = "FILE"
    )]
    pub(crate) ca_cert: PathBuf,
    /// Where to write the CA private key (PKCS#8 PEM, mode 0600)
    #[arg(long = "ca-key-file", visible_alias = "ca-key", value_name = "FILE")]
    pub(crate) ca_key: PathBuf,
    /// Generate an RSA-4096 key instead of ECDSA P-384
    #[arg(long = "rsa-algorithm", visible_alias = "rsa")]
    pub(crate) rsa: bool,
    /// CN of the CA [default: "<organization> Root CA <UTC issue time> <random>", unique per rollover]
    #[arg(long)]
    pub(crate) common_name: Option<String>,
    /// Overwrite existing output files
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct GenLeafArgs {
    /// The name of the organization (O=)
    #[arg(long = "organization", visible_alias = "org")]
    pub(crate) organization: String,
    /// The organizational unit (OU=), left out when empty
    #[arg(long = "organization-unit", visible_alias = "ou")]
    pub(crate) organization_unit: Option<String>,
    /// The common name (CN=), left out when empty
    #[arg(long)]
    pub(crate) common_name: Option<String>,
    /// How long the certificate is valid, e.g. 364d [default: until 24h before the CA expires]
    #[arg(long = "validity-period", short = 'd', value_name = "DURATION")]
    pub(crate) validity_period: Option<String>,
    #[command(flatten)]
    pub(crate) files: SignedFiles,
    /// A subjectAltName, repeatable: DNS name, URI (has "://"), email (has "@") or IP address;
    /// or explicit DNS:…, URI:…, email:…, IP:…
    #[arg(long, value_name = "NAME")]
    pub(crate) san: Vec<String>,
    /// Overwrite existing output files
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    #[command(flatten)]
    pub(crate) deploy: DeployOutputs,
}

// The CA that signs a new key's certificate, and where the certificate and key go (`gen leaf`,
// `gen server`).
#[derive(Debug, Args)]
pub(crate) struct SignedFiles {
    #[command(flatten)]
    pub(crate) issuer: IssuerArgs,
    /// Where to write the certificate (PEM, mode 0644)
    #[arg(long = "certificate-file", visible_alias = "cert", value_name = "FILE")]
    pub(crate) cert: PathBuf,
    /// Where to write the private key (PKCS#8 PEM, mode 0600)
    #[arg(long = "key-file", visible_alias = "key", value_name = "FILE")]
    pub(crate) key: PathBuf,
}

/// Outputs to paste into deployments, beside the certificate and key.
#[derive(Debug, Args)]
pub(crate) struct DeployOutputs {
    /// Also write a kubernetes.io/tls Secret manifest named NAME (as `kubectl create secret
    /// tls NAME --dry-run=client -o yaml` would) to NAME.secret.yaml beside --cert, mode 0600
    #[arg(long, value_name = "NAME")]
    pub(crate) k8s_secret: Option<String>,
    /// The Kubernetes namespace of the Secret
    #[arg(long, value_name = "NS", requires = "k8s_secret")]
    pub(crate) k8s_namespace: Option<String>,
    /// Also write a Temporal environment-config profile NAME (address, namespace, TLS paths,
    /// server name), so `temporal --profile NAME workflow list` connects with this certificate
    #[arg(
        long,
        value_name = "NAME",
        requires_all = ["address", "namespace", "tls_server_name"]
    )]
    pub(crate) temporal_profile: Option<String>,
    /// The profile's address (the gateway), host:port
    #[arg(long, requires = "temporal_profile")]
    pub(crate) address: Option<String>,
    /// The profile's Temporal namespace
    #[arg(long, requires = "temporal_profile")]
    pub(crate) namespace: Option<String>,
    /// The profile's TLS server name: <namespace>.<gateway domain>
    #[arg(long, requires = "temporal_profile")]
    pub(crate) tls_server_name: Option<String>,
    /// The CA that signs the server's certificate (e.g. the gateway CA) [default: system roots]
    #[arg(long, requires = "temporal_profile", value_name = "FILE")]
    pub(crate) tls_ca_path: Option<PathBuf>,
    /// The environment-config file to add the profile to [default: $TEMPORAL_CONFIG_FILE, else
    /// ~/.config/temporalio/temporal.toml]
    #[arg(long, requires = "temporal_profile", value_name = "FILE")]
    pub(crate) temporal_config_file: Option<PathBuf>,
    /// Also write the key as unencrypted PKCS#8 DER to FILE, mode 0600: what Java's
    /// PKCS8EncodedKeySpec reads (the PEM key file is PKCS#8 already)
    #[arg(long, value_name = "FILE")]
    pub(crate) pkcs8: Option<PathBuf>,
    /// Also write a PKCS#12 keystore to FILE (mode 0600): the key, the certificate and the CA,
    /// AES-256 encrypted, for the Java SDK and keytool. The password is read from
    /// --pkcs12-password-file or $GATEHOUSE_PKCS12_PASSWORD, never from the command line
    #[arg(long, value_name = "FILE")]
    pub(crate) pkcs12: Option<PathBuf>,
    /// File whose first line is the PKCS#12 password (at least 6 characters, as keytool needs)
    #[arg(long, value_name = "FILE", requires = "pkcs12")]
    pub(crate) pkcs12_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct GenServerArgs {
    /// A DNS name clients connect to, repeatable
    #[arg(long, value_name = "NAME")]
    pub(crate) dns: Vec<String>,
    /// An IP address clients connect to, repeatable
    #[arg(long, value_name = "ADDR")]
    pub(crate) ip: Vec<IpAddr>,
    /// The common name [default: the first --dns or --ip]
    #[arg(long)]
    pub(crate) common_name: Option<String>,
    /// The name of the organization (O=), optional
    #[arg(long = "organization", visible_alias = "org")]
    pub(crate) organization: Option<String>,
    /// Also allow client authentication (Temporal internode TLS)
    #[arg(long)]
    pub(crate) internode: bool,
    /// How long the certificate is valid, e.g. 90d [default: until 24h before the CA expires]
    #[arg(long = "validity-period", short = 'd', value_name = "DURATION")]
    pub(crate) validity_period: Option<String>,
    #[command(flatten)]
    pub(crate) files: SignedFiles,
    /// Overwrite existing output files
    #[arg(long)]
    pub(crate) force: bool,
    /// Also print the Temporal server's `global.tls` YAML for these files: frontend and
    /// internode, requireClientAuth, refreshInterval, expirationChecks (needs --internode)
    #[arg(long, requires = "internode")]
    pub(crate) temporal_config: bool,
    /// The CA bundle whose clients the frontend admits (e.g. the CA of the gateway's
    /// --upstream-cert) [default: --ca-cert]
    #[arg(long, value_name = "FILE", requires = "temporal_config")]
    pub(crate) frontend_client_ca: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct GenCsrArgs {
    /// The common name (CN=)
    #[arg(long)]
    pub(crate) common_name: String,
    /// The name of the organization (O=), optional
    #[arg(long = "organization", visible_alias = "org")]
    pub(crate) organization: Option<String>,
    /// The organizational unit (OU=), optional
    #[arg(long = "organization-unit", visible_alias = "ou")]
    pub(crate) organization_unit: Option<String>,
    /// A subjectAltName, repeatable (as for gen leaf)
    #[arg(long, value_name = "NAME")]
    pub(crate) san: Vec<String>,
    /// Where to write the CSR (PEM, mode 0644)
    #[arg(long, value_name = "FILE")]
    pub(crate) csr: PathBuf,
    /// Where to write the private key (PKCS#8 PEM, mode 0600)
    #[arg(long = "key-file", visible_alias = "key", value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// Generate an RSA-4096 key instead of ECDSA P-384
    #[arg(long = "rsa-algorithm", visible_alias = "rsa")]
    pub(crate) rsa: bool,
    /// Overwrite existing output files
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// The extensions `sign` gives a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProfileArg {
    /// Client certificate: CA:FALSE, digitalSignature, clientAuth
    Client,
    /// Server certificate: serverAuth
    Server,
    /// Internode: serverAuth and clientAuth
    Internode,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The certificate signing request (PEM)
    #[arg(long, value_name = "FILE")]
    pub(crate) csr: PathBuf,
    #[command(flatten)]
    pub(crate) issuer: IssuerArgs,
    /// Where to write the certificate (PEM, mode 0644)
    #[arg(long = "certificate-file", visible_alias = "cert", value_name = "FILE")]
    pub(crate) cert: PathBuf,
    /// How long the certificate is valid [default: until 24h before the CA expires]
    #[arg(long = "validity-period", short = 'd', value_name = "DURATION")]
    pub(crate) validity_period: Option<String>,
    /// Which extensions the certificate gets
    #[arg(long, value_enum, default_value_t = ProfileArg::Client)]
    pub(crate) profile: ProfileArg,
    /// Overwrite an existing output file
    #[arg(long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// A namespace's accepted client CA bundle (PEM)
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_bundle: Option<PathBuf>,
    /// A client certificate (PEM), optionally followed by its intermediates
    #[arg(long = "cert", visible_alias = "certificate-file", value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,
    /// A private key (PEM); with --cert, also checked to belong to it
    #[arg(long = "key", visible_alias = "key-file", value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,
    /// The namespace's certificate filters, tcld JSON (a well-known CA needs them)
    #[arg(long, value_name = "FILE")]
    pub(crate) filters: Option<PathBuf>,
    /// Check as of this time (RFC 3339) instead of now
    #[arg(long, value_name = "RFC3339")]
    pub(crate) at: Option<String>,
    /// Print every rule id with its severity and what it requires, then exit
    #[arg(long, exclusive = true)]
    pub(crate) list_rules: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The namespace's accepted client CA bundle (PEM)
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_bundle: PathBuf,
    /// The client certificate (PEM), followed by any intermediates the client sends
    #[arg(long = "cert", visible_alias = "certificate-file", value_name = "FILE")]
    pub(crate) cert: PathBuf,
    /// The namespace's certificate filters, tcld JSON: {"filters":[{"commonName":"…"}]}
    #[arg(long, value_name = "FILE")]
    pub(crate) filters: Option<PathBuf>,
    /// Decide as of this time (RFC 3339) instead of now
    #[arg(long, value_name = "RFC3339")]
    pub(crate) at: Option<String>,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}
