"""A run's logged rows into the store, as wandb assembles them.

A :class:`RunRecorder` takes ``wandb.log(data, step, commit)`` calls (its run handle,
:class:`kerasweep.local._run.LocalRun`, passes them on) and assembles them as wandb assembles
history rows (``commit=False`` and explicit ``step`` merge calls into one row). A row holding
the sweep metric (:meth:`Metric.raw_in <kerasweep.sweep_config.Metric.raw_in>` finds it,
a dotted name in nested rows too) is written at once, and the sweep's
:class:`~kerasweep.local._hyperband.HyperbandJudge` is asked about the run right after it,
against every agent's rows (the recorder holds every run's metric values and reads only
those logged since its last question); the recorder writes the judge's answer. Rows without
the metric are written with the next one that has it (or at :meth:`RunRecorder.close`).
:attr:`~RunRecorder.stop` holds hyperband's decision; :attr:`~RunRecorder.lost` says the run
is no longer this agent's.

When the store stays unreachable (a PostgreSQL server down for longer than its reconnect
window) or is full (:class:`~kerasweep.local._store.StoreFullError`), no row is dropped:
the rows are kept, :attr:`~RunRecorder.store_error` says why,
the run is asked to stop, and :meth:`RunRecorder.close` tries once more to write them.

Example:
    >>> recorder = RunRecorder(store, sweep, run_id)  # doctest: +SKIP
    >>> recorder.log({"epochs": 0, "val_loss": 0.5})  # doctest: +SKIP
    >>> recorder.stop  # None, or a StopReason once hyperband says so  # doctest: +SKIP
    >>> recorder.close()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from kerasweep._plain import plain
from kerasweep.local._hyperband import HyperbandJudge
from kerasweep.local._store import (
    StopReason,
    Store,
    StoreFullError,
    StoreUnavailableError,
    SweepMetrics,
    SweepRecord,
)

__all__ = ["RunRecorder"]

logger = logging.getLogger("kerasweep.local")


class RunRecorder:
    """Stores the rows one run logs, and what hyperband answers after each row with the metric.

    Args:
        store: The sweep's store.
        sweep: The sweep the run belongs to.
        run_id: The run (running, owned by ``agent_id``).
        agent_id: Owner check for writes; None skips it.
        buffer_limit: Rows without the metric kept in memory before they are written anyway.
        judge: Asked after each metric row (default: the sweep's hyperband, if it has one).
        metrics: Every run's metric values as last read, kept by the agent across its runs
            with ``judge`` (default: a new one, read whole at the first question).
    """

    def __init__(
        self,
        store: Store,
        sweep: SweepRecord,
        run_id: str,
        *,
        agent_id: str | None = None,
        buffer_limit: int = 1000,
        judge: HyperbandJudge | None = None,
        metrics: SweepMetrics | None = None,
    ) -> None:
        self.store = store
        self.sweep = sweep
        self.run_id = run_id
        self.agent_id = agent_id
        self.metric = sweep.metric
        self.judge = HyperbandJudge(sweep.config) if judge is None else judge
        self.buffer_limit = buffer_limit
        self.stop: StopReason | None = None
        self.lost = False  # the run is no longer this agent's (marked crashed meanwhile)
        # the store stayed away, or is full: the run stops, resumable
        self.store_error: StoreUnavailableError | StoreFullError | None = None
        self.rows = 0
        self._buffer: list[dict] = []
        self._pending: dict | None = None
        self._pending_step: int | None = None
        self._bands: list | None = None  # the band table last written
        # every run's values, read as they come
        self._metrics = SweepMetrics(sweep.id) if metrics is None else metrics
        self._lock = threading.RLock()
        self._warned = False

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None):
        """Take one ``wandb.log(data, step, commit)`` call."""
        with self._lock:
            if (
                step is not None
                and self._pending is not None
                and self._pending_step is not None
                and step != self._pending_step
            ):
                self._emit(self._pending)
                self._pending = None
            pending = self._pending if self._pending is not None else {}
            pending.update(data)
            self._pending, self._pending_step = pending, step
            if commit or (step is None and commit is None):
                self._pending = None
                self._emit(pending)

    @property
    def unwritten(self) -> int:
        """Rows taken but not (yet) in the store."""
        return len(self._buffer) + (self._pending is not None)

    def _emit(self, row: dict) -> None:
        row = plain(row)
        self.rows += 1
        self._buffer.append(row)
        if self.store_error is not None:
            return  # kept for close(); the run has been asked to stop
        try:
            if self.metric is not None and self.metric.raw_in(row) is not None:
                judge = self.judge.applies and self.stop is None and not self.lost
                self.flush(refresh=judge)
                if judge and not self.lost:
                    self._ask_judge()
            elif len(self._buffer) >= self.buffer_limit:
                self.flush()
        except (StoreUnavailableError, StoreFullError) as err:
            self.store_error = err
            log = logger.warning if isinstance(err, StoreFullError) else logger.debug
            log(  # unreachable: the agent's last line says it (StoreLostError)
                "kerasweep: run %s stops: the store is %s (%s); its rows are kept for one "
                "more try, and the run is resumable",
                self.run_id,
                "full" if isinstance(err, StoreFullError) else "unreachable",
                err,
            )

    def _ask_judge(self) -> None:
        """Ask the judge about the run, and write its stop and band table."""
        # self._metrics was brought up to date as the row was written
        verdict = self.judge.judge_held(self.run_id, self._metrics)
        stop, bands = verdict.stop, verdict.bands
        if stop is not None:
            self.stop = stop
            self.store.record_stop(
                self.run_id,
                band=stop.band,
                threshold=stop.threshold,
                value=stop.value,
                epoch=stop.epoch,
                bands=bands,
            )
            self._bands = bands
        elif bands != self._bands:
            self.store.set_bands(self.sweep.id, bands)
            self._bands = bands

    def report_error(self, err: Exception) -> None:
        """Warn (once per run) that a row could not be recorded; the run goes on."""
        if not self._warned:
            self._warned = True
            logger.warning(
                "kerasweep: a row of run %s could not be recorded (%s: %s); the run goes on",
                self.run_id,
                type(err).__name__,
                err,
            )

    def flush(self, *, refresh: bool = False) -> None:
        """Write the buffered rows (with ``refresh``, and read what hyperband judges next)."""
        with self._lock:
            if not self._buffer:
                return
            if self.lost:
                self._buffer = []
                return
            rows = list(self._buffer)
            written = self.store.append_rows(
                self.run_id,
                rows,
                self.metric,
                agent_id=self.agent_id,
                refresh=self._metrics if refresh else None,
            )
            del self._buffer[: len(rows)]  # kept, in order, if the store raised instead
            if not written:
                self.lost = True
                self._buffer = []

    def close(self) -> None:
        """Write what is left, including a row still open (as ``wandb.finish`` does).

        Rows the store could not take stay counted in :attr:`unwritten`.
        """
        with self._lock:
            try:
                if self._pending is not None:
                    pending, self._pending = self._pending, None
                    self._emit(pending)
                self.flush()
            except (StoreUnavailableError, StoreFullError) as err:
                self.store_error = err
            except Exception as err:  # the run itself is over; say so and go on
                self.report_error(err)
