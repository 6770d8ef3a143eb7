"""Checks run on a store after a fault: the file is sound and completed runs kept their rows."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

COMPLETED = ("finished", "stopped")


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the store file (``"ok"`` when sound)."""
    conn = sqlite3.connect(db)
    try:
        return "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def assert_sound(db: Path, sweep_id: str, metric: str = "val_loss") -> list[sqlite3.Row]:
    """The store passes ``integrity_check``; every run's rows are intact.

    Intact: steps numbered 0..n-1 with no gap, every row valid JSON, and the indexed
    ``metric`` column equal to the row's own finite value; a completed (finished or stopped)
    run has at least one metric row. Returns the sweep's runs.
    """
    assert integrity(db) == "ok"
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        runs = conn.execute("SELECT * FROM runs WHERE sweep_id=? ORDER BY seq", (sweep_id,))
        runs = runs.fetchall()
        for run in runs:
            rows = conn.execute(
                "SELECT step, row, metric FROM history WHERE run_id=? ORDER BY step", (run["id"],)
            ).fetchall()
            assert [r["step"] for r in rows] == list(range(len(rows))), run["id"]
            values = []
            for r in rows:
                logged = json.loads(r["row"])
                value = logged.get(metric)
                finite = isinstance(value, float | int) and math.isfinite(value)
                assert r["metric"] == (float(value) if finite else None), (run["id"], r["step"])
                if finite:
                    values.append(value)
            if run["state"] in COMPLETED:
                assert values, f"completed run {run['id']} has no {metric} row"
        return runs
    finally:
        conn.close()
