//! Router tests (tower `oneshot`): the authorisation matrix, the bad-input matrix, resource
//! versions, request ids, the CA rollover rules, and the console and REST answering a refusal
//! with the same bytes.

mod authorisation;
mod bad_input;
mod faces;
mod hooks;
mod routes;
mod users;
mod versions;

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
    let state = AppState::new(Control::new(store.clone()).with_clock(Arc::new(|| NOW)));
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

/// The same requests as [`call`], on the world's router with a bearer token.
impl World {
    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        call(&self.app, "GET", path, Some(token), None).await
    }

    async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        call(&self.app, "DELETE", path, Some(token), None).await
    }

    async fn post_json(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        call(&self.app, "POST", path, Some(token), Some(body)).await
    }

    async fn put_json(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        call(&self.app, "PUT", path, Some(token), Some(body)).await
    }

    async fn patch_json(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        call(&self.app, "PATCH", path, Some(token), Some(body)).await
    }
}

impl World {
    /// How many audit events the store holds (counting up to 1000).
    async fn audit_count(&self) -> usize {
        self.store
            .list_audit(gatehouse_store::AuditQuery {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    }
}

/// Namespace a's bundle, the removal of one of its CAs, and its filters.
const CAS_A: &str = "/api/v1/namespaces/a/accepted-client-ca";
const REMOVE_CA_A: &str = "/api/v1/namespaces/a/accepted-client-ca/remove";
const FILTERS_A: &str = "/api/v1/namespaces/a/certificate-filters";

/// An answer's status and its first violation's rule id ("" when there is none).
fn rule_of(status: StatusCode, v: &Value) -> (StatusCode, &str) {
    (status, v["violations"][0]["rule"].as_str().unwrap_or(""))
}

/// Asserts an answer (`status`, `v`) is `expected`: a status and the first violation's rule.
#[track_caller]
fn assert_rule(status: StatusCode, v: &Value, expected: (StatusCode, &str)) {
    assert_eq!(rule_of(status, v), expected, "{v}");
}

/// The string `field` of each element of the array `v`.
fn field_of_each<'v>(v: &'v Value, field: &str) -> Vec<&'v str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap())
        .collect()
}

fn spec(pem: &str, filters: Value) -> Value {
    json!({ "mtlsAuth": { "acceptedClientCa": pem, "certificateFilters": filters } })
}
