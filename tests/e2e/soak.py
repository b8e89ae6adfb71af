"""Soak: mixed load on `gatehouse serve` in front of a real Temporal server, recording the
gateway's RSS, file descriptors and latencies. Every valid request must succeed; memory and
descriptors must not grow.

The load, all at once:
- a long-lived Python SDK worker and client running workflows (each with an activity) back to
  back, through the gateway, on namespace a;
- new handshakes: a fresh mTLS connection for every raw gRPC call (DescribeNamespace: namespaced,
  so checked by the gateway, and answered from Temporal's namespace cache — a visibility query
  at 10/s would hit the dev server's own persistence rate limit, RESOURCE_EXHAUSTED "System
  Persistence Max QPS Reached", which is Temporal's limit, not the gateway's), by clients of two
  different CAs;
- configuration changes every few seconds through the API: a third CA added to and removed from
  the bundle, and a certificate filter that still admits every client set and cleared (each
  change makes the gateway re-verify every open connection).

    GATEHOUSE_BIN=target/release/gatehouse .venv/bin/python tests/e2e/soak.py --seconds 1800 \\
        --out target/soak.json

test_soak.py runs it for 20 seconds in the test command; docs/security.md records a long run.
"""

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import grpc_raw  # noqa: E402
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest  # noqa: E402
from test_gateway import DOMAIN, Gateway, Greeting, Temporal, gen_ca, gen_leaf, wait_until, worker  # noqa: E402

DESCRIBE = "/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace"


