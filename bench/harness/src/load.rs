//! The load client: tokio + rustls, on one thread (bench/run pins it to its own core).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::ClientConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[derive(Debug, clap::Args)]
pub(crate) struct HandshakeArgs {
    /// The server under test
    #[arg(long)]
    target: SocketAddr,
    /// The fixtures directory
    #[arg(long)]
    fixtures: PathBuf,
    /// How many namespaces (the first ones, with leaves) clients pick from at random
    #[arg(long, default_value_t = 1000)]
    namespaces: usize,
    /// The client leaves' key: p384 or rsa
    #[arg(long, default_value = "p384")]
    leaf: String,
    /// Connections in flight (closed loop)
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Open loop: start this many handshakes per second instead, whatever the server does
    #[arg(long)]
    rate: Option<u64>,
    /// Or stop after this many handshakes (for CPU time per handshake)
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, default_value = "10")]
    seconds: f64,
    #[arg(long, default_value = "bench.test")]
    domain: String,
    /// Report this process's (and its children's) CPU time over the measured run
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct UnaryArgs {
    /// The proxy under test, or the upstream itself with --plaintext
    #[arg(long)]
    target: SocketAddr,
    #[arg(long)]
    fixtures: PathBuf,
    /// Speak h2c (straight to the upstream)
    #[arg(long)]
    plaintext: bool,
    /// HTTP/2 connections
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Calls in flight, over all connections
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value = "10")]
    seconds: f64,
    /// Or stop after this many calls
    #[arg(long)]
    count: Option<u64>,
    #[arg(long, default_value = "bench.test")]
    domain: String,
    /// Report this process's (and its children's) CPU time over the measured run (after the
    /// connections are made and warmed up)
    #[arg(long)]
    server_pid: Option<u32>,
}

/// A process's CPU time (utime + stime) with its children's (nginx's workers), in seconds,
/// from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let mut total = 0u64;
    let mut todo = vec![pid.to_string()];
    while let Some(p) = todo.pop() {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) {
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            total += fields
                .get(11)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
            total += fields
                .get(12)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(children) = std::fs::read_to_string(t.path().join("children")) {
                    todo.extend(children.split_whitespace().map(str::to_owned));
                }
            }
        }
    }
    // USER_HZ is 100 on Linux.
    total as f64 / 100.0
}

/// How long one operation may take before it counts as failed (a server that stops
/// answering must not hang the run).
const OP_TIMEOUT: Duration = Duration::from_secs(10);

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn client_config(
    fixtures: &Path,
    leaf: Option<(&str, usize)>,
) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(fixtures.join("server-ca.pem"))? {
        roots.add(c?)?;
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match leaf {
        Some((kind, i)) => {
            let cert = fixtures.join(format!("leaf/{kind}/{i}.pem"));
            let chain: Vec<_> = CertificateDer::pem_file_iter(&cert)
                .with_context(|| cert.display().to_string())?
                .collect::<Result<_, _>>()?;
            let key = PrivateKeyDer::from_pem_file(fixtures.join(format!("leaf/{kind}/{i}.key")))?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    // Every handshake full: no tickets, no session ids.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Latencies in microseconds, and a summary.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn percentile(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i] as f64 / 1000.0
    }
}

/// A cheap pseudo-random sequence (xorshift), so picking a namespace costs nothing.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// One connection: TCP, full TLS handshake, HTTP/2 preface; true when the server sent its
/// SETTINGS (it admitted the client).
async fn one_handshake(
    target: SocketAddr,
    connector: TlsConnector,
    sni: ServerName<'static>,
) -> bool {
    let attempt = async {
        let tcp = TcpStream::connect(target).await.ok()?;
        let _ = tcp.set_nodelay(true);
        let mut tls = connector.connect(sni, tcp).await.ok()?;
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .ok()?;
        let mut head = [0u8; 9];
        tls.read_exact(&mut head).await.ok()?;
        Some(head[3] == 0x04)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(10), attempt).await,
        Ok(Some(true))
    )
}

