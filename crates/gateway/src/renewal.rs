//! Certificate renewal through the gateway (step-ca's `renew` model).
//!
//! A client that is admitted to a namespace — its certificate still valid, chaining to the
//! namespace's bundle and passing its filters — may ask for a new certificate for the same key:
//! `POST /gatehouse.v1.CertificateService/Renew` on its mTLS connection. The gateway signs one
//! with the namespace's renewal CA (`--renewal-ca`; a key file, encrypted at rest, or a PKCS#11
//! token) keeping the subject, the SANs, the profile and the lifetime. The private key never
//! travels: the new certificate is for the public key of the one presented.

use std::sync::Arc;

use bytes::Bytes;
use gatehouse_pki::{rfc3339, CertificateAuthority, CertificateInfo, CsrRequest, Profile};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use time::OffsetDateTime;

use crate::conn_ctx::ConnCtx;
use crate::response_body::ResponseBody;

/// The renewal endpoint's path.
pub const RENEW_PATH: &str = "/gatehouse.v1.CertificateService/Renew";

fn text(status: StatusCode, message: String) -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::Full(Some(Bytes::from(message + "\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Signs a renewal for the connection's client certificate.
pub(crate) async fn handle(ctx: Arc<ConnCtx>, req: Request<Incoming>) -> Response<ResponseBody> {
    let refuse = |status: StatusCode, rule: &str, message: String| {
        tracing::info!(namespace = %ctx.namespace, peer = %ctx.peer, leaf = %ctx.leaf.fingerprint, rule, reason = %message, "renewal refused");
        ctx.shared.metrics.renewal(&ctx.namespace, rule);
        text(status, format!("[{rule}] {message}"))
    };
    if req.method() != http::Method::POST {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "renew.method",
            "use POST".into(),
        );
    }
    // The request has no body worth reading; drain at most a little.
    let _ = http_body_util::Limited::new(req.into_body(), 4096)
        .collect()
        .await;
    let mine: Vec<_> = ctx
        .shared
        .config
        .renewal_cas
        .iter()
        .filter(|(ns, _)| **ns == *ctx.namespace)
        .map(|(_, ca)| ca.clone())
        .collect();
    if mine.is_empty() {
        return refuse(
            StatusCode::NOT_FOUND,
            "renew.no-ca",
            format!(
                "this gateway renews no certificates for namespace {:?} (it needs --renewal-ca {}=CERT,KEY)",
                ctx.namespace, ctx.namespace
            ),
        );
    }
    if ctx.is_revoked() {
        return refuse(
            StatusCode::FORBIDDEN,
            "renew.revoked",
            "this connection is no longer admitted".into(),
        );
    }
    // Admission was checked at the handshake and is re-checked on every change and every
    // 30 s; expiry since then is checked here.
    let now = OffsetDateTime::now_utc();
    if ctx.leaf.not_after <= now {
        return refuse(
            StatusCode::FORBIDDEN,
            "cert.expired",
            format!(
                "this certificate expired at {}; issue a new one",
                rfc3339(ctx.leaf.not_after)
            ),
        );
    }
    // During a rotation a namespace may have a renewal CA for the old and for the new CA.
    let Some(ca) = mine
        .iter()
        .find(|ca| *ctx.anchor == *ca.certificate().fingerprint.to_string())
        .cloned()
    else {
        let names: Vec<String> = mine
            .iter()
            .map(|ca| ca.certificate().display_subject().to_owned())
            .collect();
        return refuse(
            StatusCode::FORBIDDEN,
            "renew.other-ca",
            format!(
                "this certificate chains to CA {}; the gateway renews only certificates of {}",
                ctx.anchor,
                names.join(", ")
            ),
        );
    };
    let leaf = ctx.leaf.clone();
    let issued = tokio::task::spawn_blocking(move || renew(&ca, &leaf)).await;
    match issued {
        Ok(Ok(new)) => {
            tracing::info!(namespace = %ctx.namespace, peer = %ctx.peer, subject = %new.subject, old = %ctx.leaf.fingerprint, new = %new.fingerprint, not_after = %rfc3339(new.not_after), "certificate renewed");
            ctx.shared.metrics.renewal(&ctx.namespace, "");
            let mut r = Response::new(ResponseBody::Full(Some(Bytes::from(
                gatehouse_pki::certificate_pem(&new.der),
            ))));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-pem-file"),
            );
            r
        }
        Ok(Err(e)) if e.contains("external key") => {
            // Token details (module, slot, return codes) are for the operator, not the client.
            tracing::error!(namespace = %ctx.namespace, error = %e, "renewal: the CA's key failed to sign");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "renew.signer",
                "the gateway's CA key could not sign; its operator can see why in the gateway log"
                    .into(),
            )
        }
        Ok(Err(e)) => refuse(StatusCode::CONFLICT, "renew.refused", e),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "renew.internal",
            "the signer failed".into(),
        ),
    }
}

fn renew(ca: &CertificateAuthority, leaf: &CertificateInfo) -> Result<CertificateInfo, String> {
    let now = OffsetDateTime::now_utc();
    let request = CsrRequest::renewal_of(leaf).map_err(|e| e.to_string())?;
    let issued = request
        .sign(
            ca,
            Profile::of(leaf),
            Some(ca.renewal_period(leaf, now).map_err(|e| e.to_string())?),
            now,
        )
        .map_err(|e| e.to_string())?;
    Ok(issued.certificate)
}

/// Asks a gateway to renew `chain`'s leaf, proving possession of `key` in the TLS handshake.
/// Returns the new certificate as PEM, or the gateway's reason.
pub async fn request_renewal(
    address: &str,
    server_name: &str,
    server_ca_pem: &[u8],
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(server_ca_pem) {
        let c = c.map_err(|e| format!("the gateway CA file: {e}"))?;
        roots
            .add(c)
            .map_err(|e| format!("the gateway CA file: {e}"))?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .map_err(|e| format!("the client certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
        .map_err(|e| format!("server name {server_name:?}: {e}"))?;
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot reach {address}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {address} ({server_name}) failed: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .map_err(|e| format!("HTTP/2 with {address}: {e}"))?;
    tokio::spawn(conn);
    let req = Request::post(format!("https://{server_name}{RENEW_PATH}"))
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("the renewal request failed: {e}"))?;
    let status = resp.status();
    let body = http_body_util::Limited::new(resp.into_body(), 256 * 1024)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    let body = String::from_utf8_lossy(&body).trim().to_owned();
    if status == StatusCode::OK {
        Ok(body)
    } else {
        Err(format!("the gateway refused ({status}): {body}"))
    }
}
