//! The control service tells the in-process gateway about every namespace write itself, once
//! per write that changed something, whichever face made it.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[tokio::test]
async fn the_namespace_hook_fires_once_per_change() {
    let mut w = world().await;
    let fired = Arc::new(AtomicUsize::new(0));
    let counter = fired.clone();
    let control = Control::new(w.store.clone())
        .with_clock(Arc::new(|| NOW))
        .on_namespace_change(Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }));
    w.app = router(AppState::new(control));
    let count = || fired.load(Ordering::SeqCst);
    let fresh = ca("Acme A Root v2").pem;
    // A dry run and a refusal change nothing and tell nobody.
    let dry_run = json!({ "caCertificate": fresh, "dryRun": true });
    let (s, _) = w.post_json(CAS_A, &w.admin_a, dry_run).await;
    assert_eq!((s, count()), (StatusCode::OK, 0));
    let duplicate = json!({ "caCertificate": w.ca_a.pem });
    let (s, _) = w.post_json(CAS_A, &w.admin_a, duplicate).await;
    assert_eq!((s, count()), (StatusCode::BAD_REQUEST, 0));
    // Each write, through either route family, once. The second time round, the replayed
    // request id answers from the record without writing again.
    for _ in 0..2 {
        let write = json!({ "caCertificate": fresh, "requestId": "r1" });
        let (s, _) = w.post_json(CAS_A, &w.admin_a, write).await;
        assert_eq!((s, count()), (StatusCode::OK, 1));
    }
    let namespace = json!({ "name": "c", "spec": spec(&ca("Acme C Root").pem, json!([])) });
    let (s, _) = w.post_json("/api/v1/namespaces", &w.owner, namespace).await;
    assert_eq!((s, count()), (StatusCode::CREATED, 2));
    let (s, _) = w.delete("/api/v1/namespaces/c", &w.owner).await;
    assert_eq!((s, count()), (StatusCode::NO_CONTENT, 3));
    // Users and keys are not namespace changes.
    let user = json!({ "email": "new@acme.io", "role": "read-only" });
    let (s, _) = w.post_json("/api/v1/users", &w.owner, user).await;
    assert_eq!((s, count()), (StatusCode::CREATED, 3));
}
