//! Entry points for the fuzz targets in `fuzz/` (not an API: the proxy's internals, exposed so
//! the fuzzer reaches them without a TLS connection).

use std::sync::Arc;

use bytes::Bytes;

use crate::api_schema::Access;
use crate::api_table::METHODS;
use crate::grpc::{Encoding, Framer};
use crate::namespace_check::check_message;

/// The namespaced methods, in table order.
pub fn namespaced_methods() -> Vec<&'static str> {
    METHODS
        .iter()
        .filter(|(_, a)| matches!(a, Access::Namespaced(..)))
        .map(|(p, _)| *p)
        .collect()
}

/// Runs a request body, delivered in `chunks`, through the proxy's framing (with gzip when
/// `gzip`) and the namespace check of `method` for namespace `ns`, as a connection does.
/// Returns how many messages passed, or the first refusal.
pub fn check_request(
    method: &str,
    ns: &str,
    gzip: bool,
    chunks: &[&[u8]],
    max_message_bytes: usize,
) -> Result<usize, String> {
    let Some(Access::Namespaced(request, _)) =
        METHODS.iter().find(|(p, _)| *p == method).map(|(_, a)| *a)
    else {
        return Err(format!("{method} is not a namespaced method"));
    };
    let encoding = if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    };
    let budget = Arc::new(tokio::sync::Semaphore::new(4 * max_message_bytes));
    let mut framer = Framer::new(max_message_bytes, encoding, budget);
    let mut passed = 0;
    for chunk in chunks {
        framer.push(Bytes::copy_from_slice(chunk));
        while let Some(m) = framer.next().map_err(|s| s.message)? {
            check_message(request, &m.payload, ns).map_err(|v| v.to_string())?;
            passed += 1;
        }
    }
    Ok(passed)
}
