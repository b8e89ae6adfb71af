//! Secrets a server makes for itself on first start: the account owner's API key, the
//! console's session secret and the webhook signing secret.

use gatehouse_api::{new_token, token_hash};
use gatehouse_pki::{write_files, FileKind, OutputFile};
use gatehouse_store::SqlStore;
use time::OffsetDateTime;

use crate::{DataDir, StartError};

/// First start: an account owner, with its key in `<data-dir>/admin.key`. The key file is
/// written first (replacing any left by a bootstrap that crashed before its transaction), then
/// owner and key are created in one transaction; a crash anywhere leaves a state the next start
/// completes.
pub(crate) async fn bootstrap(
    store: &SqlStore,
    data_dir: &DataDir,
    email: &str,
) -> Result<(), StartError> {
    let internal = |e: gatehouse_store::StoreError| StartError::internal(e.to_string());
    let key_path = data_dir.admin_key();
    if store.count_users().await.map_err(internal)? > 0 {
        if !key_path.exists() {
            tracing::info!("no admin.key in the data dir: use an API key created with `gatehouse apikey create`");
        }
        return Ok(());
    }
    let token = new_token().map_err(|e| StartError::internal(e.message))?;
    write_private(&key_path, &token, true)?;
    match store
        .bootstrap_owner(email, &token_hash(&token), OffsetDateTime::now_utc())
        .await
        .map_err(internal)?
    {
        Some(_) => tracing::info!(
            owner = email,
            key_file = %key_path.display(),
            "first start: created the account owner; its API key is in the key file (mode 0600)"
        ),
        None => {
            // Our key was never stored: do not leave a key file that authenticates nobody.
            let _ = std::fs::remove_file(&key_path);
            tracing::info!("another process bootstrapped the account first");
        }
    }
    Ok(())
}

/// The console's session secret. On a shared database every replica must sign and check
/// sessions with one key, or a browser behind a load balancer is signed out whenever it reaches
/// another replica; on SQLite it is `<data-dir>/console-session.key` (0600), shared by every
/// process on the data dir so sessions survive restarts.
pub(crate) async fn session_secret(
    store: &SqlStore,
    data_dir: &DataDir,
    shared: bool,
) -> Result<Vec<u8>, StartError> {
    if shared {
        return Ok(store
            .shared_secret(
                "console-session",
                &random_hex(32)?,
                OffsetDateTime::now_utc(),
            )
            .await
            .map_err(|e| StartError::internal(e.to_string()))?
            .into_bytes());
    }
    let path = data_dir.session_key();
    let read = || -> Result<Option<Vec<u8>>, StartError> {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = text.trim();
                if text.len() < 64 {
                    return Err(StartError::input(format!(
                        "{}: too short to be a session secret (delete it to make a new one; everyone signs in again)",
                        path.display()
                    )));
                }
                Ok(Some(text.as_bytes().to_vec()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StartError::input(format!("{}: {e}", path.display()))),
        }
    };
    if let Some(secret) = read()? {
        return Ok(secret);
    }
    // Another process may create it at the same moment: then use theirs.
    let written = write_private(&path, &random_hex(32)?, false);
    match (written, read()?) {
        (_, Some(secret)) => Ok(secret),
        (Err(e), None) => Err(e),
        (Ok(()), None) => Err(StartError::internal(format!("{} vanished", path.display()))),
    }
}

/// The webhook signing key kept in the data dir (0600), made on first use.
pub fn webhook_secret(data_dir: &DataDir) -> Result<Vec<u8>, StartError> {
    let path = data_dir.webhook_secret();
    if let Ok(s) = std::fs::read_to_string(&path) {
        return Ok(s.trim().as_bytes().to_vec());
    }
    let secret = new_token().map_err(|e| StartError::internal(e.message))?;
    write_private(&path, &secret, false)?;
    tracing::info!(path = %path.display(), "generated the webhook signing secret");
    Ok(secret.into_bytes())
}

/// `text` and a newline, to a new 0600 file (or over one, with `force`), atomically.
fn write_private(path: &std::path::Path, text: &str, force: bool) -> Result<(), StartError> {
    write_files(
        &[OutputFile {
            path,
            contents: format!("{text}\n").as_bytes(),
            kind: FileKind::PrivateKey,
        }],
        &[],
        force,
    )?;
    Ok(())
}

/// `bytes` random bytes in hex.
fn random_hex(bytes: usize) -> Result<String, StartError> {
    gatehouse_pki::random_hex(bytes).map_err(|e| StartError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_start_writes_a_key_that_authenticates_the_owner_and_later_starts_keep_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DataDir::new(tmp.path());
        let store = SqlStore::open(&dir.database()).await.expect("store");
        bootstrap(&store, &dir, "owner@acme.io")
            .await
            .expect("bootstrap");
        let key = std::fs::read_to_string(dir.admin_key()).expect("admin.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.admin_key())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(store.count_users().await.expect("count"), 1);
        bootstrap(&store, &dir, "owner@acme.io")
            .await
            .expect("again");
        assert_eq!(std::fs::read_to_string(dir.admin_key()).expect("kept"), key);
        assert_eq!(store.count_users().await.expect("count"), 1);
    }

    #[tokio::test]
    async fn the_session_secret_is_made_once_and_a_short_one_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DataDir::new(tmp.path());
        let store = SqlStore::open(&dir.database()).await.expect("store");
        let first = session_secret(&store, &dir, false).await.expect("made");
        assert_eq!(first.len(), 64);
        assert_eq!(
            session_secret(&store, &dir, false).await.expect("read"),
            first
        );
        let shared = session_secret(&store, &dir, true).await.expect("shared");
        assert_eq!(
            session_secret(&store, &dir, true).await.expect("again"),
            shared
        );
        std::fs::write(dir.session_key(), "short\n").expect("write");
        let err = session_secret(&store, &dir, false)
            .await
            .expect_err("too short");
        assert!(err.to_string().contains("too short"), "{err}");
    }
}