pub(crate) fn handshakes(args: &HandshakeArgs) -> anyhow::Result<()> {
    let configs: Vec<_> = (0..args.namespaces)
        .map(|i| client_config(&args.fixtures, Some((&args.leaf, i))))
        .collect::<anyhow::Result<_>>()?;
    let names: Vec<ServerName<'static>> = (0..args.namespaces)
        .map(|i| ServerName::try_from(format!("ns-{i}.{}", args.domain)))
        .collect::<Result<_, _>>()?;
    let configs = Arc::new(configs);
    let names = Arc::new(names);
    let duration = Duration::from_secs_f64(args.seconds);
    let target = args.target;
    let count = args.count.unwrap_or(u64::MAX);
    let rt = runtime()?;
    let cpu_before = args.server_pid.map(cpu_seconds);
    let (ok, failed, mut samples, elapsed) = rt.block_on(async move {
        let started = Instant::now();
        let deadline = started + duration;
        let attempts = Arc::new(AtomicU64::new(0));
        // One handshake to a random namespace: its latency in µs if admitted.
        let one = {
            let (configs, names) = (configs.clone(), names.clone());
            // `scheduled`: when the handshake was due (open loop), so a client that falls
            // behind shows in the latency instead of hiding it.
            move |seed: &mut u64, scheduled: Instant| {
                let i = (next(seed) % configs.len() as u64) as usize;
                let connector = TlsConnector::from(configs[i].clone());
                let sni = names[i].clone();
                async move {
                    one_handshake(target, connector, sni)
                        .await
                        .then(|| scheduled.elapsed().as_micros() as u64)
                }
            }
        };
        let more = {
            let attempts = attempts.clone();
            move || Instant::now() < deadline && attempts.fetch_add(1, Ordering::Relaxed) < count
        };
        let mut results: Vec<Option<u64>> = Vec::new();
        match args.rate {
            Some(rate) => {
                // Open loop: start on schedule, whatever is still in flight.
                let mut tick =
                    tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut seed = 0x9e37_79b9_7f4a_7c15u64;
                let mut tasks = tokio::task::JoinSet::new();
                while more() {
                    let due = tick.tick().await.into_std();
                    tasks.spawn(one(&mut seed, due));
                    while let Some(r) = tasks.try_join_next() {
                        results.push(r.unwrap_or(None));
                    }
                }
                while let Some(r) = tasks.join_next().await {
                    results.push(r.unwrap_or(None));
                }
            }
            None => {
                let mut tasks = tokio::task::JoinSet::new();
                for w in 0..args.concurrency {
                    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ ((w as u64 + 1) << 32);
                    let (one, more) = (one.clone(), more.clone());
                    tasks.spawn(async move {
                        let mut mine = Vec::new();
                        while more() {
                            mine.push(one(&mut seed, Instant::now()).await);
                        }
                        mine
                    });
                }
                while let Some(r) = tasks.join_next().await {
                    results.extend(r.unwrap_or_default());
                }
            }
        }
        let samples = Samples(results.iter().flatten().copied().collect());
        let ok = samples.0.len() as u64;
        (ok, results.len() as u64 - ok, samples, started.elapsed())
    });
    let secs = elapsed.as_secs_f64();
    let server_cpu = args
        .server_pid
        .map(cpu_seconds)
        .zip(cpu_before)
        .map(|(a, b)| a - b);
    println!(
        "{}",
        json!({
            "kind": "handshakes", "leaf": args.leaf, "ok": ok, "failed": failed, "seconds": secs,
            "per_second": ok as f64 / secs, "p50_ms": samples.percentile(0.5), "p99_ms": samples.percentile(0.99),
            "server_cpu_ms_per_op": server_cpu.map(|c| c * 1000.0 / ok.max(1) as f64),
        })
    );
    Ok(())
}

/// A DescribeNamespace request for `namespace`, framed for gRPC: field 1, the name.
fn describe_namespace(namespace: &str) -> Bytes {
    let mut message = vec![0x0a, namespace.len() as u8];
    message.extend_from_slice(namespace.as_bytes());
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    Bytes::from(frame)
}

type Sender = hyper::client::conn::http2::SendRequest<Full<Bytes>>;

