"""The rows runs log: appended by their owner while running, read back in order.

Each row is stored as JSON with its step (0, 1, ... per run) and, indexed beside it, the
finite value of the sweep metric it holds (what hyperband counts as an iteration). A row whose
value reaches the sweep's ``metric.target`` marks its run (``runs.reached_target``) in the same
transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from kerasweep.local._records import RunState
from kerasweep.local._store.schema import history, runs, sweeps
from kerasweep.local._store.values import dumps, metric_value, plain
from kerasweep.sweep_config._metric import Metric

__all__ = ["append_rows", "metric_values", "run_history", "sweep_histories"]


# built once (statements are immutable; SQLAlchemy caches their compiled SQL): rows are
# the hottest path of a sweep
_RUN_STATE = (
    sa.select(runs.c.state, runs.c.agent_id, runs.c.sweep_id)
    .where(runs.c.id == sa.bindparam("rid"))
    .with_for_update()
)
_LAST_STEP = sa.select(sa.func.max(history.c.step)).where(history.c.run_id == sa.bindparam("rid"))
_TOUCH_RUN = (
    runs.update().where(runs.c.id == sa.bindparam("rid")).values(heartbeat_at=sa.bindparam("now"))
)
_TOUCH_REACHED = _TOUCH_RUN.values(reached_target=True)
_SWEEP_CONFIG = sa.select(sweeps.c.config).where(sweeps.c.id == sa.bindparam("sid"))


def append_rows(
    conn: sa.Connection,
    run_id: str,
    rows: Sequence[Mapping[str, Any]],
    metric: Metric | str | None,
    agent_id: str | None,
    attempt: dict[str, int] | None = None,
) -> bool:
    """Append ``rows`` to a running run (of ``agent_id``, if given); False if not running.

    ``metric`` is the sweep's :class:`~kerasweep.sweep_config.Metric` (its target marks the
    run once a value reaches it) or its name (the target is then read from the sweep).

    ``attempt`` (a dict kept across retries of one append) makes a retry after a lost
    commit acknowledgement write nothing twice: only the run's owner appends to it, so
    rows past the step an earlier attempt began at are that attempt's.
    """
    found = conn.execute(_RUN_STATE, {"rid": run_id}).one_or_none()
    if found is None or found.state != RunState.RUNNING:
        return False
    if agent_id is not None and found.agent_id != agent_id:
        return False
    last = conn.execute(_LAST_STEP, {"rid": run_id}).scalar_one()
    first = 0 if last is None else last + 1
    if attempt is not None:
        if "first" in attempt and first >= attempt["first"] + len(rows):
            return True  # the earlier attempt was committed
        attempt.setdefault("first", first)
    name = metric.name if isinstance(metric, Metric) else metric
    records = []
    for offset, row in enumerate(rows):
        row = plain(dict(row))
        records.append(
            {
                "run_id": run_id,
                "step": first + offset,
                "row": dumps(row),
                "metric": None if name is None else metric_value(row, name),
            }
        )
    conn.execute(history.insert(), records)
    values = [record["metric"] for record in records if record["metric"] is not None]
    rule = _target_rule(conn, found.sweep_id, metric) if values else None
    reached = rule is not None and any(rule.reached(value) for value in values)
    conn.execute(_TOUCH_REACHED if reached else _TOUCH_RUN, {"rid": run_id, "now": time.time()})
    return True


def _target_rule(conn: sa.Connection, sweep_id: str, metric: Metric | str) -> Metric | None:
    """The rule a value of ``metric`` reaches the sweep's target by (None: no target)."""
    if isinstance(metric, Metric):
        return metric if metric.target is not None else None
    config = conn.execute(_SWEEP_CONFIG, {"sid": sweep_id}).scalar_one()
    swept = Metric.from_config(json.loads(config))
    if swept is None or swept.target is None:
        return None
    return Metric(metric, swept.goal, swept.target)


def run_history(conn: sa.Connection, run_id: str, skip: int = 0) -> list[dict]:
    """The rows one run logged, in order, less the first ``skip`` of them."""
    query = (
        sa.select(history.c.row)
        .where(history.c.run_id == run_id, history.c.step >= skip)
        .order_by(history.c.step)
    )
    return [json.loads(row) for row in conn.execute(query).scalars()]


def sweep_histories(conn: sa.Connection, sweep_id: str) -> dict[str, list[dict]]:
    """Every run's rows, by run id, in order."""
    query = (
        sa.select(history.c.run_id, history.c.row)
        .join(runs, runs.c.id == history.c.run_id)
        .where(runs.c.sweep_id == sweep_id)
        .order_by(history.c.run_id, history.c.step)
    )
    out: dict[str, list[dict]] = {}
    for run_id, row in conn.execute(query):
        out.setdefault(run_id, []).append(json.loads(row))
    return out


def metric_values(
    conn: sa.Connection, *, sweep_id: str | None = None, run_id: str | None = None
) -> dict[str, list[float]]:
    """The finite sweep-metric values of a sweep's runs (or of one run), by run id."""
    query = sa.select(history.c.run_id, history.c.metric).where(history.c.metric.is_not(None))
    if run_id is not None:
        query = query.where(history.c.run_id == run_id)
    else:
        query = query.join(runs, runs.c.id == history.c.run_id).where(runs.c.sweep_id == sweep_id)
    out: dict[str, list[float]] = {}
    for rid, value in conn.execute(query.order_by(history.c.run_id, history.c.step)):
        out.setdefault(rid, []).append(value)
    return out
