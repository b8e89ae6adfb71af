//! Who may do what: the role matrix.

use super::*;

#[tokio::test]
async fn authorisation_matrix() {
    let w = world().await;
    let roles = ["owner", "global", "admin-a", "admin-b", "reader"];
    let new_ca = ca("Acme A Root v2");
    // Who may: everyone, namespace a's readers and writers, b's readers, the admins, the owner,
    // and whoever holds the reader's key.
    const ALL: &[&str] = &["owner", "global", "admin-a", "admin-b", "reader"];
    const READ_A: &[&str] = &["owner", "global", "admin-a", "reader"];
    const WRITE_A: &[&str] = &["owner", "global", "admin-a"];
    const READ_B: &[&str] = &["owner", "global", "admin-b", "reader"];
    const ADMINS: &[&str] = &["owner", "global"];
    const OWNER: &[&str] = &["owner"];
    const KEY_HOLDERS: &[&str] = &["owner", "global", "reader"];
    // The bodies that stand more than once: a user, a role, namespace a's spec.
    let user_body = |email: &str, role: &str| Some(json!({"email": email, "role": role}));
    let role_body = |role: &str| Some(json!({"role": role}));
    let spec_a = Some(json!({"spec": spec(&w.ca_a.pem, json!([]))}));
    // (method, path, body, roles allowed)
    let cases: Vec<(&str, &str, Option<Value>, &[&str])> = vec![
        ("GET", "/api/v1/namespaces/a", None, READ_A),
        ("GET", CAS_A, None, READ_A),
        ("GET", FILTERS_A, None, READ_A),
        (
            "POST",
            FILTERS_A,
            Some(json!({"filters": [{"commonName": "x"}]})),
            WRITE_A,
        ),
        ("DELETE", FILTERS_A, None, WRITE_A),
        (
            "POST",
            CAS_A,
            Some(json!({"caCertificate": new_ca.pem})),
            WRITE_A,
        ),
        ("PUT", "/api/v1/namespaces/a", spec_a.clone(), WRITE_A),
        (
            "POST",
            "/api/v1/namespaces",
            Some(json!({"name": "c", "spec": spec(&w.ca_a.pem, json!([]))})),
            ADMINS,
        ),
        ("GET", "/api/v1/users", None, ADMINS),
        (
            "POST",
            "/api/v1/users",
            user_body("new@acme.io", "read-only"),
            ADMINS,
        ),
        (
            "POST",
            "/api/v1/users",
            user_body("boss@acme.io", "account-owner"),
            OWNER,
        ),
        ("GET", "/api/v1/audit", None, ALL),
        ("GET", "/api/v1/audit?namespace=b", None, READ_B),
        ("GET", "/api/v1/whoami", None, ALL),
        ("DELETE", "/api/v1/namespaces/b", None, ADMINS),
        ("DELETE", "/api/v1/namespaces/a", None, ADMINS),
        ("GET", "/api/v1/namespaces/b", None, READ_B),
        (
            "PUT",
            "/api/v1/namespaces/b",
            spec_a.clone(),
            &["owner", "global", "admin-b"],
        ),
        (
            "PUT",
            CAS_A,
            Some(json!({"caCertificate": format!("{}{}", w.ca_a.pem, new_ca.pem)})),
            WRITE_A,
        ),
        (
            "POST",
            REMOVE_CA_A,
            Some(json!({"fingerprint": "00ff"})),
            &[],
        ),
        (
            "PUT",
            FILTERS_A,
            Some(json!({"filters": [{"organization": "Acme"}]})),
            WRITE_A,
        ),
        ("GET", "/api/v1/namespaces", None, ALL),
        ("GET", "/api/v1/users/owner@acme.io", None, ADMINS),
        (
            "PUT",
            "/api/v1/users/reader@acme.io",
            role_body("global-admin"),
            ADMINS,
        ),
        (
            "PUT",
            "/api/v1/users/owner@acme.io",
            role_body("account-owner"),
            OWNER,
        ),
        ("DELETE", "/api/v1/users/reader@acme.io", None, ADMINS),
        ("GET", "/api/v1/apikeys", None, ALL),
        ("GET", "/api/v1/apikeys?userId=owner@acme.io", None, ADMINS),
        (
            "POST",
            "/api/v1/apikeys",
            Some(json!({"name": "mine"})),
            ALL,
        ),
        (
            "POST",
            "/api/v1/apikeys",
            Some(json!({"name": "theirs", "userId": "reader@acme.io"})),
            KEY_HOLDERS,
        ),
        ("GET", "/api/v1/openapi.json", None, ALL),
        ("DELETE", "/api/v1/apikeys/READER_KEY", None, KEY_HOLDERS),
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
                WRITE_A.contains(role)
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
    let (_, v) = w.get("/api/v1/namespaces", &w.admin_a).await;
    assert_eq!(field_of_each(&v["namespaces"], "name"), ["a"]);
    let (_, v) = w.get("/api/v1/namespaces", &w.reader).await;
    assert_eq!(v["namespaces"].as_array().unwrap().len(), 2);
}
