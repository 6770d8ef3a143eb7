"""The view model: a sweep snapshot read once into runs, metric, goal and parameter columns.

Everything the report's figures and tables show is computed from a :class:`SweepView`;
:func:`leaderboard` is its public face (the runs best first).

Example:
    >>> view = SweepView({"sweep": {"metric": {"name": "loss"}},
    ...                   "runs": [{"id": "a", "metric": 0.5}, {"id": "b", "metric": 0.2}]})
    >>> view.best(), view.goal
    (1, 'minimize')
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from kerasweep.html_report.format import NO_METRIC, SCALE, finite, fmt, run_seconds, scale_color
from kerasweep.sweep_config.grid import distinct_points

_LOG_DISTRIBUTIONS = {
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
}
_LINEAR_DISTRIBUTIONS = {"uniform", "int_uniform", "q_uniform", "normal", "q_normal"}


class SweepView:
    """A snapshot read once: runs, metric and goal, parameter columns."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        if not isinstance(snapshot, Mapping) or not isinstance(snapshot.get("sweep"), Mapping):
            raise ValueError("sweep snapshot: expected a dict with a 'sweep' dict and 'runs'")
        self.sweep: Mapping[str, Any] = snapshot["sweep"]
        self.runs: list[Mapping[str, Any]] = list(snapshot.get("runs") or [])
        self.bands: list[Mapping[str, Any]] = list(snapshot.get("bands") or [])
        config = self.sweep.get("config")
        self.config: Mapping[str, Any] = config if isinstance(config, Mapping) else {}
        metric = self.sweep.get("metric") or self.config.get("metric")
        self.metric: str | None = None
        self.goal = "minimize"
        if isinstance(metric, Mapping) and metric.get("name"):
            self.metric = str(metric["name"])
            self.goal = "maximize" if metric.get("goal") == "maximize" else "minimize"
        self.values: list[float | None] = [finite(r.get("metric")) for r in self.runs]
        self.params = param_columns(self.runs, self.config)

    @property
    def seed(self) -> int | None:
        """The search's seed, or None for an unseeded sweep."""
        return self.sweep.get("seed")

    def distinct_configurations(self) -> int:
        """How many distinct parameter sets the runs tried (a retry repeats its run's)."""
        return distinct_points(r.get("params") or {} for r in self.runs)

    def search_summary(self) -> str:
        """``seed 0 · 9 distinct configurations`` (or ``unseeded · ...``)."""
        seed = "unseeded" if self.seed is None else f"seed {self.seed}"
        n = self.distinct_configurations()
        return f"{seed} · {n} distinct configuration{'' if n == 1 else 's'}"

    @property
    def sign(self) -> float:
        """+1 when lower is better, -1 when higher is better."""
        return 1.0 if self.goal == "minimize" else -1.0

    def ranked(self) -> list[int]:
        """Run indices best first; runs without a metric after, in creation order."""
        with_metric = [i for i, v in enumerate(self.values) if v is not None]
        with_metric.sort(key=lambda i: (self.sign * self.values[i], i))
        return with_metric + [i for i, v in enumerate(self.values) if v is None]

    def scored(self) -> tuple[list[int], list[ParamColumn], list[ParamColumn]]:
        """(runs with a finite metric, parameters all of them have, parameters some lack)."""
        runs = [i for i, v in enumerate(self.values) if v is not None]
        have = [p for p in self.params if all(p.present(i) for i in runs)]
        return runs, have, [p for p in self.params if p not in have]

    def best(self) -> int | None:
        ranked = self.ranked()
        return ranked[0] if ranked and self.values[ranked[0]] is not None else None

    def series(self, run: Mapping[str, Any]) -> list[float | None]:
        """The run's metric per epoch (rows that hold the metric key; None where not finite)."""
        if self.metric is None:
            return []
        rows = run.get("history") or []
        return [finite(row[self.metric]) for row in rows if self.metric in row]

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


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


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


def param_columns(
    runs: Sequence[Mapping[str, Any]], config: Mapping[str, Any]
) -> list[ParamColumn]:
    specs = _specs(config.get("parameters"))
    flat = [_flatten(r.get("params") or {}) for r in runs]
    names = [n for n in specs if any(n in f for f in flat)]
    for f in flat:
        names.extend(n for n in f if n not in names)
    return [ParamColumn(n, [f.get(n, MISSING) for f in flat], specs.get(n)) for n in names]


def why_stopped(run: Mapping[str, Any], metric: str | None, goal: str) -> str:
    stop = run.get("stop")
    if isinstance(stop, Mapping) and stop:
        worse = ">" if goal == "minimize" else "<"
        value, threshold = fmt(finite(stop.get("value"))), fmt(finite(stop.get("threshold")))
        band, epoch = stop.get("band"), stop.get("epoch")
        why = f"hyperband, band {fmt(band)}: {value} {worse} threshold {threshold}"
        if isinstance(epoch, int) and epoch != band:
            why += f", stopped at epoch {epoch}"
        return why
    error = run.get("error")
    if error:
        return str(error).strip().splitlines()[0] if str(error).strip() else ""
    if run.get("state") == "stopped":
        return "stopped by the controller"
    return ""


def leaderboard(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The runs best first by the sweep's metric and goal (runs without a metric last).

    Args:
        snapshot: a sweep snapshot, as ``kerasweep.local.store.Store.snapshot`` returns.

    Returns:
        One dict per run: ``rank`` (1-based, None without a metric), ``id``, ``name``,
        ``state``, ``metric``, ``epochs``, ``params``, ``why`` (why it stopped or failed,
        "" otherwise) and ``seconds`` (run time, None when unknown).

    Example:
        >>> snap = {"sweep": {"metric": {"name": "loss", "goal": "minimize"}},
        ...         "runs": [{"id": "a", "metric": 0.5}, {"id": "b", "metric": 0.2}]}
        >>> [row["id"] for row in leaderboard(snap)]
        ['b', 'a']
    """
    sweep = SweepView(snapshot)
    rows = []
    for rank, i in enumerate(sweep.ranked(), start=1):
        run = sweep.runs[i]
        rows.append(
            {
                "rank": rank if sweep.values[i] is not None else None,
                "id": run.get("id"),
                "name": run.get("name") or run.get("id"),
                "state": run.get("state"),
                "metric": sweep.values[i],
                "epochs": run.get("epochs"),
                "params": dict(run.get("params") or {}),
                "why": why_stopped(run, sweep.metric, sweep.goal),
                "seconds": run_seconds(run),
            }
        )
    return rows