async fn connect(args: &UnaryArgs, config: &Arc<ClientConfig>) -> anyhow::Result<Sender> {
    tokio::time::timeout(OP_TIMEOUT, connect_now(args, config))
        .await
        .context("connecting timed out")?
}

async fn connect_now(args: &UnaryArgs, config: &Arc<ClientConfig>) -> anyhow::Result<Sender> {
    let tcp = TcpStream::connect(args.target).await?;
    tcp.set_nodelay(true)?;
    let builder = hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
    if args.plaintext {
        let (sender, conn) = builder.handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        Ok(sender)
    } else {
        let sni = ServerName::try_from(format!("ns-0.{}", args.domain))?;
        let tls = TlsConnector::from(config.clone()).connect(sni, tcp).await?;
        let (sender, conn) = builder.handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        Ok(sender)
    }
}

async fn call(sender: &mut Sender, authority: &str, body: Bytes) -> bool {
    tokio::time::timeout(OP_TIMEOUT, call_now(sender, authority, body))
        .await
        .unwrap_or(false)
}

async fn call_now(sender: &mut Sender, authority: &str, body: Bytes) -> bool {
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://{authority}/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("temporal-namespace", "ns-0")
        .body(Full::new(body));
    let Ok(request) = request else { return false };
    if sender.ready().await.is_err() {
        return false;
    }
    let Ok(response) = sender.send_request(request).await else {
        return false;
    };
    if response.status() != 200 {
        return false;
    }
    let Ok(collected) = response.into_body().collect().await else {
        return false;
    };
    collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .is_some_and(|s| s == "0")
}

pub(crate) fn unary(args: &UnaryArgs) -> anyhow::Result<()> {
    let config = client_config(&args.fixtures, Some(("p384", 0)))?;
    let authority = format!("ns-0.{}", args.domain);
    let body = describe_namespace("ns-0");
    let rt = runtime()?;
    let count = args.count.unwrap_or(u64::MAX);
    let (ok, failed, mut samples, elapsed, server_cpu) = rt.block_on(async {
        let mut senders = Vec::new();
        for _ in 0..args.connections.max(1) {
            senders.push(connect(args, &config).await?);
        }
        // Warm-up: a few calls on each connection.
        for s in &mut senders {
            for _ in 0..10 {
                call(s, &authority, body.clone()).await;
            }
        }
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let cpu_before = args.server_pid.map(cpu_seconds);
        let started = Instant::now();
        let deadline = started + Duration::from_secs_f64(args.seconds);
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..args.concurrency {
            let mut sender = senders[w % senders.len()].clone();
            let (ok, failed) = (ok.clone(), failed.clone());
            let (authority, body) = (authority.clone(), body.clone());
            tasks.spawn(async move {
                let mut samples = Vec::new();
                while Instant::now() < deadline
                    && ok.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < count
                {
                    let t = Instant::now();
                    if call(&mut sender, &authority, body.clone()).await {
                        ok.fetch_add(1, Ordering::Relaxed);
                        samples.push(t.elapsed().as_micros() as u64);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                samples
            });
        }
        let mut samples = Samples::default();
        while let Some(s) = tasks.join_next().await {
            samples.0.extend(s.context("a load task panicked")?);
        }
        let elapsed = started.elapsed();
        let cpu = args
            .server_pid
            .map(cpu_seconds)
            .zip(cpu_before)
            .map(|(a, b)| a - b);
        anyhow::Ok((
            ok.load(Ordering::Relaxed),
            failed.load(Ordering::Relaxed),
            samples,
            elapsed,
            cpu,
        ))
    })?;
    let secs = elapsed.as_secs_f64();
    println!(
        "{}",
        json!({
            "kind": "unary", "ok": ok, "failed": failed, "seconds": secs, "per_second": ok as f64 / secs,
            "p50_ms": samples.percentile(0.5), "p99_ms": samples.percentile(0.99),
            "server_cpu_ms_per_op": server_cpu.map(|c| c * 1000.0 / ok.max(1) as f64),
        })
    );
    Ok(())
}
