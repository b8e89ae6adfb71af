//! The client rules: chains, leaves, expired CAs, filters and keys.

use super::*;

fn verify(
    chain: &[&CertificateInfo],
    b: &CaBundle,
    filters: &CertificateFilters,
) -> Result<VerifiedClient, Rejection> {
    let chain: Vec<CertificateInfo> = chain.iter().map(|c| (*c).clone()).collect();
    verify_client(&chain, b, filters, NOW)
}

fn refused(chain: &[&CertificateInfo], b: &CaBundle, filters: &CertificateFilters) -> Rule {
    verify(chain, b, filters)
        .expect_err("should be refused")
        .reason
        .rule
}

#[test]
fn a_good_client_is_admitted_with_its_path_and_ca() {
    let r = root("Acme Root");
    let inter = signed(ca_params("Acme Issuing"), &r);
    let l = signed(leaf_params("worker"), &inter);
    let b = bundle(&[&r.info]);
    let v = verify(&[&l.info, &inter.info], &b, &CertificateFilters::none()).unwrap();
    assert_eq!(v.anchor.fingerprint, r.info.fingerprint.to_string());
    assert_eq!(v.anchor_fingerprint, r.info.fingerprint);
    assert_eq!(v.path.len(), 3);
    assert_eq!(v.path[2].position, "bundle #1");
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    // The intermediate may also sit in the bundle instead of being sent.
    let b2 = bundle(&[&r.info, &inter.info]);
    let v = verify(&[&l.info], &b2, &CertificateFilters::none()).unwrap();
    assert_eq!(v.anchor.fingerprint, inter.info.fingerprint.to_string());
}

#[test]
fn leaf_rules() {
    let r = root("Acme Root");
    let b = bundle(&[&r.info]);
    let none = CertificateFilters::none();
    // leaf.x509-v3
    let old = v1(leaf_params("v1 worker"), Some(&r));
    assert_eq!(refused(&[&old.info], &b, &none), Rule::LeafX509V3);
    // leaf.not-ca
    let mut p = leaf_params("ca worker");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_leaf = signed(p, &r);
    assert_eq!(refused(&[&ca_leaf.info], &b, &none), Rule::LeafNotCa);
    // leaf.key-usage: present without digitalSignature is an error…
    let mut p = leaf_params("ke worker");
    p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let ku = signed(p, &r);
    assert_eq!(refused(&[&ku.info], &b, &none), Rule::LeafKeyUsage);
    // …absent is a warning, and the client is admitted.
    let mut p = leaf_params("no-ku worker");
    p.key_usages.clear();
    let noku = signed(p, &r);
    let v = verify(&[&noku.info], &b, &none).unwrap();
    assert_eq!(rules(&v.warnings), [Rule::LeafKeyUsage]);
    // leaf.ext-key-usage
    let mut p = leaf_params("server only");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let srv = signed(p, &r);
    assert_eq!(refused(&[&srv.info], &b, &none), Rule::LeafExtKeyUsage);
    // leaf.expires-after-ca
    let mut p = leaf_params("long worker");
    p.not_after = NOW + Duration::days(400);
    let long = signed(p, &r);
    let e = verify(&[&long.info], &b, &none).unwrap_err();
    assert_eq!(e.reason.rule, Rule::LeafExpiresAfterCa);
    assert!(
        e.reason.message.contains("bundle #1"),
        "{}",
        e.reason.message
    );
    // cert.expired on the leaf, and its message has the date
    let mut p = leaf_params("expired worker");
    p.not_after = NOW - Duration::hours(1);
    let old = signed(p, &r);
    let e = verify(&[&old.info], &b, &none).unwrap_err();
    assert_eq!(e.reason.rule, Rule::CertExpired);
    assert_eq!(
        e.reason.certificate.as_ref().unwrap().position,
        "chain #1 (leaf)"
    );
}