def proc_stats(pid):
    rss = 0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def soak(seconds: float, workdir: Path, handshake_rate: float = 10.0, change_every: float = 3.0,
         at_least: dict = None):
    """Runs the load for `seconds`, then on until the counts reach `at_least` (a busy machine
    gets as much load through as an idle one, only later; 10x `seconds` at most)."""
    temporal = Temporal(workdir)
    g = Gateway(workdir, temporal.port).start()
    stop = threading.Event()
    errors, samples = [], []
    counts = {"workflows": 0, "handshake_calls": 0, "config_changes": 0}
    wf_latency, call_latency = [], []
    try:
        ca1, ca2, ca3 = gen_ca(workdir, "ca-1"), gen_ca(workdir, "ca-2"), gen_ca(workdir, "ca-3")
        c1, c2 = gen_leaf(workdir, ca1, "worker-1"), gen_leaf(workdir, ca2, "worker-2")
        bundle = Path(ca1[0]).read_text() + Path(ca2[0]).read_text()
        (workdir / "bundle.pem").write_text(bundle)
        g.change("a", "namespace", "create", "-n", "a", "-f", workdir / "bundle.pem")
        pid = g.proc.pid

        def handshakes():
            msg = DescribeNamespaceRequest(namespace="a").SerializeToString()
            i = 0
            while not stop.is_set():
                client = (c1, c2)[i % 2]
                i += 1
                started = time.monotonic()
                try:
                    _, code, message, _ = grpc_raw.call("127.0.0.1", g.gw_port, f"a.{DOMAIN}", g.ca, *client, DESCRIBE,
                                                        msg, headers=[("temporal-namespace", "a")], timeout=30)
                    if code != "0":
                        errors.append(f"handshake call: {code} {message}")
                except Exception as e:  # noqa: BLE001 — every failure is recorded
                    errors.append(f"handshake call: {type(e).__name__}: {e}")
                call_latency.append(time.monotonic() - started)
                counts["handshake_calls"] += 1
                stop.wait(max(0.0, 1.0 / handshake_rate - (time.monotonic() - started)))

        def changes():
            i = 0
            while not stop.wait(change_every):
                i += 1
                try:
                    if i % 4 == 1:
                        g.cli("namespace", "accepted-client-ca", "add", "-n", "a", "-f", ca3[0], check=0)
                    elif i % 4 == 2:
                        g.cli("n", "cf", "import", "-n", "a", "--input", '{"filters":[{"organization":"acme"}]}',
                              "--auto-confirm", check=0)
                    elif i % 4 == 3:
                        g.cli("namespace", "accepted-client-ca", "set", "-n", "a", "-f", workdir / "bundle.pem",
                              "--auto-confirm", check=0)
                    else:
                        g.cli("n", "cf", "clear", "-n", "a", "--auto-confirm", check=0)
                    counts["config_changes"] += 1
                except AssertionError as e:
                    errors.append(f"config change {i}: {e}")

        def sampler():
            while not stop.is_set():
                rss, fds = proc_stats(pid)
                samples.append({"t": round(time.monotonic() - t0, 1), "rss": rss, "fds": fds})
                stop.wait(1.0)

        async def workflows():
            client = await g.client("a", *c1)
            async with worker(client, "soak"):
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        r = await client.execute_workflow(Greeting.run, "soak", id=f"s-{uuid.uuid4()}",
                                                          task_queue="soak")
                        if r != "Hello, soak!":
                            errors.append(f"workflow result {r!r}")
                    except Exception as e:  # noqa: BLE001
                        errors.append(f"workflow: {type(e).__name__}: {e}")
                    wf_latency.append(time.monotonic() - started)
                    counts["workflows"] += 1

        t0 = time.monotonic()
        threads = [threading.Thread(target=f, daemon=True) for f in (handshakes, changes, sampler)]
        for t in threads:
            t.start()
        loop_thread = threading.Thread(target=lambda: asyncio.run(workflows()), daemon=True)
        loop_thread.start()
        stop.wait(seconds)
        while (any(counts[k] < n for k, n in (at_least or {}).items())
               and time.monotonic() - t0 < 10 * seconds):
            stop.wait(0.5)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        loop_thread.join(timeout=60)
        # The clients are gone (the SDK client closes its connection once collected): once the
        # gateway has closed their connections, its descriptors are where the load left them.
        gc.collect()
        wait_until(lambda: g.tcp_connections() == 0,
                   lambda: f"the gateway's client connections closed: {g.tcp_connections()} open")
        end_rss, end_fds = proc_stats(pid)
    finally:
        g.stop()
        temporal.stop()

    n = len(samples)
    early = samples[n // 5: max(n // 5 + 1, 2 * n // 5)] or samples[:1]
    late = samples[4 * n // 5:] or samples[-1:]
    result = {
        "seconds": seconds,
        "ran_seconds": round(samples[-1]["t"], 1) if samples else None,
        "counts": counts,
        "errors": errors[:20],
        "error_count": len(errors),
        "workflow_latency_s": {"p50": pct(wf_latency, 0.5), "p99": pct(wf_latency, 0.99), "max": max(wf_latency, default=None)},
        "handshake_call_latency_s": {"p50": pct(call_latency, 0.5), "p99": pct(call_latency, 0.99),
                                     "max": max(call_latency, default=None)},
        "rss_mb": {"early_median": statistics.median(s["rss"] for s in early) / 2**20,
                   "late_median": statistics.median(s["rss"] for s in late) / 2**20,
                   "max": max(s["rss"] for s in samples) / 2**20, "end": end_rss / 2**20},
        "fds": {"start": samples[0]["fds"], "max": max(s["fds"] for s in samples), "end": end_fds},
        "samples": samples,
    }
    return result


def verdict(r):
    """Why the run failed, if it did."""
    why = []
    if r["error_count"]:
        why.append(f"{r['error_count']} failed valid requests: {r['errors'][:3]}")
    if r["counts"]["workflows"] == 0 or r["counts"]["handshake_calls"] == 0:
        why.append(f"no load ran: {r['counts']}")
    rss = r["rss_mb"]
    if rss["late_median"] > rss["early_median"] * 1.25 + 16:
        why.append(f"RSS grew: {rss}")
    if r["fds"]["end"] > r["fds"]["start"] + 16:
        why.append(f"file descriptors grew: {r['fds']}")
    return why


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=1800)
    ap.add_argument("--out", type=Path, default=Path("target/soak.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatehouse-soak-") as d:
        r = soak(args.seconds, Path(d))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=1))
    summary = {k: v for k, v in r.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    why = verdict(r)
    if why:
        print("SOAK FAILED:\n  " + "\n  ".join(why), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
