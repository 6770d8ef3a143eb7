"""Agents and runs: heartbeats, atomic claims, hyperband stops, ends, dead agents' runs.

A claim locks the sweep's row (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the
``BEGIN IMMEDIATE`` write transaction already excludes other writers), so the proposer sees
every run so far and no two agents are handed the same point; ``run_cap`` is exact.

The proposer is handed the runs so far as a :class:`SweepSoFar`: a sequence of the sweep's
runs that reads them only when indexed or iterated, and answers the questions most proposals
need (how many runs, the first to retry, whether the target was reached, the parameters of
runs newer than one seen) with one indexed statement each, so a claim of a random or grid
search costs the same at run 10,000 as at run 10.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from typing import overload

import sqlalchemy as sa

from kerasweep.local._records import NewRun, RunRecord, RunState, StopReason, SweepRecord
from kerasweep.local._store.errors import UnknownSweepError
from kerasweep.local._store.history import metric_values
from kerasweep.local._store.ids import new_id, now_iso
from kerasweep.local._store.schema import agents, history, runs
from kerasweep.local._store.sweeps import lock_sweep, set_bands
from kerasweep.local._store.values import dumps, plain
from kerasweep.sweep_config._metric import Metric

logger = logging.getLogger("kerasweep.local")

__all__ = [
    "SweepSoFar",
    "claim_preempted",
    "claim_run",
    "end_agent",
    "finish_run",
    "get_run",
    "heartbeat",
    "load_runs",
    "reap_stale",
    "record_stop",
    "register_agent",
]

Proposer = Callable[[SweepRecord, "SweepSoFar"], "NewRun | None"]


# -- agents ----------------------------------------------------------------------------------


def register_agent(conn: sa.Connection, sweep_id: str) -> str:
    """Record an agent of this process working on ``sweep_id``; returns its id."""
    agent_id = new_id(12)
    conn.execute(
        agents.insert().values(
            id=agent_id,
            sweep_id=sweep_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=now_iso(),
            heartbeat_at=time.time(),
        )
    )
    return agent_id


def end_agent(conn: sa.Connection, agent_id: str) -> None:
    conn.execute(agents.update().where(agents.c.id == agent_id).values(ended_at=now_iso()))


def heartbeat(conn: sa.Connection, agent_id: str, run_id: str | None) -> bool:
    """Refresh an agent's and its run's heartbeat; False if the run is no longer its."""
    now = time.time()
    conn.execute(agents.update().where(agents.c.id == agent_id).values(heartbeat_at=now))
    if run_id is None:
        return True
    updated = conn.execute(
        runs.update()
        .where(
            runs.c.id == run_id,
            runs.c.agent_id == agent_id,
            runs.c.state == RunState.RUNNING.value,
        )
        .values(heartbeat_at=now)
    )
    return updated.rowcount == 1


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` of this host exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped is a zombie: it runs nothing
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def reap_stale(conn: sa.Connection, sweep_id: str, stale_after: float) -> list[str]:
    """Mark preempted (to be resumed) the running runs whose agent ended, is gone, or is
    silent."""
    host, now = socket.gethostname(), time.time()
    query = (
        sa.select(runs.c.id, runs.c.heartbeat_at, agents.c.host, agents.c.pid, agents.c.ended_at)
        .select_from(runs.outerjoin(agents, agents.c.id == runs.c.agent_id))
        .where(runs.c.sweep_id == sweep_id, runs.c.state == RunState.RUNNING.value)
    )
    reaped = []
    for row in conn.execute(query).all():
        if row.ended_at is not None:
            why = "its agent ended without finishing it"
        elif row.host == host and row.pid is not None and not pid_alive(row.pid):
            why = f"its agent (process {row.pid}) is gone"
        elif row.heartbeat_at is None or now - row.heartbeat_at > stale_after:
            why = f"no heartbeat from its agent for more than {stale_after:g} s"
        else:
            continue
        conn.execute(
            runs.update()
            .where(runs.c.id == row.id, runs.c.state == RunState.RUNNING.value)
            .values(
                state=RunState.PREEMPTED.value, error=f"preempted: {why}", ended_at=now_iso()
            )
        )
        reaped.append(row.id)
    return reaped


# -- reading runs ----------------------------------------------------------------------------


def _runs_query() -> sa.Select:
    retry = runs.alias("retry")
    retried = sa.exists().where(retry.c.retry_of == runs.c.id).label("retried")
    return sa.select(runs, retried)


# built once: statements are immutable, and SQLAlchemy caches their compiled SQL
_RUNS = _runs_query()


def _record(row: sa.Row, values: list[float], history: tuple[dict, ...] | None) -> RunRecord:
    stop = None
    if row.stop_band is not None:
        stop = StopReason(
            band=row.stop_band,
            threshold=row.stop_threshold,
            value=row.stop_value,
            epoch=row.stop_epoch,
        )
    return RunRecord(
        id=row.id,
        seq=row.seq,
        sweep_id=row.sweep_id,
        name=row.name,
        state=RunState(row.state),
        params=json.loads(row.params),
        agent_id=row.agent_id,
        retry_of=row.retry_of,
        retried=bool(row.retried),
        error=row.error,
        stop=stop,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        metric_values=list(values),
        history=history,
        resumed_at=tuple(json.loads(row.resumed_at)) if row.resumed_at else (),
    )


def load_runs(
    conn: sa.Connection, sweep_id: str, histories: dict[str, list[dict]] | None = None
) -> list[RunRecord]:
    """A sweep's runs in creation order, with their metric values (and ``histories``)."""
    values = metric_values(conn, sweep_id=sweep_id)
    query = _RUNS.where(runs.c.sweep_id == sweep_id).order_by(runs.c.seq)
    return [
        _record(
            row,
            values.get(row.id, []),
            None if histories is None else tuple(histories.get(row.id, [])),
        )
        for row in conn.execute(query)
    ]


