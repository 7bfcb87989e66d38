"""`intake bench` runs and reports every figure (never timed: the figures go in the README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from benchmarks.run import KEYS
from tests.conftest import ROOT


def test_bench_quick_json_prints_every_key():
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")} | {"INTAKE_BENCH_SCALE": "0.05"}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "bench", "--quick", "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert set(KEYS) <= set(result)
    assert result["mode"] == "quick" and "not 10,000" in result["note"]
    assert result["machine"]["nproc"] >= 1 and result["machine"]["ram_gb"] > 0
    for key in KEYS:
        if key in ("poll_nothing_new_s", "idle_latency_s") and result[key] is None:
            assert "dovecot" in result["imap_skipped"]  # null only with the reason
        else:
            assert isinstance(result[key], (int, float)) and result[key] > 0, key
