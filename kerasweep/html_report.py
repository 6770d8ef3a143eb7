"""A sweep as one self-contained HTML page: what W&B's sweep dashboard shows, offline.

The page has a summary header (runs by state, the best run), a parallel-coordinates plot
(one line per run over its parameters and the metric), parameter importance, the metric per
epoch of every run with hyperband's stops and band thresholds, the leaderboard, the sweep
config as given and what the engine was.

Example:
    >>> import kerasweep
    >>> path = kerasweep.report("k3x9q2ab")  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'report-k3x9q2ab.html'

Why plotly: its ``parcoords`` trace is the parallel-coordinates chart W&B shows, with
categorical axes (tick text at integer positions), axis brushing and a hover event per line;
its line charts have hover labels and log axes; and its JavaScript bundle inlines into the
page once, so the report is one file that opens anywhere with no server and no network.
Figures are built here as plain dicts (no ``plotly.graph_objects`` validation, which is slow
for hundreds of traces) and drawn by ``Plotly.newPlot`` in the page.

Safety: every string that comes from a config or a run reaches the page either HTML-escaped
(tables, plot text, which plotly renders as text after decoding entities) or inside JSON
whose ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no value can
close a ``<script>`` element or start markup.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import pathlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from kerasweep import _html_report_page

__all__ = ["leaderboard", "parameter_importance", "render_report", "report"]

# Best end first: dark blue for the best runs, orange for the worst (readable on white).
_SCALE = ["#0d0887", "#5302a3", "#8b0aa5", "#b83289", "#db5c68", "#f48849", "#f8a53a"]
_NO_METRIC = "#b7bcc4"
_STATE_ORDER = ("finished", "stopped", "running", "pending", "failed", "crashed")
_LOG_DISTRIBUTIONS = {
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
}
_LINEAR_DISTRIBUTIONS = {"uniform", "int_uniform", "q_uniform", "normal", "q_normal"}
_MIN_RUNS_FOR_IMPORTANCE = 3


# ---------------------------------------------------------------------------------------------
# Small helpers


def _esc(value: Any) -> str:
    """HTML-escape any value's text (also right for plotly text, which decodes entities)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def _finite(value: Any) -> float | None:
    """The value as a float when it is a finite real number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _round(value: float) -> float:
    """Six significant digits: enough for any chart, and short JSON."""
    return float(f"{value:.6g}")


def _fmt(value: Any, digits: int = 4) -> str:
    """Display text of a metric or parameter value."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return format(value, f".{digits}g")
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _script_json(obj: Any) -> str:
    """Compact JSON that is safe as the text of a ``<script>`` element."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _color(t: float) -> str:
    """Colour at ``t`` in [0, 1] on the report's scale (0 = best)."""
    t = min(max(t, 0.0), 1.0) * (len(_SCALE) - 1)
    i = min(int(t), len(_SCALE) - 2)
    a, b = _SCALE[i], _SCALE[i + 1]
    f = t - i
    rgb = [round(int(a[k : k + 2], 16) * (1 - f) + int(b[k : k + 2], 16) * f) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _duration(run: Mapping[str, Any]) -> float | None:
    start, end = _parse_time(run.get("started_at")), _parse_time(run.get("ended_at"))
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


# ---------------------------------------------------------------------------------------------
# The sweep as tables: metric, goal, parameters


class _Sweep:
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
        self.values: list[float | None] = [_finite(r.get("metric")) for r in self.runs]
        self.params = _param_columns(self.runs, self.config)

    @property
    def sign(self) -> float:
        """+1 when lower is better, -1 when higher is better."""
        return 1.0 if self.goal == "minimize" else -1.0

    def ranked(self) -> list[int]:
        """Run indices best first; runs without a metric after, in creation order."""
        with_metric = [i for i, v in enumerate(self.values) if v is not None]
        with_metric.sort(key=lambda i: (self.sign * self.values[i], i))
        return with_metric + [i for i, v in enumerate(self.values) if v is None]

    def scored(self) -> tuple[list[int], list[_Param], list[_Param]]:
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
        return [_finite(row[self.metric]) for row in rows if self.metric in row]

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
            return _NO_METRIC
        best, worst = rng
        if best == worst:
            return _SCALE[0]
        return _color((value - best) / (worst - best))


class _Param:
    """One parameter column over the runs (nested parameters flattened to ``a.b``)."""

    def __init__(self, name: str, values: list[Any], spec: Mapping[str, Any] | None) -> None:
        self.name = name
        self.values = values  # per run; _MISSING where the run lacks it
        present = [v for v in values if v is not _MISSING]
        numeric = present and all(_finite(v) is not None for v in present)
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
            order = [_category_key(v) for v in (spec or {}).get("values") or []]
            seen = [_category_key(v) for v in present]
            for key in [*order, *seen]:
                if key not in self.labels and key in seen:
                    self.categories.append(key)
                    self.labels[key] = _fmt(json.loads(key))
        self.constant = len({_category_key(v) for v in present}) <= 1

    def present(self, i: int) -> bool:
        return self.values[i] is not _MISSING

    def number(self, i: int) -> float:
        """The run's value as a feature: the number (log10 if log), or the category's index."""
        v = self.values[i]
        if self.kind == "categorical":
            return float(self.categories.index(_category_key(v)))
        return math.log10(v) if self.log else float(v)

    def axis_number(self, i: int) -> float:
        """The run's value on its parallel-coordinates axis (log10 if ``axis_log``)."""
        if self.kind == "numeric" and self.axis_log:
            return math.log10(self.values[i])
        return self.number(i)


_MISSING = object()


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


def _category_key(value: Any) -> str:
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


def _param_columns(runs: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> list[_Param]:
    specs = _specs(config.get("parameters"))
    flat = [_flatten(r.get("params") or {}) for r in runs]
    names = [n for n in specs if any(n in f for f in flat)]
    for f in flat:
        names.extend(n for n in f if n not in names)
    return [_Param(n, [f.get(n, _MISSING) for f in flat], specs.get(n)) for n in names]


# ---------------------------------------------------------------------------------------------
# Public: leaderboard and parameter importance


def _why(run: Mapping[str, Any], metric: str | None, goal: str) -> str:
    stop = run.get("stop")
    if isinstance(stop, Mapping) and stop:
        worse = ">" if goal == "minimize" else "<"
        value, threshold = _fmt(_finite(stop.get("value"))), _fmt(_finite(stop.get("threshold")))
        band, epoch = stop.get("band"), stop.get("epoch")
        why = f"hyperband, band {_fmt(band)}: {value} {worse} threshold {threshold}"
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
    sweep = _Sweep(snapshot)
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
                "why": _why(run, sweep.metric, sweep.goal),
                "seconds": _duration(run),
            }
        )
    return rows


