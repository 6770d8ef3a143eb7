"""A sweep with its runs and hyperband bands: what :func:`kerasweep.load_sweep` returns.

Its runs as a table (:meth:`Sweep.table`, :meth:`Sweep.to_dataframe`), as plain data and back
(:meth:`Sweep.to_dict`, :meth:`Sweep.from_dict`), best first (:meth:`Sweep.ranked`), and as a
notebook shows it (the leaderboard, :mod:`kerasweep.local._run_tables`).

Example:
    >>> config = {"method": "grid", "metric": {"name": "val_loss"}}
    >>> sweep = Sweep(id="k3x9q2ab", name=None, project=None, config=config,
    ...               state="finished", created_at="")
    >>> sweep, sweep.best_run
    (<Sweep k3x9q2ab  grid  val_loss (minimize): 0 runs>, None)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kerasweep._text import format_value
from kerasweep.local._records import (
    Band,
    RunRecord,
    RunState,
    StopReason,
    SweepRecord,
    best_run,
    flatten,
    logged_keys,
    not_logged_sentence,
    ranked,
)
from kerasweep.local._run_tables import runs_html
from kerasweep.sweep_config._metric import Metric

__all__ = ["Sweep"]


@dataclass(frozen=True)
class Sweep(SweepRecord):
    """A sweep with its runs (creation order, each with its history) and hyperband bands."""

    bands: tuple[Band, ...] = ()
    runs: tuple[RunRecord, ...] = ()

    @property
    def best_run(self) -> RunRecord | None:
        """The sweep's best run (:func:`best_run`); None without a metric or before one."""
        return best_run(self.runs, self.metric)

    def metric_notice(self) -> str | None:
        """Says how many runs ended by themselves without ever logging the sweep metric,
        the keys the first of them logged and the likely one; None when every one did
        (what ``kerasweep show`` and the report add below their tables)."""
        metric = self.metric
        missing = [run for run in self.runs if run.metric_not_logged(metric)]
        if not missing:
            return None
        ended = sum(run.state.completed for run in self.runs)
        who = f"{len(missing)} of {ended} finished run{'' if ended == 1 else 's'}"
        keys = logged_keys(missing[0].history or ())
        return not_logged_sentence(metric, who, keys, they="the first")

    def ranked(self) -> list[RunRecord]:
        """Every run, best metric first; runs without a value after, in creation order
        (:func:`~kerasweep.local._records.ranked`)."""
        return ranked(self.runs, self.metric)

    def _title(self) -> str:
        metric, n = self.metric, len(self.runs)
        title = f"sweep {self.id}" + (f" ({self.name})" if self.name else "")
        title += f"  {self.method}" + (f"  {metric.name} ({metric.goal})" if metric else "")
        counts: dict[str, int] = {}
        for run in self.runs:
            counts[run.state.value] = counts.get(run.state.value, 0) + 1
        states = ", ".join(f"{k} {v}" for v, k in counts.items())
        title += f": {n} run{'' if n == 1 else 's'}" + (f" ({states})" if states else "")
        best = self.best_run
        if best is not None:
            title += f", best {format_value(best.best(metric))} ({best.name})"
        return title

    def __repr__(self) -> str:
        """One line: ``<Sweep k3x9q2ab  grid  val_loss (minimize): 4 runs (4 finished), best
        0.31 (k3x9q2ab-2)>``; the runs are in :attr:`runs`."""
        return f"<{self._title().replace('sweep ', 'Sweep ', 1)}>"

    def _repr_html_(self) -> str:
        """The leaderboard, one row per run, best first: a notebook cell's display."""
        return runs_html(self, self.ranked(), caption=self._title())

    def table(self) -> list[dict[str, Any]]:
        """One flat dict per run, in creation order: what a data frame or CSV file holds.

        Columns: ``id``, ``name``, ``state``, ``metric`` (best value of the sweep metric),
        ``epochs``, timings, the stop reason and error, ``params.<name>`` (nested
        parameters as ``params.a.b``) and ``summary.<key>`` (last logged value of each key).
        """
        metric = self.metric
        table = []
        for run in self.runs:
            stop = run.stop
            row: dict[str, Any] = {
                "id": run.id,
                "name": run.name,
                "state": run.state.value,
                "metric": run.best(metric),
                "epochs": run.epochs,
                "created_at": run.created_at,
                "started_at": run.started_at,
                "ended_at": run.ended_at,
                "seconds": run.seconds,
                "stop_band": None if stop is None else stop.band,
                "stop_threshold": None if stop is None else stop.threshold,
                "error": run.error,
                "retry_of": run.retry_of,
                "resumed": run.resumed,
            }
            row.update(flatten(run.params, "params."))
            row.update(flatten(run.summary or {}, "summary."))
            table.append(row)
        return table

    def to_dataframe(self):
        """:meth:`table` as a pandas ``DataFrame`` (``pip install 'kerasweep[pandas]'``)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "Sweep.to_dataframe needs pandas: pip install 'kerasweep[pandas]'"
            ) from None
        return pandas.DataFrame(self.table())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sweep:
        """The sweep :meth:`to_dict` wrote (``kerasweep export --format json`` too).

        Derived values (a run's ``metric``, ``epochs``, ``summary``) are recomputed from
        its rows; keys it lacks take their defaults.

        >>> Sweep.from_dict({"sweep": {"id": "s", "config": {"metric": {"name": "m"}}},
        ...                  "runs": [{"id": "a", "history": [{"m": 2.0}, {"m": 1.0}]}]}
        ...                 ).best_run.best(Metric("m"))
        1.0
        """
        info, config = data["sweep"], data["sweep"].get("config") or {}
        metric = Metric.from_config(config)
        runs = []
        for seq, run in enumerate(data.get("runs") or (), start=1):
            history = tuple(run.get("history") or ())
            values = [] if metric is None else [metric.value_in(row) for row in history]
            stop = run.get("stop")
            runs.append(
                RunRecord(
                    id=str(run["id"]),
                    seq=seq,
                    sweep_id=str(info.get("id") or ""),
                    name=str(run.get("name") or ""),
                    state=RunState(run.get("state") or RunState.FINISHED),
                    params=dict(run.get("params") or {}),
                    retry_of=run.get("retry_of"),
                    error=run.get("error"),
                    stop=StopReason(**stop) if stop else None,
                    created_at=run.get("created_at") or "",
                    started_at=run.get("started_at"),
                    ended_at=run.get("ended_at"),
                    metric_values=[v for v in values if v is not None],
                    history=history,
                    resumed_at=tuple(run.get("resumed_at") or ()),
                )
            )
        return cls(
            id=str(info.get("id") or ""),
            name=info.get("name"),
            project=info.get("project"),
            config=dict(config),
            state=str(info.get("state") or ""),
            created_at=str(info.get("created_at") or ""),
            seed=info.get("seed"),
            bands=tuple(Band(b["band"], b.get("threshold")) for b in data.get("bands") or ()),
            runs=tuple(runs),
        )

    def to_dict(self) -> dict[str, Any]:
        """The sweep as plain JSON-able data: ``{"sweep": {...}, "runs": [...], "bands":
        [...]}``, runs in creation order with their rows, best metric and stop reason."""
        metric = self.metric
        early = self.config.get("early_terminate")
        return {
            "sweep": {
                "id": self.id,
                "name": self.name,
                "project": self.project,
                "config": self.config,
                "seed": self.seed,
                "method": self.method,
                "metric": None if metric is None else {"name": metric.name, "goal": metric.goal},
                "early_terminate": dict(early) if isinstance(early, Mapping) else None,
                "state": self.state,
                "created_at": self.created_at,
            },
            "runs": [
                {
                    "id": run.id,
                    "name": run.name,
                    "state": run.state.value,
                    "params": run.params,
                    "history": list(run.history or ()),
                    "summary": run.summary or {},
                    "metric": run.best(metric),
                    "epochs": run.epochs,
                    "stop": None if run.stop is None else run.stop.to_dict(),
                    "error": run.error,
                    "retry_of": run.retry_of,
                    "resumed_at": list(run.resumed_at),
                    "resumed": run.resumed,
                    "created_at": run.created_at,
                    "started_at": run.started_at,
                    "ended_at": run.ended_at,
                }
                for run in self.runs
            ],
            "bands": [band.to_dict() for band in self.bands],
        }
