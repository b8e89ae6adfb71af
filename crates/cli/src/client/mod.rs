//! The API's client commands: `gatehouse namespace|user|apikey …`, the expiry report and
//! tickets, over the REST API.

mod api;
mod namespace;
mod reports;
mod users;

pub(crate) use api::{Client, ClientCommand, ServerArgs};
pub(crate) use namespace::{namespace, NamespaceCommand};
pub(crate) use reports::{expirations_list, tickets_list};
pub(crate) use users::{apikey, user, ApiKeyCommand, UserCommand};
