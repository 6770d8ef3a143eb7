"""Every run's sweep-metric values, held in memory and brought up to date with what is new.

Hyperband judges a run after each of its metric rows against the values every run of the
sweep has logged, whichever agent logged them. Reading all of them again for every judgement
costs more the longer the sweep runs; :class:`SweepMetrics` keeps them and
:func:`read_new` reads, in one indexed statement, only the runs and rows it does not have
yet (:meth:`SweepMetrics.take` adds them once the transaction that read them is committed;
``Store.refresh_metrics`` does both, ``Store.append_rows`` does it after writing rows):

- runs created after the last one it holds (``seq``): claims lock the sweep's row, so a
  sweep's runs become visible in ``seq`` order;
- rows past the last step it holds of each run that was running when last read: a run's
  rows are written by one transaction at a time under its row's lock, so what any reader
  sees of a run is a prefix of its steps.

A run seen ended gets no more rows (only running runs take rows), so it is not read again,
unless it was preempted and is resumed: its rows from the resumed epoch on were deleted, so a
read that finds a held run running again that it did not hold as running starts over, reading
every run afresh (:attr:`SweepMetrics.rebuilt` tells whoever keeps state built from it).
Each run is read by one statement, which sees one snapshot: the rows read of a run seen ended
are all of its rows.

Example:
    >>> metrics = SweepMetrics("sweep-id")
    >>> store.refresh_metrics(metrics).values  # doctest: +SKIP
    {'run-1': [0.9, 0.5], 'run-2': [1.2]}
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kerasweep.local._records import RunState
from kerasweep.local._store.schema import history, runs

__all__ = ["SweepMetrics", "read_new"]


class SweepMetrics:
    """The finite sweep-metric values of every run of a sweep, as last read.

    Attributes:
        sweep_id: The sweep.
        values: Each run's values in log order, by run id (runs in creation order).
        running: The runs that were running when last read.
        rows_read: How many rows the last read returned (new values, and one for each run
            read that had none).
        changed: The runs read since :meth:`drain_changed` was last called (new runs, and
            running runs, whether or not they logged anything new): what an incremental
            reader of :attr:`values` catches up on.
        rebuilt: True once a read started over (a resumed run's rows were replaced), until
            the incremental reader that noticed it sets it back to False.
    """

    def __init__(self, sweep_id: str) -> None:
        self.sweep_id = sweep_id
        self.values: dict[str, list[float]] = {}
        self.running: set[str] = set()
        self.rows_read = 0
        self.changed: set[str] = set()
        self.rebuilt = False
        self._last_seq = 0  # the newest run held
        self._last_step: dict[str, int] = {}  # of each running run: the last metric row held

    def take(self, found: list[sa.Row]) -> SweepMetrics:
        """Add what :func:`read_new` found (``(run id, seq, state, step, value)`` rows)."""
        self.rows_read = len(found)
        self.changed.update(row[0] for row in found)
        for run_id, seq, state, step, value in found:
            values = self.values.setdefault(run_id, [])
            self._last_seq = max(self._last_seq, seq)
            if state == RunState.RUNNING:
                self.running.add(run_id)
            else:
                self.running.discard(run_id)
                self._last_step.pop(run_id, None)
            if step is not None:
                values.append(value)
                if state == RunState.RUNNING:
                    self._last_step[run_id] = step
        return self

    def start_over(self) -> None:
        """Forget what is held: the next read reads every run afresh."""
        self.values, self.running, self.changed = {}, set(), set()
        self._last_seq, self._last_step = 0, {}
        self.rebuilt = True

    def drain_changed(self) -> set[str]:
        """The runs read since the last call (:attr:`changed`), and forget them.

        >>> SweepMetrics("s").drain_changed()
        set()
        """
        changed, self.changed = self.changed, set()
        return changed

    def held_up_to(self) -> tuple[int, dict[str, int]]:
        """Where the next read starts: the ``seq`` of the newest run held, and of each
        running run the step of the last metric row held.

        >>> SweepMetrics("s").held_up_to()
        (0, {})
        """
        return self._last_seq, dict(self._last_step)

    def __repr__(self) -> str:
        return f"SweepMetrics({self.sweep_id!r}, runs={len(self.values)})"


def read_new(conn: sa.Connection, metrics: SweepMetrics) -> list[sa.Row]:
    """What the store on ``conn`` has that ``metrics`` lacks (see the module notes), for
    :meth:`SweepMetrics.take` once the transaction is committed.

    Two indexed statements, so a read costs what is new, not the sweep's size: the running
    runs held (by id), then the runs newer than the newest held (by sweep and ``seq``). Each
    run is read whole by one of them.
    """
    if _resumed_since(conn, metrics):
        metrics.start_over()
    open_runs = sorted(metrics.running)
    last_seq, last_steps = metrics.held_up_to()
    found: list[sa.Row] = []
    if open_runs:
        after = sa.case(last_steps, value=runs.c.id, else_=-1) if last_steps else -1
        held = sa.and_(runs.c.id.in_(open_runs), runs.c.seq <= last_seq)
        found += conn.execute(_rows_of(held, after)).all()
    newer = sa.and_(runs.c.sweep_id == metrics.sweep_id, runs.c.seq > last_seq)
    found += conn.execute(_rows_of(newer, -1)).all()
    return found


def _resumed_since(conn: sa.Connection, metrics: SweepMetrics) -> bool:
    """Whether a run ``metrics`` holds as ended is running again (a preempted run resumed,
    its later rows replaced): one indexed look at the sweep's running runs."""
    last_seq, _ = metrics.held_up_to()
    if not last_seq:
        return False
    running = conn.execute(
        sa.select(runs.c.id).where(
            runs.c.sweep_id == metrics.sweep_id,
            runs.c.state == RunState.RUNNING.value,
            runs.c.seq <= last_seq,
        )
    ).scalars()
    return any(run_id not in metrics.running for run_id in running)


def _rows_of(which: sa.ColumnElement[bool], after: Any) -> sa.Select:
    """``(run id, seq, state, step, value)`` of the runs ``which`` picks: their metric rows
    past step ``after`` (one row with no step for a run that has none)."""
    return (
        sa.select(runs.c.id, runs.c.seq, runs.c.state, history.c.step, history.c.metric)
        .select_from(
            runs.outerjoin(
                history,
                sa.and_(
                    history.c.run_id == runs.c.id,
                    history.c.metric.is_not(None),
                    history.c.step > after,
                ),
            )
        )
        .where(which)
        .order_by(runs.c.seq, history.c.step)
    )