def _importance(sweep: _Sweep) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """(rows, constant parameter names, note why nothing was computed)."""
    if sweep.metric is None:
        return [], [], "The sweep has no metric, so parameters cannot be related to it."
    rows_i, params, _ = sweep.scored()
    if len(rows_i) < _MIN_RUNS_FOR_IMPORTANCE:
        return (
            [],
            [],
            f"Needs at least {_MIN_RUNS_FOR_IMPORTANCE} runs with a finite {sweep.metric}; "
            f"this sweep has {len(rows_i)}.",
        )
    import numpy as np

    y = np.array([sweep.values[i] for i in rows_i])
    features: list[tuple[str, str, np.ndarray]] = []  # (label, parameter, column)
    constant: list[str] = []
    for p in params:
        if len({_category_key(p.values[i]) for i in rows_i}) <= 1:
            constant.append(p.name)
        elif p.kind == "numeric":
            label = f"{p.name} (log10)" if p.log else p.name
            features.append((label, p.name, np.array([p.number(i) for i in rows_i])))
        else:
            keys = [_category_key(p.values[i]) for i in rows_i]
            for key in p.categories:
                column = np.array([1.0 if k == key else 0.0 for k in keys])
                features.append((f"{p.name} = {p.labels[key]}", p.name, column))
    if not features:
        return [], constant, "Every parameter has the same value in all runs with a metric."
    if np.ptp(y) == 0:
        return [], constant, f"All runs have the same {sweep.metric}; nothing to explain."
    from sklearn.ensemble import RandomForestRegressor

    x = np.column_stack([f[2] for f in features])
    forest = RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=1).fit(x, y)
    out = []
    for (label, name, column), weight in zip(features, forest.feature_importances_, strict=True):
        corr = float(np.corrcoef(column, y)[0, 1]) if np.ptp(column) > 0 else None
        out.append(
            {
                "feature": label,
                "parameter": name,
                "importance": float(weight),
                "correlation": corr if corr is not None and math.isfinite(corr) else None,
            }
        )
    out.sort(key=lambda r: -r["importance"])
    return out, constant, None


