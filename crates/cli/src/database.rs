//! The commands that move an account between databases: `migrate`, `export`, `import`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use gatehouse_pki::{write_files, FileKind, OutputFile};
use gatehouse_server::{DataDir, StoreLocation};

use crate::fail::Failure;
use crate::flags::StoreArgs;
use crate::runtime::block_on;

/// A store given by its URL alone (`migrate`'s flags), the data dir unused.
fn at_url(url: &str) -> StoreLocation {
    StoreLocation {
        data_dir: DataDir::new("."),
        url: Some(url.to_owned()),
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Applies the schema migrations to a database (every process also does \
    this when it starts), or, with --from, copies a whole account into an empty database in one \
    transaction: SQLite to PostgreSQL and back. Stop the processes writing to --from first.\n\n\
    Examples:\n  \
    gatehouse migrate --database-url postgres://gatehouse:secret@db.internal/gatehouse\n  \
    gatehouse migrate --from sqlite://./gatehouse-data/gatehouse.db --to postgres://gatehouse:secret@db.internal/gatehouse\n  \
    gatehouse migrate --from postgres://gatehouse:secret@db.internal/gatehouse --to sqlite:///var/lib/gatehouse/gatehouse.db"
)]
pub(crate) struct MigrateArgs {
    /// The database to bring to this version's schema (not read from GATEHOUSE_DATABASE_URL,
    /// so `--to "$GATEHOUSE_DATABASE_URL"` works with it set)
    #[arg(long, conflicts_with_all = ["from", "to"])]
    database_url: Option<String>,
    /// Copy the account from this database…
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// …into this one (empty; its schema is created)
    #[arg(long, requires = "from")]
    to: Option<String>,
}

pub(crate) fn migrate(args: MigrateArgs) -> Result<ExitCode, Failure> {
    block_on(async move {
        match (args.database_url, args.from, args.to) {
            (Some(url), None, None) => {
                let store = at_url(&url).open(false).await?;
                let version = store
                    .schema_version()
                    .await
                    .map_err(|e| Failure::Internal(e.to_string()))?;
                println!("schema version {version} ({:?})", store.backend());
                Ok(ExitCode::SUCCESS)
            }
            (None, Some(from), Some(to)) => {
                let source = at_url(&from).open(true).await?;
                let target = at_url(&to).open(false).await?;
                let dump = source
                    .export()
                    .await
                    .map_err(|e| Failure::Internal(format!("--from: {e}")))?;
                let report = target
                    .import(&dump)
                    .await
                    .map_err(|e| Failure::Input(format!("--to: {e}")))?;
                print_report(&report);
                Ok(ExitCode::SUCCESS)
            }
            _ => Err(Failure::Input(
                "pass --database-url URL (apply migrations), or --from URL --to URL (copy an account)".into(),
            )),
        }
    })
}

fn print_report(report: &gatehouse_store::ImportReport) {
    for (table, rows) in &report.rows {
        println!("{table}: {rows} rows");
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Writes the whole account as JSON: namespaces, users, API key hashes, \
    the audit log, the notification queue, tickets and the usage record. The file holds key \
    hashes, so it is written 0600 (never over an existing file without --force).\n\n\
    Examples:\n  \
    gatehouse export -o account.json\n  \
    gatehouse export --database-url postgres://gatehouse:secret@db.internal/gatehouse -o account.json"
)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Where to write the JSON
    #[arg(short, long)]
    output: PathBuf,
    /// Replace an existing output file
    #[arg(long)]
    force: bool,
}

pub(crate) fn export(args: ExportArgs) -> Result<ExitCode, Failure> {
    block_on(async move {
        let at = args.store.location();
        let store = at.open(true).await?;
        eprintln!("exporting {}", at.describe());
        let dump = store
            .export()
            .await
            .map_err(|e| Failure::Internal(e.to_string()))?;
        let text =
            serde_json::to_string_pretty(&dump).map_err(|e| Failure::Internal(e.to_string()))?;
        write_files(
            &[OutputFile {
                path: &args.output,
                contents: format!("{text}\n").as_bytes(),
                kind: FileKind::PrivateKey,
            }],
            &[],
            args.force,
        )?;
        eprintln!("exported to {}", args.output.display());
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Args)]
#[command(
    after_help = "Loads an export into an empty database, all or nothing.\n\n\
    Examples:\n  \
    gatehouse import account.json --database-url postgres://gatehouse:secret@db.internal/gatehouse\n  \
    gatehouse import account.json --data-dir /var/lib/gatehouse"
)]
pub(crate) struct ImportArgs {
    /// The file `gatehouse export` wrote
    file: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

pub(crate) fn import(args: ImportArgs) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::Input(format!("{}: {e}", args.file.display())))?;
    let dump: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::Input(format!("{}: not JSON: {e}", args.file.display())))?;
    block_on(async move {
        let at = args.store.location();
        if at.is_embedded() {
            at.data_dir.create()?;
        }
        let store = at.open(false).await?;
        eprintln!("importing into {}", at.describe());
        let report = store
            .import(&dump)
            .await
            .map_err(|e| Failure::Input(format!("{}: {e}", args.file.display())))?;
        print_report(&report);
        Ok(ExitCode::SUCCESS)
    })
}
