//! Gatehouse policy: the one definition of "valid".
//!
//! - [`CaBundle`]: a namespace's accepted client CA bundle and its rules ([`CaBundle::lint`]).
//! - [`verify_client`] / [`check_client`]: would a client chain be admitted — path building
//!   against the bundle, chain rules on the verified path, certificate filters.
//! - [`CertificateFilters`]: tcld's filter format, validation and matching.
//! - [`Rule`] and [`Finding`]: every check has a stable id and names the certificate.
//!
//! Pure and synchronous; the caller supplies the time.

mod bundle;
mod checks;
mod client;
mod filter;
mod key;
mod rule;
mod sigalg;
mod wellknown;

pub use bundle::{BundleCertificate, CaBundle, MAX_BUNDLE_BYTES, MAX_BUNDLE_CERTS};
pub use checks::EXPIRY_WARNING;
pub use client::{check_client, verify_client, ClientReport, Rejection, VerifiedClient};
pub use filter::{
    AccessRole, CertificateFilter, CertificateFilters, FilterError, Permissions, MAX_FILTERS,
};
pub use key::lint_key;
pub use rule::{CertRef, Finding, Rule, Severity};
pub use wellknown::well_known_root;

#[cfg(test)]
mod tests;
