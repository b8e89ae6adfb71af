//! Gatehouse's mTLS front door: a gRPC gateway in front of a Temporal frontend.
//!
//! - The SNI `<namespace>.<domain>` picks the namespace; its verifier applies
//!   `gatehouse-policy` to the client chain (see [`tls`]).
//! - Every call must stay inside that namespace (see `namespace_check`, driven by a table
//!   generated from the Temporal API descriptors), then is proxied upstream over pooled HTTP/2.
//! - Bundle and filter changes are polled from the store and swapped in; connections the new
//!   state no longer admits get GOAWAY and close after their in-flight calls.
//! - CA usage is counted in memory and flushed to the store in batches; metrics render as
//!   Prometheus text.

#[rustfmt::skip]
mod api_table;

mod api_schema;
mod config;
mod conn_ctx;
mod connection;
mod error;
mod gateway;
mod grpc;
mod jwt;
mod limits;
mod metrics;
mod namespace_check;
mod proxy;
mod reload;
mod renewal;
mod request_body;
mod response_body;
mod server;
mod shared;
pub mod tls;
mod upstream;
mod usage;

/// Entry points for the fuzz targets in `fuzz/` (not an API).
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod api_table_gen;
#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod tests;

pub use config::{Config, UpstreamTls};
pub use error::GatewayError;
pub use gateway::Gateway;
pub use grpc::{Code, Status};
pub use limits::Limits;
pub use metrics::Metrics;
pub use renewal::{request_renewal, RENEW_PATH};
pub use response_body::ResponseBody;
pub use tls::{namespace_from_sni, Identity, NamespacePolicy, Refusal, Registry};