#[test]
fn an_expired_ca_refuses_its_valid_leaves() {
    // rustls/webpki accept a valid leaf under an expired trust anchor; Gatehouse must not.
    let mut p = ca_params("Short Root");
    p.not_after = NOW + Duration::days(10);
    let r = self_signed(p);
    let mut p = leaf_params("worker");
    p.not_after = NOW + Duration::days(5);
    let l = signed(p, &r);
    let b = bundle(&[&r.info]);
    let later = NOW + Duration::days(11);
    let chain = [l.info.clone()];
    // At NOW + 11 days the leaf is expired too; use a leaf valid past the CA to isolate the CA.
    let mut p = leaf_params("worker2");
    p.not_after = NOW + Duration::days(30);
    let l2 = signed(p, &r);
    let e = verify_client(
        std::slice::from_ref(&l2.info),
        &b,
        &CertificateFilters::none(),
        later,
    )
    .unwrap_err();
    let rules_found = errors(&e.report.findings);
    assert!(rules_found.contains(&Rule::CertExpired), "{rules_found:?}");
    assert!(e
        .report
        .findings
        .iter()
        .any(|f| f.rule == Rule::CertExpired
            && f.certificate.as_ref().unwrap().position == "bundle #1"));
    assert!(verify_client(&chain, &b, &CertificateFilters::none(), NOW).is_ok());
}

#[test]
fn chain_rules() {
    let r = root("Acme Root");
    let b = bundle(&[&r.info]);
    let none = CertificateFilters::none();
    // chain.untrusted: another CA's client
    let other = root("Other Root");
    let stranger = signed(leaf_params("stranger"), &other);
    let e = verify(&[&stranger.info], &b, &none).unwrap_err();
    assert_eq!(e.reason.rule, Rule::ChainUntrusted);
    assert!(e.reason.message.contains("Other Root") && e.reason.message.contains("Acme Root"));
    // chain.untrusted with a hint when the intermediate is missing
    let inter = signed(ca_params("Acme Issuing"), &r);
    let l = signed(leaf_params("worker"), &inter);
    let e = verify(&[&l.info], &b, &none).unwrap_err();
    assert_eq!(e.reason.rule, Rule::ChainUntrusted);
    assert!(e
        .reason
        .message
        .contains("send it after the client certificate"));
    // chain.unique-dn: leaf with the same DN as its CA (case differs)
    let mut p = leaf_params("ACME ROOT");
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::OrganizationName, "acme");
    p.distinguished_name.push(DnType::CommonName, "acme root");
    let twin = signed(p, &r);
    assert_eq!(refused(&[&twin.info], &b, &none), Rule::ChainUniqueDn);
    // chain.signature: without a bundle, a chain whose leaf names the intermediate but was
    // signed by another key
    let fake_inter = signed(ca_params("Acme Issuing"), &other);
    let f = check_client(&[l.info.clone(), fake_inter.info.clone()], None, &none, NOW);
    assert!(
        errors(&f.findings).contains(&Rule::ChainSignature),
        "{:?}",
        f.findings
    );
    // chain.signature with a bundle: an impostor root with the same name and another key
    let impostor = root("Acme Root");
    let leaf_of_impostor = signed(leaf_params("impostor worker"), &impostor);
    let e = verify(&[&leaf_of_impostor.info], &b, &none).unwrap_err();
    assert!(
        matches!(e.reason.rule, Rule::ChainSignature | Rule::ChainUntrusted),
        "{:?}",
        e.reason
    );
    // chain.invalid: a path-length constraint on the bundle root violated (webpki does not
    // apply a trust anchor's pathLenConstraint; Gatehouse does)
    let mut p = ca_params("Constrained Root");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let cr = self_signed(p);
    let sub = signed(ca_params("Sub CA"), &cr);
    let l = signed(leaf_params("deep worker"), &sub);
    let e = verify(&[&l.info, &sub.info], &bundle(&[&cr.info]), &none).unwrap_err();
    assert_eq!(e.reason.rule, Rule::ChainInvalid, "{:?}", e.reason);
    // ca.well-known on the path without filters
    let public = isrg_lookalike();
    let pl = signed(leaf_params("anyone"), &public);
    let pb = bundle(&[&public.info]);
    assert_eq!(refused(&[&pl.info], &pb, &none), Rule::CaWellKnown);
    let filters =
        CertificateFilters::from_json(r#"{"filters":[{"commonName":"anyone"}]}"#).unwrap();
    assert!(verify(&[&pl.info], &pb, &filters).is_ok());
}

