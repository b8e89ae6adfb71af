//! Filter parsing, validation and matching.

use super::*;

fn f(cn: &str, o: &str, ou: &str, san: &str) -> CertificateFilter {
    CertificateFilter {
        common_name: cn.into(),
        organization: o.into(),
        organizational_unit: ou.into(),
        subject_alternative_name: san.into(),
        role: None,
    }
}

fn rule_of(r: Result<CertificateFilters, FilterError>) -> Rule {
    r.unwrap_err().rule
}

#[test]
fn wildcard_rules_from_the_reference_guide() {
    // Valid: "*.example.com", "Example Code*".
    assert!(CertificateFilters::new(vec![f("*.example.com", "", "", "")]).is_ok());
    assert!(CertificateFilters::new(vec![f("", "Example Code*", "", "")]).is_ok());
    // Invalid, as listed in the guide: ".example.*", "code.*.com", "*"; and more.
    for bad in [
        ".example.*",
        "code.*.com",
        "*",
        "*example*",
        "ex*ample",
        "**",
        "example.*",
    ] {
        assert_eq!(
            rule_of(CertificateFilters::new(vec![f(bad, "", "", "")])),
            Rule::FilterWildcard,
            "{bad}"
        );
    }
}

#[test]
fn structure_rules() {
    assert_eq!(
        rule_of(CertificateFilters::new(vec![f("", "", "", "")])),
        Rule::FilterEmpty
    );
    assert_eq!(
        rule_of(CertificateFilters::new(vec![f("  ", "", "", "")])),
        Rule::FilterEmpty
    );
    assert_eq!(
        rule_of(CertificateFilters::new(vec![
            f("a", "", "", ""),
            f("A", "", "", "")
        ])),
        Rule::FilterDuplicate
    );
    let many: Vec<_> = (0..26).map(|i| f(&format!("cn{i}"), "", "", "")).collect();
    assert_eq!(rule_of(CertificateFilters::new(many)), Rule::FilterMaxCount);
    let ok: Vec<_> = (0..25).map(|i| f(&format!("cn{i}"), "", "", "")).collect();
    assert!(CertificateFilters::new(ok).is_ok());
    assert_eq!(
        rule_of(CertificateFilters::from_json("{")),
        Rule::FilterInvalid
    );
    assert_eq!(
        rule_of(CertificateFilters::from_json(r#"{"filters":[{"cn":"x"}]}"#)),
        Rule::FilterInvalid
    );
    let parsed = CertificateFilters::from_json(
        r#"{ "filters": [ { "commonName": "temporal-booking.sdvdw", "organization": "" } ] }"#,
    )
    .unwrap();
    assert_eq!(parsed.filters().len(), 1);
    assert!(CertificateFilters::from_json("{}").unwrap().is_empty());
    assert_eq!(
        parsed.to_json(),
        r#"{"filters":[{"commonName":"temporal-booking.sdvdw"}]}"#
    );
}

#[test]
fn patterns_match_case_insensitively() {
    let p = Pattern::parse("commonName", "*.Example.com", 1)
        .unwrap()
        .unwrap();
    assert!(p.matches("code.example.com") && p.matches("TEXT.EXAMPLE.COM"));
    assert!(!p.matches("example.com.evil"));
    let p = Pattern::parse("organization", "Example Code*", 1)
        .unwrap()
        .unwrap();
    assert!(p.matches("Example code") && p.matches("Example Code Inc"));
    assert!(!p.matches("An Example Code"));
    let p = Pattern::parse("commonName", "code.example.com", 1)
        .unwrap()
        .unwrap();
    assert!(p.matches("CODE.example.com") && !p.matches("code.example.com.au"));
}

#[test]
fn roles_grant_the_union_of_the_matching_filters() {
    use gatehouse_pki::{
        CaParams, CertificateAuthority, KeyAlgorithm, LeafParams, PrivateKey, ValidityPeriod,
    };
    let now = time::OffsetDateTime::now_utc();
    let ca = CaParams {
        organization: "Acme".into(),
        common_name: Some("Acme Root".into()),
        validity: ValidityPeriod::parse("30d").unwrap(),
        algorithm: KeyAlgorithm::EcdsaP384,
        now,
    }
    .self_signed()
    .unwrap();
    let key = PrivateKey::from_pem(ca.key.as_ref().unwrap().to_pkcs8_pem().as_bytes()).unwrap();
    let authority = CertificateAuthority::new(ca.certificate.clone(), key, now).unwrap();
    let leaf = LeafParams {
        organization: "Acme".into(),
        organizational_unit: Some("ops".into()),
        common_name: Some("billing.worker".into()),
        validity: None,
        subject_alt_names: vec![],
        now,
    }
    .signed_by(&authority)
    .unwrap()
    .certificate;
    let role = |cn: &str, ou: &str, role: Option<AccessRole>| CertificateFilter {
        role,
        ..f(cn, "", ou, "")
    };
    // No roles anywhere: tcld's meaning, everything.
    let plain = CertificateFilters::new(vec![role("*.worker", "", None)]).unwrap();
    assert_eq!(plain.permissions(&leaf), Permissions::ALL);
    assert!(!plain.has_roles());
    // Two matching filters: the union.
    let two = CertificateFilters::new(vec![
        role("*.worker", "", Some(AccessRole::Worker)),
        role("", "ops", Some(AccessRole::Reader)),
        role("payments-*", "", Some(AccessRole::Admin)),
    ])
    .unwrap();
    let p = two.permissions(&leaf);
    assert!(p.contains(Permissions::WORKER) && p.contains(Permissions::READ));
    assert!(!p.contains(Permissions::WRITE) && !p.contains(Permissions::ADMIN));
    assert_eq!(p.describe(), "worker+reader");
    // Writer includes reads; a role-less filter among roled ones grants everything.
    let w = CertificateFilters::new(vec![role("*.worker", "", Some(AccessRole::Writer))]).unwrap();
    assert_eq!(w.permissions(&leaf).describe(), "writer");
    let mixed = CertificateFilters::new(vec![
        role("*.worker", "", None),
        role("", "ops", Some(AccessRole::Reader)),
    ])
    .unwrap();
    assert_eq!(mixed.permissions(&leaf), Permissions::ALL);
    // The JSON: `role` is an optional extra key, and a duplicate subject with another role
    // is still a duplicate.
    let parsed =
        CertificateFilters::from_json(r#"{"filters":[{"commonName":"*.worker","role":"reader"}]}"#)
            .unwrap();
    assert_eq!(parsed.filters()[0].role, Some(AccessRole::Reader));
    assert!(parsed.to_json().contains(r#""role":"reader""#));
    assert!(
        CertificateFilters::from_json(r#"{"filters":[{"commonName":"x","role":"root"}]}"#).is_err()
    );
    assert_eq!(
        rule_of(CertificateFilters::new(vec![
            role("a", "", Some(AccessRole::Reader)),
            role("a", "", Some(AccessRole::Admin)),
        ])),
        Rule::FilterDuplicate
    );
}
