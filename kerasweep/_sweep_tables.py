"""Sweeps as the command line shows them: ``ls``, ``show`` and ``best``, as text or JSON.

Each view takes the typed records (:class:`~kerasweep.local._sweep.Sweep`) and ranks runs
with :meth:`Sweep.ranked <kerasweep.local._sweep.Sweep.ranked>`; the ``--json`` forms hold
the same facts as plain data for scripts.

Example:
    >>> print(leaderboard(load_sweep("k3x9q2ab")))  # doctest: +SKIP
    sweep k3x9q2ab  grid  val_loss (minimize)
    ...
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kerasweep._errors import KerasweepError
from kerasweep._text import format_value
from kerasweep.local._records import RunRecord, RunState
from kerasweep.local._results import SweepSummary
from kerasweep.local._sweep import Sweep
from kerasweep.sweep_config._parameters import searched_params

__all__ = [
    "NoBestRunError",
    "best_json",
    "best_params_yaml",
    "best_run",
    "leaderboard",
    "leaderboard_json",
    "sweeps_json",
    "sweeps_table",
]


class NoBestRunError(KerasweepError, LookupError):
    """The sweep has no finished or stopped run with a metric value yet."""


def _fmt(value: Any) -> str:
    """A value in a table cell (:func:`kerasweep._text.format_value`)."""
    return format_value(value, missing="-", width=24)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs]
        return "  ".join(out).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, allow_nan=True)


# -- ls ---------------------------------------------------------------------------------------


def sweeps_table(summaries: Sequence[SweepSummary], where: str) -> str:
    """The sweeps of a store, one line each (``kerasweep ls``)."""
    rows = []
    for s in summaries:
        metric = s.metric
        rows.append(
            [
                s.id,
                _fmt(s.name),
                s.method,
                f"{metric.name} ({metric.goal[:3]})" if metric else "-",
                s.state,
                str(s.run_count),
                _fmt(s.best),
                s.created_at[:19].replace("T", " "),
            ]
        )
    if not rows:
        return f"no sweeps in {where}"
    header = ["id", "name", "method", "metric", "state", "runs", "best", "created (UTC)"]
    return _table(header, rows, {5, 6})


def sweeps_json(summaries: Sequence[SweepSummary]) -> str:
    """``kerasweep ls --json``: a list of :meth:`SweepSummary.to_dict`."""
    return _dumps([s.to_dict() for s in summaries])


# -- show -------------------------------------------------------------------------------------


def _why(run: RunRecord) -> str:
    if run.state is RunState.STOPPED and run.stop:
        stop = run.stop
        return f"hyperband {stop.sentence()}"
    why = run.error or ""
    if run.resumed:  # "resumed at epoch 6"
        why = f"{why}; {run.resumed}" if why else run.resumed
    return why


def _search_line(sweep: Sweep) -> str:
    from kerasweep.sweep_config._grid import distinct_points

    n = distinct_points(run.params for run in sweep.runs)
    seed = "unseeded" if sweep.seed is None else f"seed {sweep.seed}"
    return f"search: {seed}, {n} distinct configuration{'' if n == 1 else 's'}"


def _columns(sweep: Sweep) -> list[str]:
    params = searched_params(sweep.config)
    if not params:
        for run in sweep.runs:
            params += [k for k in run.params if k not in params]
    return params


def leaderboard(sweep: Sweep) -> str:
    """A sweep's runs as a table, best first (runs without a metric last, in order)."""
    runs, metric = sweep.runs, sweep.metric
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.state.value] = counts.get(run.state.value, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no runs yet"
    title = f"sweep {sweep.id}"
    if sweep.name:
        title += f" ({sweep.name})"
    title += f"  {sweep.method}"
    if metric:
        title += f"  {metric.name} ({metric.goal})"
    early = sweep.config.get("early_terminate")
    if isinstance(early, dict) and early.get("type") == "hyperband":
        title += "  hyperband " + " ".join(f"{k}={v}" for k, v in early.items() if k != "type")
    count = f"{len(runs)} run{'' if len(runs) == 1 else 's'}"
    lines = [title, f"sweep {sweep.state}; {count}: {summary}"]
    lines.append(_search_line(sweep))
    bands = [b for b in sweep.bands if b.threshold is not None]
    if bands:
        sign = "<=" if metric and not metric.maximize else ">="
        lines.append(
            "bands: " + ", ".join(f"{b.band} epochs {sign} {_fmt(b.threshold)}" for b in bands)
        )
    if not runs:
        return "\n".join(lines)
    number = {run.id: i + 1 for i, run in enumerate(runs)}
    params = _columns(sweep)
    header = [
        "#",
        "run",
        "state",
        *params,
        metric.name if metric else "metric",
        "epochs run" if "epochs" in params else "epochs",
        "why stopped",
    ]
    rows = [
        [
            str(number[run.id]),
            run.id,
            run.state.value,
            *(_fmt(run.params.get(p)) for p in params),
            _fmt(run.best(metric)),
            str(run.epochs),
            _why(run),
        ]
        for run in sweep.ranked()
    ]
    right = {0, *range(3, 3 + len(params) + 2)}
    lines += ["", _table(header, rows, right)]
    notice = sweep.metric_notice()
    if notice:
        lines += ["", f"note: {notice}"]
    return "\n".join(lines)


def leaderboard_json(sweep: Sweep) -> str:
    """``kerasweep show --json``: the sweep and its runs best first, without their rows."""
    data = sweep.to_dict()
    by_id = {run["id"]: run for run in data["runs"]}
    ranked = []
    for rank, run in enumerate(sweep.ranked(), start=1):
        row = {key: value for key, value in by_id[run.id].items() if key != "history"}
        ranked.append({"rank": rank if run.best(sweep.metric) is not None else None, **row})
    return _dumps({"sweep": data["sweep"], "runs": ranked, "bands": data["bands"]})


# -- best -------------------------------------------------------------------------------------


def best_run(sweep: Sweep) -> RunRecord:
    """The sweep's best finished or stopped run.

    Raises:
        ValueError: The sweep has no metric.
        NoBestRunError: No such run has logged the metric yet.
    """
    if sweep.metric is None:
        raise ValueError(f"sweep {sweep.id} has no metric, so no best run")
    run = sweep.best_run
    if run is None:
        raise NoBestRunError(
            f"no finished run of sweep {sweep.id} has logged {sweep.metric.name} yet"
        )
    return run


def best_params_yaml(sweep: Sweep) -> str:
    """The best run's parameters as YAML, with a comment naming it (``kerasweep best``)."""
    import yaml

    run = best_run(sweep)
    head = (
        f"# best of sweep {sweep.id}: run {run.id} ({run.state.value}), "
        f"{sweep.metric.name}={format_value(run.best(sweep.metric), 6)} after {run.epochs} epochs\n"
    )
    return head + yaml.safe_dump(run.params, default_flow_style=False, sort_keys=False)


def best_json(sweep: Sweep) -> str:
    """``kerasweep best --json``: the best run's id, state, metric value, epochs, params."""
    run = best_run(sweep)
    metric = sweep.metric
    return _dumps(
        {
            "sweep": sweep.id,
            "run": run.id,
            "name": run.name,
            "state": run.state.value,
            "metric": {"name": metric.name, "goal": metric.goal, "value": run.best(metric)},
            "epochs": run.epochs,
            "params": run.params,
        }
    )