def get_run(conn: sa.Connection, run_id: str, where: str) -> RunRecord:
    """One run by id (KeyError naming the store if unknown)."""
    row = conn.execute(_RUNS.where(runs.c.id == run_id)).one_or_none()
    if row is None:
        raise KeyError(f"no run {run_id!r} in {where}")
    return _record(row, metric_values(conn, run_id=run_id).get(run_id, []), None)


class SweepSoFar(Sequence[RunRecord]):
    """A sweep's runs so far, as a proposer reads them inside the claim's transaction.

    ``len()`` counts the runs; indexing or iterating reads every run with its metric values
    (once); the other questions read only what they name.

    Example:
        >>> so_far = SweepSoFar(conn, sweep_id)  # doctest: +SKIP
        >>> len(so_far), so_far.params_after(0)  # doctest: +SKIP
        (1, [(1, {'a': 1})])
    """

    def __init__(self, conn: sa.Connection, sweep_id: str) -> None:
        self._conn, self.sweep_id = conn, sweep_id
        self._count: int | None = None
        self._all: list[RunRecord] | None = None

    def all(self) -> list[RunRecord]:
        """Every run in creation order, with its metric values."""
        if self._all is None:
            self._all = load_runs(self._conn, self.sweep_id)
        return self._all

    def __len__(self) -> int:
        if self._all is not None:
            return len(self._all)
        if self._count is None:
            query = sa.select(sa.func.count()).where(runs.c.sweep_id == self.sweep_id)
            self._count = int(self._conn.execute(query).scalar_one())
        return self._count

    @overload
    def __getitem__(self, index: int) -> RunRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[RunRecord]: ...
    def __getitem__(self, index: int | slice) -> RunRecord | list[RunRecord]:
        return self.all()[index]

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.all())

    def first_to_retry(self, upto: int) -> RunRecord | None:
        """The first failed or crashed run, not yet retried, created at ``seq <= upto``."""
        errored = [state.value for state in RunState if state.errored]
        query = (
            _RUNS.where(
                runs.c.sweep_id == self.sweep_id,
                runs.c.seq <= upto,
                runs.c.state.in_(errored),
            )
            .order_by(runs.c.seq)
        )
        for row in self._conn.execute(query):
            if not row.retried:
                return _record(row, metric_values(self._conn, run_id=row.id).get(row.id, []), None)
        return None

    def reached(self) -> bool:
        """True once a run of the sweep logged a metric value reaching its ``metric.target``
        (``runs.reached_target``, kept as rows are written: one indexed look)."""
        query = (
            sa.select(runs.c.id)
            .where(runs.c.sweep_id == self.sweep_id, runs.c.reached_target.is_(True))
            .limit(1)
        )
        return self._conn.execute(query).first() is not None

    def params_after(self, seq: int) -> list[tuple[int, dict]]:
        """``(seq, params)`` of the runs created after ``seq``, in creation order."""
        query = (
            sa.select(runs.c.seq, runs.c.params)
            .where(runs.c.sweep_id == self.sweep_id, runs.c.seq > seq)
            .order_by(runs.c.seq)
        )
        return [(row.seq, json.loads(row.params)) for row in self._conn.execute(query)]


