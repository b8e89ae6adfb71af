//! The console and REST answer the same refusal with the same bytes: both faces map one
//! `ControlError`, and the console shows the API's body under "The API's answer". One test per
//! kind of operation the console performs.

use super::*;

/// A raw request: the status and the body's bytes.
async fn raw(app: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec(), headers)
}

async fn rest(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let (status, bytes, _) = raw(app, req).await;
    (status, String::from_utf8(bytes).unwrap())
}

/// A signed-in console: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn sign_in(app: &Router, token: &str) -> Browser {
    let req = Request::builder()
        .method("POST")
        .uri("/login")
        .header("host", "127.0.0.1:8080")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form(&[("api_key", token)])))
        .unwrap();
    let (status, _, headers) = raw(app, req).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (_, page) = console_get(app, &cookie, "/").await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a form with a CSRF token")
        .to_owned();
    Browser { cookie, csrf }
}

async fn console_get(app: &Router, cookie: &str, path: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .uri(path)
        .header("host", "127.0.0.1:8080")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let (status, bytes, _) = raw(app, req).await;
    (status, String::from_utf8(bytes).unwrap())
}

async fn console_post(
    app: &Router,
    b: &Browser,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut all = vec![("csrf", b.csrf.as_str())];
    all.extend_from_slice(fields);
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "127.0.0.1:8080")
        .header("origin", "http://127.0.0.1:8080")
        .header("cookie", &b.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form(&all)))
        .unwrap();
    let (status, bytes, _) = raw(app, req).await;
    (status, String::from_utf8(bytes).unwrap())
}

