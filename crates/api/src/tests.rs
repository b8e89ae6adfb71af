//! Router tests (tower `oneshot`): the authorisation matrix, the bad-input matrix, resource
//! versions, request ids, and the CA rollover rules.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use gatehouse_pki::{
    CaParams, CertificateAuthority, KeyAlgorithm, LeafParams, PrivateKey, ValidityPeriod,
};
use gatehouse_store::{Change, NamespaceSpec, Role, SqlStore};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

use crate::*;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

struct Ca {
    pem: String,
    authority: CertificateAuthority,
}

fn ca(cn: &str) -> Ca {
    let issued = CaParams {
        organization: "Acme".into(),
        common_name: Some(cn.into()),
        validity: ValidityPeriod::parse("300d").unwrap(),
        algorithm: KeyAlgorithm::EcdsaP384,
        now: NOW - Duration::days(1),
    }
    .self_signed()
    .unwrap();
    let key = PrivateKey::from_pem(issued.key.as_ref().unwrap().to_pkcs8_pem().as_bytes()).unwrap();
    let authority = CertificateAuthority::new(issued.certificate.clone(), key, NOW).unwrap();
    Ca {
        pem: issued.pem,
        authority,
    }
}

fn leaf_pem(ca: &Ca) -> String {
    LeafParams {
        organization: "Acme".into(),
        organizational_unit: None,
        common_name: Some("worker".into()),
        validity: None,
        subject_alt_names: vec![],
        now: NOW,
    }
    .signed_by(&ca.authority)
    .unwrap()
    .pem
}

/// A CA built with rcgen, for shapes Gatehouse will not issue.
fn rcgen_ca(
    cn: &str,
    f: impl FnOnce(&mut rcgen::CertificateParams),
) -> (String, rcgen::KeyPair, rcgen::CertificateParams) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    p.not_before = NOW - Duration::days(1);
    p.not_after = NOW + Duration::days(100);
    f(&mut p);
    let cert = p.self_signed(&key).unwrap();
    (cert.pem(), key, p)
}

struct World {
    app: Router,
    store: Arc<SqlStore>,
    owner: String,
    global: String,
    admin_a: String,
    admin_b: String,
    reader: String,
    reader_key: String,
    ca_a: Ca,
}

