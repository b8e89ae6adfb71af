//! The admin API's JSON bodies through the real router (axum, an in-memory SQLite store, the
//! owner's key): the namespace writes on an existing namespace, each as a dry run (a JSON
//! object body gets `"dryRun": true`), and a user update of a user that does not exist, so the
//! store never changes and every input runs against the same state. No input may get a 5xx or
//! a panic. Input: [endpoint selector][body…]. (Namespace creation has no dry run; the router
//! tests cover its body, which shares the spec with the update fuzzed here.)
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gatehouse_api::{new_token, router, token_hash, AppState, Control};
use gatehouse_store::{Change, Role, SqlStore};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

struct Api {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    token: String,
}

fn api() -> &'static Api {
    static A: OnceLock<Api> = OnceLock::new();
    A.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (app, token) = rt.block_on(async {
            let store = Arc::new(SqlStore::in_memory().await.expect("store"));
            let now = time::OffsetDateTime::now_utc();
            let user = store
                .create_user("owner@acme.io", Role::AccountOwner, vec![], now, Change::default())
                .await
                .expect("user");
            let token = new_token().expect("token");
            store
                .create_api_key(&user.id, "fuzz", &token_hash(&token), None, now, Change::default())
                .await
                .expect("key");
            let app = router(AppState::new(Control::new(store)));
            // Namespace "a", so the writes on it reach their validation.
            let ca = gatehouse_pki::CaParams {
                organization: "Acme".into(),
                common_name: Some("Fuzz Root".into()),
                validity: gatehouse_pki::ValidityPeriod::parse("30d").expect("duration"),
                algorithm: gatehouse_pki::KeyAlgorithm::EcdsaP384,
                now,
            }
            .self_signed()
            .expect("CA");
            let body = format!(
                r#"{{"name":"a","spec":{{"mtlsAuth":{{"acceptedClientCa":{:?},"certificateFilters":[]}}}}}}"#,
                ca.pem
            );
            let created = app
                .clone()
                .oneshot(
                    Request::post("/api/v1/namespaces")
                        .header("authorization", format!("Bearer {token}"))
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .expect("request"),
                )
                .await
                .expect("infallible");
            assert_eq!(created.status(), StatusCode::CREATED, "fixture namespace");
            (app, token)
        });
        Api { rt, app, token }
    })
}

/// (method, path, whether the body is a namespace write that takes `dryRun`).
const ENDPOINTS: &[(&str, &str, bool)] = &[
    ("PUT", "/api/v1/namespaces/a", true),
    ("POST", "/api/v1/namespaces/a/accepted-client-ca", true),
    ("PUT", "/api/v1/namespaces/a/accepted-client-ca", true),
    ("POST", "/api/v1/namespaces/a/accepted-client-ca/remove", true),
    ("PUT", "/api/v1/namespaces/a/certificate-filters", true),
    ("POST", "/api/v1/namespaces/a/certificate-filters", true),
    ("PUT", "/api/v1/users/u_nobody", false),
];

/// The body to send: a JSON object made a dry run; anything else as it is (the router refuses
/// it before any write).
fn dry(body: &[u8], write: bool) -> Vec<u8> {
    if write {
        if let Ok(serde_json::Value::Object(mut o)) = serde_json::from_slice(body) {
            o.insert("dryRun".into(), serde_json::Value::Bool(true));
            return serde_json::to_vec(&o).unwrap_or_default();
        }
    }
    body.to_vec()
}

fuzz_target!(|data: &[u8]| {
    let [selector, body @ ..] = data else { return };
    let (method, uri, write) = ENDPOINTS[usize::from(*selector) % ENDPOINTS.len()];
    let api = api();
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {}", api.token))
        .header("content-type", "application/json")
        .body(Body::from(dry(body, write)))
        .expect("request");
    let response = api
        .rt
        .block_on(api.app.clone().oneshot(request))
        .expect("infallible");
    assert!(
        response.status() < StatusCode::INTERNAL_SERVER_ERROR,
        "{method} {uri}: {} for {:?}",
        response.status(),
        String::from_utf8_lossy(body)
    );
});
