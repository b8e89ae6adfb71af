//! The control service: every namespace, user, API-key and audit operation, over the store and
//! the policy, for every face (REST, the console, and later gRPC). It takes a [`Caller`] and
//! typed inputs and returns domain values or a [`ControlError`]; it knows no HTTP.
//!
//! - Authorisation by role happens here, once.
//! - Every namespace write is validated as a whole resulting state by `gatehouse-policy` and
//!   stored with compare-and-swap, its audit event and its request id in one transaction.
//! - After a namespace write it runs the hooks registered with
//!   [`Control::on_namespace_change`] (the in-process gateway applies the change before the
//!   face answers).

mod audit;
mod caller;
mod error;
mod limits;
mod namespaces;
mod usage;
mod users;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine;
use gatehouse_store::SqlStore;
use time::OffsetDateTime;

pub use audit::{AuditPage, AuditParams};
pub use caller::{Caller, TOKEN_PREFIX};
pub use error::{ControlError, ErrorKind, Violation};
pub use limits::{AuthLimiter, MAX_FAILURES, WINDOW};
pub use namespaces::{validate_name, CaRemoval, FilterEdit, SpecEdit, WriteOptions, Written};
pub use usage::{CaTraffic, NamespaceUsage, USAGE_FRESH};
pub(crate) use users::debug_without_token;
pub use users::{NewApiKey, NewKey, UserFields};

/// The time source; tests pin it.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// A hook run after a namespace write succeeds (see [`Control::on_namespace_change`]).
pub type AfterWrite = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The control service. Cheap to share behind an `Arc`.
pub struct Control {
    store: Arc<SqlStore>,
    clock: Clock,
    after_namespace_write: Vec<AfterWrite>,
    auth_limiter: AuthLimiter,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("store", &self.store)
            .field("hooks", &self.after_namespace_write.len())
            .finish_non_exhaustive()
    }
}

/// A new API token: `ghk_` and 32 random bytes, base64url.
pub fn new_token() -> Result<String, ControlError> {
    let bytes =
        gatehouse_pki::random_bytes::<32>().map_err(|e| ControlError::internal(e.to_string()))?;
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    gatehouse_pki::sha256_hex(token.as_bytes())
}

/// The refusal for an address over the failed-authentication limit.
fn rate_limited(ip: Option<IpAddr>, wait: u64) -> ControlError {
    ControlError::rule(
        ErrorKind::RateLimited,
        "auth.rate-limited",
        format!(
            "too many wrong API keys from {}: {} in {} s; retry in {wait} s",
            ip.map(|i| i.to_string()).unwrap_or_default(),
            MAX_FAILURES,
            WINDOW.as_secs()
        ),
    )
}

impl Control {
    /// The service over a store, with the system clock.
    pub fn new(store: Arc<SqlStore>) -> Self {
        Self {
            store,
            clock: Arc::new(OffsetDateTime::now_utc),
            after_namespace_write: Vec::new(),
            auth_limiter: AuthLimiter::default(),
        }
    }

    /// Reads the time from `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs `hook` after every namespace write that changed something, before the operation
    /// returns: a gateway in this process applies the change, so a client that connects right
    /// after the answer already sees it. (Gateways in other processes follow the store.)
    pub fn on_namespace_change(mut self, hook: AfterWrite) -> Self {
        self.after_namespace_write.push(hook);
        self
    }

    pub fn store(&self) -> &Arc<SqlStore> {
        &self.store
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// The failed-authentication counters (for `/metrics`).
    pub fn auth_limiter(&self) -> &AuthLimiter {
        &self.auth_limiter
    }

    async fn namespace_changed(&self) {
        for hook in &self.after_namespace_write {
            hook().await;
        }
    }

    /// Authenticates an `Authorization` header's value (`Bearer ghk_…`) from `ip`. An address
    /// that presented too many wrong keys is refused before any key is looked up.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<Caller, ControlError> {
        self.auth_limiter
            .check(ip)
            .map_err(|wait| rate_limited(ip, wait))?;
        let header = authorization.ok_or_else(|| {
            ControlError::unauthenticated("missing Authorization: Bearer <API key> header")
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| t.starts_with(TOKEN_PREFIX))
            .ok_or_else(|| {
                self.auth_limiter.failed(ip);
                ControlError::unauthenticated("the Authorization header is not 'Bearer ghk_…'")
            })?;
        self.caller_for_token(token).await?.ok_or_else(|| {
            self.auth_limiter.failed(ip);
            ControlError::unauthenticated("the API key is unknown, revoked or expired")
        })
    }

    /// Signs in with a token typed by a person (the console). `Ok(None)` for an unknown,
    /// revoked or expired key, which counts against the address.
    pub async fn sign_in(
        &self,
        token: &str,
        ip: Option<IpAddr>,
    ) -> Result<Option<Caller>, ControlError> {
        self.auth_limiter
            .check(ip)
            .map_err(|wait| rate_limited(ip, wait))?;
        let caller = self.caller_for_token(token.trim()).await?;
        if caller.is_none() {
            self.auth_limiter.failed(ip);
        }
        Ok(caller)
    }

    async fn caller_for_token(&self, token: &str) -> Result<Option<Caller>, ControlError> {
        Ok(self
            .store
            .authenticate(&token_hash(token), self.now())
            .await?
            .map(Caller::new))
    }

    /// The caller behind an API key id (a console session names its key by id), if that key is
    /// still valid now.
    pub async fn caller_for_key(&self, key_id: &str) -> Option<Caller> {
        let now = self.now();
        let key = self.store.get_api_key(key_id).await.ok()??;
        if key.revoked_at.is_some() || key.expires_at.is_some_and(|e| e <= now) {
            return None;
        }
        let user = self.store.get_user(&key.user_id).await.ok()??;
        Some(Caller::new(gatehouse_store::Principal { user, key }))
    }
}
