"""The soak test (soak.py) at smoke size: 20 seconds of mixed load with no failed valid request
and no growth in memory or file descriptors. docs/security.md records the 30-minute run."""

import json
from pathlib import Path

import soak

ROOT = Path(__file__).resolve().parents[2]


def test_soak_smoke(tmp_path):
    r = soak.soak(20, tmp_path)
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target" / "soak-smoke.json").write_text(json.dumps(r, indent=1))
    assert soak.verdict(r) == [], json.dumps({k: v for k, v in r.items() if k != "samples"}, indent=1)
    assert r["counts"]["config_changes"] >= 4 and r["counts"]["workflows"] >= 5, r["counts"]
