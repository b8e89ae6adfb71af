"""The control plane for real: `gatehouse serve` on a socket, the REST API over HTTP, the CLI
against it, tcld's rotation commands as written, and durability across `kill -9`."""

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from test_cli import GATEHOUSE, run

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.data = workdir / "gatehouse-data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = workdir / "serve.log"
        self.extra = []

    def start(self):
        self.proc = subprocess.Popen(
            [GATEHOUSE, "serve", "--data-dir", str(self.data), "--api-listen", f"127.0.0.1:{self.port}", *self.extra],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/api/v1/openapi.json", timeout=1).read()
                return self
            except OSError:
                assert self.proc.poll() is None, self.log.read_text()
                time.sleep(0.05)
        raise AssertionError("server did not start:\n" + self.log.read_text())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        return self.proc.returncode

    @property
    def token(self):
        return (self.data / "admin.key").read_text().strip()

    def api(self, method, path, body=None, token=None):
        req = urllib.request.Request(self.url + path, method=method)
        if token is not False:
            req.add_header("Authorization", f"Bearer {token or self.token}")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, data=data, timeout=30) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def cli(self, *args, check=None, env=None, stdin=None):
        full_env = dict(os.environ, GATEHOUSE_SERVER=self.url, GATEHOUSE_DATA_DIR=str(self.data))
        full_env.pop("AUTO_CONFIRM", None)
        full_env.update(env or {})
        p = subprocess.run([GATEHOUSE, *map(str, args)], cwd=self.workdir, capture_output=True, text=True,
                           env=full_env, timeout=60, stdin=stdin if stdin is not None else subprocess.DEVNULL)
        assert "panicked" not in p.stderr, p.stderr
        if check is not None:
            assert p.returncode == check, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path).start()
    yield s
    s.stop(signal.SIGKILL)


def test_first_start_bootstraps_an_owner_key_that_is_never_printed(server):
    key_file = server.data / "admin.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(server.data).st_mode) == 0o700
    for f in server.data.glob("gatehouse.db*"):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    token = server.token
    assert token.startswith("ghk_")
    assert token not in server.log.read_text()
    status, me = server.api("GET", "/api/v1/whoami")
    assert status == 200 and me["user"]["role"] == "account-owner"
    # Stored hashed: the token does not appear in the database files.
    for f in server.data.glob("gatehouse.db*"):
        assert token.encode() not in f.read_bytes(), f
    # Over a real socket: no key, a bad key.
    assert server.api("GET", "/api/v1/namespaces", token=False)[0] == 401
    assert server.api("GET", "/api/v1/namespaces", token="ghk_wrong")[0] == 401
    # A restart does not bootstrap again or rewrite the key.
    assert server.stop() == 0, server.log.read_text()
    server.start()
    assert server.token == token
    status, users = server.api("GET", "/api/v1/users")
    assert status == 200 and len(users["users"]) == 1


