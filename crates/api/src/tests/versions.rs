//! Resource versions, request ids, CA rollover, expired and well-known CAs.

use super::*;

#[tokio::test]
async fn versions_request_ids_and_rollover() {
    let w = world().await;
    let a = |v: &Value| v["resourceVersion"].as_str().unwrap().to_owned();
    let (_, ns) = w.get("/api/v1/namespaces/a", &w.admin_a).await;
    assert_eq!(a(&ns), "1");
    // Rollover: add the new CA with a distinct subject…
    let v2 = ca("Acme A Root v2");
    // …a dry run first: validated and answered with the would-be namespace, nothing stored,
    // and no audit event.
    let events = w.audit_count().await;
    let (status, would) = w
        .post_json(
            CAS_A,
            &w.admin_a,
            json!({"caCertificate": v2.pem, "resourceVersion": "1", "dryRun": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{would}");
    assert_eq!(
        (
            a(&would),
            would["acceptedClientCas"].as_array().unwrap().len()
        ),
        ("1".to_owned(), 2)
    );
    let (status, v) = w
        .post_json(
            FILTERS_A,
            &w.admin_a,
            json!({"filters": [{"commonName": "code.*.com"}], "dryRun": true}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = w
        .delete(
            "/api/v1/namespaces/a?dryRun=true&resourceVersion=7",
            &w.owner,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (_, still) = w.get("/api/v1/namespaces/a", &w.admin_a).await;
    assert_eq!(a(&still), "1");
    assert_eq!(w.audit_count().await, events);
    let rotate = json!({"caCertificate": v2.pem, "resourceVersion": "1", "requestId": "rot-1"});
    let (status, ns) = w.post_json(CAS_A, &w.admin_a, rotate.clone()).await;
    assert_eq!(status, StatusCode::OK, "{ns}");
    assert_eq!(a(&ns), "2");
    assert_eq!(ns["acceptedClientCas"].as_array().unwrap().len(), 2);
    // …a retry with the same request id is answered from the record, not applied twice.
    let (status, again) = w.post_json(CAS_A, &w.admin_a, rotate).await;
    assert_eq!(
        (status, a(&again)),
        (StatusCode::OK, "2".to_owned()),
        "{again}"
    );
    // A CA whose subject equals one already there is refused (rollover rule).
    let same_name = ca("Acme A Root");
    let (status, v) = w
        .post_json(CAS_A, &w.admin_a, json!({"caCertificate": same_name.pem}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["violations"][0]["rule"], "bundle.unique-subject", "{v}");
    // Remove the old one by tcld's SHA-1 fingerprint.
    let sha1 = ns["acceptedClientCas"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sha1.len(), 40);
    let (status, ns) = w
        .post_json(REMOVE_CA_A, &w.admin_a, json!({"fingerprint": sha1}))
        .await;
    assert_eq!(status, StatusCode::OK, "{ns}");
    assert_eq!(ns["acceptedClientCas"].as_array().unwrap().len(), 1);
    assert!(ns["acceptedClientCas"][0]["subject"]
        .as_str()
        .unwrap()
        .contains("v2"));
    // Removing the last CA would leave the namespace without one.
    let sha256 = ns["acceptedClientCas"][0]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = w
        .post_json(REMOVE_CA_A, &w.admin_a, json!({"fingerprint": sha256}))
        .await;
    assert_rule(status, &v, (StatusCode::BAD_REQUEST, "bundle.empty"));
    // The audit log has who, what and the fingerprints before/after.
    let (_, log) = w
        .get("/api/v1/audit?namespace=a&limit=10", &w.admin_a)
        .await;
    let events = log["events"].as_array().unwrap();
    assert_eq!(events[0]["action"], "namespace.accepted-client-ca.remove");
    assert!(events[0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("a@acme.io"));
    assert_eq!(
        events[0]["before"]["caFingerprints"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        events[0]["after"]["caFingerprints"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn expired_cas_do_not_block_removal_but_cannot_be_added() {
    let w = world().await;
    let (short_pem, _, _) = rcgen_ca("Short Root", |p| p.not_after = NOW + Duration::days(2));
    let (status, v) = w
        .post_json(CAS_A, &w.owner, json!({"caCertificate": short_pem}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // Ten days later the short CA has expired; the store is unchanged, the clock moved.
    let later = AppState::new(
        Control::new(w.store.clone()).with_clock(Arc::new(|| NOW + Duration::days(10))),
    );
    let app = router(later);
    let v3 = ca("Acme A Root v3");
    let (status, v) = call(
        &app,
        "POST",
        CAS_A,
        Some(&w.owner),
        Some(json!({"caCertificate": v3.pem})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "adding a CA must work while another has expired: {v}"
    );
    let expired_fp = v["acceptedClientCas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subject"].as_str().unwrap().contains("Short"))
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = call(
        &app,
        "POST",
        REMOVE_CA_A,
        Some(&w.owner),
        Some(json!({"fingerprint": expired_fp})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "removing an expired CA must work (tcld #406): {v}"
    );
    // A CA that has already expired cannot be added.
    let (dead, _, _) = rcgen_ca("Dead Root", |p| {
        p.not_before = NOW - Duration::days(30);
        p.not_after = NOW - Duration::days(1);
    });
    let (status, v) = w
        .post_json(CAS_A, &w.owner, json!({"caCertificate": dead}))
        .await;
    assert_rule(status, &v, (StatusCode::BAD_REQUEST, "cert.expired"));
}

#[tokio::test]
async fn well_known_cas_need_filters_that_cannot_be_cleared() {
    let w = world().await;
    let (isrg, _, _) = rcgen_ca("ISRG Root X1", |p| {
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(rcgen::DnType::CountryName, "US");
        p.distinguished_name.push(
            rcgen::DnType::OrganizationName,
            "Internet Security Research Group",
        );
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "ISRG Root X1");
    });
    let (status, v) = w
        .post_json(CAS_A, &w.owner, json!({"caCertificate": isrg}))
        .await;
    assert_rule(status, &v, (StatusCode::BAD_REQUEST, "ca.well-known"));
    let (status, _) = w
        .put_json(
            FILTERS_A,
            &w.owner,
            json!({"filters": [{"commonName": "worker.acme.io"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = w
        .post_json(CAS_A, &w.owner, json!({"caCertificate": isrg}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = w.delete(FILTERS_A, &w.owner).await;
    assert_rule(status, &v, (StatusCode::BAD_REQUEST, "ca.well-known"));
    let (_, f) = w.get(FILTERS_A, &w.reader).await;
    assert_eq!(f["filters"], json!([{"commonName": "worker.acme.io"}]));
}
