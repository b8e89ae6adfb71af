//! Users, API keys, and request ids scoped to their request.

use super::*;

#[tokio::test]
async fn users_and_keys() {
    let w = world().await;
    let ops = json!({"email": "ops@acme.io", "role": "namespace-admin", "namespaces": ["a"]});
    let (status, u) = w.post_json("/api/v1/users", &w.global, ops).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    let laptop = json!({"name": "ops laptop", "userId": "ops@acme.io", "duration": "90d"});
    let (status, k) = w.post_json("/api/v1/apikeys", &w.global, laptop).await;
    assert_eq!(status, StatusCode::CREATED, "{k}");
    let token = k["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(TOKEN_PREFIX));
    // Only the hash is stored.
    let stored = w.store.list_api_keys(None).await.unwrap();
    assert!(!serde_json::to_string(&stored).unwrap().contains(&token));
    let (_, me) = w.get("/api/v1/whoami", &token).await;
    assert_eq!(me["user"]["email"], "ops@acme.io");
    assert!(me["key"]["expiresAt"].as_str().is_some());
    // Revoked keys stop working at once.
    let id = k["apiKey"]["id"].as_str().unwrap();
    let (status, _) = w.delete(&format!("/api/v1/apikeys/{id}"), &token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = w.get("/api/v1/whoami", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A global admin cannot demote the owner; the last owner cannot be removed.
    let (_, users) = w.get("/api/v1/users", &w.owner).await;
    let owner_id = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["role"] == "account-owner")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = w
        .put_json(
            &format!("/api/v1/users/{owner_id}"),
            &w.global,
            json!({"role": "read-only"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = w
        .delete(&format!("/api/v1/users/{owner_id}"), &w.owner)
        .await;
    assert_rule(status, &v, (StatusCode::CONFLICT, "user.last-owner"));
    let (status, v) = w
        .post_json(
            "/api/v1/users",
            &w.owner,
            json!({"email": "not-an-email", "role": "read-only"}),
        )
        .await;
    assert_rule(status, &v, (StatusCode::BAD_REQUEST, "user.email"));
}

#[tokio::test]
async fn request_ids_are_scoped_to_their_request() {
    let w = world().await;
    let v2 = ca("Acme B Root v2");
    let (status, _) = w
        .post_json(
            "/api/v1/namespaces/b/accepted-client-ca",
            &w.owner,
            json!({"caCertificate": v2.pem, "requestId": "rid-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The admin of "a" reusing that id on "a" learns nothing about "b" and gets a conflict.
    let v3 = ca("Acme A Root v3");
    let (status, v) = w
        .post_json(
            CAS_A,
            &w.admin_a,
            json!({"caCertificate": v3.pem, "requestId": "rid-1"}),
        )
        .await;
    assert_rule(status, &v, (StatusCode::CONFLICT, "request.id-reused"));
    assert!(!v.to_string().contains("Acme B"), "{v}");
    // A retried delete with its request id is answered, not 404.
    let (status, _) = w
        .delete("/api/v1/namespaces/b?requestId=del-1", &w.owner)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = w
        .delete("/api/v1/namespaces/b?requestId=del-1", &w.owner)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Grants go with a deleted namespace.
    let (_, me) = w.get("/api/v1/whoami", &w.admin_b).await;
    assert_eq!(me["user"]["namespaces"], json!([]));
}
