//! Binding a listener, with an error that says what to do about a busy port.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::StartError;

/// Binds `addr` (given by `flag`), returning the listener and the address it got.
pub(crate) async fn bind(
    addr: SocketAddr,
    flag: &str,
) -> Result<(TcpListener, SocketAddr), StartError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::input(listen_error(addr, flag, &e)))?;
    let local = listener
        .local_addr()
        .map_err(|e| StartError::internal(e.to_string()))?;
    Ok((listener, local))
}

/// A listen error that says what to do about it.
pub fn listen_error(addr: SocketAddr, flag: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "cannot listen on {addr}: the port is in use (another gatehouse or Temporal?); stop it, or pass {flag} with a free port, e.g. {flag} {}:0 for any",
            addr.ip()
        )
    } else {
        format!("cannot listen on {addr} ({flag}): {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_port_names_the_flag_and_a_way_out() {
        let (_held, addr) = bind("127.0.0.1:0".parse().expect("addr"), "--x")
            .await
            .expect("bind");
        let err = bind(addr, "--api-listen").await.expect_err("busy");
        let text = err.to_string();
        assert!(text.contains("the port is in use"), "{text}");
        assert!(text.contains("--api-listen 127.0.0.1:0"), "{text}");
    }
}