/// The API body the console page shows, unescaped.
fn shown_answer(page: &str) -> String {
    let inner = page
        .split("<pre class=\"api-error\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("the page shows no API answer: {page}"));
    inner
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Both faces refused with the same status and the same bytes, naming `rule`.
fn same_refusal(rest: (StatusCode, String), console: (StatusCode, String), rule: &str) {
    assert!(
        rest.0.is_client_error(),
        "REST did not refuse: {} {}",
        rest.0,
        rest.1
    );
    assert_eq!(console.0, rest.0, "same status");
    let shown = shown_answer(&console.1);
    assert_eq!(
        shown, rest.1,
        "the console shows the REST body byte for byte"
    );
    let body: Value = serde_json::from_str(&rest.1).unwrap();
    if !rule.is_empty() {
        assert_eq!(body["violations"][0]["rule"], rule, "{body}");
    }
}

/// The world, with namespace a's admin signed in to the console.
async fn admin_a_signed_in() -> (World, Browser) {
    let w = world().await;
    let b = sign_in(&w.app, &w.admin_a).await;
    (w, b)
}

/// The holder of `token` adds `pem` to namespace a's bundle at resource version `version`,
/// through REST and then through the console's form with `op` ("check" is a dry run, as the
/// console's "Check" button).
async fn add_ca_through_both(
    w: &World,
    b: &Browser,
    token: &str,
    pem: &str,
    version: &str,
    op: &str,
) -> ((StatusCode, String), (StatusCode, String)) {
    let mut body = json!({ "caCertificate": pem, "resourceVersion": version });
    if op == "check" {
        body["dryRun"] = json!(true);
    }
    let r = rest(&w.app, "POST", CAS_A, token, Some(body)).await;
    let form = [("resource_version", version), ("pem", pem), ("op", op)];
    let c = console_post(&w.app, b, "/namespaces/a/ca", &form).await;
    (r, c)
}

#[tokio::test]
async fn adding_a_ca() {
    let (w, b) = admin_a_signed_in().await;
    // Already in the bundle (a check, as the console's "Check" button).
    let (r, c) = add_ca_through_both(&w, &b, &w.admin_a, &w.ca_a.pem, "1", "check").await;
    same_refusal(r, c, "bundle.duplicate");
    // Not PEM at all (a save).
    let (r, c) = add_ca_through_both(&w, &b, &w.admin_a, "not a certificate", "1", "save").await;
    same_refusal(r, c, "bundle.malformed");
    // A stale resource version: the console's conflict box shows the same answer.
    let fresh = ca("Acme A Root v2").pem;
    let (r, c) = add_ca_through_both(&w, &b, &w.admin_a, &fresh, "7", "save").await;
    same_refusal(r, c, "namespace.resource-version");
}

/// Namespace a's admin removes the CA with fingerprint `fp` at version 1, through REST and then
/// through the console.
async fn remove_through_both(
    w: &World,
    b: &Browser,
    fp: &str,
) -> ((StatusCode, String), (StatusCode, String)) {
    let r = rest(
        &w.app,
        "POST",
        REMOVE_CA_A,
        &w.admin_a,
        Some(json!({ "fingerprint": fp, "resourceVersion": "1" })),
    )
    .await;
    let form = [
        ("resource_version", "1"),
        ("fingerprint", fp),
        ("confirm", "yes"),
    ];
    let c = console_post(&w.app, b, "/namespaces/a/ca/remove", &form).await;
    (r, c)
}

#[tokio::test]
async fn removing_a_ca() {
    let (w, b) = admin_a_signed_in().await;
    let fp = "00".repeat(32);
    let (r, c) = remove_through_both(&w, &b, &fp).await;
    same_refusal(r, c, "");
    // The only CA: an empty bundle breaks a rule.
    let only = w.store.get_namespace("a").await.unwrap().unwrap();
    let cert =
        gatehouse_pki::parse_certificates(only.spec.accepted_client_ca.as_bytes(), "b").unwrap();
    let fp = cert[0].fingerprint.to_string();
    let (r, c) = remove_through_both(&w, &b, &fp).await;
    let rule = serde_json::from_str::<Value>(&r.1).unwrap()["violations"][0]["rule"]
        .as_str()
        .unwrap()
        .to_owned();
    same_refusal(r, c, &rule);
}

/// Namespace a's admin changes a's filters through REST (`method` on the filters with `body`)
/// and then through the console (posting `fields` to `page`).
async fn filters_through_both(
    w: &World,
    b: &Browser,
    (method, body): (&str, Value),
    page: &str,
    fields: &[(&str, &str)],
) -> ((StatusCode, String), (StatusCode, String)) {
    let r = rest(&w.app, method, FILTERS_A, &w.admin_a, Some(body)).await;
    let c = console_post(&w.app, b, page, fields).await;
    (r, c)
}

#[tokio::test]
async fn saving_a_filter() {
    let (w, b) = admin_a_signed_in().await;
    let page = "/namespaces/a/filters";
    let check =
        json!({ "filters": [{ "commonName": "a*b*" }], "resourceVersion": "1", "dryRun": true });
    let fields = [
        ("resource_version", "1"),
        ("op", "check"),
        ("common_name", "a*b*"),
    ];
    let (r, c) = filters_through_both(&w, &b, ("POST", check), page, &fields).await;
    same_refusal(r, c, "filter.wildcard");
    let empty = json!({ "filters": [{}], "resourceVersion": "1" });
    let fields = [("resource_version", "1"), ("op", "save")];
    let (r, c) = filters_through_both(&w, &b, ("POST", empty), page, &fields).await;
    same_refusal(r, c, "filter.empty");
}

#[tokio::test]
async fn importing_filters() {
    let (w, b) = admin_a_signed_in().await;
    let filters = json!({ "filters": [{ "commonName": "x" }, { "commonName": "X" }] });
    let mut body = filters.clone();
    body["resourceVersion"] = json!("1");
    let text = filters.to_string();
    let fields = [
        ("resource_version", "1"),
        ("op", "save"),
        ("json", text.as_str()),
    ];
    let page = "/namespaces/a/filters/import";
    let (r, c) = filters_through_both(&w, &b, ("PUT", body), page, &fields).await;
    same_refusal(r, c, "filter.duplicate");
}

#[tokio::test]
async fn reading_and_writing_another_namespace() {
    let w = world().await;
    // A namespace admin of b reads a: refused the same way on both faces.
    let b = sign_in(&w.app, &w.admin_b).await;
    let r = rest(&w.app, "GET", "/api/v1/namespaces/a", &w.admin_b, None).await;
    let c = console_get(&w.app, &b.cookie, "/namespaces/a").await;
    same_refusal(r, c, "");
    // A reader may read a but not change it.
    let b = sign_in(&w.app, &w.reader).await;
    let fresh = ca("Acme A Root v2").pem;
    let (r, c) = add_ca_through_both(&w, &b, &w.reader, &fresh, "1", "save").await;
    same_refusal(r, c, "");
    assert_eq!(c_status_of(&w, "a").await, 1, "nothing changed");
}

async fn c_status_of(w: &World, name: &str) -> i64 {
    w.store
        .get_namespace(name)
        .await
        .unwrap()
        .unwrap()
        .resource_version
}
