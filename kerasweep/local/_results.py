"""The results of a sweep for scripts and notebooks: load it, rank it, export it.

What ``wandb.Api().sweep(id).runs``, Optuna's ``trials_dataframe()`` and KerasTuner's
``get_best_hyperparameters()`` give, for a local sweep in SQLite or PostgreSQL.

Example:
    >>> sweep = load_sweep("k3x9q2ab", db="kerasweep.db")  # doctest: +SKIP
    >>> sweep.best_run.params, sweep.best_run.best  # doctest: +SKIP
    ({'learning_rate': 0.01, 'batch_size': 64}, 0.0712)
    >>> sweep.to_dataframe()[["name", "state", "metric", "params.learning_rate"]]  # doctest: +SKIP
    >>> print(export_sweep(sweep, "csv"))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

from kerasweep.local._records import best_run, sweep_state
from kerasweep.local._store import StoreReader
from kerasweep.local._sweep import Sweep
from kerasweep.sweep_config._metric import Metric

__all__ = ["EXPORT_FORMATS", "SweepSummary", "export_sweep", "load_sweep", "sweep_summaries"]

EXPORT_FORMATS = ("json", "csv")


def load_sweep(sweep_id: str, *, db: str | os.PathLike | None = None) -> Sweep:
    """A sweep as stored, with every run and its rows; the store is never created.

    Args:
        sweep_id: The sweep's id (``kerasweep ls`` lists them).
        db: An SQLite file path or a ``postgresql://`` URL (default ``$KERASWEEP_DB`` or
            ``./kerasweep.db``).

    Raises:
        kerasweep.local.StoreError: No store there.
        kerasweep.local.UnknownSweepError: The store has no sweep ``sweep_id``.
    """
    store = StoreReader(db, create=False)
    try:
        return store.load(sweep_id)
    finally:
        store.close()


@dataclass(frozen=True)
class SweepSummary:
    """One sweep in a list of sweeps: what it is, its runs by state, its best value."""

    id: str
    name: str | None
    project: str | None
    method: str
    metric: Metric | None
    state: str
    created_at: str
    seed: int | None = None
    runs: dict[str, int] = field(default_factory=dict)  # count by state
    best: float | None = None  # the metric value of the best run (records.best_run)

    @property
    def run_count(self) -> int:
        return sum(self.runs.values())

    def to_dict(self) -> dict[str, Any]:
        metric = self.metric
        return {
            "id": self.id,
            "name": self.name,
            "project": self.project,
            "method": self.method,
            "metric": None if metric is None else {"name": metric.name, "goal": metric.goal},
            "state": self.state,
            "created_at": self.created_at,
            "seed": self.seed,
            "runs": dict(self.runs),
            "best": self.best,
        }


def sweep_summaries(store: StoreReader) -> list[SweepSummary]:
    """Every sweep of ``store``, oldest first, with its runs counted by state, its shown
    state (:func:`~kerasweep.local._records.sweep_state`) and its best run's value
    (:func:`~kerasweep.local._records.best_run`)."""
    out = []
    live = store.live_agents()
    for sweep in store.sweeps():
        metric = sweep.metric
        counts: dict[str, int] = {}
        runs = store.runs(sweep.id)
        for run in runs:
            counts[run.state.value] = counts.get(run.state.value, 0) + 1
        best = best_run(runs, metric)
        out.append(
            SweepSummary(
                id=sweep.id,
                name=sweep.name,
                project=sweep.project,
                method=sweep.method,
                metric=metric,
                state=sweep_state(sweep.state, live.get(sweep.id, 0)),
                created_at=sweep.created_at,
                seed=sweep.seed,
                runs=counts,
                best=None if best is None else best.best(metric),
            )
        )
    return out


def export_sweep(sweep: Sweep, fmt: str = "json") -> str:
    """The sweep as text: ``json`` (everything, rows included: :meth:`Sweep.to_dict`) or
    ``csv`` (one line per run, the columns of :meth:`Sweep.table`)."""
    if fmt == "json":
        return json.dumps(sweep.to_dict(), indent=2, allow_nan=True) + "\n"
    if fmt == "csv":
        table = sweep.table()
        columns: list[str] = []
        for row in table:
            columns.extend(key for key in row if key not in columns)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: _cell(value) for key, value in row.items()} for row in table)
        return out.getvalue()
    raise ValueError(f"export format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}")


def _cell(value: Any) -> Any:
    """Lists and mappings as JSON in a CSV cell; other values as they are."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value
