"""benchmarks/checkpoint_cost.py keeps running: its quick mode, its JSON, and it tidies up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, subprocess_env

SCRIPT = Path(ROOT) / "benchmarks" / "checkpoint_cost.py"


@pytest.mark.slow
def test_quick_mode_times_both_ways_and_leaves_no_checkpoint(tmp_path):
    out, checkpoints = tmp_path / "cost.json", tmp_path / "checkpoints"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out),
         "--directory", str(checkpoints)],
        env=subprocess_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["examples"] == 6000 and result["epochs_timed_each_way"] == 4
    assert len(result["round_ratios"]) == len(result["cpu_round_ratios"]) == 2
    assert result["median_held_s"] > 0 and result["median_write_s"] > 0
    assert result["checkpoint_bytes"] > 4 * (784 * 64 + 64 * 64 + 64 * 10)  # the weights
    assert "ratio with/without" in proc.stdout
    assert not checkpoints.exists() or not any(checkpoints.rglob("*.npz"))
