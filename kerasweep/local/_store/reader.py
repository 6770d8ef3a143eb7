"""Reading a kerasweep store: what the report, the dashboard and ``load_sweep`` need.

:class:`StoreReader` opens a store (SQLite or PostgreSQL) and reads sweeps, runs, rows and
bands; :class:`~kerasweep.local._store.store.Store` adds the writes agents make.

Example:
    >>> import tempfile, os
    >>> from kerasweep.local._store import Store
    >>> db = os.path.join(tempfile.mkdtemp(), "kerasweep.db")
    >>> sweep_id = Store(db).create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    >>> StoreReader(db, create=False).load(sweep_id).config["method"]
    'grid'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kerasweep.local._records import RunRecord, SweepRecord, sweep_state
from kerasweep.local._store import history, liveness, metrics, runs, sweeps
from kerasweep.local._store.database import Database
from kerasweep.local._store.errors import UnknownSweepError
from kerasweep.local._store.location import StoreLocation, resolve_db
from kerasweep.local._store.metrics import SweepMetrics
from kerasweep.local._sweep import Sweep

__all__ = ["SNAPSHOT_RUN_KEYS", "SNAPSHOT_SWEEP_KEYS", "StoreReader"]

# the keys of Store.snapshot (a part of Sweep.to_dict, which the report also reads)
SNAPSHOT_SWEEP_KEYS = (
    "id", "name", "project", "config", "method", "metric", "early_terminate", "state",
    "created_at", "seed",
)  # fmt: skip
SNAPSHOT_RUN_KEYS = (
    "id", "name", "state", "params", "history", "metric", "epochs", "stop", "error",
    "created_at", "started_at", "ended_at",
)  # fmt: skip


class StoreReader:
    """A kerasweep store, read: safe beside running agents (no lock held between calls).

    Args:
        db: An SQLite file path or a ``postgresql://user:password@host:port/dbname`` URL;
            default ``$KERASWEEP_DB`` or ``./kerasweep.db``.
        create: Create the store (an SQLite file with mode 0600, or the tables in the
            PostgreSQL database) if missing. With False, a missing store raises
            :class:`StoreError` and nothing is written.
        busy_timeout: SQLite: seconds a writer waits for another writer before failing.
        reconnect_timeout: PostgreSQL: seconds an operation retries while the server is
            unreachable before raising :class:`StoreUnavailableError`.

    ``engine`` is the SQLAlchemy engine, for reading the tables directly.
    """

    def __init__(
        self,
        db: str | os.PathLike | StoreLocation | None = None,
        *,
        create: bool = True,
        busy_timeout: float = 60.0,
        reconnect_timeout: float = 60.0,
    ) -> None:
        self.location = resolve_db(db)
        self._db = Database(
            self.location,
            create=create,
            busy_timeout=busy_timeout,
            reconnect_timeout=reconnect_timeout,
        )
        self.engine: sa.Engine = self._db.engine

    @property
    def path(self) -> Path | None:
        """The SQLite file (None for a PostgreSQL store)."""
        return self.location.path

    @property
    def reconnect_timeout(self) -> float:
        """PostgreSQL: seconds an operation retries while the server is unreachable."""
        return self._db.reconnect_timeout

    @property
    def away_for(self) -> float | None:
        """PostgreSQL: seconds the server has been unreachable beyond a whole reconnect
        window (None while it answers)."""
        return self._db.away_for

    def close(self) -> None:
        """Close the store's connections (it reconnects if used again)."""
        self._db.close()

    def _read(self, work: Callable[[sa.Connection], Any]) -> Any:
        return self._db.transact(work, write=False)

    def _unknown(self, sweep_id: str) -> UnknownSweepError:
        return UnknownSweepError(f"no sweep {sweep_id!r} in {self.location}")

    def sweep(self, sweep_id: str) -> SweepRecord:
        """The sweep ``sweep_id``; raises :class:`UnknownSweepError` if there is none."""
        found = self._read(lambda c: sweeps.get_sweep(c, sweep_id))
        if found is None:
            raise self._unknown(sweep_id)
        return found

    def sweeps(self) -> list[SweepRecord]:
        """All sweeps, oldest first."""
        return self._read(sweeps.list_sweeps)

    def load(self, sweep_id: str) -> Sweep:
        """The sweep with its bands and every run with its rows, read in one transaction.

        Its ``state`` is the one shown (:func:`~kerasweep.local._records.sweep_state`:
        ``running`` only while an agent is live), where :meth:`sweep` gives the stored one.
        """

        def work(conn: sa.Connection) -> Sweep:
            found = sweeps.get_sweep(conn, sweep_id)
            if found is None:
                raise self._unknown(sweep_id)
            rows = history.sweep_histories(conn, sweep_id)
            live = liveness.live_agents(conn).get(sweep_id, 0)
            fields = {name: getattr(found, name) for name in found.__dataclass_fields__}
            return Sweep(
                **{**fields, "state": sweep_state(found.state, live)},
                bands=tuple(sweeps.sweep_bands(conn, sweep_id)),
                runs=tuple(runs.load_runs(conn, sweep_id, rows)),
            )

        return self._read(work)

    def snapshot(self, sweep_id: str) -> dict:
        """The whole sweep as plain JSON-able data (the report reads it as it reads a Sweep).

        Returns ``{"sweep": {...}, "runs": [...], "bands": [...]}``: runs in creation order,
        each with its params, logged rows, best finite metric, epochs (rows holding a finite
        metric) and hyperband stop info (see :meth:`Sweep.to_dict`, of which it is a part).
        """
        data = self.load(sweep_id).to_dict()
        return {
            "sweep": {key: data["sweep"][key] for key in SNAPSHOT_SWEEP_KEYS},
            "runs": [{key: run[key] for key in SNAPSHOT_RUN_KEYS} for run in data["runs"]],
            "bands": data["bands"],
        }

    def live_agents(self) -> dict[str, int]:
        """The number of live agents (recent heartbeat, not ended) of each sweep with any."""
        return self._read(liveness.live_agents)

    def runs(self, sweep_id: str) -> list[RunRecord]:
        """The runs of a sweep in creation order, with their finite metric values."""

        def work(conn: sa.Connection) -> list[RunRecord]:
            if sweeps.get_sweep(conn, sweep_id) is None:
                raise self._unknown(sweep_id)
            return runs.load_runs(conn, sweep_id)

        return self._read(work)

    def refresh_metrics(self, held: SweepMetrics) -> SweepMetrics:
        """Bring ``held`` (every run's metric values, as hyperband reads them) up to date,
        reading only the runs and rows it does not have yet; returns it."""
        return held.take(self._read(lambda c: metrics.read_new(c, held)))

    def run(self, run_id: str) -> RunRecord:
        """One run by id (KeyError if unknown)."""
        return self._read(lambda c: runs.get_run(c, run_id, str(self.location)))

    def bands(self, sweep_id: str) -> list[dict]:
        """The latest hyperband thresholds of a sweep, by band."""
        return [band.to_dict() for band in self._read(lambda c: sweeps.sweep_bands(c, sweep_id))]

    def history(self, run_id: str, *, skip: int = 0) -> list[dict]:
        """The rows a run logged, in order (less the first ``skip``: those already read)."""
        return self._read(lambda c: history.run_history(c, run_id, skip))
