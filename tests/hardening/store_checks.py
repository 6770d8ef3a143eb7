"""Checks run on a store after a fault: the store is sound and completed runs kept their rows.

Both stores: an SQLite file (also passing ``PRAGMA integrity_check``) or a PostgreSQL URL.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from kerasweep.local._store import Store

COMPLETED = ("finished", "stopped")


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the store file (``"ok"`` when sound)."""
    conn = sqlite3.connect(db)
    try:
        return "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def query(db: str | os.PathLike, sql: str, **params) -> list[sa.Row]:
    """The rows of one SQL query on the store ``db`` (a path or a PostgreSQL URL)."""
    store = Store(db, create=False)
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        store.close()


def assert_sound(db: str | os.PathLike, sweep_id: str, metric: str = "val_loss") -> list[sa.Row]:
    """The store is sound; every run's rows are intact.

    Sound: an SQLite file passes ``integrity_check``. Intact: steps numbered 0..n-1 with no
    gap, every row valid JSON, and the indexed ``metric`` column equal to the row's own
    finite value; a completed (finished or stopped) run has at least one metric row.
    Returns the sweep's runs.
    """
    if "://" not in str(db):
        assert integrity(Path(db)) == "ok"
    runs = query(db, "SELECT * FROM runs WHERE sweep_id = :s ORDER BY seq", s=sweep_id)
    for run in runs:
        rows = query(
            db, 'SELECT step, "row", metric FROM history WHERE run_id = :r ORDER BY step', r=run.id
        )
        assert [r.step for r in rows] == list(range(len(rows))), run.id
        values = []
        for r in rows:
            logged = json.loads(r.row)
            value = logged.get(metric)
            finite = isinstance(value, float | int) and math.isfinite(value)
            assert r.metric == (float(value) if finite else None), (run.id, r.step)
            if finite:
                values.append(value)
        if run.state in COMPLETED:
            assert values, f"completed run {run.id} has no {metric} row"
    return runs


def agents_ended(db: str | os.PathLike) -> bool:
    """True when every agent recorded in the store has recorded its end."""
    return query(db, "SELECT COUNT(*) AS n FROM agents WHERE ended_at IS NULL")[0].n == 0
