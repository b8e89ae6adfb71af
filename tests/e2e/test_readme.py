"""Every shell block of the README runs, in order, on a fresh directory: the five-minute tour
(`gatehouse dev`, connect, rotate a CA, watch the old CA's traffic stop) and the reference
commands, with the real `temporal` from the test venv on PATH. Only the two set-up commands are
not run here: CI runs `scripts/test` itself, and `serve` is run by every server test."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from test_cli import GATEHOUSE
from test_control_plane import free_port
from test_dev import VENV_BIN, path_with, running
from test_gateway import wait_until

README = Path(__file__).resolve().parents[2] / "README.md"
NOT_RUN_HERE = ["cargo run --release -- serve", "scripts/test"]


def sections():
    """(heading, [sh blocks]) in README order."""
    out, heading = [], None
    for m in re.finditer(r"^## ([^\n]+)$|^```sh\n(.*?)^```$", README.read_text(), re.M | re.S):
        if m.group(1):
            heading = m.group(1)
            out.append((heading, []))
        else:
            out[-1][1].append(m.group(2))
    return dict(out)


def test_every_shell_block_of_the_readme_runs(tmp_path):
    s = sections()
    assert [b.strip() for b in s["The two commands"]] == NOT_RUN_HERE
    dev_block, tour = s["A five-minute tour"]
    assert dev_block.strip() == "gatehouse dev --data-dir ./dev"
    (more,) = s["More commands"]
    covered = {"The two commands", "A five-minute tour", "More commands"}
    assert all(not blocks for h, blocks in s.items() if h not in covered), "a new sh block nobody runs"

    api, gw = free_port(), free_port()
    ports = lambda text: text.replace("127.0.0.1:7233", f"127.0.0.1:{gw}").replace("127.0.0.1:8080", f"127.0.0.1:{api}")
    env = dict(os.environ, PATH=path_with(VENV_BIN, str(Path(GATEHOUSE).parent)))
    env.pop("GATEHOUSE_SERVER", None)
    out = tmp_path / "dev.out"
    dev = subprocess.Popen(["bash", "-c", "exec " + dev_block.strip() + f" --api-listen 127.0.0.1:{api} "
                            f"--gateway-listen 127.0.0.1:{gw}"],
                           cwd=tmp_path, env=env, stdout=open(out, "wb"), stderr=open(tmp_path / "dev.err", "wb"))
    try:
        deadline = time.time() + 90
        while "temporal operator namespace list" not in out.read_text():
            assert dev.poll() is None and time.time() < deadline, (tmp_path / "dev.err").read_text()
            time.sleep(0.1)
        temporal_port = re.search(r"upstream Temporal: 127.0.0.1:(\d+)", out.read_text()).group(1)

        script = "set -eux\n" + ports(tour) + "\n" + ports(more)
        p = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        # The tour did what it says: the old CA saw traffic, then left the bundle, and the old
        # certificate was refused by rule.
        token = (tmp_path / "dev" / "admin.key").read_text().strip()
        req = urllib.request.Request(f"http://127.0.0.1:{api}/api/v1/namespaces/demo/usage",
                                     headers={"Authorization": f"Bearer {token}"})
        usage = lambda: json.loads(urllib.request.urlopen(req, timeout=10).read())  # noqa: E731

        def old_ca_used_and_idle(u):
            old = [c for c in u["cas"] if not c["inBundle"]]
            return len(old) == 1 and old[0]["handshakes"] >= 1 and old[0]["openConnections"] == 0

        # As the gateway flushes usage (every 2 s): waited for, not assumed of the tour's sleeps.
        wait_until(lambda: old_ca_used_and_idle(usage()), lambda: str(usage()), every=0.2)
        assert 'namespace=demo rule="chain.untrusted"' in (tmp_path / "dev.err").read_text()
        # The blocks ran in one directory without reusing each other's files: no CA ended up in
        # two namespaces' bundles (as demo's ca-2.pem once did in payments', through rotate ca).
        req = urllib.request.Request(f"http://127.0.0.1:{api}/api/v1/namespaces",
                                     headers={"Authorization": f"Bearer {token}"})
        owners = {}
        for ns in json.loads(urllib.request.urlopen(req, timeout=10).read())["namespaces"]:
            for ca in ns["acceptedClientCas"]:
                owners.setdefault(ca["sha256"], []).append(ns["name"])
        shared = {fp: names for fp, names in owners.items() if len(names) > 1}
        assert not shared and {"demo", "payments"} <= {n for names in owners.values() for n in names}, owners
    finally:
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0, (tmp_path / "dev.err").read_text()[-3000:]
    assert not running(f"--port {temporal_port}")


def test_the_main_command_runs_the_gatehouse_binary():
    """`cargo run --release -- serve` needs `cargo run` to find exactly one binary (the workspace's
    default members leave the benchmark harness out). Run here with --version instead of serve:
    scripts/test has built everything already, so nothing is rebuilt."""
    command = NOT_RUN_HERE[0].split()
    assert command[-1] == "serve", command
    p = subprocess.run([*command[:-1], "--version"], cwd=README.parent, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0 and p.stdout.startswith("gatehouse "), p.stderr[-2000:]
