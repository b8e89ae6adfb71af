//! Which database a process uses (`--database-url`, else SQLite in the data dir), and the
//! commands that move an account between databases: `migrate`, `export`, `import`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use gatehouse_pki::{write_files, FileKind, OutputFile};
use gatehouse_store::SqlStore;

use crate::fail::Failure;

/// Help text for `--database-url`, shared by every command that has it.
pub(crate) const DATABASE_URL_HELP: &str = "The database: postgres://USER:PASSWORD@HOST:PORT/DB for several replicas and gateways on one PostgreSQL, or sqlite://PATH. Default: SQLite in the data dir";

/// Opens the store: `url` if given, else `<data-dir>/gatehouse.db`. With `must_exist`, a
/// missing SQLite file is an error that says to start `gatehouse serve` first.
pub(crate) async fn open_store(
    data_dir: &Path,
    url: Option<&str>,
    must_exist: bool,
) -> Result<SqlStore, Failure> {
    match url {
        Some(url) => {
            if let Some(path) = SqlStore::sqlite_path(url).filter(|p| must_exist && !p.exists()) {
                return Err(Failure::Input(format!(
                    "{}: no such database file (a typo? it is not created here)",
                    path.display()
                )));
            }
            SqlStore::connect(url)
                .await
                .map_err(|e| Failure::Input(format!("{}: {e}", gatehouse_store::redact_url(url))))
        }
        None => {
            let db = crate::serve::database_path(data_dir);
            if must_exist && !db.exists() {
                return Err(Failure::Input(format!(
                    "{}: no database; start `gatehouse serve` with this --data-dir first, or pass --database-url",
                    db.display()
                )));
            }
            SqlStore::open(&db)
                .await
                .map_err(|e| Failure::Input(format!("{}: {e}", db.display())))
        }
    }
}

/// Which database a command works on, for its output (GATEHOUSE_DATABASE_URL may have chosen it).
fn describe(data_dir: &Path, url: Option<&str>) -> String {
    match url {
        Some(url) => gatehouse_store::redact_url(url),
        None => crate::serve::database_path(data_dir).display().to_string(),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(format!("cannot start the runtime: {e}")))
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
    runtime()?.block_on(async move {
        match (args.database_url, args.from, args.to) {
            (Some(url), None, None) => {
                let store = open_store(Path::new("."), Some(&url), false).await?;
                let version = store
                    .schema_version()
                    .await
                    .map_err(|e| Failure::Internal(e.to_string()))?;
                println!("schema version {version} ({:?})", store.backend());
                Ok(ExitCode::SUCCESS)
            }
            (None, Some(from), Some(to)) => {
                let source = open_store(Path::new("."), Some(&from), true).await?;
                let target = open_store(Path::new("."), Some(&to), false).await?;
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
    /// The data dir whose SQLite database to export (without --database-url)
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    data_dir: PathBuf,
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", help = DATABASE_URL_HELP)]
    database_url: Option<String>,
    /// Where to write the JSON
    #[arg(short, long)]
    output: PathBuf,
    /// Replace an existing output file
    #[arg(long)]
    force: bool,
}

pub(crate) fn export(args: ExportArgs) -> Result<ExitCode, Failure> {
    runtime()?.block_on(async move {
        let store = open_store(&args.data_dir, args.database_url.as_deref(), true).await?;
        eprintln!(
            "exporting {}",
            describe(&args.data_dir, args.database_url.as_deref())
        );
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
    /// The data dir whose SQLite database to load (without --database-url; created if needed)
    #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "./gatehouse-data")]
    data_dir: PathBuf,
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", help = DATABASE_URL_HELP)]
    database_url: Option<String>,
}

pub(crate) fn import(args: ImportArgs) -> Result<ExitCode, Failure> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::Input(format!("{}: {e}", args.file.display())))?;
    let dump: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::Input(format!("{}: not JSON: {e}", args.file.display())))?;
    runtime()?.block_on(async move {
        if args.database_url.is_none() {
            crate::serve::create_data_dir(&args.data_dir)?;
        }
        let store = open_store(&args.data_dir, args.database_url.as_deref(), false).await?;
        eprintln!(
            "importing into {}",
            describe(&args.data_dir, args.database_url.as_deref())
        );
        let report = store
            .import(&dump)
            .await
            .map_err(|e| Failure::Input(format!("{}: {e}", args.file.display())))?;
        print_report(&report);
        Ok(ExitCode::SUCCESS)
    })
}