def test_tcld_rotation_commands_work_as_written(server):
    """The reference rotation walkthrough, with only the binary name changed."""
    d = server.workdir
    (d / "out").mkdir()
    ns = "temporal-booking.sdvdw"
    server.cli("gen", "ca", "--org", "Temporal", "-d", "365d", "--ca-cert", d / "out/OLD-Booking.crt", "--ca-key", d / "out/OLD-Booking.key", check=0)
    server.cli("namespace", "create", "--namespace", ns, "--ca-certificate-file", d / "out/OLD-Booking.crt", check=0)
    # Scenario 1: a new CA, uploaded next to the old one, plus a filter.
    server.cli("gen", "ca", "--org", "Temporal", "-d", "365d", "--ca-cert", d / "out/Booking.crt", "--ca-key", d / "out/Booking.key", check=0)
    server.cli("n", "ca", "add", "--namespace", ns, "-f", "out/Booking.crt", check=0)
    server.cli("n", "cf", "add", "--namespace", ns, "--input", '{ "filters": [ { "commonName": "temporal-booking.sdvdw" } ] }', check=0)
    listed = json.loads(server.cli("n", "ca", "l", "-n", ns, check=0).stdout)
    assert len(listed) == 2 and {"fingerprint", "issuer", "subject", "notBefore", "notAfter", "base64EncodedData", "sha256"} <= set(listed[0])
    # Scenario 2: a new leaf from the new CA (tcld's command, unchanged).
    server.cli("gen", "leaf", "--org", "Temporal", "--common-name", ns, "-d", "364d", "--ca-cert", d / "out/Booking.crt",
               "--ca-key", d / "out/Booking.key", "--cert", d / f"out/{ns}.crt", "--key", d / f"out/{ns}.key", check=0)
    (d / "bundle.pem").write_text("".join(base64.b64decode(c["base64EncodedData"]).decode() for c in listed))
    new_pem = (d / "out/Booking.crt").read_text()
    new_sha256 = next(c["sha256"] for c in listed if base64.b64decode(c["base64EncodedData"]).decode() == new_pem)
    filters = server.cli("n", "cf", "export", "-n", ns, check=0).stdout
    (d / "filters.json").write_text(filters)
    run("verify", "--ca-bundle", d / "bundle.pem", "--cert", d / f"out/{ns}.crt", "--filters", d / "filters.json", cwd=d, check=0)
    # Remove the old CA: tcld asks; without a terminal and without confirmation it fails fast.
    start = time.time()
    p = server.cli("n", "ca", "remove", "--namespace", ns, "-f", "out/OLD-Booking.crt")
    assert p.returncode == 2 and "--auto-confirm" in p.stderr and time.time() - start < 10
    assert len(json.loads(server.cli("n", "ca", "l", "-n", ns, check=0).stdout)) == 2, "nothing removed"
    server.cli("n", "ca", "remove", "--namespace", ns, "-f", "out/OLD-Booking.crt", env={"AUTO_CONFIRM": "true"}, check=0)
    left = json.loads(server.cli("n", "ca", "l", "-n", ns, check=0).stdout)
    assert [c["sha256"] for c in left] == [new_sha256]
    # By tcld's SHA-1 fingerprint, with tcld's own flag spelling.
    server.cli("n", "ca", "a", "-n", ns, "-c", base64.b64encode((d / "out/OLD-Booking.crt").read_bytes()).decode(), check=0)
    sha1 = next(c["fingerprint"] for c in json.loads(server.cli("n", "ca", "l", "-n", ns, check=0).stdout) if c["sha256"] != new_sha256)
    server.cli("n", "ca", "r", "-n", ns, "--fp", sha1, "--auto_confirm", check=0)
    assert len(json.loads(server.cli("n", "ca", "l", "-n", ns, check=0).stdout)) == 1
    # Filters: import from a file, export, clear.
    (d / "cf.json").write_text('{ "filters": [ { "commonName": "test1" }, { "organization": "Temporal" } ] }')
    server.cli("n", "cf", "imp", "-n", ns, "--certificate-filter-file", "cf.json", "--auto-confirm", check=0)
    assert len(json.loads(server.cli("n", "cf", "exp", "-n", ns, check=0).stdout)["filters"]) == 2
    server.cli("n", "cf", "clear", "-n", ns, "--auto-confirm", check=0)
    assert json.loads(server.cli("n", "cf", "exp", "-n", ns, check=0).stdout)["filters"] == []


def test_cli_refusals_name_the_rule_and_change_nothing(server):
    d = server.workdir
    server.cli("gen", "ca", "--org", "Acme", "-d", "30d", "--ca-cert", "ca.pem", "--ca-key", "ca.key", check=0)
    server.cli("gen", "leaf", "--org", "Acme", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "leaf.pem", "--key", "leaf.key", check=0)
    server.cli("n", "create", "-n", "payments", "-f", "ca.pem", check=0)
    before = server.api("GET", "/api/v1/namespaces/payments")[1]
    p = server.cli("n", "ca", "add", "-n", "payments", "-f", "leaf.pem")
    assert p.returncode == 1 and "[ca.is-ca]" in p.stderr and "sha256" in p.stderr, p.stderr
    p = server.cli("n", "cf", "add", "-n", "payments", "--input", '{"filters":[{"commonName":"a*b"}]}')
    assert p.returncode == 2 and "filter.wildcard" in p.stderr, p.stderr
    p = server.cli("n", "ca", "add", "-n", "payments", "-f", "ca.pem", "-v", "7")
    assert p.returncode == 1 and "resourceVersion" in p.stderr
    assert server.api("GET", "/api/v1/namespaces/payments")[1] == before
    # A namespace admin of another namespace is refused; of this one, allowed.
    server.cli("n", "create", "-n", "billing", "-f", "ca.pem", check=0)
    server.cli("user", "create", "--email", "pay@acme.io", "--role", "namespace-admin", "-n", "payments", check=0)
    token = json.loads(server.cli("apikey", "create", "--name", "pay", "--user", "pay@acme.io", check=0).stdout)["token"]
    as_pay = {"GATEHOUSE_API_KEY": token}
    server.cli("gen", "ca", "--org", "Acme", "-d", "30d", "--common-name", "Acme v2", "--ca-cert", "v2.pem", "--ca-key", "v2.key", check=0)
    server.cli("n", "ca", "add", "-n", "payments", "-f", "v2.pem", env=as_pay, check=0)
    p = server.cli("n", "ca", "add", "-n", "billing", "-f", "v2.pem", env=as_pay)
    assert p.returncode == 1 and "permission_denied" in p.stderr
    p = server.cli("n", "create", "-n", "mine", "-f", "ca.pem", env=as_pay)
    assert p.returncode == 1 and "permission_denied" in p.stderr
    audit = server.api("GET", "/api/v1/audit?namespace=payments")[1]["events"]
    assert audit[0]["action"] == "namespace.accepted-client-ca.add" and audit[0]["actor"].startswith("pay@acme.io")


