//! Claims for the Temporal server (`--upstream-jwt`): a short-lived ES256 JWT per connection in
//! the format of Temporal's default JWT claim mapper (`permissions: ["<namespace>:<role>"]`),
//! sent upstream as `authorization: Bearer …`, so a Temporal server with `claimMapper: default`
//! and `authorizer: default` enforces the same roles. The signing key lives only in memory and
//! rotates; the JWKS (current and previous key) is served for the server to fetch.

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
/// How often the signing key changes (the previous one stays in the JWKS for a period).
const ROTATE_EVERY: Duration = Duration::from_secs(12 * 60 * 60);

struct Key {
    kid: String,
    pair: EcdsaKeyPair,
    created: Instant,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Key {
    fn generate() -> Result<Self, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "cannot generate the JWT signing key".to_owned())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map_err(|_| "cannot load the JWT signing key".to_owned())?;
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, pair.public_key().as_ref());
        Ok(Self {
            kid: B64.encode(&digest.as_ref()[..12]),
            pair,
            created: Instant::now(),
        })
    }

    fn jwk(&self) -> serde_json::Value {
        // Uncompressed point: 0x04 || X (32) || Y (32).
        let point = self.pair.public_key().as_ref();
        let (x, y) = point
            .get(1..)
            .unwrap_or_default()
            .split_at(32.min(point.len().saturating_sub(1)));
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
            "kid": self.kid, "x": B64.encode(x), "y": B64.encode(y),
        })
    }
}

/// Mints the per-connection tokens.
#[derive(Debug)]
pub(crate) struct Minter {
    keys: RwLock<(Arc<Key>, Option<Arc<Key>>)>,
    issuer: String,
}

/// Temporal's default claim mapper's roles for a set of permissions.
pub(crate) fn temporal_permissions(namespace: &str, p: Permissions) -> Vec<String> {
    if p.contains(Permissions::ADMIN) {
        return vec![format!("{namespace}:admin")];
    }
    let mut out = Vec::new();
    for (flag, role) in [
        (Permissions::WORKER, "worker"),
        (Permissions::READ, "read"),
        (Permissions::WRITE, "write"),
    ] {
        if p.contains(flag) {
            out.push(format!("{namespace}:{role}"));
        }
    }
    out
}

impl Minter {
    pub(crate) fn new(issuer: &str) -> Result<Self, String> {
        Ok(Self {
            keys: RwLock::new((Arc::new(Key::generate()?), None)),
            issuer: issuer.to_owned(),
        })
    }

    fn current(&self) -> Arc<Key> {
        let due = {
            let keys = self
                .keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if keys.0.created.elapsed() < ROTATE_EVERY {
                return keys.0.clone();
            }
            true
        };
        if due {
            if let Ok(fresh) = Key::generate() {
                let mut keys = self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if keys.0.created.elapsed() >= ROTATE_EVERY {
                    let old = std::mem::replace(&mut keys.0, Arc::new(fresh));
                    keys.1 = Some(old);
                    tracing::info!(kid = %keys.0.kid, "rotated the upstream JWT signing key");
                }
            }
        }
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    /// A token for `subject` with Temporal `permissions`; returns it and its lifetime.
    pub(crate) fn mint(&self, subject: &str, permissions: &[String]) -> Option<String> {
        let key = self.current();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": key.kid });
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "permissions": permissions,
            "iat": now,
            "nbf": now - 5,
            "exp": now + i64::try_from(TOKEN_TTL.as_secs()).unwrap_or(600),
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

    /// The JWKS: the current key and, after a rotation, the previous one.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut list = vec![keys.0.jwk()];
        if let Some(prev) = &keys.1 {
            list.push(prev.jwk());
        }
        json!({ "keys": list })
    }
}
