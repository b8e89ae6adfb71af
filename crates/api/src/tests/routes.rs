//! Every documented route exists, needs a key, and answers errors as JSON.

use super::*;

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
    let (status, _) = w.get("/api/v1/namespaces", "ghk_not-a-real-key").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = w.get("/api/v1/namespaces", "something-else").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, v) = w.get("/api/v1/nope", &w.owner).await;
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
async fn every_error_is_json() {
    let w = world().await;
    let (status, v) = w
        .delete("/api/v1/namespaces/a?resourceVersion=abc", &w.owner)
        .await;
    assert_rule(status, &v, (StatusCode::BAD_REQUEST, "request.schema"));
    let (status, v) = w.get("/api/v1/audit?limit=x", &w.owner).await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_argument")),
        "{v}"
    );
    let (status, v) = w
        .patch_json("/api/v1/namespaces/a", &w.owner, json!({}))
        .await;
    assert_eq!(
        (status, v["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
        "{v}"
    );
    // Authorisation comes before body checks: no 400 for a caller who may not write.
    let (status, _) = w
        .post_json(
            "/api/v1/namespaces/b/accepted-client-ca",
            &w.admin_a,
            json!({"caCertificate": "garbage"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Non-admins cannot probe which users exist.
    let (s1, _) = w.get("/api/v1/users/owner@acme.io", &w.reader).await;
    let (s2, _) = w.get("/api/v1/users/nobody@acme.io", &w.reader).await;
    assert_eq!((s1, s2), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    // Read-only users see namespace events only.
    w.post_json(
        "/api/v1/users",
        &w.owner,
        json!({"email": "x@acme.io", "role": "read-only"}),
    )
    .await;
    let (_, log) = w.get("/api/v1/audit", &w.reader).await;
    assert!(
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["namespace"].is_null()),
        "{log}"
    );
}

#[tokio::test]
async fn a_mistyped_namespace_is_answered_with_the_nearest_names_the_caller_may_read() {
    let w = world().await;
    let (status, v) = w.get("/api/v1/namespaces/bb", &w.owner).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains(r#"did you mean "b" or "a"?"#), "{message}");
    // A namespace admin is refused before anything about other namespaces is said.
    let (status, v) = w.get("/api/v1/namespaces/bb", &w.admin_a).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(!v.to_string().contains("did you mean"), "{v}");
}
