//! CA usage: which CA and which client leaf each namespace's traffic uses. Counted in memory
//! on the hot path (atomics), flushed to the store in batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gatehouse_store::{LeafDelta, SqlStore, UsageBatch};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

type Key = (Arc<str>, String, String);

/// One (namespace, CA, leaf)'s counters.
#[derive(Debug)]
pub(crate) struct LeafCell {
    subject: String,
    not_after: OffsetDateTime,
    last_seen: AtomicI64,
    last_handshake: AtomicI64,
    handshakes: AtomicI64,
    requests: AtomicI64,
    open: AtomicI64,
}

impl LeafCell {
    /// A request on a connection of this leaf.
    pub(crate) fn touch(&self) {
        self.last_seen.store(unix_now(), Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The aggregate, shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    cells: Mutex<HashMap<Key, Arc<LeafCell>>>,
}

impl Usage {
    /// A handshake admitted `leaf` (fingerprint, subject, notAfter) under `ca`.
    pub(crate) fn admitted(
        &self,
        namespace: &Arc<str>,
        ca: &str,
        leaf: &str,
        subject: &str,
        not_after: OffsetDateTime,
    ) -> Arc<LeafCell> {
        let key = (namespace.clone(), ca.to_owned(), leaf.to_owned());
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| {
                Arc::new(LeafCell {
                    subject: subject.to_owned(),
                    not_after,
                    last_seen: AtomicI64::new(0),
                    last_handshake: AtomicI64::new(0),
                    handshakes: AtomicI64::new(0),
                    requests: AtomicI64::new(0),
                    open: AtomicI64::new(0),
                })
            })
            .clone();
        let now = unix_now();
        cell.last_seen.store(now, Ordering::Relaxed);
        cell.last_handshake.store(now, Ordering::Relaxed);
        cell.handshakes.fetch_add(1, Ordering::Relaxed);
        cell.open.fetch_add(1, Ordering::Relaxed);
        cell
    }

    /// Takes everything since the last batch. Leaves with open connections report `last_seen`
    /// as now: a connection that is open is traffic on its CA.
    pub(crate) fn take_batch(&self, instance: &str) -> UsageBatch {
        let now = unix_now();
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        let mut leaves = Vec::new();
        let mut open: HashMap<(Arc<str>, String), i64> = HashMap::new();
        cells.retain(|key, cell| {
            let handshakes = cell.handshakes.swap(0, Ordering::Relaxed);
            let requests = cell.requests.swap(0, Ordering::Relaxed);
            let n_open = cell.open.load(Ordering::Relaxed);
            if n_open > 0 {
                *open.entry((key.0.clone(), key.1.clone())).or_default() += n_open;
            }
            if handshakes > 0 || requests > 0 || n_open > 0 {
                let last_handshake = cell.last_handshake.load(Ordering::Relaxed);
                leaves.push(LeafDelta {
                    namespace: key.0.to_string(),
                    ca_fingerprint: key.1.clone(),
                    leaf_fingerprint: key.2.clone(),
                    leaf_subject: cell.subject.clone(),
                    leaf_not_after: cell.not_after,
                    last_seen: at(if n_open > 0 {
                        now
                    } else {
                        cell.last_seen.load(Ordering::Relaxed)
                    }),
                    last_handshake: (last_handshake > 0).then(|| at(last_handshake)),
                    handshakes,
                    requests,
                });
            }
            // Keep cells that connections still hold; drop the idle rest.
            n_open > 0 || Arc::strong_count(cell) > 1 || handshakes > 0 || requests > 0
        });
        let mut open: Vec<_> = open
            .into_iter()
            .map(|((ns, ca), n)| (ns.to_string(), ca, n))
            .collect();
        open.sort();
        UsageBatch {
            instance: instance.to_owned(),
            leaves,
            open,
        }
    }

    /// Puts a batch's counts back after a failed flush, so nothing is lost.
    pub(crate) fn restore(&self, batch: &UsageBatch) {
        let cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        for l in &batch.leaves {
            let key: Key = (
                Arc::from(l.namespace.as_str()),
                l.ca_fingerprint.clone(),
                l.leaf_fingerprint.clone(),
            );
            if let Some(cell) = cells.get(&key) {
                cell.handshakes.fetch_add(l.handshakes, Ordering::Relaxed);
                cell.requests.fetch_add(l.requests, Ordering::Relaxed);
            }
        }
    }

    /// Writes the counts since the last flush to `store` as `instance`'s; on failure they are
    /// kept for the next flush.
    pub(crate) async fn flush(&self, store: &SqlStore, instance: &str) {
        let batch = self.take_batch(instance);
        if let Err(e) = store.record_usage(&batch, OffsetDateTime::now_utc()).await {
            tracing::warn!(error = %e, "usage flush failed; counts kept for the next one");
            self.restore(&batch);
        }
    }

    /// Flushes every `interval` until `stop` is cancelled.
    pub(crate) async fn flush_every(
        self: Arc<Self>,
        store: Arc<SqlStore>,
        instance: String,
        interval: Duration,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => self.flush(&store, &instance).await,
            }
        }
    }
}
