//! Writing certificates and keys: atomically (temporary file in the same directory, then
//! rename), keys 0600 and certificates 0644, never over an existing file without `force`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// What a file holds, which decides its permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A private key: mode 0600.
    PrivateKey,
    /// A certificate or CSR: mode 0644.
    Public,
}

impl FileKind {
    fn mode(self) -> u32 {
        match self {
            Self::PrivateKey => 0o600,
            Self::Public => 0o644,
        }
    }
}

/// One file to write.
#[derive(Debug)]
pub struct OutputFile<'a> {
    pub path: &'a Path,
    pub contents: &'a [u8],
    pub kind: FileKind,
}

/// Why output files were not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The target exists and `--force` was not given.
    #[error("{path}: already exists; refusing to overwrite it (pass --force to replace it)")]
    Exists { path: PathBuf },
    /// The target is a directory.
    #[error("{path}: is a directory; give a file path")]
    IsDirectory { path: PathBuf },
    /// The same file was given for two outputs.
    #[error("{path}: given for two outputs (certificate and key must be different files)")]
    SamePath { path: PathBuf },
    /// An output would replace one of the command's inputs (the CA key, say).
    #[error(
        "{path}: is also an input of this command; refusing to overwrite it, even with --force"
    )]
    OverwritesInput { path: PathBuf },
    /// The directory to write into does not exist.
    #[error("{path}: directory {dir} does not exist")]
    NoParent { path: PathBuf, dir: PathBuf },
    /// An I/O error while writing.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The file a path names, for comparing paths that are spelled differently (`a.pem`,
/// `./a.pem`, a symlink to it).
fn identity(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = parent_dir(path);
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    match path.file_name() {
        Some(name) => dir.join(name),
        None => dir,
    }
}

/// Writes every file or, on a problem found up front, none of them. If a write fails midway,
/// files this call created are removed again. No output may be one of `inputs` (the files
/// the command read), whatever `force` says.
pub fn write_files(
    files: &[OutputFile<'_>],
    inputs: &[&Path],
    force: bool,
) -> Result<(), WriteError> {
    let input_ids: Vec<PathBuf> = inputs.iter().map(|p| identity(p)).collect();
    let ids: Vec<PathBuf> = files.iter().map(|f| identity(f.path)).collect();
    for (i, f) in files.iter().enumerate() {
        if ids[..i].contains(&ids[i]) {
            return Err(WriteError::SamePath {
                path: f.path.to_owned(),
            });
        }
        if input_ids.contains(&ids[i]) {
            return Err(WriteError::OverwritesInput {
                path: f.path.to_owned(),
            });
        }
        if f.path.is_dir() {
            return Err(WriteError::IsDirectory {
                path: f.path.to_owned(),
            });
        }
        if !force && f.path.symlink_metadata().is_ok() {
            return Err(WriteError::Exists {
                path: f.path.to_owned(),
            });
        }
        let dir = parent_dir(f.path);
        if !dir.is_dir() {
            return Err(WriteError::NoParent {
                path: f.path.to_owned(),
                dir: dir.to_owned(),
            });
        }
    }
    let mut created: Vec<&Path> = Vec::new();
    for f in files {
        let existed = f.path.symlink_metadata().is_ok();
        if let Err(e) = write_one(f, force) {
            for p in created {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        if !existed {
            created.push(f.path);
        }
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn write_one(f: &OutputFile<'_>, force: bool) -> Result<(), WriteError> {
    let io = |source| WriteError::Io {
        path: f.path.to_owned(),
        source,
    };
    // tempfile creates the file 0600, so a key is never readable by others, even briefly.
    let mut tmp = tempfile::Builder::new()
        .prefix(".gatehouse-")
        .tempfile_in(parent_dir(f.path))
        .map_err(io)?;
    tmp.write_all(f.contents).map_err(io)?;
    set_mode(tmp.as_file(), f.kind.mode()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    if force {
        tmp.persist(f.path).map_err(|e| io(e.error))?;
    } else {
        // Refuses if the file appeared since the check above.
        tmp.persist_noclobber(f.path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::Exists {
                    path: f.path.to_owned(),
                }
            } else {
                io(e.error)
            }
        })?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    fn file<'a>(path: &'a Path, contents: &'a [u8], kind: FileKind) -> OutputFile<'a> {
        OutputFile {
            path,
            contents,
            kind,
        }
    }

    /// A certificate (public) and a key (private) to write together.
    fn pair<'a>(
        cert: &'a Path,
        cert_contents: &'a [u8],
        key: &'a Path,
        key_contents: &'a [u8],
    ) -> [OutputFile<'a>; 2] {
        [
            file(cert, cert_contents, FileKind::Public),
            file(key, key_contents, FileKind::PrivateKey),
        ]
    }

    /// The error `write_files` must return.
    fn refused(files: &[OutputFile<'_>], inputs: &[&Path], force: bool) -> WriteError {
        write_files(files, inputs, force).expect_err("write_files should refuse")
    }

    #[test]
    fn modes_no_clobber_and_force() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("c.key");
        write_files(&pair(&cert, b"cert", &key, b"key"), &[], false).unwrap();
        assert_eq!(mode(&cert), 0o644);
        assert_eq!(mode(&key), 0o600);

        let again = pair(&cert, b"new", &key, b"new");
        assert!(matches!(
            refused(&again, &[], false),
            WriteError::Exists { .. }
        ));
        assert_eq!(
            std::fs::read(&key).unwrap(),
            b"key",
            "unchanged without --force"
        );
        write_files(&again, &[], true).unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"new");
        assert_eq!(mode(&key), 0o600);
        // No temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn nothing_is_written_when_one_target_is_bad() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let files = pair(&cert, b"cert", &sub, b"key");
        assert!(matches!(
            refused(&files, &[], true),
            WriteError::IsDirectory { .. }
        ));
        assert!(!cert.exists());
        let same = pair(&cert, b"a", &cert, b"b");
        assert!(matches!(
            refused(&same, &[], false),
            WriteError::SamePath { .. }
        ));
        // The same file spelled two ways, and an output that is an input.
        let other = dir.path().join("sub/../c.pem");
        let two = pair(&cert, b"a", &other, b"b");
        assert!(matches!(
            refused(&two, &[], true),
            WriteError::SamePath { .. }
        ));
        std::fs::write(&cert, b"ca key").unwrap();
        let over = [file(&other, b"b", FileKind::PrivateKey)];
        assert!(matches!(
            refused(&over, &[cert.as_path()], true),
            WriteError::OverwritesInput { .. }
        ));
        assert_eq!(std::fs::read(&cert).unwrap(), b"ca key");
        let missing = dir.path().join("nope/c.pem");
        let files = [file(&missing, b"a", FileKind::Public)];
        assert!(matches!(
            refused(&files, &[], false),
            WriteError::NoParent { .. }
        ));
    }
}
