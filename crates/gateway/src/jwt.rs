//! Claims for the Temporal server (`--upstream-jwt`): a short-lived ES256 JWT per connection in
//! the format of Temporal's default JWT claim mapper (`permissions: ["<namespace>:<role>"]`),
//! sent upstream as `authorization: Bearer …`, so a Temporal server with `claimMapper: default`
//! and `authorizer: default` enforces the same roles. Signing keys rotate every 12 hours, each
//! published in the JWKS an hour before it signs; they are kept in a 0600 file in the data dir.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use gatehouse_policy::Permissions;
use serde_json::json;

/// How long a token is valid.
pub(crate) const TOKEN_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a signing key is used before the next one takes over.
const ROTATE_EVERY: i64 = 12 * 60 * 60;
/// A new key is published in the JWKS this long before it signs anything, so the Temporal
/// server's periodic JWKS refresh (`refreshInterval`) has fetched it when it is first used.
const PUBLISH_AHEAD: i64 = 60 * 60;
/// How often the key file is looked at again (other gateways on the data dir may rotate).
const RELOAD_EVERY: Duration = Duration::from_secs(30);

struct Key {
    kid: String,
    pkcs8: Vec<u8>,
    pair: EcdsaKeyPair,
    /// Unix time from which it signs.
    active_from: i64,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Key {
    fn generate(active_from: i64) -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "cannot generate the JWT signing key".to_owned())?;
        Self::load(pkcs8.as_ref().to_vec(), active_from)
    }

    fn load(pkcs8: Vec<u8>, active_from: i64) -> Result<Self, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8)
            .map_err(|_| "cannot load a JWT signing key".to_owned())?;
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pair.public_key().as_ref());
        Ok(Self {
            kid: B64.encode(&digest.as_ref()[..12]),
            pkcs8,
            pair,
            active_from,
        })
    }

    fn jwk(&self) -> serde_json::Value {
        // Uncompressed point: 0x04 || X (32) || Y (32).
        let point = self.pair.public_key().as_ref();
        let xy = point.get(1..).unwrap_or_default();
        let (x, y) = xy.split_at(xy.len() / 2);
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
            "kid": self.kid, "x": B64.encode(x), "y": B64.encode(y),
        })
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The keys in the file, and when it was written.
type KeyFile = (Vec<Arc<Key>>, std::time::SystemTime);

#[derive(Debug, Default)]
struct KeySet {
    /// Oldest first: the previous key, the current one, the next one (published ahead).
    keys: Vec<Arc<Key>>,
    checked: Option<Instant>,
    file_modified: Option<std::time::SystemTime>,
}

impl KeySet {
    /// The key that signs now: the newest already active.
    fn signing(&self, at: i64) -> Option<Arc<Key>> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.active_from <= at)
            .cloned()
    }
}

/// Mints the per-connection tokens. Keys live in a file in the data dir (0600), so restarts and
/// other gateways on the same data dir sign with keys the JWKS already published.
#[derive(Debug)]
pub(crate) struct Minter {
    keys: RwLock<KeySet>,
    file: Option<PathBuf>,
    issuer: String,
}

/// The role Temporal's default claim mapper and authorizer should see. Temporal ranks roles
/// worker < reader < writer < admin and lets a method through when the role is at least reader
/// (reads) or writer (everything else, polls included), so a worker must be sent as `write`:
/// the gateway is what narrows a worker to polls and responses.
pub(crate) fn temporal_permissions(namespace: &str, p: Permissions) -> Vec<String> {
    let role = if p.contains(Permissions::ADMIN) {
        "admin"
    } else if p.contains(Permissions::WRITE) || p.contains(Permissions::WORKER) {
        "write"
    } else if p.contains(Permissions::READ) {
        "read"
    } else {
        return Vec::new();
    };
    vec![format!("{namespace}:{role}")]
}

impl Minter {
    pub(crate) fn new(issuer: &str, file: Option<PathBuf>) -> Result<Self, String> {
        let m = Self {
            keys: RwLock::new(KeySet::default()),
            file,
            issuer: issuer.to_owned(),
        };
        m.maintain(true)?;
        Ok(m)
    }

