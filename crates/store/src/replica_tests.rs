//! Several replicas on one database (SQLite file or PostgreSQL): what must hold when API
//! replicas and gateways share it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::testing::{change, replicas, spec};
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_swap_holds_across_replicas() {
    let (_dir, sets) = replicas().await;
    for [a, b, _] in sets {
        eprintln!("backend: {:?}", a.backend());
        let now = OffsetDateTime::now_utc();
        a.create_namespace("n", spec("A"), now, change("namespace.create"))
            .await
            .unwrap();
        // Ten rounds of two replicas updating the same version at once: exactly one wins.
        for round in 1..=10 {
            let (x, y) = tokio::join!(
                a.update_namespace("n", round, spec("X"), now, change("namespace.update")),
                b.update_namespace("n", round, spec("Y"), now, change("namespace.update")),
            );
            assert_eq!(
                usize::from(x.is_ok()) + usize::from(y.is_ok()),
                1,
                "round {round}: {x:?} {y:?}"
            );
            let loser = if x.is_ok() { y } else { x };
            assert!(
                matches!(loser, Err(StoreError::Conflict { actual, .. }) if actual == round + 1)
            );
        }
        assert_eq!(
            b.get_namespace("n")
                .await
                .unwrap()
                .unwrap()
                .resource_version,
            11
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_of_the_audit_log_misses_no_change() {
    // Gateways follow namespace changes by audit id: ids must become visible in order, or a
    // reader that has seen id 11 would never see a later-committing id 10.
    let (_dir, sets) = replicas().await;
    for [a, b, reader] in sets {
        eprintln!("backend: {:?}", a.backend());
        let writers: Vec<_> = [Arc::new(a), Arc::new(b)]
            .into_iter()
            .enumerate()
            .map(|(w, store)| {
                tokio::spawn(async move {
                    for i in 0..40 {
                        let now = OffsetDateTime::now_utc();
                        store
                            .create_namespace(
                                &format!("w{w}-{i}"),
                                spec("A"),
                                now,
                                change("namespace.create"),
                            )
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        let mut seen = BTreeSet::new();
        let mut position = 0;
        let mut finished = false;
        while !finished {
            finished = writers.iter().all(|w| w.is_finished());
            let (p, names) = reader.namespace_changes_since(position).await.unwrap();
            assert!(p >= position);
            position = p;
            seen.extend(names);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (_, names) = reader.namespace_changes_since(position).await.unwrap();
        seen.extend(names);
        assert_eq!(seen.len(), 80, "changes seen by following the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_writer_does_not_hide_its_change_from_followers() {
    // The case the write lock exists for: replica A has appended its audit event but not yet
    // committed when replica B writes. B must wait, or B's later id becomes visible first and a
    // follower that moves past it never sees A's change.
    let (_dir, sets) = replicas().await;
    for [a, b, reader] in sets {
        eprintln!("backend: {:?}", a.backend());
        let mut tx = a.begin_write().await.unwrap();
        a.audit(
            &mut tx,
            OffsetDateTime::now_utc(),
            Some("slow"),
            &change("namespace.update"),
        )
        .await
        .unwrap();
        let fast = tokio::spawn(async move {
            b.create_namespace(
                "fast",
                spec("A"),
                OffsetDateTime::now_utc(),
                change("namespace.create"),
            )
            .await
            .unwrap();
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (position, mut seen) = reader.namespace_changes_since(0).await.unwrap();
        assert!(!fast.is_finished(), "B waits for A's transaction");
        tx.commit().await.unwrap();
        fast.await.unwrap();
        let (_, later) = reader.namespace_changes_since(position).await.unwrap();
        seen.extend(later);
        seen.sort();
        assert_eq!(seen, ["fast", "slow"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_from_many_gateways_merges() {
    let (_dir, sets) = replicas().await;
    for gateways in sets {
        eprintln!("backend: {:?}", gateways[0].backend());
        let base = OffsetDateTime::now_utc();
        let tasks: Vec<_> = gateways
            .into_iter()
            .enumerate()
            .map(|(g, store)| {
                tokio::spawn(async move {
                    for i in 0..30_i64 {
                        let seen = base + time::Duration::seconds(i * 3 + g as i64);
                        let batch = UsageBatch {
                            instance: format!("gw{g}"),
                            leaves: vec![LeafDelta {
                                namespace: "n".into(),
                                ca_fingerprint: "ca".into(),
                                leaf_fingerprint: "leaf".into(),
                                leaf_subject: "CN=c".into(),
                                leaf_not_after: base + time::Duration::days(30),
                                last_seen: seen,
                                last_handshake: Some(seen),
                                handshakes: 1,
                                requests: 2,
                            }],
                            open: vec![("n".into(), "ca".into(), g as i64 + 1)],
                        };
                        store.record_usage(&batch, base).await.unwrap();
                    }
                    store
                })
            })
            .collect();
        let mut stores = Vec::new();
        for t in tasks {
            stores.push(t.await.unwrap());
        }
        let leaves = stores[0].observed_leaves(base, Some("n")).await.unwrap();
        assert_eq!(leaves.len(), 1);
        let leaf = &leaves[0];
        assert_eq!((leaf.connections, leaf.requests), (90, 180), "sums");
        let last = base + time::Duration::seconds(29 * 3 + 2);
        assert_eq!(leaf.last_seen, last, "max of last-seen");
        assert_eq!(leaf.last_handshake, Some(last));
        assert_eq!(leaf.first_seen, base, "min of first-seen");
        assert_eq!(
            stores[1].open_connections("n", base).await.unwrap(),
            [("ca".to_owned(), 1 + 2 + 3)],
            "open connections summed over gateways"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_namespace_write_wakes_every_listener() {
    let (_dir, sets) = replicas().await;
    for [writer, l1, l2] in sets {
        let backend = writer.backend();
        let wakes: Vec<_> = (0..2)
            .map(|_| Arc::new(tokio::sync::Notify::new()))
            .collect();
        let fed = [
            l1.watch_changes(Arc::downgrade(&wakes[0])).await,
            l2.watch_changes(Arc::downgrade(&wakes[1])).await,
        ];
        if backend == Backend::Sqlite {
            assert_eq!(fed, [false, false], "SQLite has no feed: gateways poll");
            continue;
        }
        assert_eq!(fed, [true, true]);
        // The first wake is the listener's own look after connecting.
        for w in &wakes {
            tokio::time::timeout(Duration::from_secs(30), w.notified())
                .await
                .expect("listener connected");
        }
        // A write that is not about a namespace does not wake anyone…
        writer
            .append_audit(OffsetDateTime::now_utc(), change("user.login"))
            .await
            .unwrap();
        for w in &wakes {
            assert!(
                tokio::time::timeout(Duration::from_millis(300), w.notified())
                    .await
                    .is_err()
            );
        }
        // …a namespace write wakes both. How soon is a printed figure (bench/ measures the
        // gateways' "update enforced"); the deadline only catches a wake that never comes.
        let started = std::time::Instant::now();
        writer
            .create_namespace(
                "n",
                spec("A"),
                OffsetDateTime::now_utc(),
                change("namespace.create"),
            )
            .await
            .unwrap();
        for w in &wakes {
            tokio::time::timeout(Duration::from_secs(30), w.notified())
                .await
                .expect("woken by the namespace write");
        }
        eprintln!("woken after {:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_replica_leads_the_notifier() {
    let (_dir, sets) = replicas().await;
    for [a, b, _] in sets {
        let mut first = a
            .try_lead()
            .await
            .unwrap()
            .expect("the first asks and leads");
        assert!(first.held().await);
        if a.backend() == Backend::Sqlite {
            assert!(b.try_lead().await.unwrap().is_some(), "one machine: always");
            continue;
        }
        assert!(
            b.try_lead().await.unwrap().is_none(),
            "a second replica does not lead"
        );
        // The leader goes away (its connection closes): the next try takes over.
        drop(first);
        let mut took_over = None;
        for _ in 0..300 {
            if let Some(l) = b.try_lead().await.unwrap() {
                took_over = Some(l);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut lease = took_over.expect("another replica takes over");
        assert!(lease.held().await);
        assert!(a.try_lead().await.unwrap().is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_one_secret() {
    let (_dir, sets) = replicas().await;
    for [a, b, c] in sets {
        let now = OffsetDateTime::now_utc();
        let (x, y) = tokio::join!(
            a.shared_secret("s", "from-a", now),
            b.shared_secret("s", "from-b", now)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x, y, "the first to store wins, for everyone");
        assert!(x == "from-a" || x == "from-b");
        assert_eq!(c.shared_secret("s", "from-c", now).await.unwrap(), x);
        let dump = c.export().await.unwrap();
        assert!(
            !dump.to_string().contains(&x),
            "secrets stay out of exports"
        );
    }
}
