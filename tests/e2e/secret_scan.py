"""No secret in a log: every log and stderr file an end-to-end run keeps (`*.log`, `*.err`: the
servers', the gateway's, and the renewal daemon's, rotation's and workers' logs; the Temporal
server's own logs aside) is searched for the secrets the run made: the private part of every
PEM private key (any 24 characters of its base64 that encode only private bytes — not the
public key, which certificates carry too — and the private value in hex or base64url), API keys
(`ghk_…`), console session secrets, and the words of a PEM private key. conftest.py runs it
when the session ends; a hit fails the run."""

import base64
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----(.*?)-----END", re.S)
RUN = re.compile(rb"[A-Za-z0-9+/]{24,}")
TOKEN = re.compile(rb"ghk_[A-Za-z0-9_-]{20,}")
WINDOW = 24


def private_values(pem: bytes):
    """The private numbers of a PEM key, as big-endian bytes (none if it does not load)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        return []
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return [key.private_numbers().private_value.to_bytes(size, "big")]
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return [v.to_bytes((v.bit_length() + 7) // 8, "big") for v in (n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp)]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return [key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())]
    return []


def secret_windows(body: bytes, values):
    """The 24-character windows of a key's base64 `body` that decode to private bytes only."""
    try:
        der = base64.b64decode(body)
    except ValueError:
        return set()
    spans = []
    for v in values:
        at = der.find(v)
        if at >= 0 and len(v) >= 16:
            spans.append((at, at + len(v)))
    out = set()
    for c in range(len(body) - WINDOW + 1):
        first, last = (6 * c) // 8, (6 * (c + WINDOW) - 1) // 8
        if any(s <= first and last < e for s, e in spans):
            out.add(body[c:c + WINDOW])
    return out


def secrets_in(root: Path):
    """(windows, whole): private-key base64 windows mapped to a file holding the key, and whole
    secrets (tokens, session secrets, private values in hex and base64url) mapped to theirs."""
    windows, whole = {}, {}
    for f in root.rglob("*"):
        if not f.is_file() or f.suffix in (".log", ".err"):
            continue
        try:
            if f.stat().st_size > 1_000_000:
                continue
            data = f.read_bytes()
        except OSError:
            continue
        for m in PEM_KEY.finditer(data):
            if b"ENCRYPTED" in m.group(1):
                continue
            values = private_values(m.group(0) + b" " + m.group(1) + b"PRIVATE KEY-----\n")
            body = re.sub(rb"\s", b"", m.group(2))
            for w in secret_windows(body, values):
                windows.setdefault(w, f)
            for v in values:
                whole.setdefault(v.hex()[:32].encode(), f)
                whole.setdefault(base64.urlsafe_b64encode(v).rstrip(b"=")[:24], f)
        if f.name == "console-session.key" and len(data.strip()) >= 32:
            whole.setdefault(data.strip(), f)
        if f.name.endswith(".key") or "token" in f.name:
            for t in TOKEN.findall(data):
                whole.setdefault(t, f)
    return windows, whole


def leaks(root: Path):
    """(logs searched, findings)."""
    windows, whole = secrets_in(root)
    found = []
    logs = [f for f in root.rglob("*") if f.is_file() and f.suffix in (".log", ".err")
            and not f.name.startswith("temporal-")]
    for log in logs:
        text = log.read_bytes()
        if re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", text):
            found.append(f"{log}: a PEM private key")
        for t in TOKEN.findall(text):
            found.append(f"{log}: an API key {t[:8].decode()}…")
        for secret, src in whole.items():
            if secret in text:
                found.append(f"{log}: the secret in {src}")
        for run in RUN.findall(text):
            for i in range(len(run) - WINDOW + 1):
                src = windows.get(run[i:i + WINDOW])
                if src is not None:
                    found.append(f"{log}: part of the private key in {src}")
                    break
    return logs, found