    fn read_file(&self) -> Result<Option<KeyFile>, String> {
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(None);
        };
        let modified = meta.modified().map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut keys = Vec::new();
        for k in doc["keys"].as_array().into_iter().flatten() {
            let pkcs8 = B64
                .decode(k["pkcs8"].as_str().unwrap_or_default())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            keys.push(Arc::new(Key::load(
                pkcs8,
                k["activeFrom"].as_i64().unwrap_or(0),
            )?));
        }
        Ok(Some((keys, modified)))
    }

    fn write_file(&self, keys: &[Arc<Key>]) -> Result<Option<std::time::SystemTime>, String> {
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let doc = json!({
            "keys": keys.iter().map(|k| json!({
                "kid": k.kid, "activeFrom": k.active_from, "pkcs8": B64.encode(&k.pkcs8),
            })).collect::<Vec<_>>()
        });
        gatehouse_pki::write_files(
            &[gatehouse_pki::OutputFile {
                path,
                contents: doc.to_string().as_bytes(),
                kind: gatehouse_pki::FileKind::PrivateKey,
            }],
            &[],
            true,
        )
        .map_err(|e| e.to_string())?;
        Ok(std::fs::metadata(path).and_then(|m| m.modified()).ok())
    }

    /// Re-reads the key file when it changed, and rotates when due: a next key is published
    /// `PUBLISH_AHEAD` before it signs, and the one before the current is dropped.
    fn maintain(&self, force: bool) -> Result<(), String> {
        {
            let set = self
                .keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !force && set.checked.is_some_and(|t| t.elapsed() < RELOAD_EVERY) {
                return Ok(());
            }
        }
        let mut set = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.checked = Some(Instant::now());
        if let Some((keys, modified)) = self.read_file()? {
            if set.file_modified != Some(modified) && !keys.is_empty() {
                set.keys = keys;
                set.file_modified = Some(modified);
            }
        }
        let t = now();
        let mut changed = false;
        if set.keys.is_empty() {
            // First start: this key signs at once (the server needs one JWKS fetch).
            set.keys.push(Arc::new(Key::generate(t)?));
            changed = true;
        }
        let newest = set.keys.last().map_or(t, |k| k.active_from);
        if newest <= t && t - newest >= ROTATE_EVERY - PUBLISH_AHEAD {
            set.keys.push(Arc::new(Key::generate(t + PUBLISH_AHEAD)?));
            changed = true;
            tracing::info!("published the next upstream JWT signing key; it signs in an hour");
        }
        // Keep the previous key (tokens it signed are still valid), the current and the next.
        while set.keys.len() > 1 {
            let signing = set.signing(t).map(|k| k.active_from).unwrap_or(i64::MIN);
            let second = set.keys[1].active_from;
            if second < signing {
                set.keys.remove(0);
                changed = true;
            } else {
                break;
            }
        }
        if changed {
            set.file_modified = self.write_file(&set.keys)?;
        }
        Ok(())
    }

    /// A token for `subject` with Temporal `permissions`.
    pub(crate) fn mint(&self, subject: &str, permissions: &[String]) -> Option<String> {
        if let Err(e) = self.maintain(false) {
            tracing::warn!(error = %e, "upstream JWT keys: keeping the keys in memory");
        }
        let t = now();
        let key = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .signing(t)?;
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": key.kid });
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "permissions": permissions,
            "iat": t,
            "nbf": t - 5,
            "exp": t + i64::try_from(TOKEN_TTL.as_secs()).unwrap_or(600),
        });
        let signing_input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let sig = key
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .ok()?;
        Some(format!("{signing_input}.{}", B64.encode(sig.as_ref())))
    }

    /// The JWKS: the previous, current and next keys.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        let _ = self.maintain(false);
        let set = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        json!({ "keys": set.keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(keys: &[(&Key, i64)]) -> String {
        json!({ "keys": keys.iter().map(|(k, at)| json!({
            "kid": k.kid, "activeFrom": at, "pkcs8": B64.encode(&k.pkcs8),
        })).collect::<Vec<_>>() })
        .to_string()
    }

    #[test]
    fn keys_are_published_an_hour_before_they_sign_and_shared_through_the_file() {
        let dir = std::env::temp_dir().join(format!("gatehouse-jwt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys.json");
        let _ = std::fs::remove_file(&path);
        // First start: one key, signing at once, written 0600.
        let m = Minter::new("gatehouse", Some(path.clone())).unwrap();
        assert_eq!(m.jwks()["keys"].as_array().unwrap().len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another gateway on the same file signs with the same key.
        let first_kid = m.jwks()["keys"][0]["kid"].clone();
        let other = Minter::new("gatehouse", Some(path.clone())).unwrap();
        assert_eq!(other.jwks()["keys"][0]["kid"], first_kid);

        // A key 12 hours old: the next one is published now, but the old one still signs.
        let old = Key::generate(0).unwrap();
        std::fs::write(&path, file(&[(&old, now() - ROTATE_EVERY)])).unwrap();
        let m = Minter::new("gatehouse", Some(path.clone())).unwrap();
        let kids = published_kids(&m);
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0], old.kid);
        let token = m.mint("CN=x", &["a:read".into()]).unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["kid"], old.kid.as_str());

        // Once a newer key is active, the one before the previous is dropped.
        let a = Key::generate(0).unwrap();
        let b = Key::generate(0).unwrap();
        let c = Key::generate(0).unwrap();
        std::fs::write(
            &path,
            file(&[
                (&a, now() - 3 * ROTATE_EVERY),
                (&b, now() - 2 * ROTATE_EVERY),
                (&c, now() - 60),
            ]),
        )
        .unwrap();
        let m = Minter::new("gatehouse", Some(path.clone())).unwrap();
        let kids = published_kids(&m);
        assert_eq!(kids, vec![b.kid.clone(), c.kid.clone()]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The key ids the JWKS publishes, in order.
    fn published_kids(m: &Minter) -> Vec<String> {
        let keys = m.jwks()["keys"].as_array().unwrap().clone();
        keys.iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn workers_are_sent_to_temporal_as_writers() {
        assert_eq!(
            temporal_permissions("a", Permissions::WORKER),
            vec!["a:write"]
        );
        assert_eq!(temporal_permissions("a", Permissions::READ), vec!["a:read"]);
        assert_eq!(temporal_permissions("a", Permissions::ALL), vec!["a:admin"]);
        assert!(temporal_permissions("a", Permissions::default()).is_empty());
    }
}