#[test]
fn filters_decide_admission() {
    let r = root("Acme Root");
    let b = bundle(&[&r.info]);
    let mut p = leaf_params("code.example.com");
    p.distinguished_name
        .push(DnType::OrganizationalUnitName, "Payments");
    p.subject_alt_names = vec![SanType::URI("spiffe://acme/worker".try_into().unwrap())];
    let l = signed(p, &r);
    let f = |json: &str| CertificateFilters::from_json(json).unwrap();
    let ok = [
        r#"{"filters":[{"commonName":"code.example.com"}]}"#,
        r#"{"filters":[{"commonName":"*.EXAMPLE.com","organization":"acme"}]}"#,
        r#"{"filters":[{"organizationalUnit":"Pay*"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"spiffe://acme/*"}]}"#,
        r#"{"filters":[{"commonName":"nope"},{"organization":"Acme"}]}"#,
    ];
    for json in ok {
        let v = verify(&[&l.info], &b, &f(json)).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert!(v.matched_filter.is_some());
    }
    let refuse = [
        r#"{"filters":[{"commonName":"stage.example.com"}]}"#,
        r#"{"filters":[{"commonName":"code.example.com","organization":"Other"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"*.example.com"}]}"#,
    ];
    for json in refuse {
        assert_eq!(
            refused(&[&l.info], &b, &f(json)),
            Rule::FilterNoMatch,
            "{json}"
        );
    }
}