def test_acknowledged_updates_survive_kill_9(tmp_path):
    """Stream updates; kill -9 the server mid-stream; after restart every acknowledged update
    is there (the resource version counts them)."""
    server = Server(tmp_path).start()
    server.cli("gen", "ca", "--org", "Acme", "-d", "30d", "--ca-cert", "ca.pem", "--ca-key", "ca.key", check=0)
    server.cli("n", "create", "-n", "durable", "-f", "ca.pem", check=0)
    acked = []
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, ns = server.api("PUT", "/api/v1/namespaces/durable/certificate-filters",
                                        {"filters": [{"commonName": f"worker-{i}"}]})
            except OSError:
                return
            if status == 200:
                acked.append((i, int(ns["resourceVersion"])))

    t = threading.Thread(target=writer)
    t.start()
    deadline = time.monotonic() + 120  # only a hang (a writer that stopped) gets near it
    while len(acked) < 40:
        if not t.is_alive() or time.monotonic() > deadline:
            stop.set()
            server.stop(signal.SIGKILL)
            raise AssertionError(f"only {len(acked)} updates acknowledged\n" + server.log.read_text()[-3000:])
        time.sleep(0.01)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    stop.set()
    t.join()
    assert len(acked) >= 40
    server.start()
    status, ns = server.api("GET", "/api/v1/namespaces/durable")
    assert status == 200
    last_i, last_version = acked[-1]
    version = int(ns["resourceVersion"])
    # Every acknowledged write is durable; at most one more (in flight at the kill) may be too.
    assert version in (last_version, last_version + 1), (version, last_version)
    assert last_version == 1 + len(acked), "each acknowledged update bumped the version once"
    if version == last_version:
        assert ns["spec"]["mtlsAuth"]["certificateFilters"] == [{"commonName": f"worker-{last_i}"}]
    events = server.api("GET", "/api/v1/audit?namespace=durable&limit=1000")[1]["events"]
    assert len([e for e in events if e["action"] == "namespace.certificate-filters.import"]) == version - 1
    server.stop(signal.SIGKILL)


def test_graceful_shutdown_on_sigterm(server):
    assert server.stop(signal.SIGTERM) == 0
    assert "shutting down" in server.log.read_text()


def test_two_owners_removing_each_other_at_once_leave_one(server):
    status, _ = server.api("POST", "/api/v1/users", {"email": "second@acme.io", "role": "account-owner"})
    assert status == 201
    token2 = server.api("POST", "/api/v1/apikeys", {"name": "second", "userId": "second@acme.io"})[1]["token"]
    me1 = server.api("GET", "/api/v1/whoami")[1]["user"]["id"]
    me2 = server.api("GET", "/api/v1/whoami", token=token2)[1]["user"]["id"]
    results = []
    barrier = threading.Barrier(2)

    def delete(token, victim):
        barrier.wait()
        results.append(server.api("DELETE", f"/api/v1/users/{victim}", token=token)[0])

    threads = [threading.Thread(target=delete, args=(server.token, me2)), threading.Thread(target=delete, args=(token2, me1))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results)[0] == 204 and results.count(204) == 1, results
    remaining = server.api("GET", "/api/v1/users")
    if remaining[0] != 200:
        remaining = server.api("GET", "/api/v1/users", token=token2)
    assert [u["role"] for u in remaining[1]["users"]] == ["account-owner"]