# -- claims and ends -------------------------------------------------------------------------


def claim_run(
    conn: sa.Connection,
    sweep_id: str,
    agent_id: str,
    propose: Proposer,
    *,
    stale_after: float,
    where: str,
    attempt: dict[str, str],
    resume: Callable[[RunRecord], int] | None = None,
) -> RunRecord | None:
    """Pick and start the next run of a sweep for ``agent_id`` (see the module notes).

    With ``resume``, a preempted run is taken first (:func:`claim_preempted`).

    ``attempt`` (a dict kept across retries of one claim) holds the new run's id: a retry
    after a lost commit acknowledgement finds the run the earlier attempt made and returns
    it, rather than claiming a second one.
    """
    sweep = lock_sweep(conn, sweep_id)
    if sweep is None:
        raise UnknownSweepError(f"no sweep {sweep_id!r} in {where}")
    if "run_id" in attempt:
        owner = conn.execute(sa.select(runs.c.agent_id).where(runs.c.id == attempt["run_id"]))
        if owner.scalar_one_or_none() == agent_id:
            return get_run(conn, attempt["run_id"], where)
    reap_stale(conn, sweep_id, stale_after)
    if resume is not None:
        metric = sweep.metric
        resumed = claim_preempted(conn, sweep_id, agent_id, resume, where, metric)
        if resumed is not None:
            attempt["run_id"] = resumed.id
            return resumed
    so_far = SweepSoFar(conn, sweep_id)
    new = propose(sweep, so_far)
    if new is None:
        return None
    while True:
        run_id = new_id()
        if conn.execute(sa.select(runs.c.seq).where(runs.c.id == run_id)).first() is None:
            break
    attempt["run_id"] = run_id
    now = now_iso()
    conn.execute(
        runs.insert().values(
            id=run_id,
            sweep_id=sweep_id,
            name=f"{sweep_id}-{len(so_far) + 1}",
            state=RunState.RUNNING.value,
            params=dumps(plain(new.params)),
            agent_id=agent_id,
            retry_of=new.retry_of,
            search_info=None if new.search_info is None else dumps(plain(new.search_info)),
            created_at=now,
            started_at=now,
            heartbeat_at=time.time(),
        )
    )
    return get_run(conn, run_id, where)


#: A run interrupted this many times in a row at the same epoch (no checkpoint since) is
#: not resumed again: a run that takes its agent down (out of memory, a segfault) must not
#: loop through a cluster's agents forever.
INTERRUPTIONS_WITHOUT_PROGRESS = 4


def claim_preempted(
    conn: sa.Connection,
    sweep_id: str,
    agent_id: str,
    resume: Callable[[RunRecord], int],
    where: str,
    metric: Metric | None = None,
) -> RunRecord | None:
    """Start again, for ``agent_id``, the sweep's oldest preempted run; None if it has none.

    ``resume(run)`` says at which epoch the run goes on (its checkpoint's epochs done; 0
    without one). The rows it logged from that epoch on are deleted (an epoch ends with
    the row holding the sweep metric), so that its history holds each epoch once; a
    hyperband stop decided after that epoch is forgotten, and so is a ``metric.target``
    reached after it (``metric``: the sweep's); the epoch is added to ``resumed_at``.

    A run interrupted :data:`INTERRUPTIONS_WITHOUT_PROGRESS` times at the same epoch is
    marked ``crashed`` instead, saying so, and the next preempted run is looked at.
    """
    while True:
        row = conn.execute(
            sa.select(runs.c.id)
            .where(runs.c.sweep_id == sweep_id, runs.c.state == RunState.PREEMPTED.value)
            .order_by(runs.c.seq)
            .limit(1)
        ).first()
        if row is None:
            return None
        run = get_run(conn, row.id, where)
        epoch = max(0, min(int(resume(run)), len(run.metric_values)))
        if _no_progress(run.resumed_at, epoch):
            error = _given_up(run, epoch)
            conn.execute(
                runs.update()
                .where(runs.c.id == run.id)
                .values(state=RunState.CRASHED.value, error=error)
            )
            logger.warning("kerasweep: run %s %s", run.id, error.removeprefix("crashed: "))
            continue
        _delete_rows_from_epoch(conn, run.id, epoch)
        changes: dict = {
            "state": RunState.RUNNING.value,
            "agent_id": agent_id,
            "error": None,
            "ended_at": None,
            "heartbeat_at": time.time(),
            "resumed_at": json.dumps([*run.resumed_at, epoch]),
            "reached_target": metric is not None
            and any(metric.reached(value) for value in run.metric_values[:epoch]),
        }
        if run.stop is not None and run.stop.epoch > epoch:
            changes.update(stop_band=None, stop_threshold=None, stop_value=None, stop_epoch=None)
        conn.execute(runs.update().where(runs.c.id == run.id).values(**changes))
        return get_run(conn, run.id, where)