def parameter_importance(snapshot: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Parameter importance as W&B's sweep dashboard defines it.

    ``correlation`` is the linear (Pearson) correlation of a parameter with the metric over
    the runs that have a finite metric; ``importance`` is the feature importance of a random
    forest (scikit-learn, 100 trees) fitted with the parameters as inputs and the metric as
    target. Categorical parameters are one-hot encoded, one feature per value (as W&B shows
    ``optimizer = sgd``), so correlations stay meaningful; numeric parameters on a log scale
    (a log distribution, or positive values spanning two decades or more) enter as log10.
    Parameters constant over those runs are left out.

    Args:
        snapshot: a sweep snapshot, as ``kerasweep.local.store.Store.snapshot`` returns.

    Returns:
        Rows ``{"feature", "parameter", "importance", "correlation"}``, most important
        first; empty with fewer than 3 runs with a finite metric, or nothing to vary.
    """
    return _importance(_Sweep(snapshot))[0]


# ---------------------------------------------------------------------------------------------
# Figures (plain plotly dicts)

_FONT = {
    "family": '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", '
    "Arial, sans-serif",
    "size": 12,
    "color": "#1f2933",
}


def _colorscale(sweep: _Sweep) -> list[list[Any]]:
    """Plotly colorscale over metric values from low to high, best end dark."""
    stops = _SCALE if sweep.goal == "minimize" else _SCALE[::-1]
    n = len(stops) - 1
    return [[k / n, c] for k, c in enumerate(stops)]


def _axis(values: list[float], log: bool, raw: list[Any] | None = None) -> dict[str, Any]:
    """Tick values/text for a numeric parcoords axis (values already log10 if ``log``).

    With at most 8 distinct values each gets a tick, labelled with ``raw`` (the values as
    the runs had them, parallel to ``values``) when given.
    """
    distinct = sorted(set(values))
    if len(distinct) <= 8 and raw is not None:
        label = {v: _fmt(r, 3) for v, r in zip(values, raw, strict=True)}
        return {"tickvals": [_round(t) for t in distinct], "ticktext": [label[t] for t in distinct]}
    if len(distinct) <= 8:
        ticks = distinct
    elif log:
        lo, hi = math.floor(min(values)), math.ceil(max(values))
        ticks = [float(k) for k in range(lo, hi + 1) if min(values) <= k <= max(values)]
        if len(ticks) < 2:
            return {}
    else:
        return {"tickformat": ".3~g"}
    text = [_fmt(10**t if log else t, 3) for t in ticks]
    return {"tickvals": [_round(t) for t in ticks], "ticktext": text}


def _parcoords(sweep: _Sweep) -> tuple[dict[str, Any] | None, list[int], str | None]:
    """(figure, run index per line, note)."""
    if sweep.metric is None:
        return None, [], "The sweep has no metric to colour the runs by."
    shown, have, lacking = sweep.scored()
    if len(shown) < 2:
        return None, shown, f"Needs at least two runs with a finite {sweep.metric}."
    params = [p for p in have if len({_category_key(p.values[i]) for i in shown}) > 1]
    dims = []
    for p in params:
        values = [p.axis_number(i) for i in shown]
        dim: dict[str, Any] = {"label": _esc(p.name), "values": [_round(v) for v in values]}
        if p.kind == "categorical":
            n = len(p.categories)
            dim["tickvals"] = list(range(n))
            # tick labels are plain SVG text (unlike titles and hover labels): not escaped
            dim["ticktext"] = [p.labels[k] for k in p.categories]
            dim["range"] = [0, n - 1] if n > 1 else [-1, 1]
        else:
            dim.update(_axis(values, p.axis_log, [p.values[i] for i in shown]))
            if len(set(values)) == 1:
                dim["range"] = [values[0] - 1, values[0] + 1]
        dims.append(dim)
    metric_values = [float(sweep.values[i]) for i in shown]  # type: ignore[arg-type]
    log_metric = min(metric_values) > 0 and max(metric_values) / min(metric_values) >= 100
    axis_values = [math.log10(v) for v in metric_values] if log_metric else metric_values
    metric_dim = {
        "label": f"<b>{_esc(sweep.metric)}</b>" + (" (log)" if log_metric else ""),
        "values": [_round(v) for v in axis_values],
        **_axis(axis_values, log_metric),
    }
    dims.append(metric_dim)
    best, worst = sweep.color_range()  # type: ignore[misc]
    lo, hi = min(best, worst), max(best, worst)
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    trace = {
        "type": "parcoords",
        "dimensions": dims,
        "line": {
            "color": [_round(v) for v in metric_values],
            "colorscale": _colorscale(sweep),
            "cmin": _round(lo),
            "cmax": _round(hi),
            "showscale": True,
            "colorbar": {"title": {"text": _esc(sweep.metric), "side": "right"}, "thickness": 12},
        },
        "labelangle": 0,
        "labelfont": {"size": 13, "color": "#1f2933"},
        "tickfont": {"size": 11, "color": "#3e4c59"},
        "rangefont": {"size": 1, "color": "rgba(0,0,0,0)"},
    }
    layout = {
        "font": _FONT,
        "height": 440,
        "margin": {"l": 70, "r": 40, "t": 56, "b": 28},
        "paper_bgcolor": "rgba(0,0,0,0)",
    }
    notes = []
    hidden = len(sweep.runs) - len(shown)
    if hidden:
        notes.append(f"{_plural(hidden, 'run')} without a finite {sweep.metric} not shown.")
    if lacking:
        names = ", ".join(p.name for p in lacking)
        notes.append(f"Not in every run, so not drawn: {names}.")
    return {"data": [trace], "layout": layout}, shown, " ".join(notes) or None


def _run_traces(sweep: _Sweep, series: list[list[float | None]], order: list[int]) -> list[dict]:
    """One line per run; hover text comes from the layout's scatter template."""
    rng = sweep.color_range()
    traces = []
    for i in order:
        run = sweep.runs[i]
        pairs = [f"{_esc(p.name)}={_esc(_fmt(p.values[i]))}" for p in sweep.params if p.present(i)]
        params = "<br>".join(" · ".join(pairs[k : k + 3]) for k in range(0, len(pairs), 3))
        trace = {
            "y": [None if v is None else _round(v) for v in series[i]],
            "name": _esc(run.get("name") or run.get("id") or f"run {i}"),
            "meta": [_esc(run.get("state") or ""), params],
            "line": {"color": sweep.color_of(sweep.values[i], rng)},
        }
        if sum(v is not None for v in series[i]) == 1:  # a line of one point draws nothing
            trace.update(mode="lines+markers", marker={"size": 6})
        traces.append(trace)
    return traces


def _marker_trace(name: str, points: list[tuple[int, float, str]], marker: dict) -> dict:
    return {
        "x": [p[0] for p in points],
        "y": [_round(p[1]) for p in points],
        "text": [p[2] for p in points],
        "name": name,
        "mode": "markers",
        "showlegend": True,
        "marker": marker,
        "hovertemplate": "%{text}<extra></extra>",
    }


def _stop_markers(sweep: _Sweep, series: list[list[float | None]], shown: list[int]) -> list[dict]:
    """Where hyperband stopped a run (at its stop epoch), and where failed runs ended."""
    stopped, failed = [], []
    for i in shown:
        run, s = sweep.runs[i], series[i]
        name = _esc(run.get("name") or run.get("id") or f"run {i}")
        last = max(k for k, v in enumerate(s) if v is not None)
        why = _esc(_why(run, sweep.metric, sweep.goal))
        stop = run.get("stop")
        if isinstance(stop, Mapping) and stop:
            # marked on the run's line where it stopped; the hover says what was judged
            epoch = stop.get("epoch")
            x = epoch if isinstance(epoch, int) and 1 <= epoch <= len(s) else last + 1
            y = s[x - 1] if s[x - 1] is not None else s[last]
            stopped.append((x, y, f"{name}<br>{why}"))
        elif run.get("state") in ("failed", "crashed"):
            failed.append((last + 1, s[last], f"{name}<br>{why or _esc(run.get('state'))}"))
    traces = []
    if stopped:
        marker = {"symbol": "circle-open", "size": 9, "color": "#c05621", "line": {"width": 2}}
        traces.append(_marker_trace("stopped by hyperband", stopped, marker))  # type: ignore[arg-type]
    if failed:
        marker = {"symbol": "x-thin-open", "size": 11, "color": "#c81e1e", "line": {"width": 2.5}}
        traces.append(_marker_trace("failed", failed, marker))  # type: ignore[arg-type]
    return traces


def _band_overlays(
    sweep: _Sweep, longest: int
) -> tuple[list[dict], list[dict], list[dict], list[float]]:
    """(shapes, annotations, threshold traces, threshold values) for hyperband's bands.

    A band no run has reached (beyond ``longest`` epochs, no threshold yet) is left out: it
    would only stretch the epoch axis past the data.
    """
    shapes, annotations, points = [], [], []
    worse = "above" if sweep.goal == "minimize" else "below"
    for band in sweep.bands:
        b = band.get("band")
        if not isinstance(b, int) or isinstance(b, bool):
            continue
        if b > longest and _finite(band.get("threshold")) is None:
            continue
        line = {"color": "#9aa5b1", "width": 1, "dash": "dot"}
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": b,
                "x1": b,
                "y0": 0,
                "y1": 1,
                "line": line,
                "layer": "below",
            }
        )
        annotations.append(
            {
                "x": b,
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": f"band {b}",
                "showarrow": False,
                "yanchor": "top",
                "xanchor": "left",
                "xshift": 3,
                "font": {"size": 10, "color": "#7b8794"},
            }
        )
        threshold = _finite(band.get("threshold"))
        if threshold is not None:
            text = (
                f"band {b} threshold: {_esc(sweep.metric)} {_fmt(threshold)}<br>"
                f"running runs {worse} it at epoch {b} are stopped"
            )
            points.append((b, threshold, text))
    traces = []
    if points:
        marker = {"symbol": "line-ew-open", "size": 30, "color": "#1f2933", "line": {"width": 3.5}}
        trace = _marker_trace("band threshold", points, marker)
        trace.update(
            mode="markers+text",
            texttemplate="%{y:.3~g}",
            textposition="middle right",
            textfont={"size": 11, "color": "#1f2933"},
        )
        traces.append(trace)
    return shapes, annotations, traces, [p[1] for p in points]


