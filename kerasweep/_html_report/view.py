"""The view model: a :class:`~kerasweep.local._sweep.Sweep` read once into the runs' values,
the metric and parameter columns.

Everything the report's figures and tables show is computed from a :class:`SweepView`;
:func:`leaderboard` is its public face (the runs best first). Ranking and "best" are the
sweep model's (:meth:`Sweep.ranked`), the metric its :class:`~kerasweep.sweep_config.Metric`.

Example:
    >>> view = SweepView({"sweep": {"config": {"metric": {"name": "loss"}}},
    ...                   "runs": [{"id": "a", "history": [{"loss": 0.5}]},
    ...                            {"id": "b", "history": [{"loss": 0.2}]}]})
    >>> view.best(), view.goal
    (1, 'minimize')
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from kerasweep._html_report.format import NO_METRIC, SCALE, finite, fmt, scale_color
from kerasweep.local._records import RunRecord, RunState, flatten
from kerasweep.local._sweep import Sweep
from kerasweep.sweep_config._grid import distinct_points

_LOG_DISTRIBUTIONS = {
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
}
_LINEAR_DISTRIBUTIONS = {"uniform", "int_uniform", "q_uniform", "normal", "q_normal"}


def as_sweep(source: Sweep | Mapping[str, Any]) -> Sweep:
    """A :class:`Sweep` as it is; a mapping (:meth:`Sweep.to_dict`'s shape, as
    ``Store.snapshot`` or ``kerasweep export --format json`` write it) read into one."""
    if isinstance(source, Sweep):
        return source
    if not isinstance(source, Mapping) or not isinstance(source.get("sweep"), Mapping):
        raise ValueError("sweep snapshot: expected a dict with a 'sweep' dict and 'runs'")
    return Sweep.from_dict(source)


class SweepView:
    """A sweep read once: its runs' best values, metric and goal, parameter columns."""

    def __init__(self, source: Sweep | Mapping[str, Any]) -> None:
        self.sweep = as_sweep(source)
        self.runs: tuple[RunRecord, ...] = self.sweep.runs
        self.bands = self.sweep.bands
        self.config: Mapping[str, Any] = self.sweep.config
        self.spec = self.sweep.metric
        self.metric: str | None = None if self.spec is None else self.spec.name
        self.goal = "minimize" if self.spec is None else self.spec.goal
        self.values: list[float | None] = [run.best(self.spec) for run in self.runs]
        self.params = param_columns(self.runs, self.config)

    @property
    def seed(self) -> int | None:
        """The search's seed, or None for an unseeded sweep."""
        return self.sweep.seed

    @property
    def title(self) -> str:
        """The sweep's name (or its config's, or its id)."""
        return self.sweep.name or str(self.config.get("name") or "") or self.sweep.id or "sweep"

    @property
    def method(self) -> str:
        return str(self.config.get("method") or "?")

    @property
    def early_terminate(self) -> Mapping[str, Any] | None:
        early = self.config.get("early_terminate")
        return early if isinstance(early, Mapping) and early else None

    def distinct_configurations(self) -> int:
        """How many distinct parameter sets the runs tried (a retry repeats its run's)."""
        return distinct_points(run.params for run in self.runs)

    def search_summary(self) -> str:
        """``seed 0 · 9 distinct configurations`` (or ``unseeded · ...``)."""
        seed = "unseeded" if self.seed is None else f"seed {self.seed}"
        n = self.distinct_configurations()
        return f"{seed} · {n} distinct configuration{'' if n == 1 else 's'}"

    def ranked(self) -> list[int]:
        """Run indices best first (:meth:`Sweep.ranked`); runs without a metric after."""
        index = {id(run): i for i, run in enumerate(self.runs)}
        return [index[id(run)] for run in self.sweep.ranked()]

    def scored(self) -> tuple[list[int], list[ParamColumn], list[ParamColumn]]:
        """(runs with a finite metric, parameters all of them have, parameters some lack)."""
        runs = [i for i, v in enumerate(self.values) if v is not None]
        have = [p for p in self.params if all(p.present(i) for i in runs)]
        return runs, have, [p for p in self.params if p not in have]

    def best(self) -> int | None:
        """The index of the sweep's best run (:attr:`Sweep.best_run`: finished or stopped),
        or None if none."""
        best = self.sweep.best_run
        return None if best is None else next(i for i, r in enumerate(self.runs) if r is best)

    def series(self, run: RunRecord) -> list[float | None]:
        """The run's metric per epoch (rows that hold the metric; None where not finite)."""
        if self.spec is None:
            return []
        rows = [row for row in run.history or () if self.spec.raw_in(row) is not None]
        return [self.spec.value_in(row) for row in rows]

    def color_range(self) -> tuple[float, float] | None:
        """Metric range for colours: best value to the 95th percentile (outliers saturate)."""
        vals = sorted(v for v in self.values if v is not None)
        if not vals:
            return None
        if self.goal == "maximize":
            vals.reverse()
        best, worst = vals[0], vals[min(len(vals) - 1, math.ceil(0.95 * (len(vals) - 1)))]
        return best, worst

    def color_of(self, value: float | None, rng: tuple[float, float] | None) -> str:
        if value is None or rng is None:
            return NO_METRIC
        best, worst = rng
        if best == worst:
            return SCALE[0]
        return scale_color((value - best) / (worst - best))


