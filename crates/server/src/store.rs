//! Which database a process uses: `--database-url`, else SQLite in the data dir.

use gatehouse_store::SqlStore;

use crate::{DataDir, StartError};

/// Where the store is: a database URL (PostgreSQL, or `sqlite://PATH`), else the data dir's
/// `gatehouse.db`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreLocation {
    pub data_dir: DataDir,
    pub url: Option<String>,
}

impl StoreLocation {
    /// Whether the data dir's SQLite file is the store (no URL).
    pub fn is_embedded(&self) -> bool {
        self.url.is_none()
    }

    /// The store's name for people: the URL with its password hidden, or the SQLite path.
    pub fn describe(&self) -> String {
        match &self.url {
            Some(url) => gatehouse_store::redact_url(url),
            None => self.data_dir.database().display().to_string(),
        }
    }

    /// Opens (and migrates) the store. With `must_exist`, a missing SQLite file is an error
    /// that says to start `gatehouse serve` first, rather than an empty new database.
    pub async fn open(&self, must_exist: bool) -> Result<SqlStore, StartError> {
        match &self.url {
            Some(url) => {
                if let Some(path) = SqlStore::sqlite_path(url).filter(|p| must_exist && !p.exists())
                {
                    return Err(StartError::input(format!(
                        "{}: no such database file (a typo? it is not created here)",
                        path.display()
                    )));
                }
                SqlStore::connect(url).await.map_err(|e| {
                    StartError::input(format!("{}: {e}", gatehouse_store::redact_url(url)))
                })
            }
            None => {
                let db = self.data_dir.database();
                if must_exist && !db.exists() {
                    return Err(StartError::input(format!(
                        "{}: no database; start `gatehouse serve` with this --data-dir first, or pass --database-url",
                        db.display()
                    )));
                }
                SqlStore::open(&db)
                    .await
                    .map_err(|e| StartError::input(format!("{}: {e}", db.display())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_hides_the_password() {
        let at = |url: Option<&str>| StoreLocation {
            data_dir: DataDir::new("/d"),
            url: url.map(str::to_owned),
        };
        assert_eq!(at(None).describe(), "/d/gatehouse.db");
        assert!(at(None).is_embedded());
        let shown = at(Some("postgres://gh:hunter2@db/gh")).describe();
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[tokio::test]
    async fn a_missing_database_is_named_when_it_must_exist() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let at = StoreLocation {
            data_dir: DataDir::new(tmp.path()),
            url: None,
        };
        let err = at.open(true).await.expect_err("no database yet");
        assert!(err.to_string().contains("start `gatehouse serve`"), "{err}");
        at.open(false).await.expect("created");
        at.open(true).await.expect("now it exists");
        let err = StoreLocation {
            url: Some(format!("sqlite://{}/typo.db", tmp.path().display())),
            ..at
        }
        .open(true)
        .await
        .expect_err("a typo is not created");
        assert!(err.to_string().contains("no such database file"), "{err}");
    }
}
