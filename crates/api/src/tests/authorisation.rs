//! Who may do what: the role matrix.

use super::*;

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
            CAS_A.into(),
            None,
            &["owner", "global", "admin-a", "reader"],
        ),
        (
            "GET",
            FILTERS_A.into(),
            None,
            &["owner", "global", "admin-a", "reader"],
        ),
        (
            "POST",
            FILTERS_A.into(),
            Some(json!({"filters": [{"commonName": "x"}]})),
            &["owner", "global", "admin-a"],
        ),
        (
            "DELETE",
            FILTERS_A.into(),
            None,
            &["owner", "global", "admin-a"],
        ),
        (
            "POST",
            CAS_A.into(),
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
            CAS_A.into(),
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
            FILTERS_A.into(),
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
    let (_, v) = w.get("/api/v1/namespaces", &w.admin_a).await;
    let names: Vec<&str> = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a"]);
    let (_, v) = w.get("/api/v1/namespaces", &w.reader).await;
    assert_eq!(v["namespaces"].as_array().unwrap().len(), 2);
}
