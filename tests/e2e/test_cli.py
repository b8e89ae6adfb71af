"""End-to-end tests of the `gatehouse` binary against real tools: OpenSSL (`openssl verify`,
the OpenSSL recipes from the reference security guide), pkilint (RFC 5280 linting) and
Python's `cryptography` for certificates Gatehouse must refuse (e.g. an expired CA)."""

import datetime as dt
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
GATEHOUSE = os.environ.get("GATEHOUSE_BIN", str(ROOT / "target" / "release" / "gatehouse"))
VENV_BIN = Path(os.environ.get("GATEHOUSE_VENV", str(ROOT / ".venv"))) / "bin"


def run(*args, cwd, check=None):
    p = subprocess.run(
        [GATEHOUSE, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert "panicked" not in p.stderr, p.stderr
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def openssl_verify(cwd, ca, cert, purpose, untrusted=None):
    cmd = ["openssl", "verify", "-x509_strict", "-purpose", purpose, "-CAfile", ca]
    if untrusted:
        cmd += ["-untrusted", untrusted]
    p = subprocess.run(cmd + [cert], cwd=cwd, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip().endswith("OK"), p.stdout + p.stderr


def pkilint_errors(path):
    """Findings of ERROR severity or worse from pkilint's RFC 5280 linter."""
    p = subprocess.run(
        [str(VENV_BIN / "lint_pkix_cert"), "lint", "-s", "ERROR", str(path)],
        capture_output=True,
        text=True,
    )
    assert p.returncode in (0, 1, 2), p.stderr
    return p.stdout.strip()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def d(tmp_path):
    return tmp_path


def make_ca(d, name="ca", extra=()):
    run("gen", "ca", "--org", "temporal", "-d", "1y", "--ca-cert", f"{name}.pem", "--ca-key", f"{name}.key", *extra, cwd=d, check=0)


# --- gen: every certificate passes openssl verify and pkilint --------------------------------


@pytest.mark.parametrize("rsa", [False, True], ids=["ecdsa-p384", "rsa-4096"])
def test_gen_outputs_pass_openssl_and_pkilint(d, rsa):
    extra = ["--rsa"] if rsa else []
    out = run("gen", "ca", "--org", "temporal", "-d", "1y", "--ca-cert", "ca.pem", "--ca-key", "ca.key", *extra, cwd=d, check=0).stdout
    assert "sha256:" in out and "expires:" in out
    run("gen", "leaf", "--org", "temporal", "-d", "364d", "--ca-cert", "ca.pem", "--ca-key", "ca.key",
        "--cert", "client.pem", "--key", "client.key", "--common-name", "worker",
        "--san", "https://acme.example/worker", "--san", "worker.acme.example", cwd=d, check=0)
    run("gen", "server", "--dns", "temporal.example.com", "--ip", "127.0.0.1", "--ca-cert", "ca.pem",
        "--ca-key", "ca.key", "--cert", "server.pem", "--key", "server.key", cwd=d, check=0)
    run("gen", "server", "--internode", "--dns", "history.temporal.example.com", "--ca-cert", "ca.pem",
        "--ca-key", "ca.key", "--cert", "node.pem", "--key", "node.key", cwd=d, check=0)
    run("gen", "csr", "--common-name", "temporal-booking.sdvdw", "--org", "Booking", "--csr", "b.csr",
        "--key", "b.key", cwd=d, check=0)
    run("sign", "--csr", "b.csr", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "b.pem", "-d", "30d", cwd=d, check=0)

    for key in ["ca.key", "client.key", "server.key", "node.key", "b.key"]:
        assert mode(d / key) == 0o600, key
        assert (d / key).read_text().startswith("-----BEGIN PRIVATE KEY-----"), key
    for cert in ["ca.pem", "client.pem", "server.pem", "node.pem", "b.pem"]:
        assert mode(d / cert) == 0o644, cert
        assert pkilint_errors(d / cert) == "", cert
    openssl_verify(d, "ca.pem", "client.pem", "sslclient")
    openssl_verify(d, "ca.pem", "b.pem", "sslclient")
    openssl_verify(d, "ca.pem", "server.pem", "sslserver")
    openssl_verify(d, "ca.pem", "node.pem", "sslserver")
    openssl_verify(d, "ca.pem", "node.pem", "sslclient")
    openssl_verify(d, "ca.pem", "ca.pem", "any")

    text = openssl("x509", "-in", "ca.pem", "-noout", "-text", cwd=d)
    assert "CA:TRUE" in text and "Certificate Sign, CRL Sign" in text
    assert ("sha256WithRSAEncryption" if rsa else "ecdsa-with-SHA384") in text
    assert ("4096 bit" if rsa else "384 bit") in text
    leaf = openssl("x509", "-in", "client.pem", "-noout", "-text", cwd=d)
    assert "CA:FALSE" in leaf and "TLS Web Client Authentication" in leaf
    assert "OU" not in openssl("x509", "-in", "client.pem", "-noout", "-subject", cwd=d)
    # Our own lint and verify agree.
    run("lint", "--ca-bundle", "ca.pem", "--cert", "client.pem", "--key", "client.key", cwd=d, check=0)
    run("verify", "--ca-bundle", "ca.pem", "--cert", "client.pem", cwd=d, check=0)


def test_tcld_command_names_and_flags_work_unchanged(d):
    # The long forms from the tcld announcement and Temporal's docs.
    run("generate-certificates", "certificate-authority-certificate", "--organization", "myco",
        "--validity-period", "1y", "--ca-certificate-file", "ca.crt", "--ca-key-file", "ca.key", cwd=d, check=0)
    run("generate-certificates", "end-entity-certificate", "--org", "myco", "--ca-cert", "ca.crt",
        "--ca-key", "ca.key", "--cert", "client-and-worker.crt", "--key", "client-and-worker.key", cwd=d, check=0)
    run("gen", "leaf", "--org", "Temporal", "--common-name", "temporal-booking.sdvdw", "-d", "364d",
        "--ca-certificate-file", "ca.crt", "--ca-key-file", "ca.key", "--certificate-file", "b.crt",
        "--key-file", "b.key", "--organization-unit", "ops", cwd=d, check=0)
    openssl_verify(d, "ca.crt", "client-and-worker.crt", "sslclient")
    # Default leaf validity: CA notAfter minus 24 hours.
    ca_end = x509.load_pem_x509_certificate((d / "ca.crt").read_bytes()).not_valid_after_utc
    leaf_end = x509.load_pem_x509_certificate((d / "client-and-worker.crt").read_bytes()).not_valid_after_utc
    assert ca_end - leaf_end == dt.timedelta(hours=24)


def test_two_cas_for_a_rollover_have_distinct_subjects(d):
    # Made back to back (usually within one second): the default CN still differs (tcld #396).
    make_ca(d, "old")
    make_ca(d, "new")
    subj = lambda n: openssl("x509", "-in", f"{n}.pem", "-noout", "-subject", cwd=d)
    assert subj("old") != subj("new")
    assert "temporal Root CA 20" in subj("old")
    (d / "both.pem").write_text((d / "old.pem").read_text() + (d / "new.pem").read_text())
    run("lint", "--ca-bundle", "both.pem", cwd=d, check=0)
    # The same CA twice is a duplicate (warning); two CAs with one explicit subject are refused.
    for n in ["a", "b"]:
        run("gen", "ca", "--org", "temporal", "-d", "1y", "--common-name", "Temporal CA",
            "--ca-cert", f"{n}.pem", "--ca-key", f"{n}.key", cwd=d, check=0)
    (d / "same.pem").write_text((d / "a.pem").read_text() + (d / "b.pem").read_text())
    p = run("lint", "--ca-bundle", "same.pem", cwd=d, check=1)
    assert "[bundle.unique-subject]" in p.stdout


# --- CA keys made by other tools --------------------------------------------------------------


@pytest.mark.parametrize(
    "keygen,label",
    [
        (["ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", "k.pem"], "EC PRIVATE KEY"),
        (["genrsa", "-traditional", "-out", "k.pem", "2048"], "RSA PRIVATE KEY"),
        (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "k.pem"], "PRIVATE KEY"),
    ],
    ids=["sec1", "pkcs1", "pkcs8"],
)
def test_openssl_ca_keys_in_every_format_are_accepted(d, keygen, label):
    openssl(*keygen, cwd=d)
    assert f"-----BEGIN {label}-----" in (d / "k.pem").read_text()
    openssl("req", "-new", "-x509", "-days", "30", "-key", "k.pem", "-out", "ca.pem", "-subj", "/CN=OpenSSL CA/O=Acme", "-sha256",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    run("gen", "leaf", "--org", "Acme", "-d", "7d", "--ca-cert", "ca.pem", "--ca-key", "k.pem",
        "--cert", "c.pem", "--key", "c.key", cwd=d, check=0)
    openssl_verify(d, "ca.pem", "c.pem", "sslclient")
    assert pkilint_errors(d / "c.pem") == ""
    # webpki compares names byte for byte: the leaf's issuer must equal the CA's subject exactly,
    # string types included (OpenSSL writes some attributes as PrintableString, others UTF8).
    issuer = subprocess.run(["openssl", "x509", "-in", str(d / "c.pem"), "-noout", "-issuer", "-nameopt", "RFC2253,dump_all"], capture_output=True, text=True).stdout.split("=", 1)[1]
    subject = subprocess.run(["openssl", "x509", "-in", str(d / "ca.pem"), "-noout", "-subject", "-nameopt", "RFC2253,dump_all"], capture_output=True, text=True).stdout.split("=", 1)[1]
    assert issuer == subject
    run("verify", "--ca-bundle", "ca.pem", "--cert", "c.pem", cwd=d, check=0)


# --- refusals: clear one-line error, exit 2, nothing written -----------------------------------


def expired_ca(d):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Expired CA")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (d / "expired.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "expired.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def assert_refused(p, *needles):
    assert p.returncode == 2, p.stdout + p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for n in needles:
        assert n in p.stderr, (n, p.stderr)


def test_leaf_refusals(d):
    make_ca(d)
    make_ca(d, "other")
    run("gen", "leaf", "--org", "t", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "leaf.pem", "--key", "leaf.key", cwd=d, check=0)
    expired_ca(d)
    openssl("pkcs8", "-topk8", "-v2", "aes256", "-passout", "pass:secret", "-in", "ca.key", "-out", "enc.key", cwd=d)
    cases = [
        (["--ca-cert", "leaf.pem", "--ca-key", "leaf.key"], ["is not a CA certificate"]),
        (["--ca-cert", "ca.pem", "--ca-key", "other.key"], ["does not match the CA certificate"]),
        (["--ca-cert", "expired.pem", "--ca-key", "expired.key"], ["expired at"]),
        (["--ca-cert", "ca.pem", "--ca-key", "enc.key"], ["encrypted with a passphrase"]),
        (["--ca-cert", "ca.pem", "--ca-key", "ca.key", "-d", "400d"], ["after the CA's expiry"]),
        (["--ca-cert", "ca.pem", "--ca-key", "ca.key", "-d", "12"], ["missing unit"]),
        (["--ca-cert", "ca.pem", "--ca-key", "ca.key", "-d", "3w"], ["unknown unit \"w\""]),
    ]
    for flags, needles in cases:
        p = run("gen", "leaf", "--org", "t", "--cert", "out.pem", "--key", "out.key", *flags, cwd=d)
        assert_refused(p, *needles)
        assert not (d / "out.pem").exists() and not (d / "out.key").exists(), flags


def test_ca_validity_bounds(d):
    for period, ok in [("7d", False), ("8d", True), ("1y", True), ("366d", False), ("2y", False), ("1.5d", False)]:
        p = run("gen", "ca", "--org", "t", "-d", period, "--ca-cert", f"{period}.pem", "--ca-key", f"{period}.key", cwd=d)
        assert (p.returncode == 0) == ok, (period, p.stderr)
        if not ok:
            assert_refused(p, "validity period")


def test_no_overwrite_without_force(d):
    make_ca(d)
    before = (d / "ca.key").read_bytes()
    p = run("gen", "ca", "--org", "t", "-d", "1y", "--ca-cert", "ca.pem", "--ca-key", "ca.key", cwd=d)
    assert_refused(p, "already exists", "--force")
    assert (d / "ca.key").read_bytes() == before
    # Only one of the two exists: still refused, and the other is not written either.
    (d / "ca.pem").unlink()
    p = run("gen", "ca", "--org", "t", "-d", "1y", "--ca-cert", "ca.pem", "--ca-key", "ca.key", cwd=d)
    assert_refused(p, "ca.key")
    assert not (d / "ca.pem").exists()
    run("gen", "ca", "--org", "t", "-d", "1y", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--force", cwd=d, check=0)
    assert (d / "ca.key").read_bytes() != before and mode(d / "ca.key") == 0o600
    (d / "dir").mkdir()
    assert_refused(run("gen", "ca", "--org", "t", "-d", "1y", "--ca-cert", "x.pem", "--ca-key", "dir", "--force", cwd=d), "is a directory")
    assert not (d / "x.pem").exists()


def test_garbage_input_is_exit_2_without_panic(d):
    make_ca(d)
    run("gen", "leaf", "--org", "t", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "leaf.pem", "--key", "leaf.key", cwd=d, check=0)
    ca_der = subprocess.run(["openssl", "x509", "-in", str(d / "ca.pem"), "-outform", "DER"], capture_output=True).stdout
    (d / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n")
    (d / "noise.pem").write_bytes(os.urandom(4096))
    (d / "truncated.der").write_bytes(ca_der[: len(ca_der) // 2])
    (d / "empty.pem").write_text("")
    (d / "big.pem").write_bytes(b"A" * (10 * 1024 * 1024))
    (d / "keyonly.pem").write_text((d / "ca.key").read_text())
    for bad in ["garbage.pem", "noise.pem", "truncated.der", "empty.pem", "big.pem", "keyonly.pem", "missing.pem"]:
        assert_refused(run("lint", "--ca-bundle", bad, cwd=d), bad)
        assert_refused(run("lint", "--cert", bad, cwd=d), bad)
        assert_refused(run("verify", "--ca-bundle", bad, "--cert", "leaf.pem", cwd=d), bad)
        assert_refused(run("verify", "--ca-bundle", "ca.pem", "--cert", bad, cwd=d), bad)
        assert_refused(run("gen", "leaf", "--org", "t", "--ca-cert", bad, "--ca-key", "ca.key", "--cert", "o.pem", "--key", "o.key", cwd=d), bad)
        if bad != "keyonly.pem":
            assert_refused(run("gen", "leaf", "--org", "t", "--ca-cert", "ca.pem", "--ca-key", bad, "--cert", "o.pem", "--key", "o.key", cwd=d), bad)
        assert_refused(run("sign", "--csr", bad, "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "o.pem", cwd=d), bad)
        assert not (d / "o.pem").exists()
    (d / "f.json").write_text('{"filters":[{"commonName":"*"}]}')
    assert_refused(run("verify", "--ca-bundle", "ca.pem", "--cert", "leaf.pem", "--filters", "f.json", cwd=d), "filter.wildcard")
    assert_refused(run("lint", cwd=d), "nothing to lint")
    assert_refused(run("verify", "--ca-bundle", "ca.pem", "--cert", "leaf.pem", "--at", "tomorrow", cwd=d), "RFC 3339")


def test_tampered_csr_is_refused(d):
    make_ca(d)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "r.key",
            "-out", "r.csr", "-subj", "/CN=worker/O=Acme", cwd=d)
    # A CSR made by openssl signs fine…
    run("sign", "--csr", "r.csr", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "r.pem", cwd=d, check=0)
    openssl_verify(d, "ca.pem", "r.pem", "sslclient")
    # …a CSR whose subject was edited after signing does not.
    der = bytearray(subprocess.run(["openssl", "req", "-in", str(d / "r.csr"), "-outform", "DER"], capture_output=True).stdout)
    i = der.index(b"worker")
    der[i] = ord("W")
    (d / "t.der").write_bytes(bytes(der))
    openssl("req", "-inform", "DER", "-in", "t.der", "-out", "t.csr", cwd=d)
    assert_refused(run("sign", "--csr", "t.csr", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "t.pem", cwd=d), "signature does not verify")
    assert not (d / "t.pem").exists()
    # A CSR asking for CA:TRUE gets CA:FALSE.
    openssl("req", "-new", "-key", "r.key", "-out", "ca-req.csr", "-subj", "/CN=sneaky", "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)
    out = run("sign", "--csr", "ca-req.csr", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "s.pem", cwd=d, check=0).stdout
    assert "asked for CA:TRUE" in out
    assert "CA:FALSE" in openssl("x509", "-in", "s.pem", "-noout", "-text", cwd=d)


# --- lint: the reference guide's OpenSSL recipes --------------------------------------------


def test_reference_openssl_recipes_are_linted(d):
    """The recipes of the security guide (shared/reference/003): CA with `req -x509`, a server
    certificate with a SAN extfile, a client certificate with no extensions at all."""
    openssl("genrsa", "-out", "ca.key", "4096", cwd=d)
    openssl("req", "-new", "-x509", "-days", "3650", "-key", "ca.key", "-out", "ca.crt", "-subj", "/CN=Temporal CA/O=YourOrg", cwd=d)
    openssl("genrsa", "-out", "client.key", "4096", cwd=d)
    openssl("req", "-new", "-key", "client.key", "-out", "client.csr", "-subj", "/CN=temporal-worker/O=YourOrg", cwd=d)
    openssl("x509", "-req", "-days", "365", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.crt", cwd=d)
    openssl("genrsa", "-out", "server.key", "4096", cwd=d)
    openssl("req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=temporal.example.com/O=YourOrg", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:temporal.example.com,DNS:temporal-frontend,DNS:localhost\n")
    openssl("x509", "-req", "-days", "365", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-extfile", "san.ext", cwd=d)

    # The CA is acceptable as a bundle; only its missing KeyUsage draws a warning.
    p = run("lint", "--ca-bundle", "ca.crt", "--output", "json", cwd=d, check=0)
    assert [(f["rule"], f["severity"]) for f in json.loads(p.stdout)["findings"]] == [("ca.key-cert-sign", "warning")]

    # The client certificate is X.509 v1 (no extensions): Temporal refuses it.
    p = run("lint", "--ca-bundle", "ca.crt", "--cert", "client.crt", "--key", "client.key", "--output", "json", cwd=d, check=1)
    report = json.loads(p.stdout)
    found = {(f["rule"], f["severity"]) for f in report["findings"]}
    assert found == {("ca.key-cert-sign", "warning"), ("leaf.x509-v3", "error"), ("leaf.key-usage", "warning")}, found
    assert report["errors"] == 1
    fp = openssl("x509", "-in", "client.crt", "-noout", "-fingerprint", "-sha256", cwd=d).split("=")[1].strip()
    v3 = next(f for f in report["findings"] if f["rule"] == "leaf.x509-v3")
    assert v3["certificate"]["fingerprint"] == fp.replace(":", "").lower()
    assert "temporal-worker" in v3["certificate"]["subject"]
    p = run("verify", "--ca-bundle", "ca.crt", "--cert", "client.crt", cwd=d, check=1)
    assert "REFUSED" in p.stdout and "[leaf.x509-v3]" in p.stdout

    # The server certificate, used as a client: v3, but no KeyUsage (a warning) — admitted.
    p = run("lint", "--ca-bundle", "ca.crt", "--cert", "server.crt", "--output", "json", cwd=d, check=0)
    assert {f["rule"] for f in json.loads(p.stdout)["findings"]} == {"ca.key-cert-sign", "leaf.key-usage"}

    # The same client, re-signed the way the guide's CA should have done it, passes.
    (d / "client.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-days", "365", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client3.crt", "-extfile", "client.ext", cwd=d)
    run("verify", "--ca-bundle", "ca.crt", "--cert", "client3.crt", cwd=d, check=0)
    # SHA-1 is refused.
    openssl("x509", "-req", "-days", "365", "-sha1", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "sha1.crt", "-extfile", "client.ext", cwd=d)
    p = run("verify", "--ca-bundle", "ca.crt", "--cert", "sha1.crt", cwd=d, check=1)
    assert "[cert.signature-algorithm]" in p.stdout and "sha1WithRSAEncryption" in p.stdout


# --- verify: the admission decision and its explanation ------------------------------------


def test_verify_explains_the_first_reason(d):
    make_ca(d)
    make_ca(d, "other")
    run("gen", "leaf", "--org", "Acme", "--common-name", "payments.acme", "--ca-cert", "ca.pem", "--ca-key", "ca.key",
        "--cert", "c.pem", "--key", "c.key", "-d", "30d", cwd=d, check=0)
    # Admitted, and the CA used is named.
    p = run("verify", "--ca-bundle", "ca.pem", "--cert", "c.pem", "--output", "json", cwd=d, check=0)
    v = json.loads(p.stdout)
    ca_fp = openssl("x509", "-in", "ca.pem", "-noout", "-fingerprint", "-sha256", cwd=d).split("=")[1].strip()
    assert v["admitted"] and v["client"]["anchor"]["fingerprint"] == ca_fp.replace(":", "").lower()
    # Another namespace's CA.
    p = run("verify", "--ca-bundle", "other.pem", "--cert", "c.pem", cwd=d, check=1)
    assert "[chain.untrusted]" in p.stdout
    # Filters.
    (d / "f.json").write_text('{"filters":[{"commonName":"*.acme","organization":"acme"}]}')
    run("verify", "--ca-bundle", "ca.pem", "--cert", "c.pem", "--filters", "f.json", cwd=d, check=0)
    (d / "g.json").write_text('{"filters":[{"commonName":"billing.acme"}]}')
    p = run("verify", "--ca-bundle", "ca.pem", "--cert", "c.pem", "--filters", "g.json", cwd=d, check=1)
    assert "[filter.no-match]" in p.stdout
    # In 31 days the client certificate has expired; in 2 years the CA has too.
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p = run("verify", "--ca-bundle", "ca.pem", "--cert", "c.pem", "--at", later, cwd=d, check=1)
    assert "[cert.expired]" in p.stdout and "chain #1 (leaf)" in p.stdout
    # Within 15 days of expiry: admitted, with a warning.
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    p = run("verify", "--ca-bundle", "ca.pem", "--cert", "c.pem", "--at", soon, cwd=d, check=0)
    assert "[cert.expiring-soon]" in p.stdout


def test_verify_with_intermediate_and_expired_root(d):
    """rustls accepts a valid leaf under an expired trust anchor; Gatehouse refuses it."""
    expired_ca(d)
    key = serialization.load_pem_private_key((d / "expired.key").read_bytes(), None)
    ca = x509.load_pem_x509_certificate((d / "expired.pem").read_bytes())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "worker")]))
        .issuer_name(ca.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    (d / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    p = run("verify", "--ca-bundle", "expired.pem", "--cert", "leaf.pem", "--output", "json", cwd=d, check=1)
    r = json.loads(p.stdout)
    assert r["reason"]["rule"] == "cert.expired" and r["reason"]["certificate"]["position"] == "bundle #1"


def test_help_has_examples():
    for cmd in [[], ["gen"], ["gen", "ca"], ["gen", "leaf"], ["gen", "server"], ["gen", "csr"], ["sign"], ["lint"], ["verify"],
                ["serve"], ["namespace"], ["namespace", "create"], ["namespace", "list"], ["namespace", "get"], ["namespace", "delete"],
                ["namespace", "accepted-client-ca"], *[["n", "ca", c] for c in ["list", "add", "remove", "set"]],
                ["namespace", "certificate-filters"], *[["n", "cf", c] for c in ["import", "export", "add", "clear"]],
                ["user"], *[["user", c] for c in ["list", "create", "get", "update", "delete"]],
                ["apikey"], *[["apikey", c] for c in ["list", "create", "revoke"]],
                ["expirations"], ["expirations", "check"], ["expirations", "list"], ["tickets"], ["tickets", "list"],
                ["gateway"], ["migrate"], ["export"], ["import"]]:
        p = subprocess.run([GATEHOUSE, *cmd, "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and "Examples:" in p.stdout, cmd


# --- regressions found in review -------------------------------------------------------------


def test_names_that_repeat_an_attribute_survive_exactly(d):
    """Active Directory CAs use DC=com, DC=example; requests may carry two OUs. The issued
    certificate must carry those names byte for byte, or chains and filters break."""
    openssl("req", "-new", "-x509", "-days", "30", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ad.key", "-out", "ad.pem", "-subj", "/DC=com/DC=example/CN=Multi CA",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    run("gen", "leaf", "--org", "Acme", "--ca-cert", "ad.pem", "--ca-key", "ad.key", "--cert", "l.pem", "--key", "l.key", cwd=d, check=0)
    openssl_verify(d, "ad.pem", "l.pem", "sslclient")
    run("verify", "--ca-bundle", "ad.pem", "--cert", "l.pem", cwd=d, check=0)
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "w.key",
            "-out", "w.csr", "-subj", "/O=Acme/OU=payments/OU=prod/CN=worker", cwd=d)
    run("sign", "--csr", "w.csr", "--ca-cert", "ad.pem", "--ca-key", "ad.key", "--cert", "w.pem", cwd=d, check=0)
    subject = openssl("x509", "-in", "w.pem", "-noout", "-subject", "-nameopt", "RFC2253", cwd=d)
    assert "OU=prod,OU=payments" in subject, subject
    openssl_verify(d, "ad.pem", "w.pem", "sslclient")
    (d / "ou.json").write_text('{"filters":[{"organizationalUnit":"payments"}]}')
    run("verify", "--ca-bundle", "ad.pem", "--cert", "w.pem", "--filters", "ou.json", cwd=d, check=0)


def test_outputs_never_replace_inputs_or_each_other(d):
    make_ca(d)
    before = (d / "ca.key").read_bytes()
    p = run("gen", "leaf", "--org", "t", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "x.pem", "--key", "ca.key", "--force", cwd=d)
    assert_refused(p, "is also an input")
    assert (d / "ca.key").read_bytes() == before
    p = run("gen", "leaf", "--org", "t", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "same.pem", "--key", "./same.pem", "--force", cwd=d)
    assert_refused(p, "given for two outputs")
    assert not (d / "same.pem").exists()


def test_unusable_or_rule_breaking_inputs(d):
    make_ca(d)
    # An Ed25519 CA would sign leaves Temporal refuses.
    openssl("req", "-new", "-x509", "-days", "30", "-newkey", "ed25519", "-nodes", "-keyout", "ed.key", "-out", "ed.pem",
            "-subj", "/CN=Ed CA", "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    assert_refused(run("gen", "leaf", "--org", "t", "--ca-cert", "ed.pem", "--ca-key", "ed.key", "--cert", "o.pem", "--key", "o.key", cwd=d), "RSA or ECDSA")
    # A leaf named like its CA would never be admitted.
    run("gen", "ca", "--org", "Acme", "--common-name", "Acme CA", "-d", "30d", "--ca-cert", "acme.pem", "--ca-key", "acme.key", cwd=d, check=0)
    assert_refused(run("gen", "leaf", "--org", "acme", "--common-name", "ACME ca", "--ca-cert", "acme.pem", "--ca-key", "acme.key", "--cert", "o.pem", "--key", "o.key", cwd=d), "chain.unique-dn")
    # Empty or malformed names are refused; an empty --common-name falls back to the default.
    for san in ["URI:", "email:", "URI:not a uri", "a..b"]:
        assert_refused(run("gen", "leaf", "--org", "t", "--san", san, "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "o.pem", "--key", "o.key", cwd=d), "--san")
    assert_refused(run("gen", "server", "--dns", "bad name", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "o.pem", "--key", "o.key", cwd=d), "--dns")
    run("gen", "server", "--common-name", "", "--dns", "frontend.example.com", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "s.pem", "--key", "s.key", cwd=d, check=0)
    assert "CN = frontend.example.com" in openssl("x509", "-in", "s.pem", "-noout", "-subject", cwd=d)
    # tcld: -d 0 means the default validity.
    run("gen", "leaf", "--org", "t", "-d", "0", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "z.pem", "--key", "z.key", cwd=d, check=0)
    assert_refused(run("gen", "leaf", "--org", "t", "-d", "300y", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "o.pem", "--key", "o.key", cwd=d), "too long")
    # A long organisation name still gets a default CA name within X.509's 64 characters.
    run("gen", "ca", "--org", "Example Financial Services Ltd and Subsidiaries", "-d", "30d", "--ca-cert", "long.pem", "--ca-key", "long.key", cwd=d, check=0)
    cn = x509.load_pem_x509_certificate((d / "long.pem").read_bytes()).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert len(cn) <= 64 and cn.startswith("Example Financial") and " Root CA " in cn
    # lint --key on something that is not a key: unusable input.
    (d / "junk.key").write_text("junk")
    assert_refused(run("lint", "--key", "junk.key", cwd=d), "junk.key")
    # tcld's export of a namespace without filters.
    run("gen", "leaf", "--org", "t", "--ca-cert", "ca.pem", "--ca-key", "ca.key", "--cert", "c.pem", "--key", "c.key", cwd=d, check=0)
    (d / "none.json").write_text("{}")
    run("verify", "--ca-bundle", "ca.pem", "--cert", "c.pem", "--filters", "none.json", cwd=d, check=0)
    # A bundle no namespace could hold admits nobody.
    (d / "mixed.pem").write_text((d / "ca.pem").read_text() + (d / "c.pem").read_text())
    p = run("verify", "--ca-bundle", "mixed.pem", "--cert", "c.pem", cwd=d, check=1)
    assert "REFUSED" in p.stdout and "[ca.is-ca]" in p.stdout
    # A self-named leaf, linted on its own.
    openssl("req", "-new", "-x509", "-days", "30", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "self.key", "-out", "self.pem", "-subj", "/CN=worker", "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "keyUsage=critical,digitalSignature", cwd=d)
    p = run("lint", "--cert", "self.pem", cwd=d, check=1)
    assert "[chain.unique-dn]" in p.stdout
