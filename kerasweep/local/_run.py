"""The run handle: one object per run of a local sweep, from its claim to its end.

The agent makes a :class:`LocalRun` for each run it claims and hands it, explicitly, to what
the run touches: the :class:`~kerasweep.local._recorder.RunRecorder` behind :meth:`LocalRun.log`
(which writes what the sweep's :class:`~kerasweep.local._hyperband.HyperbandJudge` answers),
wandb's log capture (:meth:`LocalRun.recording`), the heartbeat (:meth:`LocalRun.request_stop`)
and, in program mode, the program's process, which attaches to the same run
(:meth:`LocalRun.attach`). Training code asks :meth:`LocalRun.should_stop`; code that only
knows wandb (``SweepMetricsLogger()``, a tutorial-style function) asks
:func:`stop_requested`. Which run is in progress is held explicitly: the handle holds itself
(:mod:`kerasweep._current_run`, a context variable) for as long as its function runs, and
:func:`current_run` reads it.

Example:
    >>> run = LocalRun(store, sweep, claimed, agent_id=agent_id)  # doctest: +SKIP
    >>> with run.recording():  # doctest: +SKIP
    ...     function()  # its wandb.log rows reach the store; hyperband may stop it
    >>> run.end("finished")  # doctest: +SKIP
    'stopped'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kerasweep import _current_run
from kerasweep._adapters import wandb_internals
from kerasweep.local._hyperband import HyperbandJudge
from kerasweep.local._recorder import RunRecorder
from kerasweep.local._store import (
    RunRecord,
    RunState,
    StopReason,
    Store,
    StoreFullError,
    SweepMetrics,
    SweepRecord,
)

__all__ = ["LocalRun", "current_run", "stop_requested"]


class LocalRun:
    """One run of a local sweep in progress: its id, parameters, rows, stop and end.

    Args:
        store: The sweep's store.
        sweep: The sweep the run belongs to.
        record: The run as claimed (running, owned by ``agent_id``).
        agent_id: The agent that owns the run; writes check it. None skips the check.
        judge: The sweep's hyperband, kept by the agent across its runs (default: a new one).
        metrics: Every run's metric values, kept with ``judge`` (default: a new one).
    """

    def __init__(
        self,
        store: Store,
        sweep: SweepRecord,
        record: RunRecord,
        *,
        agent_id: str | None,
        judge: HyperbandJudge | None = None,
        metrics: SweepMetrics | None = None,
    ) -> None:
        self.store, self.sweep, self.record, self.agent_id = store, sweep, record, agent_id
        self.judge = HyperbandJudge(sweep.config) if judge is None else judge
        self.recorder = RunRecorder(
            store, sweep, record.id, agent_id=agent_id, judge=self.judge, metrics=metrics
        )
        self._stop_requested = threading.Event()
        self._final_state: RunState | None = None
        #: where the run's checkpoints go (set by its agent); None: no checkpoints
        self.checkpoint: _current_run.CheckpointPlace | None = None

    @classmethod
    def attach(
        cls,
        db: str | os.PathLike,
        sweep_id: str,
        run_id: str,
        agent_id: str,
        *,
        reconnect_timeout: float = 60.0,
    ) -> LocalRun:
        """The handle of a run another process (its agent) claimed: a program's own process.

        The store stays open for the handle's life; ``reconnect_timeout`` is the agent's.
        """
        store = Store(db, create=False, reconnect_timeout=reconnect_timeout)
        return cls(store, store.sweep(sweep_id), store.run(run_id), agent_id=agent_id)

    @property
    def id(self) -> str:
        """The run's id (also its wandb run id)."""
        return self.record.id

    @property
    def name(self) -> str:
        """The run's name, ``<sweep id>-<n>``."""
        return self.record.name

    @property
    def sweep_id(self) -> str:
        return self.sweep.id

    @property
    def params(self) -> dict[str, Any]:
        """The parameters the controller chose for this run."""
        return dict(self.record.params)

    # -- rows --------------------------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None):
        """Record one ``wandb.log(data, step, commit)`` call (hyperband judges metric rows)."""
        self.recorder.log(data, step=step, commit=commit)

    def report_error(self, err: Exception) -> None:
        """A row could not be recorded: warn once; the run goes on."""
        self.recorder.report_error(err)

    @contextmanager
    def recording(self) -> Iterator[LocalRun]:
        """Inside the block, this is the run in progress (:func:`current_run`), and the rows
        this process's wandb runs log go to :meth:`log`.

        wandb's logging is captured for the block only
        (:func:`kerasweep._adapters.wandb_internals.capture_log`); at its end the rows still
        buffered are written.
        """
        try:
            with wandb_internals.capture_log(self), _current_run.holding(self):
                yield self
        finally:
            self.recorder.close()

    def checkpoint_place(self) -> _current_run.CheckpointPlace | None:
        """Where the run keeps its checkpoints (what :func:`kerasweep.run_checkpoint` asks)."""
        return self.checkpoint

    # -- stopping ----------------------------------------------------------------------------

    @property
    def stop_decision(self) -> StopReason | None:
        """Hyperband's decision to stop this run, once made in this process."""
        return self.recorder.stop

    def request_stop(self) -> None:
        """Ask the run to end (its agent lost it, say); :meth:`should_stop` turns True."""
        self._stop_requested.set()

    def should_stop(self) -> bool:
        """True once hyperband stopped the run, the run was lost, the store stayed
        unreachable, or a stop was requested."""
        recorder = self.recorder
        return (
            self._stop_requested.is_set()
            or recorder.stop is not None
            or recorder.lost
            or recorder.store_error is not None
        )

    def stopped_in_store(self) -> bool:
        """True once the store says the run stops: a decision recorded, or no longer running.

        What the agent watches while another process (a program) records the run.
        """
        current = self.store.run(self.id)
        return current.stop is not None or current.state is not RunState.RUNNING

    def watch_program(self) -> bool:
        """True once a program recording this run in its own process should stop
        (:meth:`should_stop` or :meth:`stopped_in_store`): what the agent asks as it waits."""
        return self.should_stop() or self.stopped_in_store()

    # -- the end -----------------------------------------------------------------------------

    def end(self, outcome: RunState | str, error: str | None = None) -> RunState:
        """End the run: write what is buffered, then its final state; returns that state.

        ``outcome`` is ``"finished"``, ``"failed"``, ``"crashed"`` or ``"preempted"``; a
        finished run that hyperband stopped is ``"stopped"``; one that ended early because
        the store was unreachable or full is ``"preempted"`` (resumed by the next agent).
        A second call returns the first one's state.

        Raises:
            StoreUnavailableError: The store cannot take the end (the server is away).
        """
        if self._final_state is None:
            self.recorder.close()
            lost_store = self.recorder.store_error
            outcome = RunState.outcome(outcome)
            if lost_store is not None and outcome is RunState.FINISHED:  # it stopped for the store
                outcome = RunState.PREEMPTED
                why = "full" if isinstance(lost_store, StoreFullError) else "unreachable"
                error = f"preempted: the store was {why} ({lost_store})"
            state = self.store.finish_run(self.id, self.agent_id, outcome, error)
            self._final_state = state or outcome
        return self._final_state

    def close(self) -> None:
        """Write what is buffered and close the store of an attached handle."""
        self.recorder.close()

    def __repr__(self) -> str:
        return f"LocalRun(id={self.id!r}, sweep_id={self.sweep_id!r}, params={self.params!r})"


def current_run() -> LocalRun | None:
    """The local run in progress (its function is running in this thread), or None.

    >>> current_run() is None
    True
    """
    run = _current_run.current()
    return run if isinstance(run, LocalRun) else None


def stop_requested() -> bool:
    """True once the local controller decided that the run in progress should stop.

    For training code that knows only wandb; False outside a local sweep's run.

    >>> stop_requested()
    False
    """
    return _current_run.stop_requested()
