"""The store interface: one class over SQLite files and PostgreSQL servers alike.

Example:
    >>> import tempfile, os
    >>> store = Store(os.path.join(tempfile.mkdtemp(), "kerasweep.db"))
    >>> sweep_id = store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    >>> store.sweep(sweep_id).config["method"]
    'grid'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from kerasweep.local._records import NewRun, RunRecord, RunState, StopReason, SweepRecord
from kerasweep.local._store import history, metrics, runs, sweeps
from kerasweep.local._store.errors import StoreFullError
from kerasweep.local._store.metrics import SweepMetrics
from kerasweep.local._store.reader import StoreReader
from kerasweep.sweep_config._metric import Metric

__all__ = ["Store"]


class Store(StoreReader):
    """A kerasweep store, safe to share between processes and machines: the reads of
    :class:`StoreReader` (same arguments) and the writes agents make.
    """

    def _write(self, work: Callable[[sa.Connection], Any]) -> Any:
        return self._db.transact(work, write=True)

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

    def set_sweep_state(self, sweep_id: str, state: str) -> None:
        """Mark a sweep ``running`` or ``finished``."""
        self._write(lambda c: sweeps.set_sweep_state(c, sweep_id, state))

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
        """Mark crashed the running runs whose agent is gone or silent; returns their ids.

        A store that cannot take the change (read-only, or its file system full) is left
        as it is: its runs are shown as they were recorded.
        """
        if self._db.read_only:
            return []
        try:
            return self._write(lambda c: runs.reap_stale(c, sweep_id, stale_after))
        except StoreFullError:
            return []

    def claim_run(
        self,
        sweep_id: str,
        agent_id: str,
        propose: Callable[[SweepRecord, Sequence[RunRecord]], NewRun | None],
        *,
        stale_after: float = 60.0,
        resume: Callable[[RunRecord], int] | None = None,
    ) -> RunRecord | None:
        """Atomically pick and start the next run of a sweep for ``agent_id``.

        With ``resume``, a preempted run is taken before any new one: ``resume(run)`` says
        the epoch it goes on at, and its rows from that epoch on are replaced.

        In one write transaction: running runs whose agent is gone are marked crashed, then
        ``propose(sweep, runs)`` sees every run so far (a
        :class:`~kerasweep.local._store.runs.SweepSoFar`, read as far as it asks) and returns
        the next parameters (or
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
                resume=resume,
            )
        )

    def append_rows(
        self,
        run_id: str,
        rows: Sequence[Mapping[str, Any]],
        metric: Metric | str | None,
        *,
        agent_id: str | None = None,
        refresh: SweepMetrics | None = None,
    ) -> bool:
        """Append logged rows to a running run; False (nothing written) if it is not running.

        ``metric`` is the sweep metric (or its name): its finite value in each row is indexed
        for hyperband and the leaderboard, and a value reaching its target marks the run.
        ``refresh`` is brought up to date in the same transaction once the rows are written
        (as :meth:`refresh_metrics` would right after), for hyperband to judge them.
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

    def finish_run(
        self, run_id: str, agent_id: str, outcome: str, error: str | None = None
    ) -> RunState | None:
        """End a run of ``agent_id``: outcome ``finished``, ``failed``, ``crashed`` or
        ``preempted`` (resumed by the next agent that asks for work).

        A finished run that hyperband stopped becomes ``stopped``. A run marked crashed in
        the meantime (its heartbeat looked stale) is corrected by its owner. Returns the
        state written, or None if the run is not this agent's.
        """
        state = RunState.outcome(outcome)
        return self._write(lambda c: runs.finish_run(c, run_id, agent_id, state, error))
