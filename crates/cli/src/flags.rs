//! Flag groups that several commands share: output format, the signing CA, the store.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use gatehouse_server::{DataDir, StoreLocation};

/// Text for people, or JSON for programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// Output format
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Args)]
pub(crate) struct IssuerArgs {
    /// The CA certificate (PEM) that signs
    #[arg(
        long = "ca-certificate-file",
        visible_alias = "ca-cert",
        value_name = "FILE"
    )]
    pub(crate) ca_cert: PathBuf,
    /// The CA's private key: PKCS#8, SEC1 (EC PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY), or a
    /// key in a PKCS#11 token: 'pkcs11:token=T;object=L?pin-source=FILE&module-path=LIB'
    #[arg(
        long = "ca-key-file",
        visible_alias = "ca-key",
        value_name = "FILE|URI"
    )]
    pub(crate) ca_key: PathBuf,
}

/// Help text for `--database-url`, shared by every command that has it.
pub(crate) const DATABASE_URL_HELP: &str = "The database: postgres://USER:PASSWORD@HOST:PORT/DB for several replicas and gateways on one PostgreSQL, or sqlite://PATH. Default: SQLite in the data dir";

/// Which store a command works on: `--database-url`, else SQLite in `--data-dir`.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Where the database (without --database-url) and the server's own files live
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    pub(crate) data_dir: PathBuf,
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", help = DATABASE_URL_HELP)]
    pub(crate) database_url: Option<String>,
}

impl StoreArgs {
    pub(crate) fn location(&self) -> StoreLocation {
        StoreLocation {
            data_dir: DataDir::new(&self.data_dir),
            url: self.database_url.clone(),
        }
    }
}
