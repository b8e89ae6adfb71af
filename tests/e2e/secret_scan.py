"""No secret in a log: every log and stderr file an end-to-end run wrote (`*.log`, `*.err`; the
Temporal server's own logs aside) is searched for the secrets the run made: private keys (any
24 characters of their PEM bodies), API keys (`ghk_…`), console session secrets, and the words
of a PEM private key. conftest.py runs it when the session ends; a hit fails the run."""

import hashlib
import re
from pathlib import Path

PEM_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----(.*?)-----END", re.S)
RUN = re.compile(rb"[A-Za-z0-9+/]{24,}")
TOKEN = re.compile(rb"ghk_[A-Za-z0-9_-]{20,}")
WINDOW = 24


def secrets_in(root: Path):
    """(windows, whole): 24-character pieces of private-key base64 mapped to a file holding the
    key, and whole secrets (tokens, session secrets) mapped to theirs. Pieces shared by two
    different keys (the algorithm identifiers every key of a kind starts with) are not secret
    and are left out."""
    owners, whole = {}, {}
    for f in root.rglob("*"):
        if not f.is_file() or f.suffix in (".log", ".err"):
            continue
        try:
            if f.stat().st_size > 1_000_000:
                continue
            data = f.read_bytes()
        except OSError:
            continue
        for block in PEM_KEY.findall(data):
            body = re.sub(rb"\s", b"", block)
            identity = hashlib.sha256(body).digest()
            for i in range(len(body) - WINDOW + 1):
                owners.setdefault(body[i:i + WINDOW], {})[identity] = f
        if f.name == "console-session.key" and len(data.strip()) >= 32:
            whole.setdefault(data.strip(), f)
        if f.name.endswith(".key") or "token" in f.name:
            for t in TOKEN.findall(data):
                whole.setdefault(t, f)
    windows = {w: next(iter(ids.values())) for w, ids in owners.items() if len(ids) == 1}
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
