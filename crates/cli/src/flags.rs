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

impl OutputFormat {
    /// Prints a command's report: `json()` on one line for programs, or `text()` for people.
    pub(crate) fn print(self, json: impl FnOnce() -> serde_json::Value, text: impl FnOnce()) {
        match self {
            Self::Json => println!("{}", json()),
            Self::Text => text(),
        }
    }
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

/// For tests: a command's flags parsed from one line of whitespace-separated arguments.
#[cfg(test)]
pub(crate) fn parse_flags<A: Args>(argv: &str) -> Result<A, crate::fail::Failure> {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli<F: Args> {
        #[command(flatten)]
        flags: F,
    }

    Cli::<A>::try_parse_from(std::iter::once("gatehouse").chain(argv.split_whitespace()))
        .map(|cli| cli.flags)
        .map_err(|e| crate::fail::Failure::Input(e.to_string()))
}
