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


def test_the_controller_at_scale_times_each_part_of_a_run_and_the_reads(tmp_path):
    out = tmp_path / "scale.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--runs", "12", "--stores", "sqlite",
         "--methods", "random,hyperband", "--json", str(out)],
        env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    ran = results["controller"]
    assert [(row["method"], row["runs"]) for row in ran] == [("random", 12), ("hyperband", 12)]
    for row in ran:
        (window,) = row["windows"].values()
        assert window["controller"] > 0 and window["claim"] > 0 and window["rows"] > 0
        assert row["ratio"] == 1.0
    assert ran[1]["windows"]["1-12"]["hyperband"] > 0
    reads = {row["read"]: row for row in results["reads"]}
    assert set(reads) >= {"ls", "show", "best", "report", "dashboard page"}
    assert all(row["seconds"] > 0 and row["peak_mb"] > 0 for row in reads.values())
    assert "ratio, last window / first" in proc.stdout