#[test]
fn filters_cannot_be_bypassed_through_unicode_case_or_another_san_kind() {
    let r = root("Acme Root");
    let b = bundle(&[&r.info]);
    let f = |json: &str| CertificateFilters::from_json(json).unwrap();
    // U+212A KELVIN SIGN lowercases to 'k' under Unicode rules; only ASCII case is folded.
    let kelvin = signed(leaf_params("\u{212A}ube-evil"), &r);
    assert_eq!(
        refused(
            &[&kelvin.info],
            &b,
            &f(r#"{"filters":[{"commonName":"kube-*"}]}"#)
        ),
        Rule::FilterNoMatch
    );
    let ascii = signed(leaf_params("KUBE-worker"), &r);
    assert!(verify(
        &[&ascii.info],
        &b,
        &f(r#"{"filters":[{"commonName":"kube-*"}]}"#)
    )
    .is_ok());
    // A URI or email SAN spelling the DNS name a filter names does not pass it.
    let mut p = leaf_params("other");
    p.subject_alt_names = vec![
        SanType::URI("payments.acme.com".try_into().unwrap()),
        SanType::Rfc822Name("payments.acme.com".try_into().unwrap()),
    ];
    let wrong_kind = signed(p, &r);
    for json in [
        r#"{"filters":[{"subjectAlternativeName":"payments.acme.com"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"*.acme.com"}]}"#,
    ] {
        assert_eq!(
            refused(&[&wrong_kind.info], &b, &f(json)),
            Rule::FilterNoMatch,
            "{json}"
        );
    }
    let mut p = leaf_params("other");
    p.subject_alt_names = vec![
        SanType::DnsName("payments.acme.com".try_into().unwrap()),
        SanType::Rfc822Name("ops@acme.com".try_into().unwrap()),
        SanType::IpAddress([10, 0, 0, 7].into()),
    ];
    let right_kind = signed(p, &r);
    for json in [
        r#"{"filters":[{"subjectAlternativeName":"payments.acme.com"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"*@ACME.com"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"10.0.0.7"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"10.0.0*"}]}"#,
    ] {
        assert!(verify(&[&right_kind.info], &b, &f(json)).is_ok(), "{json}");
    }
    // URI forms without `://`, and IPv6 compared as addresses.
    let mut p = leaf_params("other");
    p.subject_alt_names = vec![
        SanType::URI("spiffe://acme/ns/prod/sa/worker".try_into().unwrap()),
        SanType::URI("mailto:ops@acme.com".try_into().unwrap()),
        SanType::IpAddress("fe80::1".parse().unwrap()),
    ];
    let uris = signed(p, &r);
    for json in [
        r#"{"filters":[{"subjectAlternativeName":"*/ns/prod/sa/worker"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"mailto:ops@acme.com"}]}"#,
        r#"{"filters":[{"subjectAlternativeName":"fe80:0::1"}]}"#,
    ] {
        assert!(verify(&[&uris.info], &b, &f(json)).is_ok(), "{json}");
    }
    // ops@acme.com is only a URI here, not an email SAN.
    assert_eq!(
        refused(
            &[&uris.info],
            &b,
            &f(r#"{"filters":[{"subjectAlternativeName":"ops@acme.com"}]}"#)
        ),
        Rule::FilterNoMatch
    );
}

#[test]
fn key_rules() {
    let r = root("Acme Root");
    let pem = r.key.serialize_pem();
    assert_eq!(lint_key(pem.as_bytes(), "ca.key", Some(&r.info)), vec![]);
    let other = key().serialize_pem();
    assert_eq!(
        rules(&lint_key(other.as_bytes(), "x.key", Some(&r.info))),
        [Rule::KeyMismatch]
    );
    let enc = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(rules(&lint_key(enc, "x.key", None)), [Rule::KeyEncrypted]);
    assert_eq!(
        rules(&lint_key(b"junk", "x.key", None)),
        [Rule::KeyUnparseable]
    );
}

/// Every rule id has a test above that makes it fire; this test fails when a rule is added
/// without one.
#[test]
fn every_rule_is_exercised() {
    let source = [
        include_str!("mod.rs"),
        include_str!("bundle.rs"),
        include_str!("client.rs"),
    ]
    .concat();
    let filter_tests = include_str!("../filter/tests.rs");
    for rule in Rule::ALL {
        let variant = format!("{rule:?}");
        assert!(
            source.matches(&format!("Rule::{variant}")).count() >= 1
                || filter_tests.contains(&format!("Rule::{variant}")),
            "rule {} ({variant}) has no test",
            rule.id()
        );
    }
}

// --- robustness: malformed input never panics ---------------------------------------------

/// Thousands of mutated certificates (bit flips, truncations, splices) through parsing, bundle
/// lint and client verification: every outcome is a value or an error, never a panic.
#[test]
fn mutated_certificates_never_panic() {
    let r = root("Acme Root");
    let inter = signed(ca_params("Acme Issuing"), &r);
    let l = signed(leaf_params("worker"), &inter);
    let seeds = [
        r.info.der.to_vec(),
        inter.info.der.to_vec(),
        l.info.der.to_vec(),
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let good_bundle = bundle(&[&r.info]);
    let mut parsed = 0;
    for i in 0..3000 {
        let mut der = seeds[i % 3].clone();
        match next() % 4 {
            0 => {
                let n = 1 + next() % 4;
                for _ in 0..n {
                    let pos = (next() as usize) % der.len();
                    der[pos] ^= 1 << (next() % 8);
                }
            }
            1 => der.truncate((next() as usize) % der.len()),
            2 => {
                let pos = (next() as usize) % der.len();
                der[pos] = (next() & 0xff) as u8;
            }
            _ => {
                let other = &seeds[(next() as usize) % 3];
                let cut = (next() as usize) % der.len().min(other.len());
                der.truncate(cut);
                der.extend_from_slice(&other[cut..]);
            }
        }
        let Ok(info) = CertificateInfo::from_der(&der) else {
            continue;
        };
        parsed += 1;
        let b = CaBundle::from_certificates(vec![info.clone(), r.info.clone()], 2000);
        let _ = b.lint(false, NOW);
        let _ = verify_client(
            std::slice::from_ref(&info),
            &good_bundle,
            &CertificateFilters::none(),
            NOW,
        );
        let _ = verify_client(
            &[l.info.clone(), info.clone()],
            &b,
            &CertificateFilters::none(),
            NOW,
        );
        let _ = check_client(
            &[info, inter.info.clone()],
            None,
            &CertificateFilters::none(),
            NOW,
        );
    }
    assert!(
        parsed > 100,
        "mutations should still parse often enough to exercise the rules ({parsed})"
    );
}

#[test]
fn mutated_filter_json_never_panics() {
    let base = br#"{"filters":[{"commonName":"*.example.com","organization":"Acme*"},{"subjectAlternativeName":"spiffe://a/*"}]}"#;
    let mut state: u64 = 42;
    for _ in 0..5000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut s = base.to_vec();
        let pos = (state >> 33) as usize % s.len();
        s[pos] = b"*\"{}[],:. aZ\\"[(state >> 20) as usize % 13];
        if let Ok(text) = std::str::from_utf8(&s) {
            let _ = CertificateFilters::from_json(text);
        }
    }
}
