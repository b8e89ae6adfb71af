//! Gatehouse's composition root: one typed [`ServerConfig`] in, a [`Running`] server out.
//!
//! - [`Server::start`]: the REST API and web console, the expiry watch and the gateway
//!   (`gatehouse serve`, `gatehouse dev`).
//! - [`GatewayServer::start`]: the gateway alone (`gatehouse gateway`).
//! - [`DataDir`] names every file a server keeps; [`StoreLocation`] says which database it uses.
//!
//! Every task stops on one `CancellationToken` from the caller.

mod data_dir;
mod error;
mod gateway;
mod listen;
mod secrets;
mod server;
mod store;
mod watch;

pub use data_dir::DataDir;
pub use error::StartError;
pub use gateway::{warn_expiry, GatewayServer, GatewayServerConfig, ServerIdentity, DRAIN};
pub use listen::listen_error;
pub use secrets::webhook_secret;
pub use server::{Running, Server, ServerConfig};
pub use store::StoreLocation;
pub use watch::WatchConfig;
