//! Reading certificates from PEM (or a single DER certificate), with errors that say what was
//! wrong and where.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::cert::{CertificateError, CertificateInfo};

/// Largest input file Gatehouse reads. Real bundles are at most 32 KB (Temporal's limit);
/// this bound only keeps a wrong path (a log, an image) from being read into memory whole.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Why input could not be read as certificates or a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory.
    #[error("{path}: is a directory, expected a file")]
    IsDirectory { path: String },
    /// The file is larger than [`MAX_INPUT_BYTES`].
    #[error("{path}: file is {size} bytes, larger than the {limit}-byte limit for certificate and key files")]
    TooLarge { path: String, size: u64, limit: u64 },
    /// Nothing but whitespace.
    #[error("{source_name}: empty input, expected PEM certificates")]
    Empty { source_name: String },
    /// Text that holds no `CERTIFICATE` block.
    #[error("{source_name}: no PEM CERTIFICATE block found{found}")]
    NoCertificates { source_name: String, found: String },
    /// A PEM block that could not be decoded (bad base64, missing END line…).
    #[error("{source_name}: malformed PEM: {reason}")]
    MalformedPem { source_name: String, reason: String },
    /// A block that decoded but is not a valid certificate.
    #[error("{source_name}: certificate #{index}: {source}")]
    BadCertificate {
        source_name: String,
        index: usize,
        #[source]
        source: CertificateError,
    },
}

/// Reads a file, refusing directories and anything over [`MAX_INPUT_BYTES`].
pub fn read_input_file(path: &Path) -> Result<Vec<u8>, InputError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| InputError::Io {
        path: shown.clone(),
        source,
    })?;
    if meta.is_dir() {
        return Err(InputError::IsDirectory { path: shown });
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: shown,
            size: meta.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    use std::io::Read;
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut buf))
        .map_err(|source| InputError::Io {
            path: shown.clone(),
            source,
        })?;
    if buf.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge {
            path: shown,
            size: buf.len() as u64,
            limit: MAX_INPUT_BYTES,
        });
    }
    Ok(buf)
}

/// Parses every `CERTIFICATE` block in `input` (or `input` as one DER certificate when it is
/// binary DER). `source_name` is used in error messages, typically the file name.
pub fn parse_certificates(
    input: &[u8],
    source_name: &str,
) -> Result<Vec<CertificateInfo>, InputError> {
    let name = || source_name.to_owned();
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Empty {
            source_name: name(),
        });
    }
    // Binary DER: a SEQUENCE tag followed by a long-form length.
    if input.first() == Some(&0x30) && input.get(1).is_some_and(|b| *b >= 0x80) {
        let info =
            CertificateInfo::from_der(input).map_err(|source| InputError::BadCertificate {
                source_name: name(),
                index: 1,
                source,
            })?;
        return Ok(vec![info]);
    }
    let mut out = Vec::new();
    for (i, item) in CertificateDer::pem_slice_iter(input).enumerate() {
        let der = item.map_err(|e| InputError::MalformedPem {
            source_name: name(),
            reason: e.to_string(),
        })?;
        let info =
            CertificateInfo::from_der(&der).map_err(|source| InputError::BadCertificate {
                source_name: name(),
                index: i + 1,
                source,
            })?;
        out.push(info);
    }
    if out.is_empty() {
        return Err(InputError::NoCertificates {
            source_name: name(),
            found: describe_other_blocks(input),
        });
    }
    Ok(out)
}

/// For "no certificate found" messages: which PEM labels the input did contain.
fn describe_other_blocks(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let labels: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("-----BEGIN "))
        .filter_map(|l| l.strip_suffix("-----"))
        .collect();
    if labels.is_empty() {
        String::new()
    } else {
        format!(" (found: {})", labels.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why `input`, read as x.pem, yields no certificates.
    fn refusal(input: &[u8]) -> InputError {
        parse_certificates(input, "x.pem").unwrap_err()
    }

    #[test]
    fn garbage_inputs_get_named_errors() {
        assert!(matches!(refusal(b"  \n"), InputError::Empty { .. }));
        assert!(matches!(
            refusal(b"hello world"),
            InputError::NoCertificates { .. }
        ));
        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = refusal(key_only).to_string();
        assert!(err.contains("found: PRIVATE KEY"), "{err}");
        let bad_b64 = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(refusal(bad_b64), InputError::MalformedPem { .. }));
        let not_a_cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = refusal(not_a_cert).to_string();
        assert!(err.contains("certificate #1"), "{err}");
        let unterminated = b"-----BEGIN CERTIFICATE-----\nAAAA\n";
        assert!(parse_certificates(unterminated, "x.pem").is_err());
        // Binary that looks like DER but is truncated.
        assert!(matches!(
            parse_certificates(&[0x30, 0x82, 0x05, 0x00, 0x01], "x.der"),
            Err(InputError::BadCertificate { .. })
        ));
    }

    #[test]
    fn big_files_and_directories_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_input_file(dir.path()),
            Err(InputError::IsDirectory { .. })
        ));
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'A'; 10 * 1024 * 1024]).unwrap();
        assert!(matches!(
            read_input_file(&big),
            Err(InputError::TooLarge { .. })
        ));
        assert!(matches!(
            read_input_file(&dir.path().join("missing")),
            Err(InputError::Io { .. })
        ));
    }
}
