"""benchmarks/store_overhead.py keeps running: its tiny mode on each store, and its JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, subprocess_env
from tests.postgres import URL_ENV_VAR, password_of

SCRIPT = Path(ROOT) / "benchmarks" / "store_overhead.py"
OPERATIONS = {"claim", "row", "row_hyperband", "engine"}


def _run(tmp_path: Path, *args: str) -> tuple[str, dict]:
    out = tmp_path / "store.json"
    env = subprocess_env(WANDB_MODE="disabled", TMPDIR=str(tmp_path))
    env.pop(URL_ENV_VAR, None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--json", str(out), *args],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, json.loads(out.read_text())


def _check(summary: dict, runs: int = 3, rows: int = 4) -> None:
    assert set(summary) == OPERATIONS
    assert summary["claim"]["n"] == runs
    assert summary["row"]["n"] + summary["row_hyperband"]["n"] == runs * rows
    assert summary["engine"]["n"] == summary["row_hyperband"]["n"]
    for name in OPERATIONS - {"engine"}:
        cell = summary[name]
        assert 0 < cell["median_ms"] <= cell["p90_ms"]
        assert cell["of_target"] == cell["median_ms"] / cell["target_ms"]
    assert summary["engine"]["target_ms"] is None is summary["engine"]["of_target"]


@pytest.mark.slow
def test_tiny_run_on_sqlite_alone_says_how_to_add_postgresql(tmp_path):
    stdout, data = _run(tmp_path)
    assert set(data["results"]) == {"sqlite"}
    _check(data["results"]["sqlite"])
    assert "PostgreSQL not measured: pass --db" in stdout
    assert "| sqlite | claim a run |" in stdout and "median / target" in stdout
    assert list(tmp_path.iterdir()) == [tmp_path / "store.json"]  # its SQLite file removed


def test_tiny_run_on_both_stores_prints_their_ratio_and_no_password(postgres_url, tmp_path):
    stdout, data = _run(tmp_path, "--db", postgres_url)
    assert set(data["results"]) == {"sqlite", "postgresql"}
    for summary in data["results"].values():
        _check(summary)
    assert "| postgresql | record a row |" in stdout
    assert "PostgreSQL / SQLite, claim a run:" in stdout
    assert data["postgresql_server"] and ":***@" in data["postgresql_at"]
    assert password_of(postgres_url) not in stdout + json.dumps(data)
