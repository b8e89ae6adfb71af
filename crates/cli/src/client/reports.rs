//! `gatehouse expirations list` and `gatehouse tickets list`.

use std::process::ExitCode;

use gatehouse_api::wire::{ExpiryReport, TicketList};

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
    let report: ExpiryReport = c.get(&path)?;
    if output == crate::flags::OutputFormat::Json {
        return print(&report);
    }
    println!(
        "{:<20} {:<5} {:>5}  {:<20}  {:<20}  SUBJECT / SHA-256",
        "NAMESPACE", "KIND", "DAYS", "NOT AFTER", "LAST USED"
    );
    for e in &report.certificates {
        println!(
            "{:<20} {:<5} {:>5}  {:<20}  {:<20}  {}{}\n{:>77}{}",
            e.namespace,
            e.kind,
            e.days_left,
            e.not_after,
            e.last_used.as_deref().unwrap_or("-"),
            e.subject,
            if e.expired { "  [EXPIRED]" } else { "" },
            "",
            e.sha256,
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn tickets_list(server: &ServerArgs) -> Result<ExitCode, Failure> {
    let c = Client::new(server, true)?;
    print(&c.get::<TicketList>("/api/v1/tickets")?)
}
