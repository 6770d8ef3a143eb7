"""Sweeps and their hyperband band tables."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from kerasweep.local._records import Band, SweepRecord
from kerasweep.local._store.ids import new_id, now_iso
from kerasweep.local._store.schema import bands, sweeps
from kerasweep.local._store.values import dumps, plain

__all__ = [
    "create_sweep",
    "get_sweep",
    "list_sweeps",
    "lock_sweep",
    "set_bands",
    "set_sweep_state",
    "sweep_bands",
]


def create_sweep(
    conn: sa.Connection,
    config: Mapping[str, Any],
    *,
    name: str | None,
    project: str | None,
    seed: int | None,
) -> str:
    """Store a new sweep; returns its id (8 characters, W&B's style)."""
    config = plain(dict(config))
    while True:
        sweep_id = new_id()
        if get_sweep(conn, sweep_id) is None:
            break
    conn.execute(
        sweeps.insert().values(
            id=sweep_id,
            name=name if name is not None else config.get("name"),
            project=project if project is not None else config.get("project"),
            config=dumps(config),
            seed=None if seed is None else int(seed),
            state="running",
            created_at=now_iso(),
        )
    )
    return sweep_id


def _record(row: sa.Row) -> SweepRecord:
    return SweepRecord(
        id=row.id,
        name=row.name,
        project=row.project,
        config=json.loads(row.config),
        state=row.state,
        created_at=row.created_at,
        seed=row.seed,
    )


def get_sweep(conn: sa.Connection, sweep_id: str) -> SweepRecord | None:
    row = conn.execute(sa.select(sweeps).where(sweeps.c.id == sweep_id)).one_or_none()
    return None if row is None else _record(row)


def lock_sweep(conn: sa.Connection, sweep_id: str) -> SweepRecord | None:
    """The sweep, its row locked until the transaction ends (PostgreSQL; SQLite's write
    transaction already holds the whole file)."""
    query = sa.select(sweeps).where(sweeps.c.id == sweep_id).with_for_update()
    row = conn.execute(query).one_or_none()
    return None if row is None else _record(row)


def list_sweeps(conn: sa.Connection) -> list[SweepRecord]:
    """All sweeps, oldest first."""
    order = [sweeps.c.created_at]
    # in creation order when two share a millisecond: SQLite's rowid, else the id
    order.append(sa.literal_column("rowid") if conn.dialect.name == "sqlite" else sweeps.c.id)
    return [_record(row) for row in conn.execute(sa.select(sweeps).order_by(*order))]


def set_sweep_state(conn: sa.Connection, sweep_id: str, state: str) -> None:
    conn.execute(sweeps.update().where(sweeps.c.id == sweep_id).values(state=state))


def set_bands(
    conn: sa.Connection, sweep_id: str, table: Sequence[tuple[int, float | None]]
) -> None:
    """Replace the sweep's latest hyperband thresholds (None: no run reached the band).

    The sweep's row is locked first: agents replacing the table at once take turns (on
    PostgreSQL, two deletes of the old table would otherwise both insert a new one).
    """
    conn.execute(sa.select(sweeps.c.id).where(sweeps.c.id == sweep_id).with_for_update())
    conn.execute(bands.delete().where(bands.c.sweep_id == sweep_id))
    if table:
        conn.execute(
            bands.insert(),
            [
                {"sweep_id": sweep_id, "band": int(b), "threshold": None if t is None else float(t)}
                for b, t in table
            ],
        )


def sweep_bands(conn: sa.Connection, sweep_id: str) -> list[Band]:
    query = (
        sa.select(bands.c.band, bands.c.threshold)
        .where(bands.c.sweep_id == sweep_id)
        .order_by(bands.c.band)
    )
    return [Band(band=row.band, threshold=row.threshold) for row in conn.execute(query)]
