"""The soak test (soak.py) at smoke size: 20 seconds of mixed load with no failed valid request
and no growth in memory or file descriptors. docs/security.md records the 30-minute run."""

import json
from pathlib import Path

import soak

ROOT = Path(__file__).resolve().parents[2]


# What 20 seconds of load brings on an idle machine; a busy one runs on until it is there.
AT_LEAST = {"config_changes": 4, "workflows": 5}


def test_soak_smoke(tmp_path):
    r = soak.soak(20, tmp_path, at_least=AT_LEAST)
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target" / "soak-smoke.json").write_text(json.dumps(r, indent=1))
    assert soak.verdict(r) == [], json.dumps({k: v for k, v in r.items() if k != "samples"}, indent=1)
    print(f"soak smoke: {r['counts']} in {r['ran_seconds']} s")
    assert all(r["counts"][k] >= n for k, n in AT_LEAST.items()), r["counts"]
