//! The gateway's request path without TLS: gRPC message framing (length prefixes, gzip, the
//! size cap) and the namespace walk of each message, as a connection delivers the body in
//! chunks. Input: [method selector][flags][chunk size][body…].
#![no_main]

use std::sync::OnceLock;

use gatehouse_gateway::fuzzing::{check_request, namespaced_methods};
use libfuzzer_sys::fuzz_target;

fn methods() -> &'static Vec<&'static str> {
    static M: OnceLock<Vec<&'static str>> = OnceLock::new();
    M.get_or_init(namespaced_methods)
}

fuzz_target!(|data: &[u8]| {
    let [selector, flags, chunk, body @ ..] = data else { return };
    let methods = methods();
    let method = methods[usize::from(*selector) % methods.len()];
    let size = usize::from(*chunk).max(1);
    let chunks: Vec<&[u8]> = body.chunks(size).collect();
    let gzip = flags & 1 == 1;
    let max = if flags & 2 == 2 { 1024 } else { 64 * 1024 };
    let whole = check_request(method, "a", gzip, &[body], max);
    let split = check_request(method, "a", gzip, &chunks, max);
    // How the body is cut into DATA frames never changes the verdict.
    assert_eq!(whole.is_ok(), split.is_ok(), "{method}: {whole:?} vs {split:?}");
});
