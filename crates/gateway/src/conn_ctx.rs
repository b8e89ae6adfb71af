//! What the calls of one admitted connection share: its namespace, its client's identity and
//! permissions (updated when the namespace changes), its usage cell, its connection limits and
//! its upstream JWT.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use gatehouse_pki::CertificateInfo;
use gatehouse_policy::Permissions;
use http::HeaderValue;

use crate::jwt;
use crate::limits::Activity;
use crate::shared::Shared;
use crate::usage::LeafCell;

/// What a connection's requests share.
#[derive(Debug)]
pub(crate) struct ConnCtx {
    pub(crate) shared: Arc<Shared>,
    /// The namespace the SNI selected (its canonical name).
    pub(crate) namespace: Arc<str>,
    pub(crate) usage: Arc<LeafCell>,
    pub(crate) peer: String,
    /// What this client may do (from its filters' roles; updated when they change).
    permissions: AtomicU8,
    /// The client certificate's subject (the upstream JWT's `sub`).
    pub(crate) subject: String,
    /// The client certificate (what a renewal keeps).
    pub(crate) leaf: Arc<CertificateInfo>,
    /// SHA-256 of the bundle CA the client's chain ends at.
    pub(crate) anchor: Arc<str>,
    /// The upstream JWT (`--upstream-jwt`), the permissions it states, and when to renew it.
    token: Mutex<Option<(HeaderValue, u8, Instant)>>,
    /// Calls in flight, idle time and cancelled calls (the connection limits).
    pub(crate) activity: Arc<Activity>,
}

impl ConnCtx {
    /// A newly admitted connection's context, with the permissions its verification gave.
    pub(crate) fn new(
        shared: Arc<Shared>,
        namespace: Arc<str>,
        usage: Arc<LeafCell>,
        peer: String,
        leaf: Arc<CertificateInfo>,
        anchor: Arc<str>,
        permissions: Permissions,
    ) -> Self {
        let activity = Arc::new(Activity::new(shared.config.limits.max_cancelled_calls));
        Self {
            subject: leaf.subject.clone(),
            shared,
            namespace,
            usage,
            peer,
            permissions: AtomicU8::new(permissions.bits()),
            leaf,
            anchor,
            token: Mutex::new(None),
            activity,
        }
    }

    /// What this client may do.
    pub(crate) fn permissions(&self) -> Permissions {
        Permissions::from_bits(self.permissions.load(Ordering::Relaxed))
    }

    /// Stores the permissions a re-verification gave (the filters' roles may have changed).
    pub(crate) fn set_permissions(&self, permissions: Permissions) {
        self.permissions
            .store(permissions.bits(), Ordering::Relaxed);
    }

    /// Whether [`ConnCtx::revoke`] was called.
    pub(crate) fn is_revoked(&self) -> bool {
        self.permissions.load(Ordering::Relaxed) == 0
    }

    /// The connection is no longer admitted: its draining calls and late streams get nothing
    /// more, and its upstream token is dropped.
    pub(crate) fn revoke(&self) {
        self.permissions.store(0, Ordering::Relaxed);
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// This connection's upstream `authorization` value, minted or renewed as needed.
    pub(crate) fn upstream_token(&self) -> Option<HeaderValue> {
        let minter = self.shared.minter.as_ref()?;
        let bits = self.permissions.load(Ordering::Relaxed);
        let mut slot = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((value, for_bits, renew_at)) = slot.as_ref() {
            if *for_bits == bits && Instant::now() < *renew_at {
                return Some(value.clone());
            }
        }
        let permissions = jwt::temporal_permissions(&self.namespace, Permissions::from_bits(bits));
        let token = minter.mint(&self.subject, &permissions)?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
        // Kept out of the shared upstream connection's HPACK table.
        value.set_sensitive(true);
        let renew_at = Instant::now() + jwt::TOKEN_TTL / 2;
        *slot = Some((value.clone(), bits, renew_at));
        Some(value)
    }
}
