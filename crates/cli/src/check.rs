//! `gatehouse lint` and `gatehouse verify`.

use std::path::Path;
use std::process::ExitCode;

use gatehouse_pki::{parse_certificates, read_input_file, rfc3339, CertificateInfo};
use gatehouse_policy::{
    check_client, lint_key, verify_client, CaBundle, CertificateFilters, Finding, Rule, Severity,
};
use serde_json::json;
use time::OffsetDateTime;

use crate::cert_args::{LintArgs, VerifyArgs};
use crate::fail::Failure;
use crate::flags::OutputFormat;

fn at_time(at: &Option<String>) -> Result<OffsetDateTime, Failure> {
    match at {
        None => Ok(OffsetDateTime::now_utc()),
        Some(s) => OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| {
                Failure::Input(format!(
                    "--at {s:?}: not an RFC 3339 time ({e}), e.g. 2027-01-31T00:00:00Z"
                ))
            }),
    }
}

fn load_bundle(path: &Path) -> Result<CaBundle, Failure> {
    Ok(CaBundle::from_pem(
        &read_input_file(path)?,
        &path.display().to_string(),
    )?)
}

fn load_chain(path: &Path) -> Result<Vec<CertificateInfo>, Failure> {
    Ok(parse_certificates(
        &read_input_file(path)?,
        &path.display().to_string(),
    )?)
}

fn load_filters(path: &Option<std::path::PathBuf>) -> Result<CertificateFilters, Failure> {
    match path {
        None => Ok(CertificateFilters::none()),
        Some(p) => {
            let bytes = read_input_file(p)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| Failure::Input(format!("{}: not UTF-8 text", p.display())))?;
            CertificateFilters::from_json(&text)
                .map_err(|e| Failure::Input(format!("{}: {e}", p.display())))
        }
    }
}

fn describe(label: &str, certs: &[(String, &CertificateInfo)]) {
    println!("{label}");
    for (pos, c) in certs {
        println!(
            "  {pos}: {} (sha256 {}) valid {} .. {}",
            c.display_subject(),
            c.fingerprint,
            rfc3339(c.not_before),
            rfc3339(c.not_after)
        );
    }
}

fn cert_list_json(certs: &[(String, &CertificateInfo)]) -> serde_json::Value {
    certs
        .iter()
        .map(|(pos, c)| {
            json!({
                "position": pos,
                "subject": c.subject,
                "issuer": c.issuer,
                "sha256": c.fingerprint.to_string(),
                "notBefore": rfc3339(c.not_before),
                "notAfter": rfc3339(c.not_after),
            })
        })
        .collect()
}

fn counts(findings: &[Finding]) -> (usize, usize) {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    (errors, findings.len() - errors)
}

/// The rule table, as printed by `lint --list-rules` and kept in docs/rules.md.
pub(crate) fn rules_markdown() -> String {
    let mut out = String::from("| rule | severity | requirement | fix |\n|---|---|---|---|\n");
    for r in gatehouse_policy::Rule::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.id(),
            r.severity(),
            r.summary().replace('|', "\\|"),
            r.hint().replace('|', "\\|")
        ));
    }
    out
}

