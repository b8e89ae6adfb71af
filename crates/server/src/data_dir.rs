//! The data dir: where one Gatehouse keeps its SQLite database and the files it makes itself.

use std::path::{Path, PathBuf};

use crate::StartError;

/// A data dir and the name of every file Gatehouse keeps in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The embedded SQLite database (without `--database-url`).
    pub fn database(&self) -> PathBuf {
        self.root.join("gatehouse.db")
    }

    /// The account owner's API key, written on first start (mode 0600).
    pub fn admin_key(&self) -> PathBuf {
        self.root.join("admin.key")
    }

    /// The gateway CA that issues `<namespace>.<domain>` server certificates: (cert, key).
    pub fn gateway_ca(&self) -> (PathBuf, PathBuf) {
        (
            self.root.join("gateway-ca.pem"),
            self.root.join("gateway-ca.key"),
        )
    }

    /// The console's session secret (SQLite only; on PostgreSQL it is in the database).
    pub fn session_key(&self) -> PathBuf {
        self.root.join("console-session.key")
    }

    /// The webhook signing secret, made on first use.
    pub fn webhook_secret(&self) -> PathBuf {
        self.root.join("webhook.secret")
    }

    /// The upstream JWT signing keys, shared by the gateways on this data dir.
    pub fn jwt_keys(&self) -> PathBuf {
        self.root.join("upstream-jwt-keys.json")
    }

    /// Creates the directory (mode 0700) if it is not there. An existing one keeps its mode (it
    /// may be `.` or a home directory); a warning says so when others can read it.
    pub fn create(&self) -> Result<(), StartError> {
        let dir = &self.root;
        let failed = |e: std::io::Error| {
            StartError::input(format!("{}: cannot create data dir: {e}", dir.display()))
        };
        if dir.is_dir() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if let Ok(meta) = std::fs::metadata(dir) {
                    if meta.permissions().mode() & 0o077 != 0 {
                        tracing::warn!(
                            data_dir = %dir.display(),
                            "the data dir is readable by other users; consider chmod 700"
                        );
                    }
                }
            }
            return Ok(());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(failed)
        }
        #[cfg(not(unix))]
        std::fs::create_dir_all(dir).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_inside_the_dir() {
        let d = DataDir::new("/var/lib/gatehouse");
        assert_eq!(d.database(), Path::new("/var/lib/gatehouse/gatehouse.db"));
        assert_eq!(d.admin_key(), Path::new("/var/lib/gatehouse/admin.key"));
        assert_eq!(
            d.gateway_ca(),
            (
                PathBuf::from("/var/lib/gatehouse/gateway-ca.pem"),
                PathBuf::from("/var/lib/gatehouse/gateway-ca.key")
            )
        );
        assert_eq!(
            d.session_key(),
            Path::new("/var/lib/gatehouse/console-session.key")
        );
        assert_eq!(
            d.webhook_secret(),
            Path::new("/var/lib/gatehouse/webhook.secret")
        );
        assert_eq!(
            d.jwt_keys(),
            Path::new("/var/lib/gatehouse/upstream-jwt-keys.json")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_new_dir_is_private_and_an_existing_one_is_kept() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = DataDir::new(tmp.path().join("a/b"));
        d.create().expect("create");
        let mode = std::fs::metadata(d.root())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(d.root(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        d.create().expect("exists");
        let mode = std::fs::metadata(d.root())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "an existing data dir keeps its mode");
    }

    #[test]
    fn a_file_in_the_way_is_an_input_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").expect("write");
        let err = DataDir::new(&file)
            .create()
            .expect_err("a file is not a dir");
        assert!(
            matches!(err, StartError::Input(ref m) if m.contains("cannot create data dir")),
            "{err}"
        );
    }
}
