//! Bad input of every kind is refused with its rule and changes nothing.

use super::*;

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
    // A spec with this bundle and no filters; one with a's good bundle and these filters.
    let bundle = |pem: &str| json!({"spec": spec(pem, json!([]))});
    let filtered = |list: Value| json!({"spec": spec(&root.pem, list)});
    let cases: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "malformed PEM",
            bundle("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"),
            StatusCode::BAD_REQUEST,
            "bundle.malformed",
        ),
        (
            "not PEM at all",
            bundle("hello"),
            StatusCode::BAD_REQUEST,
            "bundle.malformed",
        ),
        (
            "empty bundle",
            bundle(""),
            StatusCode::BAD_REQUEST,
            "bundle.empty",
        ),
        (
            "17 certificates",
            bundle(&seventeen),
            StatusCode::BAD_REQUEST,
            "bundle.max-certs",
        ),
        (
            "33 KB",
            bundle(&big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "bundle.max-size",
        ),
        (
            "a leaf in the bundle",
            bundle(&format!("{}{leaf}", root.pem)),
            StatusCode::BAD_REQUEST,
            "ca.is-ca",
        ),
        (
            "weak signature",
            bundle(&weak),
            StatusCode::BAD_REQUEST,
            "cert.signature-algorithm",
        ),
        (
            "SHA-1 CA",
            bundle(&sha1_rsa),
            StatusCode::BAD_REQUEST,
            "cert.signature-algorithm",
        ),
        (
            "CA not rooted in the bundle",
            bundle(&inter),
            StatusCode::BAD_REQUEST,
            "ca.chains-in-bundle",
        ),
        (
            "filter *",
            filtered(json!([{"commonName": "*"}])),
            StatusCode::BAD_REQUEST,
            "filter.wildcard",
        ),
        (
            "filter a*b",
            filtered(json!([{"commonName": "a*b"}])),
            StatusCode::BAD_REQUEST,
            "filter.wildcard",
        ),
        (
            "filter *a*",
            filtered(json!([{"commonName": "*a*"}])),
            StatusCode::BAD_REQUEST,
            "filter.wildcard",
        ),
        (
            "empty filter",
            filtered(json!([{}])),
            StatusCode::BAD_REQUEST,
            "filter.empty",
        ),
        (
            "26 filters",
            filtered(filters(26)),
            StatusCode::BAD_REQUEST,
            "filter.max-count",
        ),
        (
            "duplicate filters",
            filtered(json!([{"commonName": "x"}, {"commonName": "X"}])),
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
            filtered(json!([{"cn": "x"}])),
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
    let (_, before) = w.get("/api/v1/namespaces/a", &w.owner).await;
    let audit_before = w.audit_count().await;
    for (name, body, status, rule) in cases {
        let (got, v) = w.put_json("/api/v1/namespaces/a", &w.owner, body).await;
        assert_eq!(got, status, "{name}: {v}");
        let rules = field_of_each(&v["violations"], "rule");
        assert!(
            rules.contains(&rule),
            "{name}: expected {rule}, got {rules:?}: {v}"
        );
        let (_, after) = w.get("/api/v1/namespaces/a", &w.owner).await;
        assert_eq!(after, before, "{name} changed the namespace");
    }
    // Violations name the certificate.
    let (_, v) = w
        .put_json(
            "/api/v1/namespaces/a",
            &w.owner,
            bundle(&format!("{}{leaf}", root.pem)),
        )
        .await;
    let viol = &v["violations"][0];
    assert!(
        viol["subject"].as_str().unwrap().contains("worker")
            && viol["fingerprint"].as_str().unwrap().len() == 64,
        "{v}"
    );
    let audit_after = w.audit_count().await;
    assert_eq!(
        audit_before, audit_after,
        "refused writes leave no audit events"
    );
    // Body over the request limit.
    let huge = "x".repeat(MAX_BODY_BYTES + 10);
    let (status, v) = w
        .put_json("/api/v1/namespaces/a", &w.owner, bundle(&huge))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    // Namespace names become DNS labels.
    for bad in ["UPPER", "under_score", "-dash", "a..b", ""] {
        let (status, v) = w
            .post_json(
                "/api/v1/namespaces",
                &w.owner,
                json!({"name": bad, "spec": spec(&root.pem, json!([]))}),
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
