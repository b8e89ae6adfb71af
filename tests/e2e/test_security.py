"""The security matrix: each row an attack on the gateway and the outcome it must get, against
`gatehouse serve` in front of a capture upstream (grpc_capture.py) that counts every request
reaching it. No attack may reach the upstream; a valid call in the same run does, so the count
can fail. The rows are written to target/security-matrix.json (docs/security.md quotes them).

Then the gateway's resource limits, each tripped for real and seen in /metrics: handshake timeout
(slowloris), connections per source address, total connections, idle connections, cancelled
calls (HTTP/2 rapid reset), header list size and the advertised HTTP/2 settings."""

import datetime as dt
import json
import re
import select
import socket
import sqlite3
import ssl
import struct
import subprocess
import time
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest

import grpc_raw
import secret_scan
from grpc_capture import CaptureUpstream
from test_gateway import DOMAIN, Gateway, wait_until

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.timezone.utc)
LIST = "/temporal.api.workflowservice.v1.WorkflowService/ListWorkflowExecutions"


def frame(msg: bytes) -> bytes:
    return struct.pack(">BI", 0, len(msg)) + msg


def list_request(ns: str) -> bytes:
    return ListWorkflowExecutionsRequest(namespace=ns).SerializeToString()


class Pki:
    """Certificates Gatehouse would never issue, built with `cryptography`."""

    def __init__(self, d: Path):
        self.d = d

    def cert(self, name, key=None, issuer=None, ca=False, eku=True, days=30, digest=None, not_after=None,
             sans=None, permitted_dns=None, key_cert_sign=None, subject=None):
        key = key or ec.generate_private_key(ec.SECP256R1())
        subject = subject or x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "acme"),
                                        x509.NameAttribute(NameOID.COMMON_NAME, name)])
        issuer_cert, issuer_key = issuer if issuer else (None, key)
        signs = ca if key_cert_sign is None else key_cert_sign
        b = (x509.CertificateBuilder()
             .subject_name(subject)
             .issuer_name(issuer_cert.subject if issuer_cert else subject)
             .public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(NOW - dt.timedelta(days=2))
             .not_valid_after(not_after or NOW + dt.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=signs,
                                          crl_sign=signs, encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                            critical=False))
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        if permitted_dns:
            b = b.add_extension(x509.NameConstraints(permitted_subtrees=[x509.DNSName(permitted_dns)],
                                                     excluded_subtrees=None), critical=True)
        cert = b.sign(issuer_key, digest or hashes.SHA256())
        return cert, key

    def sha1_intermediate(self, name, root):
        """An intermediate CA signed with ECDSA-SHA1 by `root` (cryptography refuses SHA-1, so
        OpenSSL signs it)."""
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .sign(key, hashes.SHA256()))
        (self.d / "sha1.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
        (self.d / "sha1-root.pem").write_text(self.pem(root[0]))
        (self.d / "sha1-root.key").write_bytes(root[1].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (self.d / "sha1.ext").write_text("basicConstraints=critical,CA:TRUE\n"
                                         "keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
                                         "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
        subprocess.run(["openssl", "x509", "-req", "-in", "sha1.csr", "-CA", "sha1-root.pem", "-CAkey",
                        "sha1-root.key", "-sha1", "-days", "30", "-extfile", "sha1.ext", "-out", "sha1.pem",
                        "-set_serial", "0x1234"], cwd=self.d, check=True, capture_output=True)
        cert = x509.load_pem_x509_certificate((self.d / "sha1.pem").read_bytes())
        assert cert.signature_hash_algorithm.name == "sha1"
        return cert, key

    def pem(self, cert) -> str:
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def client(self, name, chain, key):
        """Writes a client's chain (leaf first) and key; returns their paths."""
        (self.d / f"{name}.pem").write_text("".join(self.pem(c) for c in chain))
        (self.d / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return self.d / f"{name}.pem", self.d / f"{name}.key"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("security")
    pki = Pki(d)
    up = CaptureUpstream()
    root = pki.cert("Acme Root", ca=True, eku=False, days=365)
    nc_root = pki.cert("Acme Constrained Root", ca=True, eku=False, days=365, permitted_dns="acme.com")
    # Valid for a day now; the stored copy is swapped below for one that expired an hour ago.
    exp_key = ec.generate_private_key(ec.SECP256R1())
    exp_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Acme Expiring Root")])
    exp_valid = pki.cert("", key=exp_key, subject=exp_subject, ca=True, eku=False, days=1)
    exp_expired = pki.cert("", key=exp_key, subject=exp_subject, ca=True, eku=False,
                           not_after=NOW - dt.timedelta(hours=1))
    for name, cert in [("root", root), ("nc-root", nc_root), ("exp-root", exp_valid)]:
        (d / f"{name}.pem").write_text(pki.pem(cert[0]))

    g = Gateway(d, up.port).start()
    g.cli("namespace", "create", "-n", "a", "-f", d / "root.pem", check=0)
    g.cli("namespace", "create", "-n", "nc", "-f", d / "nc-root.pem", check=0)
    g.cli("namespace", "create", "-n", "exp", "-f", d / "exp-root.pem", check=0)
    g.cli("namespace", "create", "-n", "san", "-f", d / "root.pem", check=0)
    g.cli("n", "cf", "import", "-n", "san", "--input",
          '{"filters":[{"subjectAlternativeName":"payments.acme.com"},{"commonName":"kube-*"}]}',
          "--auto-confirm", check=0)
    # The CA expires while in the bundle (the API refuses to add an expired CA): edit the stored
    # bundle with the server stopped, as an hour passing would.
    g.stop()
    db = sqlite3.connect(g.data / "gatehouse.db")
    db.execute("UPDATE namespaces SET accepted_client_ca = ? WHERE name = 'exp'", (pki.pem(exp_expired[0]),))
    db.commit()
    db.close()
    g.start()
    yield d, pki, up, g, root, nc_root, exp_expired
    g.stop()
    up.close()


def attempt(g, sni, client, path=LIST, message=None, **kw):
    """One call; returns the gRPC code as a string, or "refused: …" when the connection is."""
    ns = sni.split(".")[0]
    try:
        _, code, msg, _ = grpc_raw.call("127.0.0.1", g.gw_port, sni, g.ca, *client, path,
                                        list_request(ns) if message is None else message, timeout=10, **kw)
        return f"{code}: {msg}" if code is not None else "refused: no status"
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return f"refused: {type(e).__name__}: {e}"


def _logged(g, pattern, timeout=10.0):
    """Whether a line matching `pattern` reaches the gateway's log within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while re.search(pattern, g.log.read_text()) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def test_security_matrix(setup):
    d, pki, up, g, root, nc_root, exp_root = setup
    rows, failures = [], []

    def row(attack, outcome, expect, log=None):
        reached = len(up.requests) - before
        ok = re.search(expect, outcome) is not None
        # The gateway logs a refusal as it makes it; the log may reach the file a moment later.
        logged = log is None or _logged(g, log)
        rows.append({"attack": attack, "outcome": outcome, "expected": expect, "log": log,
                     "upstream_received": reached})
        if not ok:
            failures.append(f"{attack}: outcome {outcome!r} does not match {expect!r}")
        if not logged:
            failures.append(f"{attack}: no log line matching {log!r}")
        if reached:
            failures.append(f"{attack}: reached the upstream: {up.requests[-reached:]}")

    leaf = pki.cert("worker-a", issuer=root)
    good = pki.client("good", [leaf[0]], leaf[1])

    # Control: a valid call reaches the upstream (so the zero counts below can fail).
    before = len(up.requests)
    assert attempt(g, f"a.{DOMAIN}", good).startswith("0:")
    assert len(up.requests) == before + 1, up.requests
    rows.append({"attack": "(control) a valid client, a valid call", "outcome": "0: OK", "expected": "0",
                 "log": None, "upstream_received": 1})

    # --- The handshake ---------------------------------------------------------------------------
    def s_client(*args):
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{g.gw_port}", "-servername",
                            f"a.{DOMAIN}", "-cert", good[0], "-key", good[1], "-CAfile", g.ca, *args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
        return f"exit {p.returncode}: " + " | ".join(
            l for l in (p.stdout + p.stderr).splitlines() if "alert" in l or "Cipher is" in l or "Protocol" in l)

    for version in ("-tls1", "-tls1_1"):
        before = len(up.requests)
        # rustls answers a ClientHello offering only TLS 1.0/1.1 with handshake_failure.
        row(f"downgrade to TLS {'1.1' if version == '-tls1_1' else '1.0'} (openssl s_client {version})",
            s_client(version, "-cipher", "DEFAULT@SECLEVEL=0"),
            r"exit 1: .*alert (protocol version|handshake failure)",
            r'rule="tls.handshake" reason=TLS handshake failed: peer is incompatible')
    before = len(up.requests)
    row("TLS 1.2 with weak ciphers only (RSA key exchange, CBC-SHA1, 3DES)",
        s_client("-tls1_2", "-cipher", "AES128-SHA:AES256-SHA:DES-CBC3-SHA@SECLEVEL=0"),
        r"exit 1: .*alert handshake failure", r'rule="tls.handshake" reason=TLS handshake failed: peer is incompatible')

    # --- Client chains ---------------------------------------------------------------------------
    def call_row(attack, ns, client, expect, log=None, **kw):
        """A row for one call by `client` on namespace `ns`'s endpoint (`kw` as for `attempt`)."""
        nonlocal before
        before = len(up.requests)
        row(attack, attempt(g, f"{ns}.{DOMAIN}", client, **kw), expect, log)

    impostor = pki.cert("", subject=root[0].subject, ca=True, eku=False)
    leaf_i = pki.cert("worker-i", issuer=impostor)
    call_row("a chain through an impostor CA with the bundle CA's DN (duplicated DN)",
             "a", pki.client("dup-dn", [leaf_i[0], impostor[0]], leaf_i[1]),
             r"^refused", r'namespace=a rule="chain\.signature"')

    not_ca = pki.cert("Not A CA", issuer=root, ca=False, key_cert_sign=True, eku=False)
    leaf_n = pki.cert("worker-n", issuer=not_ca)
    call_row("an intermediate not marked CA (CA:FALSE with keyCertSign)",
             "a", pki.client("not-ca", [leaf_n[0], not_ca[0]], leaf_n[1]),
             r"^refused", r'namespace=a rule="ca\.is-ca" certificate="[0-9a-f]+" subject="O=acme, CN=Not A CA"')

    leaf_1 = pki.cert("worker-1", issuer=root)
    leaf_2 = pki.cert("worker-2", issuer=leaf_1)
    call_row("a leaf signed by a leaf", "a", pki.client("leaf-leaf", [leaf_2[0], leaf_1[0]], leaf_2[1]),
             r"^refused", r'namespace=a rule="ca\.is-ca" certificate="[0-9a-f]+" subject="O=acme, CN=worker-1"')

    sub = pki.cert("Acme Sub CA", issuer=root, ca=True)
    call_row("a CA:TRUE certificate (with clientAuth) used as the client certificate",
             "a", pki.client("ca-as-client", [sub[0]], sub[1]), r"^refused", r'namespace=a rule="leaf\.not-ca"')

    ok_nc = pki.cert("svc.acme.com", issuer=nc_root, sans=[x509.DNSName("svc.acme.com")])
    assert attempt(g, f"nc.{DOMAIN}", pki.client("nc-ok", [ok_nc[0]], ok_nc[1])).startswith("0:")
    bad_nc = pki.cert("evil.example.net", issuer=nc_root, sans=[x509.DNSName("evil.example.net")])
    call_row("a leaf outside its CA's name constraints (permitted DNS acme.com, SAN evil.example.net)",
             "nc", pki.client("nc-bad", [bad_nc[0]], bad_nc[1]),
             r"^refused", r'namespace=nc rule="chain\.invalid" .* reason=path validation failed: NameConstraintViolation')

    sha1 = pki.sha1_intermediate("Acme SHA-1 Intermediate", root)
    leaf_s = pki.cert("worker-s", issuer=sha1)
    call_row("an intermediate signed with SHA-1", "a", pki.client("sha1", [leaf_s[0], sha1[0]], leaf_s[1]),
             r"^refused", r'namespace=a rule="cert\.signature-algorithm" certificate="[0-9a-f]+" subject="CN=Acme SHA-1 Intermediate"',
             weak_chain_ok=True)

    leaf_e = pki.cert("worker-e", issuer=exp_root, days=1)
    call_row("a CA that expired an hour ago, with a valid leaf", "exp", pki.client("exp-leaf", [leaf_e[0]], leaf_e[1]),
             r"^refused", r'namespace=exp rule="cert\.expired" certificate="[0-9a-f]+" subject="CN=Acme Expiring Root"')

    # --- Filters (namespace san: SAN payments.acme.com, or CN kube-*) ----------------------------------
    kelvin = pki.cert("\u212aube-evil", issuer=root)
    call_row("filter bypass through Unicode case (CN with a Kelvin sign against kube-*)",
             "san", pki.client("kelvin", [kelvin[0]], kelvin[1]), r"^refused", r'namespace=san rule="filter\.no-match"')
    wrong_kind = pki.cert("other", issuer=root, sans=[x509.UniformResourceIdentifier("payments.acme.com"),
                                                      x509.RFC822Name("payments.acme.com")])
    call_row("filter bypass through a SAN of another type (URI and email SANs spelling the DNS filter)",
             "san", pki.client("san-kind", [wrong_kind[0]], wrong_kind[1]),
             r"^refused", r'namespace=san rule="filter\.no-match"')
    right = pki.cert("other", issuer=root, sans=[x509.DNSName("payments.acme.com")])
    assert attempt(g, f"san.{DOMAIN}", pki.client("san-ok", [right[0]], right[1])).startswith("0:")

    # --- Requests on an admitted connection (namespace a) -----------------------------------------
    call_row("a namespace in the body that differs from the SNI", "a", good, r'^7: .*namespace is "b"',
             message=list_request("b"), headers=[("temporal-namespace", "a")])
    call_row("a unary call whose second message switches namespace", "a", good, r"^(3|7): ",
             framed=frame(list_request("a")) + frame(list_request("b")))
    call_row("a unary call with two messages (the second unchecked by a streaming check)", "a", good,
             r"^3: .*exactly one request message", framed=frame(list_request("a")) + frame(list_request("a")))
    call_row("a stream that switches namespace (:authority b on a's connection)", "a", good, r"misdirected",
             authority=f"b.{DOMAIN}")
    call_row("header/body namespace mismatch (temporal-namespace b, body a)", "a", good,
             r'^7: .*temporal-namespace header says "b"', headers=[("temporal-namespace", "b")])
    call_row("a forged second temporal-namespace header", "a", good, r"^7: more than one temporal-namespace header",
             headers=[("temporal-namespace", "a"), ("temporal-namespace", "b")])
    call_row("a method outside the Temporal API (AdminService)", "a", good, r"^(7|12): ",
             path="/temporal.server.api.adminservice.v1.AdminService/DescribeCluster", message=b"")
    call_row("a 100 MB message", "a", good, r"^8: .*--max-message-bytes", r'limit="message-size"',
             message=b"z" * (100 * 1024 * 1024))

    assert not failures, "\n".join(failures) + "\n" + g.log.read_text()[-6000:]
    m = g.metrics()
    assert re.search(r'gatehouse_gateway_limit_trips_total\{limit="message-size"\} [1-9]', m), m
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target" / "security-matrix.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    assert "panicked" not in g.log.read_text()


# --- Limits -------------------------------------------------------------------------------------------

def h2_connect(g, sni, client, source="127.0.0.1"):
    ctx = ssl.create_default_context(cafile=str(g.ca))
    ctx.load_cert_chain(str(client[0]), str(client[1]))
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", g.gw_port), timeout=10, source_address=(source, 0))
    sock = ctx.wrap_socket(raw, server_hostname=sni)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def received(sock, timeout, poll, stop_on_error=False):
    """What `sock` receives, a chunk at a time, until `timeout` seconds are up (each wait lasting
    at most `poll` seconds). With `stop_on_error`, a failing read ends it instead of raising."""
    deadline = time.monotonic() + timeout
    sock.settimeout(poll)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except (ssl.SSLError, OSError):
            if stop_on_error:
                return
            raise
        yield data


def read_events(sock, conn, until, timeout):
    """Reads until an event of type `until` arrives (returned) or the time is up (None)."""
    for data in received(sock, timeout, 0.2, stop_on_error=True):
        if not data:
            return None
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            # hyper's graceful GOAWAY comes with a PING, which h2 refuses once GOAWAY has closed
            # the connection (losing the events of that read): the connection was terminated.
            if conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
                ended = h2.events.ConnectionTerminated()
                return ended if isinstance(ended, until) else None
            raise
        for ev in events:
            if isinstance(ev, until):
                return ev
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    return None


def headers(sni, path=LIST, extra=()):
    return [(":method", "POST"), (":scheme", "https"), (":path", path), (":authority", sni),
            ("content-type", "application/grpc"), ("te", "trailers"), *extra]


def h2_unary(sock, conn, sni, message):
    """One ListWorkflowExecutions call on an open connection: (:status, grpc-status)."""
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, headers(sni, extra=[("temporal-namespace", "a")]))
    conn.send_data(sid, frame(message), end_stream=True)
    sock.sendall(conn.data_to_send())
    status = grpc_status = None
    for data in received(sock, 20, 1):
        assert data, "connection closed"
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                h = dict(ev.headers)
                status, grpc_status = h[":status"], h.get("grpc-status")
            elif isinstance(ev, h2.events.TrailersReceived) and ev.stream_id == sid:
                grpc_status = dict(ev.headers).get("grpc-status")
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                sock.sendall(conn.data_to_send())
                return status, grpc_status
            elif isinstance(ev, h2.events.ConnectionTerminated):
                raise AssertionError(f"GOAWAY: {ev}")
        sock.sendall(conn.data_to_send())
    raise AssertionError("no answer")


def trips(g, limit):
    m = re.search(rf'gatehouse_gateway_limit_trips_total\{{limit="{limit}"\}} (\d+)', g.metrics())
    return int(m.group(1)) if m else 0


# The limits test runs with --handshake-timeout 2s, so a TCP connection that sends nothing is
# closed 2 s after the gateway accepted it whatever the limits. "Closed at once" (by a limit, at
# accept) is therefore "closed within 1.5 s of the client starting to connect": wide enough
# for a busy machine, and still short of the 2 s handshake timeout, so the two stay apart.
AT_ONCE = 1.5


def closed_at_once(sock, since, within=AT_ONCE):
    return closed_now([sock], since, within) == 1


def closed_now(socks, since, within=AT_ONCE):
    """How many of `socks` the gateway has closed by `within` seconds after `since` (a
    time.monotonic() taken before the first of them started to connect), watched together.
    (Those closed already count even when connecting took up the whole window.)"""
    closed, deadline, pending = 0, since + within, list(socks)
    while pending:
        left = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select(pending, [], [], left)
        for s in ready:
            pending.remove(s)
            try:
                closed += s.recv(1) == b""
            except OSError:
                closed += 1
        if not ready or not left:
            break
    return closed


def test_limits_trip_count_and_keep_the_upstream_clean(tmp_path):
    up = CaptureUpstream()
    g = Gateway(tmp_path, up.port, "--handshake-timeout", "2s", "--connections-per-ip-per-second", "5",
                "--connections-per-ip-burst", "10", "--max-connections", "40", "--max-cancelled-calls", "20",
                "--idle-timeout", "2s", "--max-header-list-bytes", "8192", "--max-concurrent-streams", "10").start()
    try:
        pki = Pki(tmp_path)
        root = pki.cert("Acme Root", ca=True, eku=False, days=365)
        (tmp_path / "root.pem").write_text(pki.pem(root[0]))
        g.change("a", "namespace", "create", "-n", "a", "-f", tmp_path / "root.pem")
        leaf = pki.cert("worker-a", issuer=root)
        good = pki.client("good", [leaf[0]], leaf[1])
        sni = f"a.{DOMAIN}"

        # The advertised HTTP/2 settings.
        sock, conn = h2_connect(g, sni, good)
        ev = read_events(sock, conn, h2.events.RemoteSettingsChanged, 20)
        assert ev is not None
        settings = {k: v.new_value for k, v in ev.changed_settings.items()}
        assert settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 10, settings
        assert settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == 8192, settings

        # A header block over the limit: refused by HTTP/2, never forwarded.
        before = len(up.requests)
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers(sni, extra=[("x-padding", "p" * 16384)]), end_stream=False)
        conn.send_data(sid, frame(list_request("a")), end_stream=True)
        sock.sendall(conn.data_to_send())
        ev = read_events(sock, conn, (h2.events.StreamReset, h2.events.ResponseReceived,
                                      h2.events.ConnectionTerminated), 20)
        assert ev is not None, "no answer to an oversize header block"
        if isinstance(ev, h2.events.ResponseReceived):
            assert dict(ev.headers)[":status"] == "431", ev.headers
        sock.close()
        assert len(up.requests) == before

        # Rapid reset (CVE-2023-44487): calls opened and cancelled at once, in one burst (h2's
        # guard: streams reset before they start) and paced (the gateway's: calls cancelled
        # once started). Either way the connection is told to go away and nothing reaches the
        # upstream.
        for limit, pace in (("rapid-reset", 0), ("cancelled-calls", 0.01)):
            before = len(up.requests)
            sock, conn = h2_connect(g, sni, good)
            read_events(sock, conn, h2.events.RemoteSettingsChanged, 20)
            goaway = closed = None
            for i in range(200):
                try:
                    sid = conn.get_next_available_stream_id()
                    conn.send_headers(sid, headers(sni, extra=[("temporal-namespace", "a")]))
                    if pace:
                        sock.sendall(conn.data_to_send())
                        time.sleep(pace)
                    conn.reset_stream(sid)
                    if pace or i % 50 == 49:
                        sock.sendall(conn.data_to_send())
                except Exception as e:  # the server closed the connection, or h2 refuses after GOAWAY
                    closed = e
                    break
                if pace and i % 10 == 9:
                    goaway = read_events(sock, conn, h2.events.ConnectionTerminated, 0.1)
                    if goaway:
                        break
            goaway = goaway or read_events(sock, conn, h2.events.ConnectionTerminated, 20)
            # GOAWAY, or the connection closed while the client kept writing (its unread GOAWAY
            # lost to the reset).
            assert goaway is not None or closed is not None, f"still open after {i + 1} cancelled calls ({limit})"
            sock.close()
            assert trips(g, limit) >= 1, (limit, g.metrics())
            assert len(up.requests) == before, up.requests[before:]

        # An idle connection is told to go away; one with a call in flight is not.
        # Not before the 2 s idle timeout (from before the connection existed, so a lower bound
        # a busy machine only lengthens); the 20 s only catches a hang.
        started = time.monotonic()
        sock, conn = h2_connect(g, sni, good)
        goaway = read_events(sock, conn, h2.events.ConnectionTerminated, 20)
        idle_for = time.monotonic() - started
        print(f"an idle connection (--idle-timeout 2s) was told to go away after {idle_for:.2f} s")
        assert goaway is not None, "idle connection not closed"
        assert idle_for >= 1.5, f"closed after {idle_for:.2f} s, before the 2 s idle timeout"
        sock.close()
        assert trips(g, "idle-timeout") >= 1

        # A call in flight is not idle: a 3 s call on a 2 s idle timeout trips nothing.
        poll = "/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowTaskQueue"
        up.delays[poll] = 3.0
        idle_before = trips(g, "idle-timeout")
        _, code, message, _ = grpc_raw.call("127.0.0.1", g.gw_port, sni, g.ca, *good, poll, list_request("a"),
                                            headers=[("temporal-namespace", "a")])
        assert code == "0", message
        assert trips(g, "idle-timeout") == idle_before, "idle timeout during a call in flight"

        # Finished calls are not cancelled ones: 30 answered and 30 refused calls on one
        # connection trip nothing and keep it open.
        cancelled_before = trips(g, "cancelled-calls")
        sock, conn = h2_connect(g, sni, good)
        for i in range(60):
            status, grpc_status = h2_unary(sock, conn, sni, list_request("a" if i % 2 else "b"))
            assert (status, grpc_status) == ("200", "0" if i % 2 else "7"), (i, status, grpc_status)
        sock.close()
        assert trips(g, "cancelled-calls") == cancelled_before

        # Slowloris: a TCP connection that never finishes its handshake is closed.
        # Closed, and not before the 2 s handshake timeout (timed from before the connection
        # existed, so a busy machine only lengthens it); the 20 s only catch a hang.
        started = time.monotonic()
        slow = socket.create_connection(("127.0.0.1", g.gw_port), source_address=("127.0.0.9", 0))
        slow.sendall(b"\x16\x03\x01\x02\x00\x01")  # the start of a ClientHello, then nothing
        assert closed_at_once(slow, started, within=20), "a stalled handshake was never closed"
        took = time.monotonic() - started
        print(f"a stalled handshake (--handshake-timeout 2s) was closed after {took:.2f} s")
        assert took >= 1.5, f"closed after {took:.2f} s, before the 2 s handshake timeout"
        assert trips(g, "handshake-timeout") >= 1

        # New connections per source address: a burst of 10, then 5 a second.
        started = time.monotonic()
        socks = [socket.create_connection(("127.0.0.1", g.gw_port), source_address=("127.0.0.3", 0))
                 for _ in range(25)]
        # (Tokens refill while the loop connects: on a slow machine fewer than 15 are closed.
        # Without the limit none would be closed within AT_ONCE: the others stay open until the
        # 2 s handshake timeout.)
        closed = closed_now(socks, started)
        assert 5 <= closed <= 16, closed
        started = time.monotonic()
        other = socket.create_connection(("127.0.0.1", g.gw_port), source_address=("127.0.0.4", 0))
        assert not closed_at_once(other, started), "another address was limited too"
        for s in socks + [other]:
            s.close()
        assert trips(g, "connections-per-ip") >= closed

        # Connections open at once: 40, then new ones are closed (10 addresses x 4).
        wait_until(lambda: g.tcp_connections() == 0, "the earlier connections closed")
        started = time.monotonic()
        held = [socket.create_connection(("127.0.0.1", g.gw_port), source_address=(f"127.0.1.{i}", 0))
                for i in range(1, 11) for _ in range(4)]
        # All 40 accepted (the handshake timeout closes them 2 s after that: the 41st must come
        # before, which only a machine stalled for seconds would miss).
        wait_until(lambda: g.tcp_connections() == 40, lambda: f"40 connections open, not {g.tcp_connections()}")
        held_for = time.monotonic() - started
        started = time.monotonic()
        extra = socket.create_connection(("127.0.0.1", g.gw_port), source_address=("127.0.2.1", 0))
        assert closed_at_once(extra, started), f"the 41st connection was kept ({held_for:.2f} s after the 40 connected)"
        for s in held + [extra]:
            s.close()
        assert trips(g, "max-connections") >= 1

        # Valid clients still work after all of it.
        wait_until(lambda: g.tcp_connections() == 0, "the held connections closed")
        _, code, message, _ = grpc_raw.call("127.0.0.1", g.gw_port, sni, g.ca, *good, LIST, list_request("a"),
                                            headers=[("temporal-namespace", "a")])
        assert code == "0", message
        m = g.metrics()
        assert re.search(r"gatehouse_gateway_tcp_connections \d+", m), m
        assert "panicked" not in g.log.read_text()
    finally:
        g.stop()
        up.close()


def test_the_secret_scan_can_fail(tmp_path):
    """The end-of-run scan (conftest.py) finds a piece of a private key or a token copied into a
    log, and flags neither the certificate nor the public parts of the key."""
    pki = Pki(tmp_path)
    cert, key = pki.cert("one")
    pki.client("one", [cert], key)
    (tmp_path / "admin.key").write_text("ghk_" + "A" * 43 + "\n")
    lines = (tmp_path / "one.key").read_text().splitlines()[1:-1]
    body = "".join(lines)
    # The certificate (public key included) and the key's public tail in a log: no finding.
    (tmp_path / "clean.log").write_text("INFO cert " + pki.pem(cert).replace("\n", "") + " tail=" + body[-60:]
                                        + " fingerprint=" + "ab" * 32 + "\n")
    assert secret_scan.leaks(tmp_path)[1] == []
    # The private scalar of a P-256 PKCS#8 key sits at bytes 36..68, base64 characters 48..90.
    (tmp_path / "leak.log").write_text("INFO oops " + body[50:80] + "\n")
    assert any("part of the private key in" in f and "one.key" in f for f in secret_scan.leaks(tmp_path)[1])
    scalar = key.private_numbers().private_value.to_bytes(32, "big").hex()
    (tmp_path / "leak.log").write_text(f"DEBUG d={scalar}\n")
    assert any("the secret in" in f for f in secret_scan.leaks(tmp_path)[1])
    (tmp_path / "leak.log").write_text("INFO Authorization: Bearer ghk_" + "A" * 43 + "\n")
    assert any("an API key" in f for f in secret_scan.leaks(tmp_path)[1])
    (tmp_path / "leak.log").unlink()  # planted: not for the end-of-run scan to find
