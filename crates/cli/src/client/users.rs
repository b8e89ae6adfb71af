//! `gatehouse user …` and `gatehouse apikey …`.

use std::process::ExitCode;

use clap::Subcommand;
use gatehouse_api::wire::{ApiKeyList, CreatedApiKey, KeyBody, UserBody, UserList};
use gatehouse_store::{Role, User};
use serde_json::Value;

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
    match command {
        UserCommand::List => print(&c.get::<UserList>("/api/v1/users")?),
        UserCommand::Create {
            email,
            role,
            namespaces,
        } => {
            let body = UserBody {
                email: Some(email),
                role: role_arg(&role)?,
                namespaces,
            };
            print(&c.send::<_, User>(M::POST, "/api/v1/users", Some(&body))?)
        }
        UserCommand::Get { id } => print(&user_by(c, &id)?),
        UserCommand::Update {
            id,
            role,
            namespaces,
        } => {
            let body = UserBody {
                email: None,
                role: role_arg(&role)?,
                namespaces,
            };
            let id = user_by(c, &id)?.id;
            let path = format!("/api/v1/users/{id}");
            print(&c.send::<_, User>(M::PUT, &path, Some(&body))?)
        }
        UserCommand::Delete { id } => {
            c.confirm(&format!("Delete user {id:?} and their API keys"))?;
            let id = user_by(c, &id)?.id;
            c.send::<(), Value>(M::DELETE, &format!("/api/v1/users/{id}"), None)?;
            eprintln!("deleted user {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A user by id or email.
fn user_by(c: &Client, id_or_email: &str) -> Result<User, Failure> {
    c.get(&format!("/api/v1/users/{id_or_email}"))
}

/// `--role` as the API names roles.
fn role_arg(role: &str) -> Result<Role, Failure> {
    role.parse()
        .map_err(|e: String| Failure::Input(format!("--role: {e}")))
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
                Some(u) => format!("/api/v1/apikeys?userId={}", user_by(c, &u)?.id),
                None => "/api/v1/apikeys".into(),
            };
            print(&c.get::<ApiKeyList>(&path)?)
        }
        ApiKeyCommand::Create {
            name,
            user,
            duration,
        } => {
            let body = KeyBody {
                name,
                user_id: user,
                duration,
            };
            print(&c.send::<_, CreatedApiKey>(M::POST, "/api/v1/apikeys", Some(&body))?)
        }
        ApiKeyCommand::Revoke { id } => {
            c.confirm(&format!("Revoke API key {id}"))?;
            c.send::<(), Value>(M::DELETE, &format!("/api/v1/apikeys/{id}"), None)?;
            eprintln!("revoked API key {id}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
