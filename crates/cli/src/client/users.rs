//! `gatehouse user …` and `gatehouse apikey …`.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use super::api::{print, Client};
use crate::fail::Failure;

// --- users and API keys -----------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// List users
    #[command(alias = "l", after_help = "Examples:\n  gatehouse user list")]
    List,
    /// Create a user
    #[command(
        alias = "c",
        after_help = "Examples:\n  gatehouse user create --email ops@acme.io --role global-admin\n  gatehouse user create --email pay@acme.io --role namespace-admin --namespace payments"
    )]
    Create {
        #[arg(long)]
        email: String,
        /// account-owner, global-admin, namespace-admin or read-only
        #[arg(long)]
        role: String,
        /// For a namespace-admin: a namespace they administer (repeatable)
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<String>,
    },
    /// Show a user (id or email)
    #[command(
        alias = "g",
        after_help = "Examples:\n  gatehouse user get --id ops@acme.io"
    )]
    Get {
        #[arg(long)]
        id: String,
    },
    /// Change a user's role and namespaces
    #[command(
        alias = "u",
        after_help = "Examples:\n  gatehouse user update --id pay@acme.io --role namespace-admin -n payments -n billing"
    )]
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        role: String,
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<String>,
    },
    /// Delete a user and their API keys (asks first)
    #[command(after_help = "Examples:\n  gatehouse user delete --id pay@acme.io --auto-confirm")]
    Delete {
        #[arg(long)]
        id: String,
    },
}

pub(crate) fn user(c: &Client, command: UserCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    let id_of = |id: &str| -> Result<String, Failure> {
        Ok(c.get(&format!("/api/v1/users/{id}"))?["id"]
            .as_str()
            .unwrap_or(id)
            .to_owned())
    };
    match command {
        UserCommand::List => print(&c.get("/api/v1/users")?),
        UserCommand::Create {
            email,
            role,
            namespaces,
        } => print(&c.call(
            M::POST,
            "/api/v1/users",
            Some(json!({ "email": email, "role": role, "namespaces": namespaces })),
        )?),
        UserCommand::Get { id } => print(&c.get(&format!("/api/v1/users/{id}"))?),
        UserCommand::Update {
            id,
            role,
            namespaces,
        } => {
            let id = id_of(&id)?;
            print(&c.call(
                M::PUT,
                &format!("/api/v1/users/{id}"),
                Some(json!({ "role": role, "namespaces": namespaces })),
            )?)
        }
        UserCommand::Delete { id } => {
            c.confirm(&format!("Delete user {id:?} and their API keys"))?;
            let id = id_of(&id)?;
            c.call(M::DELETE, &format!("/api/v1/users/{id}"), None)?;
            eprintln!("deleted user {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum ApiKeyCommand {
    /// List API keys (yours; everyone's as an admin)
    #[command(
        alias = "l",
        after_help = "Examples:\n  gatehouse apikey list\n  gatehouse apikey list --user ops@acme.io"
    )]
    List {
        /// Only this user's keys (id or email)
        #[arg(long)]
        user: Option<String>,
    },
    /// Create an API key; the token is printed once
    #[command(
        alias = "c",
        after_help = "Examples:\n  gatehouse apikey create --name ci --duration 90d\n  gatehouse apikey create --name laptop --user ops@acme.io"
    )]
    Create {
        #[arg(long)]
        name: String,
        /// For this user (id or email) instead of yourself
        #[arg(long)]
        user: Option<String>,
        /// Lifetime, e.g. 90d [default: no expiry]
        #[arg(long, short = 'd')]
        duration: Option<String>,
    },
    /// Revoke an API key (asks first)
    #[command(
        alias = "r",
        after_help = "Examples:\n  gatehouse apikey revoke --id k_0123… --auto-confirm"
    )]
    Revoke {
        #[arg(long)]
        id: String,
    },
}

pub(crate) fn apikey(c: &Client, command: ApiKeyCommand) -> Result<ExitCode, Failure> {
    use reqwest::Method as M;
    match command {
        ApiKeyCommand::List { user } => {
            let path = match user {
                Some(u) => {
                    let id = c.get(&format!("/api/v1/users/{u}"))?["id"]
                        .as_str()
                        .unwrap_or(&u)
                        .to_owned();
                    format!("/api/v1/apikeys?userId={id}")
                }
                None => "/api/v1/apikeys".into(),
            };
            print(&c.get(&path)?)
        }
        ApiKeyCommand::Create {
            name,
            user,
            duration,
        } => {
            let mut body = json!({ "name": name });
            if let Some(u) = user {
                body["userId"] = json!(u);
            }
            if let Some(d) = duration {
                body["duration"] = json!(d);
            }
            print(&c.call(M::POST, "/api/v1/apikeys", Some(body))?)
        }
        ApiKeyCommand::Revoke { id } => {
            c.confirm(&format!("Revoke API key {id}"))?;
            c.call(M::DELETE, &format!("/api/v1/apikeys/{id}"), None)?;
            eprintln!("revoked API key {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