def _colorbar_trace(sweep: _Sweep) -> list[dict]:
    """An invisible trace that only draws the colour bar of the run lines."""
    rng = sweep.color_range()
    if rng is None:
        return []
    lo, hi = min(rng), max(rng)
    colorbar = {
        "title": {"text": f"best {_esc(sweep.metric)}", "side": "right"},
        "thickness": 12,
        "len": 0.8,
    }
    return [
        {
            "x": [None],
            "y": [None],
            "mode": "markers",
            "hoverinfo": "skip",
            "showlegend": False,
            "marker": {
                "color": [lo, hi],
                "cmin": _round(lo),
                "cmax": _round(hi if hi > lo else lo + 1),
                "colorscale": _colorscale(sweep),
                "showscale": True,
                "colorbar": colorbar,
            },
        }
    ]


def _curves_layout(sweep: _Sweep, log_y: bool, shapes: list, annotations: list) -> dict:
    metric = _esc(sweep.metric)
    run_line = {
        "type": "scatter",
        "mode": "lines",
        "x0": 1,
        "dx": 1,
        "showlegend": False,
        "line": {"width": 1.6},
        "opacity": 0.9,
        "hovertemplate": (
            f"<b>%{{fullData.name}}</b> · %{{meta[0]}}<br>epoch %{{x}}: {metric} "
            "<b>%{y:.4~g}</b><br><span style='font-size:11px'>%{meta[1]}</span><extra></extra>"
        ),
    }
    grid = {"gridcolor": "#eef0f3", "zeroline": False}
    scale_buttons = {
        "type": "buttons",
        "direction": "left",
        "x": 1,
        "xanchor": "right",
        "y": -0.1,
        "yanchor": "top",
        "showactive": True,
        "active": 1 if log_y else 0,
        "bgcolor": "#f5f7fa",
        "bordercolor": "#cbd2d9",
        "font": {"size": 11},
        "buttons": [
            {"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
            {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
        ],
    }
    return {
        "font": _FONT,
        "height": 460,
        "margin": {"l": 64, "r": 20, "t": 40, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "hovermode": "closest",
        "hoverlabel": {
            "bgcolor": "#ffffff",
            "bordercolor": "#cbd2d9",
            "align": "left",
            "font": {"size": 12, "color": "#1f2933"},
        },
        "xaxis": {"title": {"text": "epoch"}, "rangemode": "tozero", **grid},
        "yaxis": {"title": {"text": metric}, "type": "log" if log_y else "linear", **grid},
        "legend": {
            "orientation": "h",
            "x": 0,
            "y": 1.0,
            "yanchor": "bottom",
            "xanchor": "left",
            "bgcolor": "rgba(255,255,255,0.8)",
        },
        "shapes": shapes,
        "annotations": annotations,
        "updatemenus": [scale_buttons],
        # every run line shares these, so they are written once
        "template": {"data": {"scatter": [run_line]}},
    }


def _curves(sweep: _Sweep) -> tuple[dict[str, Any] | None, list[int], str | None]:
    """(figure, run index per run trace, note): metric per epoch, stops and thresholds."""
    if sweep.metric is None:
        return None, [], "The sweep has no metric to plot."
    series = [sweep.series(r) for r in sweep.runs]
    shown = [i for i, s in enumerate(series) if any(v is not None for v in s)]
    if not shown:
        return None, [], f"No run has logged {sweep.metric} yet."
    shown_set = set(shown)
    order = [i for i in reversed(sweep.ranked()) if i in shown_set]  # best drawn last, on top
    longest = max(len(series[i]) for i in shown)
    shapes, annotations, thresholds, threshold_values = _band_overlays(sweep, longest)
    values = [v for i in shown for v in series[i] if v is not None] + threshold_values
    log_y = min(values) > 0 and max(values) / min(values) >= 100
    data = [
        *_run_traces(sweep, series, order),
        *_colorbar_trace(sweep),
        *_stop_markers(sweep, series, shown),
        *thresholds,
    ]
    figure = {"data": data, "layout": _curves_layout(sweep, log_y, shapes, annotations)}
    missing = len(sweep.runs) - len(shown)
    note = None
    if missing:
        note = f"{_plural(missing, 'run')} without a logged {sweep.metric}."
    return figure, order, note


# ---------------------------------------------------------------------------------------------
# HTML sections


def _state_badge(state: Any) -> str:
    s = str(state or "unknown")
    css = s if s in _STATE_ORDER else "unknown"
    return f'<span class="state state-{css}">{_esc(s)}</span>'


def _header(sweep: _Sweep) -> str:
    info = sweep.sweep
    title = info.get("name") or sweep.config.get("name") or info.get("id") or "sweep"
    counts: dict[str, int] = {}
    for run in sweep.runs:
        key = str(run.get("state") or "unknown")
        counts[key] = counts.get(key, 0) + 1
    states = sorted(counts, key=lambda s: (*_STATE_ORDER, s).index(s))
    chips = "".join(
        f'<span class="chip">{_state_badge(s)}<b>{counts[s]}</b></span>' for s in states
    )
    sub = [f'<span class="mono">{_esc(info.get("id") or "")}</span>']
    if info.get("project"):
        sub.append(f"project {_esc(info['project'])}")
    if info.get("state"):
        sub.append(f"sweep {_esc(info['state'])}")
    created = _parse_time(info.get("created_at"))
    if created:
        sub.append(f"created {created.strftime('%Y-%m-%d %H:%M %Z').strip()}")
    best = sweep.best()
    if best is not None:
        run = sweep.runs[best]
        best_card = (
            f'<div class="label">Best {_esc(sweep.metric)} ({_esc(sweep.goal)})</div>'
            f'<div class="big">{_esc(_fmt(sweep.values[best]))}</div>'
            f'<div class="muted">{_esc(run.get("name") or run.get("id"))}'
            f" · {_esc(_fmt(run.get('epochs')))} epochs</div>"
        )
    elif sweep.metric:
        best_card = (
            f'<div class="label">Best {_esc(sweep.metric)}</div><div class="big">—</div>'
            '<div class="muted">no run has a finite value yet</div>'
        )
    else:
        best_card = '<div class="label">Metric</div><div class="big">—</div>'
        best_card += '<div class="muted">the sweep config names none</div>'
    method = str(info.get("method") or sweep.config.get("method") or "?")
    early = info.get("early_terminate") or sweep.config.get("early_terminate")
    engine_line = "no early termination"
    if isinstance(early, Mapping) and early:
        engine_line = (
            _esc(early.get("type") or "early termination")
            + " "
            + ", ".join(f"{_esc(k)} {_esc(_fmt(v))}" for k, v in early.items() if k != "type")
        )
    epochs = sum(int(r.get("epochs") or 0) for r in sweep.runs)
    seconds = [d for d in (_duration(r) for r in sweep.runs) if d is not None]
    return f"""
<header class="top">
  <div class="eyebrow">kerasweep · sweep report</div>
  <h1>{_esc(title)}</h1>
  <div class="sub">{" · ".join(sub)}</div>
  <div class="cards">
    <div class="card"><div class="label">Runs</div><div class="big">{len(sweep.runs)}</div>
      <div class="chips">{chips}</div></div>
    <div class="card best">{best_card}</div>
    <div class="card"><div class="label">Search</div><div class="big">{_esc(method)}</div>
      <div class="muted">{engine_line}</div></div>
    <div class="card"><div class="label">Epochs trained</div><div class="big">{epochs}</div>
      <div class="muted">{_fmt_duration(sum(seconds)) if seconds else "—"} of run time</div></div>
  </div>
</header>"""


def _importance_html(sweep: _Sweep) -> str:
    rows, constant, note = _importance(sweep)
    if note:
        body = f'<p class="note">{_esc(note)}</p>'
    else:
        good = "negative" if sweep.goal == "minimize" else "positive"
        top = max(r["importance"] for r in rows) or 1.0
        trs = []
        for r in rows:
            width = 100 * r["importance"] / top
            corr = r["correlation"]
            if corr is None:
                corr_cell = '<td class="num">—</td>'
            else:
                helps = (corr < 0) == (sweep.goal == "minimize")
                side = "neg" if corr < 0 else "pos"
                corr_cell = (
                    f'<td class="num corr"><div class="cbar {side} {"good" if helps else "bad"}" '
                    f'style="width:{abs(corr) * 50:.1f}%"></div><span>{corr:+.2f}</span></td>'
                )
            trs.append(
                f'<tr><td class="feat">{_esc(r["feature"])}</td>'
                f'<td class="num imp"><div class="ibar" style="width:{width:.1f}%"></div>'
                f"<span>{r['importance']:.3f}</span></td>{corr_cell}</tr>"
            )
        body = (
            '<table class="importance"><thead><tr><th>Parameter</th><th class="num">Importance'
            '</th><th class="num">Correlation</th></tr></thead><tbody>'
            + "".join(trs)
            + "</tbody></table>"
            f'<p class="note">Correlation: linear, with {_esc(sweep.metric)}; green where a '
            f"higher value goes with a better {_esc(sweep.metric)} ({good} when you "
            f"{_esc(sweep.goal)}). Importance: random-forest feature importance (scikit-learn, "
            "100 trees) with the parameters as inputs; a categorical parameter counts as one "
            "0/1 feature per value, log-scale parameters as log10.</p>"
        )
    if constant:
        names = ", ".join(_esc(c) for c in constant)
        body += f'<p class="note">Same in every run, left out: {names}.</p>'
    lacking = sweep.scored()[2] if sweep.metric else []
    if lacking:
        names = ", ".join(_esc(p.name) for p in lacking)
        body += f'<p class="note">Not in every run, left out: {names}.</p>'
    return body


def _sort_key(value: Any) -> str:
    """A ``data-v`` attribute value for numeric sorting ("" sorts last)."""
    number = _finite(value)
    return "" if number is None else repr(number)


def _leaderboard_html(sweep: _Sweep, trace_of: dict[int, int]) -> str:
    """The runs best first; parameters that vary get a column, constant ones a note."""
    varying = [p for p in sweep.params if not p.constant or len(sweep.runs) < 2]
    constant = [p for p in sweep.params if p not in varying]
    metric = _esc(sweep.metric) if sweep.metric else None
    head = ['<th class="num" data-sort="num">#</th>', "<th>Run</th>", "<th>State</th>"]
    if metric:
        head.append(f'<th class="num" data-sort="num">{metric}</th>')
    head += [
        '<th class="num" data-sort="num">Epochs</th>',
        '<th class="num" data-sort="num">Time</th>',
        "<th>Why stopped / error</th>",
    ]
    for p in varying:
        numeric = p.kind == "numeric"
        head.append(
            f'<th class="{"num" if numeric else ""}" data-sort="{"num" if numeric else "text"}">'
            f"{_esc(p.name)}</th>"
        )
    best = sweep.best()
    body = []
    for rank, i in enumerate(sweep.ranked(), start=1):
        run = sweep.runs[i]
        value = sweep.values[i]
        name = str(run.get("name") or run.get("id") or "")
        rid = str(run.get("id") or "")
        who = f'<span class="run-name">{_esc(name)}</span>'
        if rid and rid != name:
            who += f' <span class="run-id mono">{_esc(rid)}</span>'
        cells = [
            f'<td class="num" data-v="{rank}">{rank if value is not None else ""}</td>',
            f"<td>{who}</td>",
            f"<td>{_state_badge(run.get('state'))}</td>",
        ]
        if metric:
            cells.append(
                f'<td class="num metric" data-v="{_sort_key(value)}">{_esc(_fmt(value))}</td>'
            )
        epochs, seconds = run.get("epochs"), _duration(run)
        why = _why(run, sweep.metric, sweep.goal)
        cells += [
            f'<td class="num" data-v="{_sort_key(epochs)}">{_esc(_fmt(epochs))}</td>',
            f'<td class="num" data-v="{_sort_key(seconds)}">{_fmt_duration(seconds)}</td>',
            f'<td class="why" title="{_esc(why)}">{_esc(_clip(why, 200))}</td>',
        ]
        for p in varying:
            if not p.present(i):
                cells.append('<td class="muted">—</td>')
            elif p.kind == "numeric":
                raw = p.values[i]
                cells.append(f'<td class="num" data-v="{_sort_key(raw)}">{_esc(_fmt(raw))}</td>')
            else:
                cells.append(f"<td>{_esc(_fmt(p.values[i]))}</td>")
        attrs = f' data-trace="{trace_of[i]}"' if i in trace_of else ""
        cls = ' class="best"' if i == best else ""
        body.append(f"<tr{cls}{attrs}>{''.join(cells)}</tr>")
    note = ""
    if constant:
        fixed = ", ".join(
            f"{_esc(p.name)} = {_esc(_fmt(next(v for v in p.values if v is not _MISSING)))}"
            for p in constant
        )
        note = f'<p class="note">Same in every run: {fixed}.</p>'
    return (
        '<div class="table-wrap"><table class="leaderboard" id="leaderboard"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
        + note
    )


def _yaml(config: Mapping[str, Any]) -> str:
    """The config as YAML, lists of plain values on one line (``values: [32, 64]``)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def represent_list(self, data: list) -> yaml.Node:
            flat = all(not isinstance(v, (dict, list, tuple)) for v in data)
            return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)

    Dumper.add_representer(list, Dumper.represent_list)
    try:
        return yaml.dump(dict(config), Dumper=Dumper, sort_keys=False, allow_unicode=True, width=88)
    except yaml.YAMLError:
        return json.dumps(config, indent=2, default=str)


def _engine_html(sweep: _Sweep) -> str:
    info = sweep.sweep
    rows = [("Method", str(info.get("method") or sweep.config.get("method") or "?"))]
    if sweep.metric:
        rows.append(("Metric", f"{sweep.metric} ({sweep.goal})"))
    else:
        rows.append(("Metric", "none"))
    early = info.get("early_terminate") or sweep.config.get("early_terminate")
    if isinstance(early, Mapping) and early:
        rows.append(("Early termination", ", ".join(f"{k}: {_fmt(v)}" for k, v in early.items())))
    else:
        rows.append(("Early termination", "none"))
    bands = [
        f"epoch {_fmt(b.get('band'))}: "
        + (
            _fmt(_finite(b.get("threshold")))
            if _finite(b.get("threshold")) is not None
            else "not reached"
        )
        for b in sweep.bands
    ]
    if bands:
        rows.append(("Band thresholds", " · ".join(bands)))
    rows.append(("Sweep state", str(info.get("state") or "?")))
    created = _parse_time(info.get("created_at"))
    if created:
        rows.append(("Created", created.strftime("%Y-%m-%d %H:%M:%S %Z").strip()))
    elif info.get("created_at"):
        rows.append(("Created", str(info["created_at"])))
    dl = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in rows)
    return f'<dl class="engine">{dl}</dl>'


def render_report(snapshot: Mapping[str, Any]) -> str:
    """The sweep report as one self-contained HTML page (plotly's JavaScript inlined once).

    Args:
        snapshot: a sweep snapshot, as ``kerasweep.local.store.Store.snapshot`` returns.

    Returns:
        The page's HTML text; it needs no network and no server to display.
    """
    sweep = _Sweep(snapshot)
    parcoords, pc_runs, pc_note = _parcoords(sweep)
    curves, curve_runs, curves_note = _curves(sweep)
    trace_of = {run_i: k for k, run_i in enumerate(curve_runs)}
    runs_info = []
    for i, run in enumerate(sweep.runs):
        runs_info.append(
            {
                "name": str(run.get("name") or run.get("id") or ""),
                "id": str(run.get("id") or ""),
                "state": str(run.get("state") or ""),
                "metric": _fmt(sweep.values[i]),
                "params": [[p.name, _fmt(p.values[i])] for p in sweep.params if p.present(i)],
            }
        )
    data = {
        "metric": sweep.metric,
        "runs": runs_info,
        "figures": {"parcoords": parcoords, "curves": curves},
        "parcoordsRuns": pc_runs,
        "curveRuns": curve_runs,
    }
    from plotly.offline import get_plotlyjs

    info = sweep.sweep
    title = info.get("name") or sweep.config.get("name") or info.get("id") or "sweep"
    return _html_report_page.page(
        title=_esc(f"{title} · kerasweep sweep report"),
        header=_header(sweep),
        parcoords_note=_esc(pc_note) if pc_note else "",
        curves_note=_esc(curves_note) if curves_note else "",
        importance=_importance_html(sweep),
        leaderboard=_leaderboard_html(sweep, trace_of),
        engine=_engine_html(sweep),
        config_yaml=_esc(_yaml(sweep.config)),
        data_json=_script_json(data),
        plotly_js=get_plotlyjs(),
        generated=_esc(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    )


def report(
    sweep_id: str,
    path: str | os.PathLike[str] | None = None,
    *,
    db: str | os.PathLike[str] | None = None,
) -> pathlib.Path:
    """Write the HTML report of a local sweep and return its path.

    Args:
        sweep_id: the local sweep's id.
        path: the file to write (missing directories are made); a directory, or a path
            ending in ``/``, gets ``report-<sweep_id>.html`` inside it. Default:
            ``report-<sweep_id>.html`` in the working directory.
        db: the local store's SQLite file (default: ``$KERASWEEP_DB`` or
            ``./kerasweep.db``). It must exist: a report never creates a store.

    Returns:
        The path written.

    Raises:
        kerasweep.local.StoreError: ``db`` is missing or is not a kerasweep store.
        kerasweep.local.UnknownSweepError: the store has no sweep ``sweep_id`` (a
            ``KeyError`` too). Nothing is written in either case.

    Example:
        >>> kerasweep.report("k3x9q2ab", "sweep.html")  # doctest: +SKIP
        PosixPath('sweep.html')
    """
    from kerasweep.local.store import Store

    store = Store(db, create=False)  # a report never creates a store
    try:
        snapshot = store.snapshot(sweep_id)
    finally:
        store.close()
    name = f"report-{sweep_id}.html"
    out = pathlib.Path(path) if path is not None else pathlib.Path(name)
    if out.is_dir() or str(path).endswith(("/", os.sep)):
        out = out / name
    page = render_report(snapshot)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