def test_a_bootstrap_cut_short_is_completed_on_the_next_start(tmp_path):
    data = tmp_path / "gatehouse-data"
    data.mkdir(mode=0o700)
    (data / "admin.key").write_text("ghk_left-over-from-a-crash\n")
    server = Server(tmp_path).start()
    try:
        assert server.token != "ghk_left-over-from-a-crash"
        assert server.api("GET", "/api/v1/whoami")[0] == 200
    finally:
        server.stop(signal.SIGKILL)


def test_schemathesis_finds_no_server_errors(server):
    """Property-based requests generated from the served OpenAPI document: no 5xx, ever.
    (Revoking API keys is left out so the run keeps its own key.)"""
    server.cli("gen", "ca", "--org", "Acme", "-d", "30d", "--ca-cert", "ca.pem", "--ca-key", "ca.key", check=0)
    server.cli("n", "create", "-n", "a", "-f", "ca.pem", check=0)
    p = subprocess.run(
        [str(Path(os.environ.get("GATEHOUSE_VENV", str(ROOT / ".venv"))) / "bin" / "schemathesis"), "run",
         server.url + "/api/v1/openapi.json", "-H", f"Authorization: Bearer {server.token}",
         "--checks", "not_a_server_error", "--max-examples", "25", "--seed", "20261122",
         "--exclude-path", "/api/v1/apikeys/{id}"],
        capture_output=True, text=True, timeout=600, cwd=server.workdir,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "passed" in p.stdout
    assert "ERROR" not in server.log.read_text()


def test_wrong_api_keys_are_rate_limited_per_address(server):
    """Ten wrong keys from one address in a minute, and that address is refused (429) before
    any key is looked up, even a right one; other addresses are unaffected."""
    import http.client

    def get(path, token, source="127.0.0.1"):
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10, source_address=(source, 0))
        c.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, json.loads(body) if body.startswith(b"{") else body.decode()

    for _ in range(10):
        assert get("/api/v1/namespaces", "ghk_wrong")[0] == 401
    status, v = get("/api/v1/namespaces", "ghk_wrong")
    assert status == 429 and v["violations"][0]["rule"] == "auth.rate-limited", v
    assert get("/api/v1/namespaces", server.token)[0] == 429, "refused before the key is looked up"
    # The console's sign-in counts and refuses the same way.
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    c.request("POST", "/login", body=f"api_key={server.token}",
              headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": server.url})
    r = c.getresponse()
    assert r.status == 429 and "too many wrong API keys" in r.read().decode()
    # Another address is not affected, and the counters show what happened.
    status, text = get("/metrics", server.token, source="127.0.0.2")
    assert status == 200, text
    assert "gatehouse_api_auth_failures_total 10" in text and "gatehouse_api_auth_rate_limited_total 3" in text


def test_the_cli_deletes_and_revokes(server, tmp_path):
    """Deletes answer 204 with no body: the CLI says what it did and exits 0."""
    server.cli("gen", "ca", "--org", "acme", "-d", "90d", "--ca-cert", tmp_path / "gone.pem",
               "--ca-key", tmp_path / "gone.key", check=0)
    server.cli("namespace", "create", "-n", "gone", "-f", tmp_path / "gone.pem", check=0)
    p = server.cli("namespace", "delete", "-n", "gone", "--auto-confirm", check=0)
    assert "deleted namespace gone" in p.stderr, p.stderr
    assert server.api("GET", "/api/v1/namespaces/gone")[0] == 404
    server.cli("user", "create", "--email", "leaver@acme.io", "--role", "read-only", check=0)
    key = json.loads(server.cli("apikey", "create", "--name", "k", "--user", "leaver@acme.io", check=0).stdout)
    p = server.cli("apikey", "revoke", "--id", key["apiKey"]["id"], "--auto-confirm", check=0)
    assert "revoked API key" in p.stderr, p.stderr
    assert server.api("GET", "/api/v1/whoami", token=key["token"])[0] == 401
    p = server.cli("user", "delete", "--id", "leaver@acme.io", "--auto-confirm", check=0)
    assert "deleted user" in p.stderr, p.stderr
    assert server.api("GET", "/api/v1/users/leaver@acme.io")[0] == 404
