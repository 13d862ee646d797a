"""`python -m bench --quick` runs end to end and reports what the targets need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.drills
def test_quick_bench_reports_every_measurement(tmp_path):
    output = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--output", str(output)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(output.read_text())
    assert set(results) >= {"hot_path", "requests", "requests_with_latency", "memory", "read_back", "machine", "table"}
    for row in results["requests"].values():
        assert row["ours"]["requests"] <= 3  # constant, whatever the number of events
        assert row["seed"]["requests"] >= row["ours"]["requests"]
    assert results["read_back"]["speedup"] > 1
    assert results["memory"]["extra_mb"] < 50
    assert "| 1. tracked / untracked |" in proc.stdout
