"""`gatehouse renew` and `gatehouse rotate` for real: renewals checked with OpenSSL and
cryptography, a renewal killed at random points, and a CA rotation plus daemon renewals while a
long-running Python worker keeps polling a real Temporal server through the gateway."""

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from test_cli import GATEHOUSE
from test_gateway import DOMAIN, TEMPORAL, Gateway, gen_ca, temporal  # noqa: F401 (fixture)

HERE = Path(__file__).resolve().parent


def gh(*args, cwd=None, check=None):
    p = subprocess.run([GATEHOUSE, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert "panicked" not in p.stderr, p.stderr
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def leaf(d: Path, ca, name, duration="30d", *extra):
    gh("gen", "leaf", "--org", "acme", "--common-name", name, "-d", duration, "--ca-cert", ca[0], "--ca-key", ca[1],
       "--cert", d / f"{name}.pem", "--key", d / f"{name}.key", *extra, check=0)
    return d / f"{name}.pem", d / f"{name}.key"


def pair_ok(cert: Path, key: Path, ca: Path):
    """The certificate on disk matches the key on disk and verifies under the CA."""
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    k = serialization.load_pem_private_key(key.read_bytes(), password=None)
    spki = lambda pk: pk.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki(c.public_key()) == spki(k.public_key()), "the key and the certificate disagree"
    p = subprocess.run(["openssl", "verify", "-CAfile", str(ca), "-purpose", "sslclient", str(cert)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return c


def test_renew_keeps_key_subject_sans_and_replaces_only_the_certificate(tmp_path):
    ca = gen_ca(tmp_path, "ca")
    cert, key = leaf(tmp_path, ca, "worker", "30d", "--san", "worker.acme.io", "--san", "spiffe://acme/worker")
    before = x509.load_pem_x509_certificate(cert.read_bytes())
    key_bytes, key_mode = key.read_bytes(), key.stat().st_mode & 0o777
    # Not due (33% of 30 days left is 10 days away): nothing changes.
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", ca[1], "-o", "json", check=0)
    assert json.loads(p.stdout)["renewed"] is False and cert.read_bytes() == before.public_bytes(serialization.Encoding.PEM)
    # A 31-day margin is longer than the whole lifetime: refused, not a renewal loop.
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", ca[1], "--renew-before", "31d", check=2)
    assert "renew continuously" in p.stderr
    # Due with a 30-day margin (notBefore is backdated a minute, so the lifetime is a bit longer).
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", ca[1], "--renew-before", "30d", "-o", "json", check=0)
    out = json.loads(p.stdout)
    after = pair_ok(cert, key, ca[0])
    assert out["renewed"] and out["previousSha256"] != out["sha256"]
    assert after.subject == before.subject and after.serial_number != before.serial_number
    san = lambda c: c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san(after) == san(before)
    assert after.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        before.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    life = lambda c: c.not_valid_after_utc - c.not_valid_before_utc
    assert abs((life(after) - life(before)).total_seconds()) < 5, "the same lifetime"
    assert key.read_bytes() == key_bytes and key.stat().st_mode & 0o777 == key_mode == 0o600, "the key is untouched"
    assert cert.stat().st_mode & 0o777 == 0o644
    # A key that is not the certificate's is refused before anything is written.
    other = leaf(tmp_path, ca, "other")
    now = cert.read_bytes()
    p = gh("renew", "--cert", cert, "--key", other[1], "--ca-cert", ca[0], "--ca-key", ca[1], "--force", check=2)
    assert "does not belong" in p.stderr and cert.read_bytes() == now
    # A server certificate stays a server certificate.
    srv = tmp_path / "srv.pem", tmp_path / "srv.key"
    gh("gen", "server", "--dns", "frontend.acme.io", "--ca-cert", ca[0], "--ca-key", ca[1], "--cert", srv[0], "--key", srv[1], "-d", "30d", check=0)
    gh("renew", "--cert", srv[0], "--key", srv[1], "--ca-cert", ca[0], "--ca-key", ca[1], "--force", check=0)
    eku = x509.load_pem_x509_certificate(srv[0].read_bytes()).extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]


def test_renew_killed_at_random_points_leaves_a_pair_that_verifies(tmp_path):
    """40 renewals: every fourth runs to the end (it must write a new pair), every fourth is
    killed the moment it starts (before it can have written anything), and the rest are killed
    at a random point across one renewal's measured length. After each, the pair on disk must
    verify. Which runs finish does not depend on the machine's speed."""
    ca = gen_ca(tmp_path, "ca")
    cert, key = leaf(tmp_path, ca, "worker")
    rng = random.Random(7)
    cmd = [GATEHOUSE, "renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", ca[1], "--force"]
    start = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    whole = time.monotonic() - start
    serial = pair_ok(cert, key, ca[0]).serial_number
    finished = killed_early = 0
    for i in range(40):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if i % 4 == 0:
            assert p.wait(timeout=60) == 0
            c = pair_ok(cert, key, ca[0])
            assert c.serial_number != serial, f"run {i} finished without writing a new pair"
            finished += 1
        else:
            if i % 4 != 1:
                time.sleep(rng.uniform(0, whole * 1.2))
            killed_early += p.poll() is None
            p.send_signal(signal.SIGKILL)
            p.wait()
            c = pair_ok(cert, key, ca[0])
        serial = c.serial_number
    assert finished == 10 and killed_early >= 10, (finished, killed_early)
    print(f"renewal took {whole:.3f} s; {killed_early} of 30 killed runs were still running when killed")
    leftovers = [f.name for f in tmp_path.iterdir() if f.name not in {"ca.pem", "ca.key", "worker.pem", "worker.key"}]
    print("temporary files left by killed runs:", leftovers)


def test_renew_daemon_renews_before_expiry_and_runs_hooks(tmp_path):
    ca = gen_ca(tmp_path, "ca")
    # 40 s of validity (plus 1 min backdated); renewing 90 s before expiry means every ~10 s.
    cert, key = leaf(tmp_path, ca, "worker", "40s")
    sleeper = subprocess.Popen([sys.executable, "-c", "import signal,sys,time\n"
                                "n=0\n"
                                "def h(*_):\n global n; n+=1; open(sys.argv[1],'w').write(str(n))\n"
                                "signal.signal(signal.SIGHUP,h)\n"
                                "open(sys.argv[1],'w').write('0')\n"
                                "while True: time.sleep(0.1)", tmp_path / "hups"])
    # The first renewal is due at once: signal the sleeper only once its handler is in place
    # (SIGHUP's default action would end it, and on a busy machine Python starts slowly).
    deadline = time.monotonic() + 30
    while not (tmp_path / "hups").exists():
        assert sleeper.poll() is None and time.monotonic() < deadline, "the SIGHUP counter did not start"
        time.sleep(0.05)
    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen([GATEHOUSE, "renew", "--daemon", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", ca[1],
                               "--renew-before", "90s", "--signal", f"{sleeper.pid}:SIGHUP",
                               "--exec", f"echo renewed $GATEHOUSE_CERT_FILE >> {tmp_path / 'exec.log'}"],
                              stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while not ((tmp_path / "hups").exists() and int((tmp_path / "hups").read_text() or 0) >= 2):
            assert daemon.poll() is None, log.read_text()
            assert time.time() < deadline, log.read_text()
            time.sleep(0.2)
        c = pair_ok(cert, key, ca[0])
        assert (c.not_valid_after_utc.timestamp() - time.time()) > 0
        assert (tmp_path / "exec.log").read_text().count(f"renewed {cert}") >= 2
        assert log.read_text().count("Renewed ") >= 2
    finally:
        daemon.kill()
        sleeper.kill()


def run_workflows(gw, cert, key, stop: threading.Event, results: list):
    """Starts a workflow every half second with the `temporal` CLI (a new connection each time,
    using the certificate files as they are at that moment) until told to stop."""
    while not stop.is_set():
        wid = f"greet-{uuid.uuid4().hex[:8]}"
        p = gw.temporal("a", cert(), key, "workflow", "execute", "--type", "Greeting", "--task-queue", "renewals",
                        "--workflow-id", wid, "--input", json.dumps(wid))
        results.append((wid, p.returncode, p.stdout + p.stderr))
        time.sleep(0.5)


def test_rotation_and_daemon_renewals_while_a_worker_keeps_polling(tmp_path, temporal):  # noqa: F811
    g = Gateway(tmp_path, temporal.port).start()
    procs = []
    try:
        old = gen_ca(tmp_path, "old-ca")
        g.cli("namespace", "create", "--namespace", "a", "--ca-certificate-file", old[0], check=0)
        worker_cert, worker_key = leaf(tmp_path, old, "worker")
        starter = leaf(tmp_path, old, "starter")
        status = tmp_path / "worker-status.json"
        wlog = tmp_path / "worker.log"
        worker = subprocess.Popen([sys.executable, HERE / "reloading_worker.py", f"127.0.0.1:{g.gw_port}", "a", f"a.{DOMAIN}",
                                   g.ca, worker_cert, worker_key, "renewals", status],
                                  stdout=open(wlog, "w"), stderr=subprocess.STDOUT)
        procs.append(worker)
        deadline = time.time() + 30
        while not status.exists():
            assert worker.poll() is None and time.time() < deadline, wlog.read_text()
            time.sleep(0.1)
        stop, results = threading.Event(), []
        starter_thread = threading.Thread(target=run_workflows, args=(g, lambda: starter[0], starter[1], stop, results))
        starter_thread.start()
        while len(results) < 2:
            time.sleep(0.2)

        # The rotation: a new CA beside the old, then it waits for the old CA's traffic to stop.
        rlog = tmp_path / "rotate.log"
        env = dict(os.environ, GATEHOUSE_SERVER=g.url, GATEHOUSE_DATA_DIR=str(g.data))
        rotate = subprocess.Popen([GATEHOUSE, "rotate", "ca", "-n", "a", "--org", "acme", "-d", "90d", "--ca-cert", "new-ca.pem",
                                   "--ca-key", "new-ca.key", "--quiet-period", "4s", "--poll", "1s"],
                                  cwd=tmp_path, env=env, stdout=open(rlog, "w"), stderr=subprocess.STDOUT)
        procs.append(rotate)
        state = tmp_path / "gatehouse-rotation-a.json"
        deadline = time.time() + 30
        while not (state.exists() and json.loads(state.read_text())["state"] == "added"):
            assert rotate.poll() is None and time.time() < deadline, rlog.read_text()
            time.sleep(0.2)
        time.sleep(6)
        assert rotate.poll() is None, "the old CA still carries traffic, so the rotation waits:\n" + rlog.read_text()
        assert "open connection" in rlog.read_text()
        new = (tmp_path / "new-ca.pem", tmp_path / "new-ca.key")
        # Move both clients to the new CA, keeping their keys; the worker reloads on SIGHUP.
        gh("renew", "--cert", starter[0], "--key", starter[1], "--ca-cert", new[0], "--ca-key", new[1], "--force", check=0)
        gh("renew", "--cert", worker_cert, "--key", worker_key, "--ca-cert", new[0], "--ca-key", new[1], "--force",
           "-d", "40s", "--signal", f"{worker.pid}:SIGHUP", check=0)
        assert rotate.wait(timeout=120) == 0, rlog.read_text()
        assert json.loads(state.read_text())["state"] == "done"
        cas = g.api("GET", "/api/v1/namespaces/a/accepted-client-ca")[1]["acceptedClientCas"]
        assert [c["sha256"] for c in cas] == [json.loads(state.read_text())["newCa"]["sha256"]]
        gh("rotate", "status", "-n", "a", "--state-file", state, cwd=tmp_path)

        # Now the worker's 40-second certificate is kept fresh by the daemon.
        dlog = tmp_path / "daemon.log"
        daemon = subprocess.Popen([GATEHOUSE, "renew", "--daemon", "--cert", worker_cert, "--key", worker_key, "--ca-cert", new[0],
                                   "--ca-key", new[1], "--renew-before", "90s", "--signal", f"{worker.pid}:SIGHUP"],
                                  stdout=open(dlog, "w"), stderr=subprocess.STDOUT)
        procs.append(daemon)
        deadline = time.time() + 60
        while len(json.loads(status.read_text())["certificates"]) < 4:
            assert daemon.poll() is None and worker.poll() is None, dlog.read_text() + wlog.read_text()
            assert time.time() < deadline, dlog.read_text()
            time.sleep(0.3)
        time.sleep(2)
        stop.set()
        starter_thread.join(timeout=60)

        failed = [(w, out) for w, rc, out in results if rc != 0]
        assert not failed, failed[:3]
        assert len(results) >= 10, len(results)
        # No workflow task failed or timed out in any of them.
        for wid, _, _ in results:
            p = subprocess.run([TEMPORAL, "workflow", "show", "--address", f"127.0.0.1:{temporal.port}", "--namespace", "a",
                                "-w", wid, "--output", "json"], capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stderr
            events = [e["eventType"] for e in json.loads(p.stdout)["events"]]
            assert not [e for e in events if "WORKFLOW_TASK_FAILED" in e.upper() or "WORKFLOW_TASK_TIMED_OUT" in e.upper()], (wid, events)
            assert events[-1].upper().endswith("WORKFLOW_EXECUTION_COMPLETED"), (wid, events)
        # The worker used four certificates, and the gateway saw each of them.
        used = json.loads(status.read_text())["certificates"]
        assert len(set(used)) == len(used) >= 4
        time.sleep(2.5)
        seen = {l["sha256"] for l in g.usage("a")["leaves"]}
        assert set(used[:3]) <= seen, (used, seen)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        g.stop()


def test_java_keystores_and_the_temporal_server_tls_config(tmp_path):
    ca = gen_ca(tmp_path, "ca")
    (tmp_path / "pw").write_text("s3cret-pass\n")
    args = ["gen", "leaf", "--org", "acme", "--common-name", "java-worker", "-d", "30d", "--ca-cert", ca[0], "--ca-key", ca[1],
            "--cert", tmp_path / "j.pem", "--key", tmp_path / "j.key", "--pkcs12", tmp_path / "j.p12", "--pkcs8", tmp_path / "j.der"]
    # No password, a short one: refused before anything is written.
    p = gh(*args, "--pkcs12-password-file", tmp_path / "nope", check=2)
    (tmp_path / "short").write_text("abc\n")
    p = gh(*args, "--pkcs12-password-file", tmp_path / "short", check=2)
    assert "at least 6" in p.stderr and not (tmp_path / "j.pem").exists()
    gh(*args, "--pkcs12-password-file", tmp_path / "pw", check=0)
    for f in ("j.p12", "j.der", "j.key"):
        assert (tmp_path / f).stat().st_mode & 0o777 == 0o600, f
    # Java's own keytool reads it: one private key entry, the leaf and its CA.
    p = subprocess.run(["keytool", "-list", "-v", "-keystore", str(tmp_path / "j.p12"), "-storetype", "PKCS12",
                        "-storepass", "s3cret-pass"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Alias name: java-worker" in p.stdout and "PrivateKeyEntry" in p.stdout and "Certificate chain length: 2" in p.stdout
    p = subprocess.run(["keytool", "-list", "-keystore", str(tmp_path / "j.p12"), "-storepass", "wrong-pass"], capture_output=True, text=True)
    assert p.returncode != 0
    # The DER key is the PEM key.
    der = serialization.load_der_private_key((tmp_path / "j.der").read_bytes(), password=None)
    pem = serialization.load_pem_private_key((tmp_path / "j.key").read_bytes(), password=None)
    assert der.private_numbers() == pem.private_numbers()

    # gen server --temporal-config: YAML whose files make a working mutual TLS pair, used the
    # way Temporal uses them (internode: the same certificate on both ends).
    import ssl
    import socket
    import yaml
    p = gh("gen", "server", "--internode", "--dns", "temporal.acme.internal", "--ca-cert", ca[0], "--ca-key", ca[1],
           "--cert", tmp_path / "s.pem", "--key", tmp_path / "s.key", "--temporal-config", check=0)
    tls = yaml.safe_load(p.stdout[p.stdout.index("global:"):])["global"]["tls"]
    assert tls["refreshInterval"] == "1h" and tls["expirationChecks"]["warningWindow"] == "720h"
    for side in ("internode", "frontend"):
        server, client = tls[side]["server"], tls[side]["client"]
        assert server["requireClientAuth"] is True
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(server["certFile"], server["keyFile"])
        sctx.verify_mode = ssl.CERT_REQUIRED
        for f in server["clientCaFiles"]:
            sctx.load_verify_locations(f)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for f in client["rootCaFiles"]:
            cctx.load_verify_locations(f)
        cctx.load_cert_chain(server["certFile"], server["keyFile"])
        a, b = socket.socketpair()
        done = []
        t = threading.Thread(target=lambda: done.append(sctx.wrap_socket(a, server_side=True).getpeercert()))
        t.start()
        c = cctx.wrap_socket(b, server_hostname=client["serverName"])
        t.join(timeout=10)
        assert done and done[0]["subject"], side
        c.close()
    p = gh("gen", "server", "--dns", "x.acme.internal", "--ca-cert", ca[0], "--ca-key", ca[1], "--cert", tmp_path / "t.pem",
           "--key", tmp_path / "t.key", "--temporal-config", check=2)
    assert "--internode" in p.stderr


SOFTHSM = next((p for p in ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so") if Path(p).exists()), None)


def test_a_ca_key_in_a_pkcs11_token_softhsm2(tmp_path, monkeypatch):
    assert SOFTHSM, "SoftHSM2 is installed by scripts/test"
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "gatehouse", "--pin", "1234", "--so-pin", "5678"],
                   check=True, capture_output=True)
    ca = gen_ca(tmp_path, "ca")
    other = gen_ca(tmp_path, "other")
    for label, key_id, key in (("issuing", "01", ca[1]), ("other", "02", other[1])):
        subprocess.run(["softhsm2-util", "--import", str(key), "--token", "gatehouse", "--label", label, "--id", key_id,
                        "--pin", "1234"], check=True, capture_output=True)
    ca[1].unlink()  # from now on the key exists only in the token
    (tmp_path / "pin").write_text("1234\n")
    uri = f"pkcs11:token=gatehouse;object=issuing?pin-source={tmp_path / 'pin'}&module-path={SOFTHSM}"
    cert, key = tmp_path / "w.pem", tmp_path / "w.key"
    p = gh("gen", "leaf", "--org", "acme", "--common-name", "hsm-worker", "-d", "10d", "--ca-cert", ca[0], "--ca-key", uri,
           "--cert", cert, "--key", key, check=0)
    assert "1234" not in p.stdout + p.stderr
    pair_ok(cert, key, ca[0])
    serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", uri, "--force", check=0)
    assert pair_ok(cert, key, ca[0]).serial_number != serial
    # Refusals name the rule and never print the PIN.
    wrong_pin = uri.replace(f"pin-source={tmp_path / 'pin'}", "pin-value=9999")
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", wrong_pin, "--force", check=2)
    assert "login" in p.stderr and "9999" not in p.stderr
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", uri.replace("object=issuing", "object=other"),
           "--force", check=2)
    assert "the CA key does not match the CA certificate" in p.stderr, p.stderr
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", uri.replace("object=issuing", "object=nothing"), "--force", check=2)
    assert "no private key matches" in p.stderr
    p = gh("renew", "--cert", cert, "--key", key, "--ca-cert", ca[0], "--ca-key", "pkcs11:object=issuing", "--force", check=2)
    assert "module-path" in p.stderr
    pair_ok(cert, key, ca[0])


def test_renewal_through_the_gateway_with_a_ca_key_encrypted_at_rest(tmp_path, temporal):  # noqa: F811
    """step-ca's renew model: the gateway holds the namespace's CA (its key encrypted on disk);
    an admitted client presents its current certificate over mTLS and gets a new one for the
    same key. Other CAs' clients, and namespaces without a renewal CA, are refused."""
    ca = gen_ca(tmp_path, "ca")
    other = gen_ca(tmp_path, "other")
    (tmp_path / "pass").write_text("correct horse battery\n")
    subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", str(ca[1]), "-out", str(tmp_path / "ca.key.enc"),
                    "-passout", f"file:{tmp_path / 'pass'}"], check=True)
    key_text = ca[1].read_text()
    ca[1].unlink()
    enc = tmp_path / "ca.key.enc"
    assert "ENCRYPTED PRIVATE KEY" in enc.read_text()
    # A wrong passphrase stops the start with the reason.
    (tmp_path / "wrong").write_text("nope\n")
    (tmp_path / "bad").mkdir()
    bad = Gateway(tmp_path / "bad", temporal.port, "--renewal-ca", f"a={ca[0]},{enc}",
                  "--renewal-ca-passphrase-file", tmp_path / "wrong")
    p = subprocess.run([GATEHOUSE, "serve", "--data-dir", str(bad.data), "--api-listen", "127.0.0.1:0", *bad.extra],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "could not decrypt" in p.stderr, p.stderr

    g = Gateway(tmp_path, temporal.port, "--renewal-ca", f"a={ca[0]},{enc}", "--renewal-ca-passphrase-file", tmp_path / "pass").start()
    try:
        (tmp_path / "bundle.pem").write_text(ca[0].read_text() + other[0].read_text())
        g.cli("namespace", "create", "--namespace", "a", "--ca-certificate-file", tmp_path / "bundle.pem", check=0)
        g.cli("namespace", "create", "--namespace", "b", "--ca-certificate-file", other[0], check=0)
        # The CA key is only encrypted on disk: leaves for the test come from a decrypted copy.
        plain = tmp_path / "plain"
        plain.mkdir()
        (plain / "ca.key").write_text(key_text)
        (plain / "ca.key").chmod(0o600)
        cert, key = leaf(tmp_path, (ca[0], plain / "ca.key"), "w", "10m")
        before = x509.load_pem_x509_certificate(cert.read_bytes())
        renew = ["renew", "--cert", cert, "--key", key, "--gateway", f"127.0.0.1:{g.gw_port}", "--tls-ca-path", g.ca, "--force"]
        p = gh(*renew, "--tls-server-name", f"a.{DOMAIN}", "-o", "json", check=0)
        after = pair_ok(cert, key, ca[0])
        assert json.loads(p.stdout)["renewed"] and after.serial_number != before.serial_number
        assert after.subject == before.subject and after.not_valid_after_utc >= before.not_valid_after_utc
        # The renewed certificate is admitted.
        r = g.temporal("a", cert, key, "workflow", "list")
        assert r.returncode == 0, r.stderr
        # No private key went over the wire or into the log.
        body = "".join(key.read_text().splitlines()[1:-1])
        assert body[:40] not in g.log.read_text()
        # A client of the namespace's other CA, and a namespace without a renewal CA: refused.
        ocert, okey = leaf(tmp_path, other, "o", "10m")
        p = gh("renew", "--cert", ocert, "--key", okey, "--gateway", f"127.0.0.1:{g.gw_port}", "--tls-ca-path", g.ca, "--force",
               "--tls-server-name", f"a.{DOMAIN}", check=1)
        assert "renew.other-ca" in p.stderr, p.stderr
        p = gh("renew", "--cert", ocert, "--key", okey, "--gateway", f"127.0.0.1:{g.gw_port}", "--tls-ca-path", g.ca, "--force",
               "--tls-server-name", f"b.{DOMAIN}", check=1)
        assert "renew.no-ca" in p.stderr, p.stderr
        pair_ok(ocert, okey, other[0])
        metrics = g.metrics()
        assert 'gatehouse_gateway_renewals_total{namespace="a",result="renewed"} 1' in metrics
        assert 'gatehouse_gateway_renewals_total{namespace="a",result="renew.other-ca"} 1' in metrics
    finally:
        g.stop()


def test_rotate_refuses_a_new_ca_the_bundle_would_not_take_and_changes_nothing(tmp_path):
    from test_control_plane import Server
    s = Server(tmp_path).start()
    try:
        for name in ("one", "two"):
            s.cli("gen", "ca", "--org", "acme", "--common-name", "Acme Root", "-d", "90d",
                  "--ca-cert", f"{name}.pem", "--ca-key", f"{name}.key", check=0)
        s.cli("namespace", "create", "--namespace", "pay", "--ca-certificate-file", "one.pem", check=0)
        p = s.cli("rotate", "ca", "-n", "pay", "--org", "acme", "--ca-cert", "two.pem", "--ca-key", "two.key", check=1)
        assert "bundle.unique-subject" in p.stderr, p.stderr
        assert not (tmp_path / "gatehouse-rotation-pay.json").exists() or \
            json.loads((tmp_path / "gatehouse-rotation-pay.json").read_text())["state"] == "planned"
        status, v = s.api("GET", "/api/v1/namespaces/pay/accepted-client-ca")
        assert status == 200 and len(v["acceptedClientCas"]) == 1
    finally:
        s.stop()


def test_rotate_says_when_it_reuses_a_ca_file_and_refuses_what_contradicts_it(tmp_path):
    """The README once ran `rotate ca -n payments --org temporal -d 90d --ca-cert ca-2.pem` in a
    directory where ca-2.pem was another namespace's CA (O=demo): rotate used it silently."""
    from test_control_plane import Server
    s = Server(tmp_path).start()
    try:
        s.cli("gen", "ca", "--org", "acme", "--common-name", "Acme Root", "-d", "90d",
              "--ca-cert", "pay.pem", "--ca-key", "pay.key", check=0)
        s.cli("gen", "ca", "--org", "demo", "--common-name", "Demo Root", "-d", "90d",
              "--ca-cert", "demo.pem", "--ca-key", "demo.key", check=0)
        s.cli("namespace", "create", "--namespace", "pay", "--ca-certificate-file", "pay.pem", check=0)
        s.cli("namespace", "create", "--namespace", "demo", "--ca-certificate-file", "demo.pem", check=0)
        rotate = ["rotate", "ca", "-n", "pay", "--ca-cert", "demo.pem", "--ca-key", "demo.key", "--no-wait"]
        # An --org or -d the existing file contradicts is refused, naming the file's CA.
        p = s.cli(*rotate, "--org", "temporal", check=2)
        assert "--org \"temporal\" contradicts demo.pem" in p.stderr and "O=demo" in p.stderr, p.stderr
        p = s.cli(*rotate, "--org", "demo", "-d", "30d", check=2)
        assert "-d 30d contradicts demo.pem" in p.stderr and "(90 days)" in p.stderr, p.stderr
        # A CA another namespace accepts needs a confirmation; the dry run warns.
        p = s.cli(*rotate, "--org", "demo", "--dry-run", check=0)
        assert "using the existing CA in demo.pem" in p.stderr and "already accepted by namespace(s) demo" in p.stderr, p.stderr
        p = s.cli(*rotate, "--org", "demo", "-d", "90d", check=2)
        assert "already accepted by namespace(s) demo" in p.stderr and "--auto-confirm" in p.stderr, p.stderr
        status, v = s.api("GET", "/api/v1/namespaces/pay/accepted-client-ca")
        assert status == 200 and len(v["acceptedClientCas"]) == 1, "nothing changed"
        # Confirmed, it goes ahead.
        p = s.cli(*rotate, "--org", "demo", "--auto-confirm", check=0)
        status, v = s.api("GET", "/api/v1/namespaces/pay/accepted-client-ca")
        assert len(v["acceptedClientCas"]) == 2, v
    finally:
        s.stop()
