"""What a local agent tells whoever watches it: runs starting, epochs, runs ending, the end.

:func:`~kerasweep.local.local_agent` calls a :class:`ProgressObserver` as it goes. Two come
with kerasweep: :class:`StatusLines` (one line per run on the ``kerasweep.local`` logger: the
command line's status) and, in a notebook,
:class:`~kerasweep.local._notebook.NotebookProgress` (one display updated in place).

Example:
    >>> class Count:
    ...     def __init__(self): self.runs = 0
    ...     def run_started(self, sweep, run, index, count): pass
    ...     def epoch_logged(self, sweep, run, row): pass
    ...     def run_ended(self, sweep, run, index, count, seconds): self.runs += 1
    ...     def sweep_ended(self, sweep, runs, reason): pass
    >>> local_agent(sweep_id, count=2, progress=Count())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kerasweep._text import format_value
from kerasweep.local._records import RunRecord, RunState, SweepRecord
from kerasweep.local._run import LocalRun
from kerasweep.sweep_config._parameters import searched_params

__all__ = ["ObservedRun", "ProgressObserver", "StatusLines", "status_line"]

logger = logging.getLogger("kerasweep.local")


class ProgressObserver(Protocol):
    """The events of one :func:`~kerasweep.local.local_agent` call, in order.

    ``index`` counts this agent's runs from 1; ``count`` is the agent's ``count`` (None: until
    the sweep has no more). ``sweep_ended`` gets every run of the sweep and why the agent
    ended: ``"count"``, ``"exhausted"``, ``"failures"`` or ``"interrupted"``.
    """

    def run_started(
        self, sweep: SweepRecord, run: RunRecord, index: int, count: int | None
    ) -> None: ...

    def epoch_logged(self, sweep: SweepRecord, run: RunRecord, row: Mapping[str, Any]) -> None:
        """A row the run's function logged in this process (program runs log in their own)."""

    def run_ended(
        self, sweep: SweepRecord, run: RunRecord, index: int, count: int | None, seconds: float
    ) -> None: ...

    def sweep_ended(
        self, sweep: SweepRecord, runs: Sequence[RunRecord], reason: str
    ) -> None: ...


def status_line(
    run: RunRecord, sweep: SweepRecord, index: int, count: int | None, seconds: float
) -> str:
    """One line saying how a run ended.

    >>> status_line(run, sweep, 1, 4, 2.5)  # doctest: +SKIP
    '[1/4]  k3x9q2ab-1  finished  val_loss=0.31 (5 epochs)  lr=0.01  (2.5 s)'
    """
    total = f"/{count}" if count else ""
    parts = [f"[{index}{total}]", run.id, f"{run.state:<8}"]
    metric = sweep.metric
    best = run.best(metric)
    if metric is not None and best is not None:
        epochs = len(run.metric_values)
        value = format_value(best)
        parts.append(f"{metric.name}={value} ({epochs} epoch{'s' if epochs != 1 else ''})")
    if run.state is RunState.STOPPED and run.stop:
        parts.append(f"stopped at {run.stop.sentence()}")
    if run.error:
        parts.append(run.error)
    shown = searched_params(sweep.config) or list(run.params)
    params = (f"{k}={format_value(run.params[k], width=30)}" for k in shown if k in run.params)
    parts.append(" ".join(params))
    parts.append(f"({seconds:.1f} s)")
    if metric is not None and run.metric_not_logged(metric):
        parts.append(f"({metric.name} not logged)")
    return "  ".join(part for part in parts if part)


class StatusLines:
    """One :func:`status_line` per ended run on the ``kerasweep.local`` logger (the CLI's)."""

    def run_started(
        self, sweep: SweepRecord, run: RunRecord, index: int, count: int | None
    ) -> None:
        pass

    def epoch_logged(self, sweep: SweepRecord, run: RunRecord, row: Mapping[str, Any]) -> None:
        pass

    def run_ended(
        self, sweep: SweepRecord, run: RunRecord, index: int, count: int | None, seconds: float
    ) -> None:
        logger.info(status_line(run, sweep, index, count, seconds))

    def sweep_ended(self, sweep: SweepRecord, runs: Sequence[RunRecord], reason: str) -> None:
        pass


class ObservedRun(LocalRun):
    """A :class:`LocalRun` that tells ``observer`` of each row it records, and of the rows a
    program records in its own process (read from the store, at most once a second, as the
    agent waits on it)."""

    #: Seconds between reads of the rows a program recorded.
    follow_interval = 1.0

    def __init__(self, *args: Any, observer: ProgressObserver, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.observer = observer
        self._rows_told = 0  # of a program's rows
        self._followed = -math.inf

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None):
        super().log(data, step=step, commit=commit)
        self._tell(data)

    def watch_program(self) -> bool:
        now = time.monotonic()
        if now - self._followed >= self.follow_interval:
            self._followed = now
            try:
                rows = self.store.history(self.id, skip=self._rows_told)
            except Exception as err:  # the store away: the next look catches up
                logger.debug("rows of run %s not read: %s", self.id, err)
                rows = []
            self._rows_told += len(rows)
            for row in rows:
                self._tell(row)
        return super().watch_program()

    def _tell(self, row: Mapping[str, Any]) -> None:
        try:
            self.observer.epoch_logged(self.sweep, self.record, row)
        except Exception as err:  # a display must never end a run
            logger.debug("progress display failed: %s", err)