async fn world() -> World {
    let store = Arc::new(SqlStore::in_memory().await.unwrap());
    let mut tokens = Vec::new();
    let mut key_ids = Vec::new();
    for (email, role, namespaces) in [
        ("owner@acme.io", Role::AccountOwner, vec![]),
        ("global@acme.io", Role::GlobalAdmin, vec![]),
        ("a@acme.io", Role::NamespaceAdmin, vec!["a".to_owned()]),
        ("b@acme.io", Role::NamespaceAdmin, vec!["b".to_owned()]),
        ("reader@acme.io", Role::ReadOnly, vec![]),
    ] {
        let u = store
            .create_user(email, role, namespaces, NOW, Change::default())
            .await
            .unwrap();
        let token = new_token().unwrap();
        let key = store
            .create_api_key(
                &u.id,
                "test",
                &token_hash(&token),
                None,
                NOW,
                Change::default(),
            )
            .await
            .unwrap();
        key_ids.push(key.id);
        tokens.push(token);
    }
    let ca_a = ca("Acme A Root");
    for (name, pem) in [("a", ca_a.pem.clone()), ("b", ca("Acme B Root").pem)] {
        let spec = NamespaceSpec {
            accepted_client_ca: pem,
            certificate_filters: vec![],
        };
        store
            .create_namespace(name, spec, NOW, Change::default())
            .await
            .unwrap();
    }
    let state = AppState {
        store: store.clone(),
        clock: Arc::new(|| NOW),
        metrics: Vec::new(),
        after_namespace_write: Vec::new(),
        session_key: crate::random_session_key(),
        auth_limiter: Default::default(),
    };
    let mut t = tokens.into_iter();
    let mut next = || t.next().unwrap();
    World {
        app: router(state),
        store,
        owner: next(),
        global: next(),
        admin_a: next(),
        admin_b: next(),
        reader: next(),
        reader_key: key_ids[4].clone(),
        ca_a,
    }
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

fn spec(pem: &str, filters: Value) -> Value {
    json!({ "mtlsAuth": { "acceptedClientCa": pem, "certificateFilters": filters } })
}

#[tokio::test]
async fn every_documented_route_exists_and_needs_a_key() {
    let w = world().await;
    for (method, path, access, _, _) in ROUTES {
        let path = path.replace("{namespace}", "a").replace("{id}", "x");
        let body = (*method == "post" || *method == "put").then(|| json!({}));
        let (status, v) = call(&w.app, &method.to_uppercase(), &path, None, body).await;
        if matches!(access, Access::Public) {
            assert_eq!(status, StatusCode::OK, "{method} {path}");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {v}");
            assert_eq!(v["code"], "unauthenticated");
        }
    }
    let (status, _) = call(
        &w.app,
        "GET",
        "/api/v1/namespaces",
        Some("ghk_not-a-real-key"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &w.app,
        "GET",
        "/api/v1/namespaces",
        Some("something-else"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = call(&w.app, "GET", "/api/v1/nope", Some(&w.owner), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // The document lists exactly the routes.
    let (_, doc) = call(&w.app, "GET", "/api/v1/openapi.json", None, None).await;
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, ROUTES.len());
    // Every path parameter is declared.
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for op in ops.as_object().unwrap().values() {
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    op["parameters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|p| p["name"] == name && p["in"] == "path"),
                    "{path}: parameter {name} not declared"
                );
            }
        }
    }
}

#[tokio::test]
async fn authorisation_matrix() {
    let w = world().await;
    let roles = ["owner", "global", "admin-a", "admin-b", "reader"];
    let new_ca = ca("Acme A Root v2");
    // (method, path, body, roles allowed)
    let cases: Vec<(&str, String, Option<Value>, &[&str])> = vec![
        (
            "GET",
            "/api/v1/namespaces/a".into(),
            None,
            &["owner", "global", "admin-a", "reader"],
        ),
        (
            "GET",
            "/api/v1/namespaces/a/accepted-client-ca".into(),
            None,
            &["owner", "global", "admin-a", "reader"],
        ),
        (
            "GET",
            "/api/v1/namespaces/a/certificate-filters".into(),
            None,
            &["owner", "global", "admin-a", "reader"],
        ),
        (
            "POST",
            "/api/v1/namespaces/a/certificate-filters".into(),
            Some(json!({"filters": [{"commonName": "x"}]})),
            &["owner", "global", "admin-a"],
        ),
        (
            "DELETE",
            "/api/v1/namespaces/a/certificate-filters".into(),
            None,
            &["owner", "global", "admin-a"],
        ),
        (
            "POST",
            "/api/v1/namespaces/a/accepted-client-ca".into(),
            Some(json!({"caCertificate": new_ca.pem})),
            &["owner", "global", "admin-a"],
        ),
        (
            "PUT",
            "/api/v1/namespaces/a".into(),
            Some(json!({"spec": spec(&w.ca_a.pem, json!([]))})),
            &["owner", "global", "admin-a"],
        ),
        (
            "POST",
            "/api/v1/namespaces".into(),
            Some(json!({"name": "c", "spec": spec(&w.ca_a.pem, json!([]))})),
            &["owner", "global"],
        ),
        ("GET", "/api/v1/users".into(), None, &["owner", "global"]),
        (
            "POST",
            "/api/v1/users".into(),
            Some(json!({"email": "new@acme.io", "role": "read-only"})),
            &["owner", "global"],
        ),
        (
            "POST",
            "/api/v1/users".into(),
            Some(json!({"email": "boss@acme.io", "role": "account-owner"})),
            &["owner"],
        ),
        (
            "GET",
            "/api/v1/audit".into(),
            None,
            &["owner", "global", "admin-a", "admin-b", "reader"],
        ),
        (
            "GET",
            "/api/v1/audit?namespace=b".into(),
            None,
            &["owner", "global", "admin-b", "reader"],
        ),
        (
            "GET",
            "/api/v1/whoami".into(),
            None,
            &["owner", "global", "admin-a", "admin-b", "reader"],
        ),
        (
            "DELETE",
            "/api/v1/namespaces/b".into(),
            None,
            &["owner", "global"],
        ),
        (
            "DELETE",
            "/api/v1/namespaces/a".into(),
            None,
            &["owner", "global"],
        ),
        (
            "GET",
            "/api/v1/namespaces/b".into(),
            None,
            &["owner", "global", "admin-b", "reader"],
        ),
        (
            "PUT",
            "/api/v1/namespaces/b".into(),
            Some(json!({"spec": spec(&w.ca_a.pem, json!([]))})),
            &["owner", "global", "admin-b"],
        ),
        (
            "PUT",
            "/api/v1/namespaces/a/accepted-client-ca".into(),
            Some(json!({"caCertificate": format!("{}{}", w.ca_a.pem, new_ca.pem)})),
            &["owner", "global", "admin-a"],
        ),
        (
            "POST",
            "/api/v1/namespaces/a/accepted-client-ca/remove".into(),
            Some(json!({"fingerprint": "00ff"})),
            &[],
        ),
        (
            "PUT",
            "/api/v1/namespaces/a/certificate-filters".into(),
            Some(json!({"filters": [{"organization": "Acme"}]})),
            &["owner", "global", "admin-a"],
        ),
        (
            "GET",
            "/api/v1/namespaces".into(),
            None,
            &["owner", "global", "admin-a", "admin-b", "reader"],
        ),
        (
            "GET",
            "/api/v1/users/owner@acme.io".into(),
            None,
            &["owner", "global"],
        ),
        (
            "PUT",
            "/api/v1/users/reader@acme.io".into(),
            Some(json!({"role": "global-admin"})),
            &["owner", "global"],
        ),
        (
            "PUT",
            "/api/v1/users/owner@acme.io".into(),
            Some(json!({"role": "account-owner"})),
            &["owner"],
        ),
        (
            "DELETE",
            "/api/v1/users/reader@acme.io".into(),
            None,
            &["owner", "global"],
        ),
        (
            "GET",
            "/api/v1/apikeys".into(),
            None,
            &["owner", "global", "admin-a", "admin-b", "reader"],
        ),
        (
            "GET",
            "/api/v1/apikeys?userId=owner@acme.io".into(),
            None,
            &["owner", "global"],
        ),
        (
            "POST",
            "/api/v1/apikeys".into(),
            Some(json!({"name": "mine"})),
            &["owner", "global", "admin-a", "admin-b", "reader"],
        ),
        (
            "POST",
            "/api/v1/apikeys".into(),
            Some(json!({"name": "theirs", "userId": "reader@acme.io"})),
            &["owner", "global", "reader"],
        ),
        (
            "GET",
            "/api/v1/openapi.json".into(),
            None,
            &["owner", "global", "admin-a", "admin-b", "reader"],
        ),
        (
            "DELETE",
            "/api/v1/apikeys/READER_KEY".into(),
            None,
            &["owner", "global", "reader"],
        ),
    ];
    for (method, path, body, allowed) in cases {
        for role in &roles {
            // Each attempt runs against a fresh world so earlier successes change nothing.
            let w2 = world().await;
            let token = match *role {
                "owner" => &w2.owner,
                "global" => &w2.global,
                "admin-a" => &w2.admin_a,
                "admin-b" => &w2.admin_b,
                _ => &w2.reader,
            };
            let path = path.replace("READER_KEY", &w2.reader_key);
            let (status, v) = call(&w2.app, method, &path, Some(token), body.clone()).await;
            let ok = !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
            let expected = if allowed.is_empty() {
                // Allowed to try, but nothing matches the fingerprint: writers get 404.
                ["owner", "global", "admin-a"].contains(role)
            } else {
                allowed.contains(role)
            };
            assert_eq!(ok, expected, "{role} {method} {path}: {status} {v}");
            if !ok {
                assert_eq!(v["code"], "permission_denied", "{role} {method} {path}");
            } else if allowed.is_empty() {
                assert_eq!(v["code"], "not_found", "{role} {method} {path}: {v}");
            } else {
                assert!(status.is_success(), "{role} {method} {path}: {status} {v}");
            }
        }
    }
    // Namespace admins only see their own namespaces in lists.
    let (_, v) = call(&w.app, "GET", "/api/v1/namespaces", Some(&w.admin_a), None).await;
    let names: Vec<&str> = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    let (_, v) = call(&w.app, "GET", "/api/v1/namespaces", Some(&w.reader), None).await;
    assert_eq!(v["namespaces"].as_array().unwrap().len(), 2);
}

/// Every bad write is a 4xx naming the rule, and the stored state is byte-identical after.
#[tokio::test]
async fn bad_input_matrix_changes_nothing() {
    let w = world().await;
    let root = &w.ca_a;
    let other_roots: Vec<String> = (0..16)
        .map(|i| ca(&format!("Extra Root {i}")).pem)
        .collect();
    let seventeen = format!("{}{}", root.pem, other_roots.concat());
    let big = format!("{}{}", root.pem, "# padding\n".repeat(3400));
    let leaf = leaf_pem(root);
    // SHA-1: relabel an ECDSA-SHA256 root's algorithm as ecdsa-with-SHA1 (…04 01, one byte
    // shorter, so re-encode by text edit of the OID inside base64 is impractical): use RSA-free
    // ecdsa-with-SHA224 instead, which is refused by the same rule, and sha1 is covered by the
    // e2e tests with OpenSSL.
    let (p256_pem, _, _) = rcgen_ca("Weak Root", |_| {});
    let weak = relabel(&p256_pem);
    let (inter_parent_pem, parent_key, parent_params) = rcgen_ca("Parent Root", |_| {});
    let _ = inter_parent_pem;
    let inter = {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = parent_params.clone();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "Orphan Intermediate");
        p.signed_by(
            &key,
            &rcgen::Issuer::from_params(&parent_params, &parent_key),
        )
        .unwrap()
        .pem()
    };
    let sha1_rsa = {
        let key =
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .unwrap();
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "SHA1 Root");
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.not_before = NOW - Duration::days(1);
        p.not_after = NOW + Duration::days(100);
        // sha256WithRSAEncryption (…01 01 0b) relabelled sha1WithRSAEncryption (…01 01 05).
        relabel_oid(
            &p.self_signed(&key).unwrap().pem(),
            &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b],
            0x05,
        )
    };
    let filters = |n: usize| {
        json!((0..n)
            .map(|i| json!({"commonName": format!("cn{i}")}))
            .collect::<Vec<_>>())
    };
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "malformed PEM",
            json!({"spec": spec("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", json!([]))}),
            StatusCode::BAD_REQUEST,
            "bundle.malformed",
        ),
        (
            "not PEM at all",
            json!({"spec": spec("hello", json!([]))}),
            StatusCode::BAD_REQUEST,
            "bundle.malformed",
        ),
        (
            "empty bundle",
            json!({"spec": spec("", json!([]))}),
            StatusCode::BAD_REQUEST,
            "bundle.empty",
        ),
        (
            "17 certificates",
            json!({"spec": spec(&seventeen, json!([]))}),
            StatusCode::BAD_REQUEST,
            "bundle.max-certs",
        ),
        (
            "33 KB",
            json!({"spec": spec(&big, json!([]))}),
            StatusCode::PAYLOAD_TOO_LARGE,
            "bundle.max-size",
        ),
        (
            "a leaf in the bundle",
            json!({"spec": spec(&format!("{}{leaf}", root.pem), json!([]))}),
            StatusCode::BAD_REQUEST,
            "ca.is-ca",
        ),
        (
            "weak signature",
            json!({"spec": spec(&weak, json!([]))}),
            StatusCode::BAD_REQUEST,
            "cert.signature-algorithm",
        ),
        (
            "SHA-1 CA",
            json!({"spec": spec(&sha1_rsa, json!([]))}),
            StatusCode::BAD_REQUEST,
            "cert.signature-algorithm",
        ),
        (
            "CA not rooted in the bundle",
            json!({"spec": spec(&inter, json!([]))}),
            StatusCode::BAD_REQUEST,
            "ca.chains-in-bundle",
        ),
        (
            "filter *",
            json!({"spec": spec(&root.pem, json!([{"commonName": "*"}]))}),
            StatusCode::BAD_REQUEST,
            "filter.wildcard",
        ),
        (
            "filter a*b",
            json!({"spec": spec(&root.pem, json!([{"commonName": "a*b"}]))}),
            StatusCode::BAD_REQUEST,
            "filter.wildcard",
        ),
        (
            "filter *a*",
            json!({"spec": spec(&root.pem, json!([{"commonName": "*a*"}]))}),
            StatusCode::BAD_REQUEST,
            "filter.wildcard",
        ),
        (
            "empty filter",
            json!({"spec": spec(&root.pem, json!([{}]))}),
            StatusCode::BAD_REQUEST,
            "filter.empty",
        ),
        (
            "26 filters",
            json!({"spec": spec(&root.pem, filters(26))}),
            StatusCode::BAD_REQUEST,
            "filter.max-count",
        ),
        (
            "duplicate filters",
            json!({"spec": spec(&root.pem, json!([{"commonName": "x"}, {"commonName": "X"}]))}),
            StatusCode::BAD_REQUEST,
            "filter.duplicate",
        ),
        (
            "stale resourceVersion",
            json!({"spec": spec(&root.pem, json!([])), "resourceVersion": "0"}),
            StatusCode::CONFLICT,
            "namespace.resource-version",
        ),
        (
            "unknown field",
            json!({"spec": spec(&root.pem, json!([])), "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "request.schema",
        ),
        (
            "unknown filter field",
            json!({"spec": spec(&root.pem, json!([{"cn": "x"}]))}),
            StatusCode::BAD_REQUEST,
            "request.schema",
        ),
        (
            "bad resourceVersion",
            json!({"spec": spec(&root.pem, json!([])), "resourceVersion": "abc"}),
            StatusCode::BAD_REQUEST,
            "request.schema",
        ),
    ];
    let (_, before) = call(&w.app, "GET", "/api/v1/namespaces/a", Some(&w.owner), None).await;
    let audit_before = w
        .store
        .list_audit(gatehouse_store::AuditQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .len();
    for (name, body, status, rule) in cases {
        let (got, v) = call(
            &w.app,
            "PUT",
            "/api/v1/namespaces/a",
            Some(&w.owner),
            Some(body),
        )
        .await;
        assert_eq!(got, status, "{name}: {v}");
        let rules: Vec<&str> = v["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["rule"].as_str().unwrap())
            .collect();
        assert!(
            rules.contains(&rule),
            "{name}: expected {rule}, got {rules:?}: {v}"
        );
        let (_, after) = call(&w.app, "GET", "/api/v1/namespaces/a", Some(&w.owner), None).await;
        assert_eq!(after, before, "{name} changed the namespace");
    }
    // Violations name the certificate.
    let (_, v) = call(
        &w.app,
        "PUT",
        "/api/v1/namespaces/a",
        Some(&w.owner),
        Some(json!({"spec": spec(&format!("{}{leaf}", root.pem), json!([]))})),
    )
    .await;
    let viol = &v["violations"][0];
    assert!(
        viol["subject"].as_str().unwrap().contains("worker")
            && viol["fingerprint"].as_str().unwrap().len() == 64,
        "{v}"
    );
    let audit_after = w
        .store
        .list_audit(gatehouse_store::AuditQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .len();
    assert_eq!(
        audit_before, audit_after,
        "refused writes leave no audit events"
    );
    // Body over the request limit.
    let huge = "x".repeat(MAX_BODY_BYTES + 10);
    let (status, v) = call(
        &w.app,
        "PUT",
        "/api/v1/namespaces/a",
        Some(&w.owner),
        Some(json!({"spec": spec(&huge, json!([]))})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    // Namespace names become DNS labels.
    for bad in ["UPPER", "under_score", "-dash", "a..b", ""] {
        let (status, v) = call(
            &w.app,
            "POST",
            "/api/v1/namespaces",
            Some(&w.owner),
            Some(json!({"name": bad, "spec": spec(&root.pem, json!([]))})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_eq!(v["violations"][0]["rule"], "namespace.name");
    }
}

/// Replace the ecdsa-with-SHA256 algorithm identifier (in TBS and outside) by
/// ecdsa-with-SHA224, an equal-length OID that Temporal's rule refuses.
fn relabel(pem: &str) -> String {
    relabel_oid(pem, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02], 0x01)
}

/// Replaces the last byte of every occurrence of `oid` in the certificate's DER.
fn relabel_oid(pem: &str, oid: &[u8], last: u8) -> String {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut hits = 0;
    let mut i = 0;
    while i + oid.len() <= der.len() {
        if der[i..i + oid.len()] == *oid {
            der[i + oid.len() - 1] = last;
            hits += 1;
        }
        i += 1;
    }
    assert_eq!(hits, 2, "the algorithm appears in the TBS and outside it");
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
}

#[tokio::test]
async fn versions_request_ids_and_rollover() {
    let w = world().await;
    let a = |v: &Value| v["resourceVersion"].as_str().unwrap().to_owned();
    let (_, ns) = call(
        &w.app,
        "GET",
        "/api/v1/namespaces/a",
        Some(&w.admin_a),
        None,
    )
    .await;
    assert_eq!(a(&ns), "1");
    // Rollover: add the new CA with a distinct subject…
    let v2 = ca("Acme A Root v2");
    // …a dry run first: validated and answered with the would-be namespace, nothing stored,
    // and no audit event.
    let audit = |w: &World| {
        let store = w.store.clone();
        async move {
            store
                .list_audit(gatehouse_store::AuditQuery {
                    limit: 1000,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len()
        }
    };
    let events = audit(&w).await;
    let (status, would) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.admin_a),
        Some(json!({"caCertificate": v2.pem, "resourceVersion": "1", "dryRun": true})),
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
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/certificate-filters",
        Some(&w.admin_a),
        Some(json!({"filters": [{"commonName": "code.*.com"}], "dryRun": true})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, v) = call(
        &w.app,
        "DELETE",
        "/api/v1/namespaces/a?dryRun=true&resourceVersion=7",
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (_, still) = call(
        &w.app,
        "GET",
        "/api/v1/namespaces/a",
        Some(&w.admin_a),
        None,
    )
    .await;
    assert_eq!(a(&still), "1");
    assert_eq!(audit(&w).await, events);
    let (status, ns) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.admin_a),
        Some(json!({"caCertificate": v2.pem, "resourceVersion": "1", "requestId": "rot-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ns}");
    assert_eq!(a(&ns), "2");
    assert_eq!(ns["acceptedClientCas"].as_array().unwrap().len(), 2);
    // …a retry with the same request id is answered from the record, not applied twice.
    let (status, again) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.admin_a),
        Some(json!({"caCertificate": v2.pem, "resourceVersion": "1", "requestId": "rot-1"})),
    )
    .await;
    assert_eq!(
        (status, a(&again)),
        (StatusCode::OK, "2".to_owned()),
        "{again}"
    );
    // A CA whose subject equals one already there is refused (rollover rule).
    let same_name = ca("Acme A Root");
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.admin_a),
        Some(json!({"caCertificate": same_name.pem})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["violations"][0]["rule"], "bundle.unique-subject", "{v}");
    // Remove the old one by tcld's SHA-1 fingerprint.
    let sha1 = ns["acceptedClientCas"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sha1.len(), 40);
    let (status, ns) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca/remove",
        Some(&w.admin_a),
        Some(json!({"fingerprint": sha1})),
    )
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
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca/remove",
        Some(&w.admin_a),
        Some(json!({"fingerprint": sha256})),
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bundle.empty"))
    );
    // The audit log has who, what and the fingerprints before/after.
    let (_, log) = call(
        &w.app,
        "GET",
        "/api/v1/audit?namespace=a&limit=10",
        Some(&w.admin_a),
        None,
    )
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
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.owner),
        Some(json!({"caCertificate": short_pem})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // Ten days later the short CA has expired; the store is unchanged, the clock moved.
    let later = AppState {
        store: w.store.clone(),
        clock: Arc::new(|| NOW + Duration::days(10)),
        metrics: Vec::new(),
        after_namespace_write: Vec::new(),
        session_key: crate::random_session_key(),
        auth_limiter: Default::default(),
    };
    let app = router(later);
    let v3 = ca("Acme A Root v3");
    let (status, v) = call(
        &app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
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
        "/api/v1/namespaces/a/accepted-client-ca/remove",
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
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.owner),
        Some(json!({"caCertificate": dead})),
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cert.expired")),
        "{v}"
    );
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
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.owner),
        Some(json!({"caCertificate": isrg})),
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ca.well-known")),
        "{v}"
    );
    let (status, _) = call(
        &w.app,
        "PUT",
        "/api/v1/namespaces/a/certificate-filters",
        Some(&w.owner),
        Some(json!({"filters": [{"commonName": "worker.acme.io"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.owner),
        Some(json!({"caCertificate": isrg})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = call(
        &w.app,
        "DELETE",
        "/api/v1/namespaces/a/certificate-filters",
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ca.well-known")),
        "{v}"
    );
    let (_, f) = call(
        &w.app,
        "GET",
        "/api/v1/namespaces/a/certificate-filters",
        Some(&w.reader),
        None,
    )
    .await;
    assert_eq!(f["filters"], json!([{"commonName": "worker.acme.io"}]));
}

#[tokio::test]
async fn users_and_keys() {
    let w = world().await;
    let (status, u) = call(
        &w.app,
        "POST",
        "/api/v1/users",
        Some(&w.global),
        Some(json!({"email": "ops@acme.io", "role": "namespace-admin", "namespaces": ["a"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    let (status, k) = call(
        &w.app,
        "POST",
        "/api/v1/apikeys",
        Some(&w.global),
        Some(json!({"name": "ops laptop", "userId": "ops@acme.io", "duration": "90d"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{k}");
    let token = k["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(TOKEN_PREFIX));
    // Only the hash is stored.
    let stored = w.store.list_api_keys(None).await.unwrap();
    assert!(!serde_json::to_string(&stored).unwrap().contains(&token));
    let (_, me) = call(&w.app, "GET", "/api/v1/whoami", Some(&token), None).await;
    assert_eq!(me["user"]["email"], "ops@acme.io");
    assert!(me["key"]["expiresAt"].as_str().is_some());
    // Revoked keys stop working at once.
    let id = k["apiKey"]["id"].as_str().unwrap();
    let (status, _) = call(
        &w.app,
        "DELETE",
        &format!("/api/v1/apikeys/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&w.app, "GET", "/api/v1/whoami", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A global admin cannot demote the owner; the last owner cannot be removed.
    let (_, users) = call(&w.app, "GET", "/api/v1/users", Some(&w.owner), None).await;
    let owner_id = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["role"] == "account-owner")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = call(
        &w.app,
        "PUT",
        &format!("/api/v1/users/{owner_id}"),
        Some(&w.global),
        Some(json!({"role": "read-only"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = call(
        &w.app,
        "DELETE",
        &format!("/api/v1/users/{owner_id}"),
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::CONFLICT, Some("user.last-owner"))
    );
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/users",
        Some(&w.owner),
        Some(json!({"email": "not-an-email", "role": "read-only"})),
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::BAD_REQUEST, Some("user.email"))
    );
}

#[tokio::test]
async fn request_ids_are_scoped_to_their_request() {
    let w = world().await;
    let v2 = ca("Acme B Root v2");
    let (status, _) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/b/accepted-client-ca",
        Some(&w.owner),
        Some(json!({"caCertificate": v2.pem, "requestId": "rid-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The admin of "a" reusing that id on "a" learns nothing about "b" and gets a conflict.
    let v3 = ca("Acme A Root v3");
    let (status, v) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/a/accepted-client-ca",
        Some(&w.admin_a),
        Some(json!({"caCertificate": v3.pem, "requestId": "rid-1"})),
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::CONFLICT, Some("request.id-reused")),
        "{v}"
    );
    assert!(!v.to_string().contains("Acme B"), "{v}");
    // A retried delete with its request id is answered, not 404.
    let (status, _) = call(
        &w.app,
        "DELETE",
        "/api/v1/namespaces/b?requestId=del-1",
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(
        &w.app,
        "DELETE",
        "/api/v1/namespaces/b?requestId=del-1",
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Grants go with a deleted namespace.
    let (_, me) = call(&w.app, "GET", "/api/v1/whoami", Some(&w.admin_b), None).await;
    assert_eq!(me["user"]["namespaces"], json!([]));
}

#[tokio::test]
async fn every_error_is_json() {
    let w = world().await;
    let (status, v) = call(
        &w.app,
        "DELETE",
        "/api/v1/namespaces/a?resourceVersion=abc",
        Some(&w.owner),
        None,
    )
    .await;
    assert_eq!(
        (status, v["violations"][0]["rule"].as_str()),
        (StatusCode::BAD_REQUEST, Some("request.schema")),
        "{v}"
    );
    let (status, v) = call(&w.app, "GET", "/api/v1/audit?limit=x", Some(&w.owner), None).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_argument")),
        "{v}"
    );
    let (status, v) = call(
        &w.app,
        "PATCH",
        "/api/v1/namespaces/a",
        Some(&w.owner),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
        "{v}"
    );
    // Authorisation comes before body checks: no 400 for a caller who may not write.
    let (status, _) = call(
        &w.app,
        "POST",
        "/api/v1/namespaces/b/accepted-client-ca",
        Some(&w.admin_a),
        Some(json!({"caCertificate": "garbage"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Non-admins cannot probe which users exist.
    let (s1, _) = call(
        &w.app,
        "GET",
        "/api/v1/users/owner@acme.io",
        Some(&w.reader),
        None,
    )
    .await;
    let (s2, _) = call(
        &w.app,
        "GET",
        "/api/v1/users/nobody@acme.io",
        Some(&w.reader),
        None,
    )
    .await;
    assert_eq!((s1, s2), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    // Read-only users see namespace events only.
    call(
        &w.app,
        "POST",
        "/api/v1/users",
        Some(&w.owner),
        Some(json!({"email": "x@acme.io", "role": "read-only"})),
    )
    .await;
    let (_, log) = call(&w.app, "GET", "/api/v1/audit", Some(&w.reader), None).await;
    assert!(
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["namespace"].is_null()),
        "{log}"
    );
}
