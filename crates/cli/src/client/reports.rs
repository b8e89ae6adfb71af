//! `gatehouse expirations list` and `gatehouse tickets list`.

use std::process::ExitCode;

use super::api::{print, Client, ServerArgs};
use crate::fail::Failure;

// --- expiry report and tickets -----------------------------------------------------------

pub(crate) fn expirations_list(
    server: &ServerArgs,
    within: Option<&str>,
    output: crate::flags::OutputFormat,
) -> Result<ExitCode, Failure> {
    let c = Client::new(server, true)?;
    let path = match within {
        Some(w) => format!("/api/v1/expirations?within={w}"),
        None => "/api/v1/expirations".into(),
    };
    let v = c.get(&path)?;
    if output == crate::flags::OutputFormat::Json {
        return print(&v);
    }
    println!(
        "{:<20} {:<5} {:>5}  {:<20}  {:<20}  SUBJECT / SHA-256",
        "NAMESPACE", "KIND", "DAYS", "NOT AFTER", "LAST USED"
    );
    for e in v["certificates"].as_array().into_iter().flatten() {
        let days = e["daysLeft"].as_i64().unwrap_or_default();
        println!(
            "{:<20} {:<5} {:>5}  {:<20}  {:<20}  {}{}\n{:>77}{}",
            e["namespace"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or(""),
            days,
            e["notAfter"].as_str().unwrap_or(""),
            e["lastUsed"].as_str().unwrap_or("-"),
            e["subject"].as_str().unwrap_or(""),
            if e["expired"].as_bool().unwrap_or(false) {
                "  [EXPIRED]"
            } else {
                ""
            },
            "",
            e["sha256"].as_str().unwrap_or(""),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn tickets_list(server: &ServerArgs) -> Result<ExitCode, Failure> {
    let c = Client::new(server, true)?;
    print(&c.get("/api/v1/tickets")?)
}
