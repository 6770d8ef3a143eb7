"""The store interface: one class over SQLite files and PostgreSQL servers alike.

Example:
    >>> import tempfile, os
    >>> store = Store(os.path.join(tempfile.mkdtemp(), "kerasweep.db"))
    >>> sweep_id = store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    >>> store.sweep(sweep_id).config["method"]
    'grid'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kerasweep.local.records import NewRun, RunRecord, RunState, StopReason, Sweep, SweepRecord
from kerasweep.local.store import history, metrics, runs, sweeps
from kerasweep.local.store.database import Database
from kerasweep.local.store.errors import UnknownSweepError
from kerasweep.local.store.location import StoreLocation, resolve_db
from kerasweep.local.store.metrics import SweepMetrics

__all__ = ["SNAPSHOT_RUN_KEYS", "SNAPSHOT_SWEEP_KEYS", "Store"]

# the keys of Store.snapshot (a part of Sweep.to_dict, which the report also reads)
SNAPSHOT_SWEEP_KEYS = (
    "id", "name", "project", "config", "method", "metric", "early_terminate", "state",
    "created_at", "seed",
)  # fmt: skip
SNAPSHOT_RUN_KEYS = (
    "id", "name", "state", "params", "history", "metric", "epochs", "stop", "error",
    "created_at", "started_at", "ended_at",
)  # fmt: skip


class Store:
    """A kerasweep store, safe to share between processes and machines.

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

    def _write(self, work: Callable[[sa.Connection], Any]) -> Any:
        return self._db.transact(work, write=True)

    def _read(self, work: Callable[[sa.Connection], Any]) -> Any:
        return self._db.transact(work, write=False)

    def _unknown(self, sweep_id: str) -> UnknownSweepError:
        return UnknownSweepError(f"no sweep {sweep_id!r} in {self.location}")

    # -- sweeps ------------------------------------------------------------------------------

    def create_sweep(
        self,
        config: Mapping[str, Any],
        *,
        name: str | None = None,
        project: str | None = None,
        seed: int | None = None,
    ) -> str:
        """Store a sweep config (already validated); returns the new sweep's id."""
        return self._write(
            lambda c: sweeps.create_sweep(c, config, name=name, project=project, seed=seed)
        )

    def sweep(self, sweep_id: str) -> SweepRecord:
        """The sweep ``sweep_id``; raises :class:`UnknownSweepError` if there is none."""
        found = self._read(lambda c: sweeps.get_sweep(c, sweep_id))
        if found is None:
            raise self._unknown(sweep_id)
        return found

    def sweeps(self) -> list[SweepRecord]:
        """All sweeps, oldest first."""
        return self._read(sweeps.list_sweeps)

    def set_sweep_state(self, sweep_id: str, state: str) -> None:
        """Mark a sweep ``running`` or ``finished``."""
        self._write(lambda c: sweeps.set_sweep_state(c, sweep_id, state))

    def load(self, sweep_id: str) -> Sweep:
        """The sweep with its bands and every run with its rows, read in one transaction."""

        def work(conn: sa.Connection) -> Sweep:
            found = sweeps.get_sweep(conn, sweep_id)
            if found is None:
                raise self._unknown(sweep_id)
            rows = history.sweep_histories(conn, sweep_id)
            return Sweep(
                **{name: getattr(found, name) for name in found.__dataclass_fields__},
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

    # -- agents ------------------------------------------------------------------------------

    def register_agent(self, sweep_id: str) -> str:
        """Record an agent of this process working on ``sweep_id``; returns its id."""
        self.sweep(sweep_id)
        return self._write(lambda c: runs.register_agent(c, sweep_id))

    def end_agent(self, agent_id: str) -> None:
        """Record that an agent has stopped."""
        self._write(lambda c: runs.end_agent(c, agent_id))

    def heartbeat(self, agent_id: str, run_id: str | None = None) -> bool:
        """Refresh the heartbeat of an agent and of its run; False if the run is no longer its."""
        return self._db.transact(lambda c: runs.heartbeat(c, agent_id, run_id), flush=False)

    # -- runs --------------------------------------------------------------------------------

    def reap_stale(self, sweep_id: str, stale_after: float = 60.0) -> list[str]:
        """Mark crashed the running runs whose agent is gone or silent; returns their ids."""
        return self._write(lambda c: runs.reap_stale(c, sweep_id, stale_after))

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

    def claim_run(
        self,
        sweep_id: str,
        agent_id: str,
        propose: Callable[[SweepRecord, list[RunRecord]], NewRun | None],
        *,
        stale_after: float = 60.0,
    ) -> RunRecord | None:
        """Atomically pick and start the next run of a sweep for ``agent_id``.

        In one write transaction: running runs whose agent is gone are marked crashed, then
        ``propose(sweep, runs)`` sees every run so far and returns the next parameters (or
        None when the sweep has no more runs to give); the new run is recorded as running,
        owned by ``agent_id``. No two agents can be proposed the same point.
        """
        attempt: dict[str, str] = {}
        return self._write(
            lambda c: runs.claim_run(
                c,
                sweep_id,
                agent_id,
                propose,
                stale_after=stale_after,
                where=str(self.location),
                attempt=attempt,
            )
        )

    def append_rows(
        self,
        run_id: str,
        rows: Sequence[Mapping[str, Any]],
        metric: str | None,
        *,
        agent_id: str | None = None,
        refresh: SweepMetrics | None = None,
    ) -> bool:
        """Append logged rows to a running run; False (nothing written) if it is not running.

        ``metric`` names the sweep metric: its finite value in each row is indexed for
        hyperband and the leaderboard. ``refresh`` is brought up to date in the same
        transaction once the rows are written (as :meth:`refresh_metrics` would right
        after), for hyperband to judge them.
        """
        if not rows:
            return True
        attempt: dict[str, int] = {}

        def work(conn: sa.Connection) -> tuple[bool, list | None]:
            written = history.append_rows(conn, run_id, rows, metric, agent_id, attempt)
            found = metrics.read_new(conn, refresh) if written and refresh is not None else None
            return written, found

        written, found = self._db.transact(work, flush=False)
        if found is not None:
            refresh.take(found)
        return written

    def record_stop(
        self,
        run_id: str,
        *,
        band: int,
        threshold: float,
        value: float,
        epoch: int,
        bands: Sequence[tuple[int, float | None]] = (),
    ) -> None:
        """Record that hyperband stops ``run_id`` (first decision wins) and the band table."""
        stop = StopReason(band=band, threshold=threshold, value=value, epoch=epoch)
        self._write(lambda c: runs.record_stop(c, run_id, stop, bands))

    def set_bands(self, sweep_id: str, bands: Sequence[tuple[int, float | None]]) -> None:
        """Replace the sweep's latest hyperband thresholds (None: no run reached the band)."""
        self._write(lambda c: sweeps.set_bands(c, sweep_id, bands))

    def bands(self, sweep_id: str) -> list[dict]:
        """The latest hyperband thresholds of a sweep, by band."""
        return [band.to_dict() for band in self._read(lambda c: sweeps.sweep_bands(c, sweep_id))]

    def finish_run(
        self, run_id: str, agent_id: str, outcome: str, error: str | None = None
    ) -> RunState | None:
        """End a run of ``agent_id``: outcome ``finished``, ``failed`` or ``crashed``.

        A finished run that hyperband stopped becomes ``stopped``. A run marked crashed in
        the meantime (its heartbeat looked stale) is corrected by its owner. Returns the
        state written, or None if the run is not this agent's.
        """
        if outcome not in ("finished", "failed", "crashed"):
            raise ValueError(f"outcome must be finished, failed or crashed, not {outcome!r}")
        return self._write(lambda c: runs.finish_run(c, run_id, agent_id, outcome, error))

    def history(self, run_id: str) -> list[dict]:
        """The rows a run logged, in order."""
        return self._read(lambda c: history.run_history(c, run_id))
