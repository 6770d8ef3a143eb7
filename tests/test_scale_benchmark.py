"""benchmarks/scale.py keeps running: its pure mode on a tiny history, and its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, subprocess_env

pytestmark = pytest.mark.slow  # each starts the script in a process of its own

SCRIPT = Path(ROOT) / "benchmarks" / "scale.py"


def test_pure_mode_times_each_decision_both_ways(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--pure", "--sizes", "20", "--seconds", "0",
         "--methods", "hyperband,grid,random", "--json", str(out)],
        env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = json.loads(out.read_text())
    assert [(row["method"], row["runs"]) for row in rows] == [
        ("hyperband", 20), ("grid", 20), ("random", 20)
    ]
    for row in rows:
        assert row["engine_us"] > 0 and row["controller_us"] > 0 and row["incremental_us"] > 0
        assert row["ratio"] == row["controller_us"] / row["incremental_us"]
    assert "| hyperband |     20 |" in proc.stdout


def test_an_unknown_method_is_refused():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--pure", "--methods", "hyperbnd"],
        env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and "hyperbnd" in proc.stderr