class ParamColumn:
    """One parameter column over the runs (nested parameters flattened to ``a.b``)."""

    def __init__(self, name: str, values: list[Any], spec: Mapping[str, Any] | None) -> None:
        self.name = name
        self.values = values  # per run; MISSING where the run lacks it
        present = [v for v in values if v is not MISSING]
        numeric = present and all(finite(v) is not None for v in present)
        self.kind = "numeric" if numeric else "categorical"
        self.log = False
        self.categories: list[str] = []  # keys, in display order
        self.labels: dict[str, str] = {}
        self.axis_log = False  # parallel coordinates only: a log axis for geometric choices
        if numeric:
            nums = [float(v) for v in present]
            dist = (spec or {}).get("distribution")
            if dist in _LOG_DISTRIBUTIONS:
                self.log = min(nums) > 0
            elif dist not in _LINEAR_DISTRIBUTIONS:
                self.log = min(nums) > 0 and max(nums) / min(nums) >= 100
            choices = (spec or {}).get("values")
            self.axis_log = self.log or (
                isinstance(choices, list) and _geometric(sorted(set(nums)))
            )
        else:
            order = [category_key(v) for v in (spec or {}).get("values") or []]
            seen = [category_key(v) for v in present]
            for key in [*order, *seen]:
                if key not in self.labels and key in seen:
                    self.categories.append(key)
                    self.labels[key] = fmt(json.loads(key))
        self.constant = len({category_key(v) for v in present}) <= 1

    def present(self, i: int) -> bool:
        return self.values[i] is not MISSING

    def number(self, i: int) -> float:
        """The run's value as a feature: the number (log10 if log), or the category's index."""
        v = self.values[i]
        if self.kind == "categorical":
            return float(self.categories.index(category_key(v)))
        return math.log10(v) if self.log else float(v)

    def axis_number(self, i: int) -> float:
        """The run's value on its parallel-coordinates axis (log10 if ``axis_log``)."""
        if self.kind == "numeric" and self.axis_log:
            return math.log10(self.values[i])
        return self.number(i)


MISSING = object()


def _geometric(values: list[float]) -> bool:
    """True when sorted positive choices are spaced more evenly on a log scale than on a
    linear one (``32, 64, 128, 256``), so a log axis spreads them out."""
    if len(values) < 3 or values[0] <= 0:
        return False

    def unevenness(points: list[float]) -> float:
        gaps = [b - a for a, b in itertools.pairwise(points)]
        mean = sum(gaps) / len(gaps)
        return math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps)) / mean

    return unevenness([math.log(v) for v in values]) < unevenness(values)


def category_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _specs(parameters: Any, prefix: str = "") -> dict[str, Mapping[str, Any]]:
    """Config parameter specs by flattened name, in config order."""
    out: dict[str, Mapping[str, Any]] = {}
    if not isinstance(parameters, Mapping):
        return out
    for key, spec in parameters.items():
        if not isinstance(spec, Mapping):
            continue
        if isinstance(spec.get("parameters"), Mapping):
            out.update(_specs(spec["parameters"], f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = spec
    return out


def param_columns(runs: Sequence[RunRecord], config: Mapping[str, Any]) -> list[ParamColumn]:
    """One column per parameter: the config's first (in its order), then any others."""
    specs = _specs(config.get("parameters"))
    flat = [flatten(run.params) for run in runs]
    names = [n for n in specs if any(n in f for f in flat)]
    for f in flat:
        names.extend(n for n in f if n not in names)
    return [ParamColumn(n, [f.get(n, MISSING) for f in flat], specs.get(n)) for n in names]


def run_name(run: RunRecord) -> str:
    """A run as the report names it: its name, else its id."""
    return run.name or run.id


def why_stopped(run: RunRecord, goal: str) -> str:
    """Why a run ended early: hyperband's judgement, the first line of its error, or ""."""
    stop = run.stop
    if stop is not None:
        why = "hyperband, " + stop.sentence("maximize" if goal == "maximize" else "minimize")
        if isinstance(stop.epoch, int) and stop.epoch != stop.band:
            why += f", stopped at epoch {stop.epoch}"
        return why
    error = str(run.error or "").strip()
    if error:
        return error.splitlines()[0]
    if run.state is RunState.STOPPED:
        return "stopped by the controller"
    return run.resumed or ""


def leaderboard(sweep: Sweep | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The runs best first by the sweep's metric and goal (runs without a metric last).

    Args:
        sweep: a :class:`~kerasweep.local._sweep.Sweep` (``kerasweep.load_sweep``), or
            the same as plain data (``Store.snapshot``, ``kerasweep export --format json``).

    Returns:
        One dict per run: ``rank`` (1-based, None without a metric), ``id``, ``name``,
        ``state``, ``metric``, ``epochs``, ``params``, ``why`` (why it stopped or failed,
        "" otherwise) and ``seconds`` (run time, None when unknown).

    Example:
        >>> snap = {"sweep": {"config": {"metric": {"name": "loss", "goal": "minimize"}}},
        ...         "runs": [{"id": "a", "history": [{"loss": 0.5}]},
        ...                  {"id": "b", "history": [{"loss": 0.2}]}]}
        >>> [row["id"] for row in leaderboard(snap)]
        ['b', 'a']
    """
    view = SweepView(sweep)
    rows = []
    for rank, i in enumerate(view.ranked(), start=1):
        run = view.runs[i]
        rows.append(
            {
                "rank": rank if view.values[i] is not None else None,
                "id": run.id,
                "name": run_name(run),
                "state": run.state.value,
                "metric": view.values[i],
                "epochs": run.epochs,
                "params": dict(run.params),
                "why": why_stopped(run, view.goal),
                "seconds": run.seconds,
            }
        )
    return rows