pub(crate) fn lint(a: LintArgs) -> Result<ExitCode, Failure> {
    if a.list_rules {
        match a.output.output {
            OutputFormat::Text => print!("{}", rules_markdown()),
            OutputFormat::Json => {
                let rules: Vec<serde_json::Value> = gatehouse_policy::Rule::ALL
                    .iter()
                    .map(|r| json!({"rule": r.id(), "severity": r.severity(), "summary": r.summary(), "hint": r.hint()}))
                    .collect();
                println!("{}", serde_json::Value::from(rules));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.ca_bundle.is_none() && a.cert.is_none() && a.key.is_none() {
        return Err(Failure::Input(
            "nothing to lint: give --ca-bundle, --cert and/or --key".into(),
        ));
    }
    let now = at_time(&a.at)?;
    let filters = load_filters(&a.filters)?;
    // Read and parse everything first: unusable input is exit 2 before any finding.
    let bundle = a.ca_bundle.as_deref().map(load_bundle).transpose()?;
    let chain = a.cert.as_deref().map(load_chain).transpose()?;
    let key = a.key.as_deref().map(read_input_file).transpose()?;

    let mut findings = Vec::new();
    let mut sections = Vec::new();
    if let Some(b) = &bundle {
        findings.extend(b.lint(!filters.is_empty(), now));
        let certs: Vec<(String, &CertificateInfo)> = b
            .certificates()
            .iter()
            .enumerate()
            .map(|(i, c)| (CaBundle::position(i), &c.info))
            .collect();
        sections.push(("CA bundle", certs));
    }
    if let Some(chain) = &chain {
        let report = check_client(chain, bundle.as_ref(), &filters, now);
        findings.extend(report.findings);
        let certs: Vec<(String, &CertificateInfo)> = chain
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pos = if i == 0 {
                    "chain #1 (leaf)".to_owned()
                } else {
                    format!("chain #{}", i + 1)
                };
                (pos, c)
            })
            .collect();
        sections.push(("Client chain", certs));
    }
    if let (Some(key), Some(path)) = (&key, &a.key) {
        let key_findings = lint_key(
            key,
            &path.display().to_string(),
            chain.as_ref().and_then(|c| c.first()),
        );
        // A key that cannot be read at all is unusable input (exit 2), not a rule finding.
        if let Some(f) = key_findings.iter().find(|f| f.rule == Rule::KeyUnparseable) {
            return Err(Failure::Input(f.message.clone()));
        }
        findings.extend(key_findings);
    }
    let (errors, warnings) = counts(&findings);
    match a.output.output {
        OutputFormat::Json => {
            let sections_json: serde_json::Map<String, serde_json::Value> = sections
                .iter()
                .map(|(label, certs)| {
                    let key = if *label == "CA bundle" {
                        "caBundle"
                    } else {
                        "chain"
                    };
                    (key.to_owned(), cert_list_json(certs))
                })
                .collect();
            println!(
                "{}",
                json!({
                    "at": rfc3339(now),
                    "certificates": sections_json,
                    "findings": findings,
                    "errors": errors,
                    "warnings": warnings,
                })
            );
        }
        OutputFormat::Text => {
            for (label, certs) in &sections {
                describe(label, certs);
            }
            if !findings.is_empty() {
                println!();
            }
            for f in &findings {
                println!("{f}");
            }
            println!(
                "\n{} error(s), {} warning(s) as of {}",
                errors,
                warnings,
                rfc3339(now)
            );
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub(crate) fn verify(a: VerifyArgs) -> Result<ExitCode, Failure> {
    let now = at_time(&a.at)?;
    let filters = load_filters(&a.filters)?;
    let bundle = load_bundle(&a.ca_bundle)?;
    let chain = load_chain(&a.cert)?;
    // Problems with the bundle itself: a namespace cannot hold such a bundle, so no client
    // gets in. (Expired certificates are not among them: they may expire while stored.)
    let bundle_errors = bundle.structural_errors(!filters.is_empty(), now);
    let result = match bundle_errors.first() {
        Some(first) => Err(gatehouse_policy::Rejection {
            reason: Box::new(Finding {
                message: format!(
                    "the bundle itself is invalid, so no namespace can use it: {}",
                    first.message
                ),
                ..first.clone()
            }),
            report: Box::new(check_client(&chain, Some(&bundle), &filters, now)),
        }),
        None => verify_client(&chain, &bundle, &filters, now),
    };
    match a.output.output {
        OutputFormat::Json => {
            let value = match &result {
                Ok(v) => {
                    json!({ "admitted": true, "at": rfc3339(now), "client": v, "bundleErrors": bundle_errors })
                }
                Err(r) => json!({
                    "admitted": false,
                    "at": rfc3339(now),
                    "reason": r.reason,
                    "findings": r.report.findings,
                    "path": r.report.path,
                    "bundleErrors": bundle_errors,
                }),
            };
            println!("{value}");
        }
        OutputFormat::Text => {
            match &result {
                Ok(v) => {
                    println!("ADMITTED as of {}", rfc3339(now));
                    println!("  path:");
                    for p in &v.path {
                        println!("    {p}");
                    }
                    println!("  CA used: {}", v.anchor);
                    match v.matched_filter {
                        Some(i) => println!("  certificate filter #{} matched", i + 1),
                        None => println!(
                            "  no certificate filters set: any client of these CAs is admitted"
                        ),
                    }
                    println!("  may: {}", v.permissions.describe());
                    for w in &v.warnings {
                        println!("{w}");
                    }
                }
                Err(r) => {
                    println!("REFUSED as of {}", rfc3339(now));
                    println!("{}", r.reason);
                    let rest: Vec<&Finding> = r
                        .report
                        .findings
                        .iter()
                        .filter(|f| **f != *r.reason)
                        .collect();
                    if !rest.is_empty() {
                        println!("\nAlso found:");
                        for f in rest {
                            println!("{f}");
                        }
                    }
                }
            }
            if !bundle_errors.is_empty() {
                println!(
                    "\nThe bundle itself breaks rules (a namespace would not accept it as is):"
                );
                for f in &bundle_errors {
                    println!("{f}");
                }
            }
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    /// docs/rules.md must list exactly the rules the code has (regenerate it with
    /// `gatehouse lint --list-rules`).
    #[test]
    fn docs_rules_table_is_current() {
        let doc = include_str!("../../../docs/rules.md");
        assert!(
            doc.contains(&super::rules_markdown()),
            "docs/rules.md is stale: regenerate the table with `gatehouse lint --list-rules`"
        );
    }
}
