//! The control service tells the in-process gateway about every namespace write itself, once
//! per write that changed something, whichever face made it.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[tokio::test]
async fn the_namespace_hook_fires_once_per_change() {
    let w = world().await;
    let fired = Arc::new(AtomicUsize::new(0));
    let counter = fired.clone();
    let control = Control::new(w.store.clone())
        .with_clock(Arc::new(|| NOW))
        .on_namespace_change(Arc::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }));
    let app = router(AppState::new(control));
    let count = || fired.load(Ordering::SeqCst);
    let fresh = ca("Acme A Root v2").pem;
    // A dry run and a refusal change nothing and tell nobody.
    let (s, _) = call(
        &app,
        "POST",
        CAS_A,
        Some(&w.admin_a),
        Some(json!({ "caCertificate": fresh, "dryRun": true })),
    )
    .await;
    assert_eq!((s, count()), (StatusCode::OK, 0));
    let (s, _) = call(
        &app,
        "POST",
        CAS_A,
        Some(&w.admin_a),
        Some(json!({ "caCertificate": w.ca_a.pem })),
    )
    .await;
    assert_eq!((s, count()), (StatusCode::BAD_REQUEST, 0));
    // Each write, through either route family, once.
    let (s, _) = call(
        &app,
        "POST",
        CAS_A,
        Some(&w.admin_a),
        Some(json!({ "caCertificate": fresh, "requestId": "r1" })),
    )
    .await;
    assert_eq!((s, count()), (StatusCode::OK, 1));
    // A replayed request id answers from the record without writing again.
    let (s, _) = call(
        &app,
        "POST",
        CAS_A,
        Some(&w.admin_a),
        Some(json!({ "caCertificate": fresh, "requestId": "r1" })),
    )
    .await;
    assert_eq!((s, count()), (StatusCode::OK, 1));
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/namespaces",
        Some(&w.owner),
        Some(json!({ "name": "c", "spec": spec(&ca("Acme C Root").pem, json!([])) })),
    )
    .await;
    assert_eq!((s, count()), (StatusCode::CREATED, 2));
    let (s, _) = call(&app, "DELETE", "/api/v1/namespaces/c", Some(&w.owner), None).await;
    assert_eq!((s, count()), (StatusCode::NO_CONTENT, 3));
    // Users and keys are not namespace changes.
    let (s, _) = call(
        &app,
        "POST",
        "/api/v1/users",
        Some(&w.owner),
        Some(json!({ "email": "new@acme.io", "role": "read-only" })),
    )
    .await;
    assert_eq!((s, count()), (StatusCode::CREATED, 3));
}