def _no_progress(resumed_at: Sequence[int], epoch: int) -> bool:
    """Whether a run resumed at ``resumed_at`` and interrupted again, now to go on at
    ``epoch``, has been interrupted :data:`INTERRUPTIONS_WITHOUT_PROGRESS` times there.

    >>> _no_progress([0, 2, 2], 2), _no_progress([2, 2, 2], 2), _no_progress([2, 2, 2], 3)
    (False, True, False)
    """
    tries = INTERRUPTIONS_WITHOUT_PROGRESS - 1
    return len(resumed_at) >= tries and all(e == epoch for e in resumed_at[-tries:])


def _given_up(run: RunRecord, epoch: int) -> str:
    """The error of a run not resumed again (see :func:`claim_preempted`)."""
    last = (run.error or "").removeprefix("preempted: ")
    return (
        f"crashed: interrupted {INTERRUPTIONS_WITHOUT_PROGRESS} times without getting past "
        f"epoch {epoch}, so not resumed again (last: {last or 'interrupted'})"
    )


def _delete_rows_from_epoch(conn: sa.Connection, run_id: str, epoch: int) -> None:
    """Delete the rows ``run_id`` logged after its ``epoch``-th metric row (all for 0)."""
    last_kept = None
    if epoch > 0:
        last_kept = conn.execute(
            sa.select(history.c.step)
            .where(history.c.run_id == run_id, history.c.metric.is_not(None))
            .order_by(history.c.step)
            .offset(epoch - 1)
            .limit(1)
        ).scalar_one_or_none()
    delete = history.delete().where(history.c.run_id == run_id)
    if last_kept is not None:
        delete = delete.where(history.c.step > last_kept)
    conn.execute(delete)


def record_stop(
    conn: sa.Connection,
    run_id: str,
    stop: StopReason,
    bands: Sequence[tuple[int, float | None]],
) -> None:
    """Record that hyperband stops ``run_id`` (the first decision wins) and the band table."""
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id, runs.c.stop_band.is_(None))
        .values(
            stop_band=int(stop.band),
            stop_threshold=float(stop.threshold),
            stop_value=float(stop.value),
            stop_epoch=int(stop.epoch),
        )
    )
    if bands:
        sweep_id = conn.execute(sa.select(runs.c.sweep_id).where(runs.c.id == run_id))
        set_bands(conn, sweep_id.scalar_one(), bands)


def finish_run(
    conn: sa.Connection, run_id: str, agent_id: str, outcome: RunState | str, error: str | None
) -> RunState | None:
    """End a run of ``agent_id`` (see ``Store.finish_run``); the state written, or None."""
    row = conn.execute(
        sa.select(runs.c.state, runs.c.stop_band)
        .where(runs.c.id == run_id, runs.c.agent_id == agent_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        return None
    state = RunState(outcome)
    if state is RunState.FINISHED and row.stop_band is not None:
        state = RunState.STOPPED
    if RunState(row.state) not in (RunState.RUNNING, RunState.CRASHED, RunState.PREEMPTED):
        # ended already: by an earlier attempt of this call whose acknowledgement was lost
        again = row.state == state.value and state not in (RunState.CRASHED, RunState.PREEMPTED)
        return state if again else None
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(state=state.value, error=error, ended_at=now_iso())
    )
    return state
