"""The expiry watch against a real SMTP server (aiosmtpd) and a real HTTP webhook receiver:
which messages reach whom at each pass, nothing twice across passes and restarts, and nothing
lost while SMTP is down."""

import contextlib
import datetime as dt
import email
import hashlib
import hmac
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_control_plane import Server, free_port

SECRET = "test-webhook-secret"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        for rcpt in envelope.rcpt_tos:
            self.messages.append((rcpt, msg["Subject"], msg.get_payload(decode=True).decode()))
        return "250 OK"


class Hooks(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def ca_pem(cn, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def smtp_sink(inbox, port=None):
    """A real SMTP server (aiosmtpd) on loopback delivering to `inbox`; returns it and its port."""
    port = port or free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    return smtp, port


@contextlib.contextmanager
def server_and_smtp(tmp_path, inbox):
    """A server and an SMTP sink delivering to `inbox`: yields the server and the sink's port,
    then stops the server and the sink."""
    smtp, smtp_port = smtp_sink(inbox)
    server = Server(tmp_path).start()
    try:
        yield server, smtp_port
    finally:
        server.stop()
        smtp.stop()


def namespace_expiring(server, tmp_path, name, cn):
    """Creates namespace `name` whose one CA (CN=`cn`) expires 12 days after T0, 50 days from
    now; returns T0."""
    t0 = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=50)
    (tmp_path / "ca.pem").write_text(ca_pem(cn, t0 + dt.timedelta(days=12)))
    server.cli("n", "create", "-n", name, "-f", "ca.pem", check=0)
    return t0


def test_notices_go_once_to_the_right_people(tmp_path):
    inbox = Inbox()
    smtp, smtp_port = smtp_sink(inbox)
    hook_port = free_port()
    hooks = HTTPServer(("127.0.0.1", hook_port), Hooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    Hooks.received = []
    server = Server(tmp_path).start()
    try:
        t0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=100)
        at = lambda days: (t0 + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        cas = {d: ca_pem(f"Acme Root {d}", t0 + dt.timedelta(days=d, hours=-1)) for d in [20, 14, 9, 4, -1]}
        for name, days in [("pay", [20, 14, 9]), ("bill", [4, -1])]:
            (tmp_path / f"{name}.pem").write_text("".join(cas[d] for d in days))
            server.cli("n", "create", "-n", name, "-f", f"{name}.pem", check=0)
        for email_, role, ns in [("global@acme.io", "global-admin", []), ("pay-admin@acme.io", "namespace-admin", ["pay"]),
                                 ("bill-admin@acme.io", "namespace-admin", ["bill"]), ("ro@acme.io", "read-only", [])]:
            server.cli("user", "create", "--email", email_, "--role", role, *sum([["-n", n] for n in ns], []), check=0)

        def check(now):
            p = server.cli("expirations", "check", "--once", "--now", now, "--data-dir", server.data,
                           "--smtp-url", f"smtp://127.0.0.1:{smtp_port}", "--smtp-from", "gatehouse@acme.io",
                           "--webhook-url", f"http://127.0.0.1:{hook_port}/hook", "--webhook-secret", SECRET, check=0)
            return json.loads(p.stdout.strip().splitlines()[-1])

        def drain():
            got = sorted((to, subj) for to, subj, _ in inbox.messages)
            inbox.messages.clear()
            return got

        pay = ["admin@localhost", "global@acme.io", "pay-admin@acme.io"]
        bill = ["admin@localhost", "bill-admin@acme.io", "global@acme.io"]

        # Pass 1, at T0: 14 days -> 15d notice; 9 -> 10d; 4 and -1 -> 5d notice and a ticket each.
        r = check(at(0))
        assert (r["sent"], r["failed"], r["ticketsOpened"]) == (16, 0, 2), r
        got = drain()
        assert [to for to, s in got if "pay" in s] == sorted(pay * 2)
        assert [to for to, s in got if "bill" in s] == sorted(bill * 2)
        assert not any(to == "ro@acme.io" for to, _ in got), "read-only users are never told"
        assert sum("expired 1 day(s) ago" in s for _, s in got) == 3
        assert len(Hooks.received) == 4
        for headers, body in Hooks.received:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert headers["x-gatehouse-signature"] == expected
        events = [json.loads(b) for _, b in Hooks.received]
        assert sorted((e["namespace"], e["threshold"]) for e in events) == [("bill", "5d"), ("bill", "5d"), ("pay", "10d"), ("pay", "15d")]
        assert all("ticket" in e for e in events if e["threshold"] == "5d")
        Hooks.received.clear()

        # A second pass, and a pass after a restart, send nothing new.
        assert check(at(0))["sent"] == 0
        server.stop()
        server.start()
        assert check(at(0))["sent"] == 0
        assert drain() == [] and Hooks.received == []

        # Five days later: 20 -> 15 left (15d), 14 -> 9 (10d), 9 -> 4 (5d + ticket).
        r = check(at(5))
        assert (r["sent"], r["ticketsOpened"]) == (12, 1), r
        got = drain()
        assert len(got) == 9 and all("pay" in s for _, s in got)
        Hooks.received.clear()

        # SMTP down, eleven days on (20 -> 9 left: 10d; 14 -> 3 left: 5d and a ticket): the
        # emails stay pending, the webhooks still go.
        smtp.stop()
        r = check(at(11))
        assert (r["sent"], r["failed"], r["ticketsOpened"]) == (2, 6, 1), r
        smtp, _ = smtp_sink(inbox, smtp_port)
        # Not yet due for a retry at the same instant; delivered once the backoff has passed.
        assert check(at(11))["sent"] == 0
        r = check((t0 + dt.timedelta(days=11, minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert r["sent"] == 6, r
        assert sorted(to for to, _ in drain()) == sorted(pay * 2)

        # Two notifiers at once never send the same notice twice.
        (tmp_path / "ops.pem").write_text(ca_pem("Acme Ops Root", t0 + dt.timedelta(days=30, hours=-1)))
        server.cli("n", "create", "-n", "ops", "-f", "ops.pem", check=0)
        results = []
        both = [threading.Thread(target=lambda: results.append(check(at(20)))) for _ in range(2)]
        [t.start() for t in both]
        [t.join() for t in both]
        assert sum(r["sent"] for r in results) >= 4, results  # ops 10d notices (2 emails + webhook) and more
        got = drain()
        assert len(got) == len(set(got)), f"a notice went out twice: {got}"
        ops = [to for to, s in got if "ops" in s]
        assert sorted(ops) == ["admin@localhost", "global@acme.io"], ops
        Hooks.received.clear()

        # Tickets and the report.
        tickets = json.loads(server.cli("tickets", "list", check=0).stdout)["tickets"]
        assert {t["namespace"] for t in tickets} == {"pay", "bill"}
        report = json.loads(server.cli("expirations", "list", "--output", "json", check=0).stdout)["certificates"]
        assert [e["subject"].split("CN=")[1] for e in report] == ["Acme Root -1", "Acme Root 4", "Acme Root 9", "Acme Root 14", "Acme Root 20", "Acme Ops Root"]
        days = [e["daysLeft"] for e in report]
        assert days == sorted(days) and not report[0]["expired"]  # the server's clock is real: T0 is 100 days away
        req = urllib.request.Request(server.url + "/metrics", headers={"Authorization": f"Bearer {server.token}"})
        metrics = urllib.request.urlopen(req).read().decode()
        assert server.api("GET", "/metrics", token=False)[0] == 401
        assert 'gatehouse_certificate_expiry_timestamp_seconds{namespace="bill"' in metrics
        assert 'gatehouse_notifications_total{threshold="10d",channel="email",result="failed"} 3' in metrics
    finally:
        server.stop()
        smtp.stop()
        hooks.shutdown()


def test_email_says_what_to_do(tmp_path):
    inbox = Inbox()
    with server_and_smtp(tmp_path, inbox) as (server, smtp_port):
        t0 = namespace_expiring(server, tmp_path, "payments", "Acme Root 2027")
        server.cli("expirations", "check", "--once", "--now", t0.strftime("%Y-%m-%dT%H:%M:%SZ"), "--data-dir", server.data,
                   "--smtp-url", f"smtp://127.0.0.1:{smtp_port}", check=0)
        (to, subject, body), = inbox.messages
        fp = json.loads(server.cli("n", "ca", "l", "-n", "payments", check=0).stdout)[0]["sha256"]
        assert to == "admin@localhost" and "payments" in subject and "12 day(s)" in subject
        for needle in ["CN=Acme Root 2027", fp, "gatehouse namespace accepted-client-ca add -n payments -f new-ca.pem",
                       f"gatehouse namespace accepted-client-ca remove -n payments --fp {fp}", "gatehouse gen ca"]:
            assert needle in body, (needle, body)


def test_a_pending_notice_is_dropped_when_the_recipient_loses_the_namespace(tmp_path):
    inbox = Inbox()
    smtp_port = free_port()
    server = Server(tmp_path).start()
    smtp = None
    try:
        t0 = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=50)
        now = t0.strftime("%Y-%m-%dT%H:%M:%SZ")
        later = (t0 + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        (tmp_path / "ca.pem").write_text(ca_pem("Acme Root", t0 + dt.timedelta(days=12)))
        server.cli("n", "create", "-n", "pay", "-f", "ca.pem", check=0)
        server.cli("user", "create", "--email", "pay@acme.io", "--role", "namespace-admin", "-n", "pay", check=0)
        args = ["--data-dir", server.data, "--smtp-url", f"smtp://127.0.0.1:{smtp_port}"]
        # SMTP is down: both notices stay pending.
        r = json.loads(server.cli("expirations", "check", "--once", "--now", now, *args, check=0).stdout)
        assert (r["sent"], r["failed"]) == (0, 2), r
        # pay@ loses the namespace before the retry: their notice is cancelled, the owner's goes.
        server.cli("user", "update", "--id", "pay@acme.io", "--role", "read-only", check=0)
        smtp, _ = smtp_sink(inbox, smtp_port)
        r = json.loads(server.cli("expirations", "check", "--once", "--now", later, *args, check=0).stdout)
        assert (r["sent"], r["cancelled"]) == (1, 1), r
        assert [to for to, _, _ in inbox.messages] == ["admin@localhost"]
    finally:
        server.stop()
        if smtp:
            smtp.stop()


class SlowInbox(Inbox):
    async def handle_DATA(self, server, session, envelope):
        import asyncio
        await asyncio.sleep(1.5)
        return await super().handle_DATA(server, session, envelope)


def test_concurrent_notifiers_with_different_clocks_and_a_slow_smtp_server_never_double_send(tmp_path):
    inbox = SlowInbox()
    with server_and_smtp(tmp_path, inbox) as (server, smtp_port):
        t0 = namespace_expiring(server, tmp_path, "pay", "Acme Root")
        for i in range(3):
            server.cli("user", "create", "--email", f"admin{i}@acme.io", "--role", "global-admin", check=0)
        args = ["--data-dir", server.data, "--smtp-url", f"smtp://127.0.0.1:{smtp_port}"]
        # A dry run queues and sends nothing.
        plan = json.loads(server.cli("expirations", "check", "--dry-run", "--now", t0.strftime("%Y-%m-%dT%H:%M:%SZ"), *args, check=0).stdout)
        assert len(plan["notifications"]) == 4 and inbox.messages == []
        results = []
        clocks = [t0, t0 + dt.timedelta(days=1)]
        runs = [threading.Thread(target=lambda c=c: results.append(json.loads(server.cli(
            "expirations", "check", "--once", "--now", c.strftime("%Y-%m-%dT%H:%M:%SZ"), *args, check=0).stdout)))
            for c in clocks]
        [t.start() for t in runs]
        [t.join() for t in runs]
        assert sum(r["sent"] for r in results) == 4, results
        got = [to for to, _, _ in inbox.messages]
        assert sorted(got) == sorted(set(got)) and len(got) == 4, got


def test_an_expired_ca_is_first_in_the_report_and_in_the_metric(tmp_path):
    server = Server(tmp_path).start()
    try:
        now = dt.datetime.now(dt.timezone.utc)
        (tmp_path / "short.pem").write_text(ca_pem("Short Root", now + dt.timedelta(seconds=3)) + ca_pem("Long Root", now + dt.timedelta(days=40)))
        server.cli("n", "create", "-n", "pay", "-f", "short.pem", check=0)
        import time
        time.sleep(4)
        report = json.loads(server.cli("expirations", "list", "--output", "json", check=0).stdout)["certificates"]
        assert report[0]["subject"].endswith("Short Root") and report[0]["expired"] and report[0]["daysLeft"] < 0
        cas = json.loads(server.cli("n", "ca", "l", "-n", "pay", check=0).stdout)
        assert [c["expired"] for c in cas] == [True, False]
        text = server.cli("expirations", "list", check=0).stdout
        assert "[EXPIRED]" in text.splitlines()[1]
        req = urllib.request.Request(server.url + "/metrics", headers={"Authorization": f"Bearer {server.token}"})
        metrics = urllib.request.urlopen(req).read().decode()
        stamp = int((now + dt.timedelta(seconds=3)).timestamp())
        assert any(l.startswith('gatehouse_certificate_expiry_timestamp_seconds{namespace="pay"') and abs(int(l.split()[-1]) - stamp) <= 1
                   for l in metrics.splitlines()), metrics
    finally:
        server.stop()
