"""The report's plotly figures as plain dicts: parallel coordinates and the metric per epoch.

Plain dicts, not ``plotly.graph_objects``: its validation is slow for hundreds of traces, and
the page draws them with ``Plotly.newPlot`` (or ``Plotly.react`` when live) anyway.

Example:
    >>> figure, runs, note = curves_figure(SweepView(load_sweep("k3x9q2ab")))  # doctest: +SKIP
    >>> figure["layout"]["xaxis"]["title"]["text"]  # doctest: +SKIP
    'epoch'
"""

from __future__ import annotations

import math
from typing import Any

from kerasweep._html_report.format import SCALE, esc, finite, fmt, plural, short
from kerasweep._html_report.view import SweepView, category_key, run_name, why_stopped
from kerasweep.local._records import RunState

FONT = {
    "family": '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", '
    "Arial, sans-serif",
    "size": 12,
    "color": "#1f2933",
}


def colorscale(sweep: SweepView) -> list[list[Any]]:
    """Plotly colorscale over metric values from low to high, best end dark."""
    stops = SCALE if sweep.goal == "minimize" else SCALE[::-1]
    n = len(stops) - 1
    return [[k / n, c] for k, c in enumerate(stops)]


def _axis(values: list[float], log: bool, raw: list[Any] | None = None) -> dict[str, Any]:
    """Tick values/text for a numeric parcoords axis (values already log10 if ``log``).

    With at most 8 distinct values each gets a tick, labelled with ``raw`` (the values as
    the runs had them, parallel to ``values``) when given. A log axis is labelled in the
    parameter's own units, at round values (:func:`_log_ticks`).
    """
    distinct = sorted(set(values))
    if len(distinct) <= 8 and raw is not None:
        label = {v: fmt(r, 3) for v, r in zip(values, raw, strict=True)}
        return {"tickvals": [short(t) for t in distinct], "ticktext": [label[t] for t in distinct]}
    if len(distinct) <= 8:
        ticks = distinct
    elif log:
        units = _log_ticks(10 ** min(values), 10 ** max(values))
        if len(units) < 2:
            return {}
        return {
            "tickvals": [short(math.log10(t)) for t in units],
            "ticktext": [fmt(t, 3) for t in units],
        }
    else:
        return {"tickformat": ".3~g"}
    text = [fmt(10**t if log else t, 3) for t in ticks]
    return {"tickvals": [short(t) for t in ticks], "ticktext": text}


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Round values in ``[lo, hi]`` (both > 0) for the ticks of a log axis, in its own units.

    Powers of ten where the range spans two decades or more, else 1-2-5 steps, else (less
    than about half a decade) round steps of the values themselves.

    >>> _log_ticks(0.0015, 0.04)
    [0.002, 0.005, 0.01, 0.02]
    >>> _log_ticks(1e-5, 0.1)
    [1e-05, 0.0001, 0.001, 0.01, 0.1]
    >>> _log_ticks(0.0012, 0.0035)
    [0.0015, 0.002, 0.0025, 0.003, 0.0035]
    """
    slack = 1e-9 * (hi - lo)
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    for steps in ((1,), (1, 2, 5)):
        ticks = [float(f"{m}e{d}") for d in decades for m in steps]
        ticks = [t for t in ticks if lo - slack <= t <= hi + slack]
        if len(ticks) >= 3:
            return ticks
    step = 10.0 ** math.floor(math.log10((hi - lo) / 4)) if hi > lo else 0.0
    if step == 0.0:
        return []
    for factor in (1, 2, 5, 10):
        if (hi - lo) / (step * factor) <= 6:
            step *= factor
            break
    digits = max(0, -math.floor(math.log10(step)) + 1)
    first = math.ceil((lo - slack) / step)
    ticks = [round(k * step, digits) for k in range(first, math.floor((hi + slack) / step) + 1)]
    return [float(f"{t:.6g}") for t in ticks if t > 0]


def parcoords_figure(sweep: SweepView) -> tuple[dict[str, Any] | None, list[int], str | None]:
    """(figure, run index per line, note)."""
    if sweep.metric is None:
        return None, [], "The sweep has no metric to colour the runs by."
    shown, have, lacking = sweep.scored()
    if len(shown) < 2:
        return None, shown, f"Needs at least two runs with a finite {sweep.metric}."
    params = [p for p in have if len({category_key(p.values[i]) for i in shown}) > 1]
    dims = []
    for p in params:
        values = [p.axis_number(i) for i in shown]
        dim: dict[str, Any] = {"label": esc(p.name), "values": [short(v) for v in values]}
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
        "label": f"<b>{esc(sweep.metric)}</b>" + (" (log)" if log_metric else ""),
        "values": [short(v) for v in axis_values],
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
            "color": [short(v) for v in metric_values],
            "colorscale": colorscale(sweep),
            "cmin": short(lo),
            "cmax": short(hi),
            "showscale": True,
            "colorbar": {"title": {"text": esc(sweep.metric), "side": "right"}, "thickness": 12},
        },
        "labelangle": 0,
        "labelfont": {"size": 13, "color": "#1f2933"},
        "tickfont": {"size": 11, "color": "#3e4c59"},
        "rangefont": {"size": 1, "color": "rgba(0,0,0,0)"},
    }
    layout = {
        "font": FONT,
        "height": 440,
        "margin": {"l": 70, "r": 40, "t": 56, "b": 28},
        "paper_bgcolor": "rgba(0,0,0,0)",
    }
    notes = []
    hidden = len(sweep.runs) - len(shown)
    if hidden:
        notes.append(f"{plural(hidden, 'run')} without a finite {sweep.metric} not shown.")
    if lacking:
        names = ", ".join(p.name for p in lacking)
        notes.append(f"Not in every run, so not drawn: {names}.")
    return {"data": [trace], "layout": layout}, shown, " ".join(notes) or None


def _run_traces(sweep: SweepView, series: list[list[float | None]], order: list[int]) -> list[dict]:
    """One line per run; hover text comes from the layout's scatter template."""
    rng = sweep.color_range()
    traces = []
    for i in order:
        run = sweep.runs[i]
        pairs = [f"{esc(p.name)}={esc(fmt(p.values[i]))}" for p in sweep.params if p.present(i)]
        params = "<br>".join(" · ".join(pairs[k : k + 3]) for k in range(0, len(pairs), 3))
        trace = {
            "y": [None if v is None else short(v) for v in series[i]],
            "name": esc(run_name(run) or f"run {i}"),
            "meta": [esc(run.state.value), params],
            "line": {"color": sweep.color_of(sweep.values[i], rng)},
        }
        if sum(v is not None for v in series[i]) == 1:  # a line of one point draws nothing
            trace.update(mode="lines+markers", marker={"size": 6})
        traces.append(trace)
    return traces


def _marker_trace(name: str, points: list[tuple[int, float, str]], marker: dict) -> dict:
    return {
        "x": [p[0] for p in points],
        "y": [short(p[1]) for p in points],
        "text": [p[2] for p in points],
        "name": name,
        "mode": "markers",
        "showlegend": True,
        "marker": marker,
        "hovertemplate": "%{text}<extra></extra>",
    }


def _stop_markers(
    sweep: SweepView, series: list[list[float | None]], shown: list[int]
) -> list[dict]:
    """Where hyperband stopped a run (at its stop epoch), and where failed runs ended."""
    stopped, failed = [], []
    for i in shown:
        run, s = sweep.runs[i], series[i]
        name = esc(run_name(run) or f"run {i}")
        last = max(k for k, v in enumerate(s) if v is not None)
        why = esc(why_stopped(run, sweep.goal))
        stop = run.stop
        if stop is not None:
            # marked on the run's line where it stopped; the hover says what was judged
            epoch = stop.epoch
            x = epoch if isinstance(epoch, int) and 1 <= epoch <= len(s) else last + 1
            y = s[x - 1] if s[x - 1] is not None else s[last]
            stopped.append((x, y, f"{name}<br>{why}"))
        elif run.state in (RunState.FAILED, RunState.CRASHED, RunState.PREEMPTED):
            failed.append((last + 1, s[last], f"{name}<br>{why or esc(run.state.value)}"))
    traces = []
    if stopped:
        marker = {"symbol": "circle-open", "size": 9, "color": "#c05621", "line": {"width": 2}}
        traces.append(_marker_trace("stopped by hyperband", stopped, marker))  # type: ignore[arg-type]
    if failed:
        marker = {"symbol": "x-thin-open", "size": 11, "color": "#c81e1e", "line": {"width": 2.5}}
        traces.append(_marker_trace("failed", failed, marker))  # type: ignore[arg-type]
    return traces


def _band_overlays(
    sweep: SweepView, longest: int
) -> tuple[list[dict], list[dict], list[dict], list[float]]:
    """(shapes, annotations, threshold traces, threshold values) for hyperband's bands.

    A band no run has reached (beyond ``longest`` epochs, no threshold yet) is left out: it
    would only stretch the epoch axis past the data.
    """
    shapes, annotations, points = [], [], []
    worse = "above" if sweep.goal == "minimize" else "below"
    for band in sweep.bands:
        b = band.band
        if not isinstance(b, int) or isinstance(b, bool):
            continue
        if b > longest and finite(band.threshold) is None:
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
                "yanchor": "bottom",  # above the plot, clear of the curves
                "xanchor": "center",
                "font": {"size": 10, "color": "#7b8794"},
            }
        )
        threshold = finite(band.threshold)
        if threshold is not None:
            text = (
                f"band {b} threshold: {esc(sweep.metric)} {fmt(threshold)}<br>"
                f"running runs {worse} it at epoch {b} are stopped"
            )
            points.append((b, threshold, text))
    traces = []
    if points:  # the values show on hover (and in the engine section), never over a curve
        marker = {"symbol": "line-ew-open", "size": 30, "color": "#1f2933", "line": {"width": 3.5}}
        traces.append(_marker_trace("band threshold", points, marker))
    return shapes, annotations, traces, [p[1] for p in points]


def _colorbar_trace(sweep: SweepView) -> list[dict]:
    """An invisible trace that only draws the colour bar of the run lines."""
    rng = sweep.color_range()
    if rng is None:
        return []
    lo, hi = min(rng), max(rng)
    colorbar = {
        "title": {"text": f"best {esc(sweep.metric)}", "side": "right"},
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
                "cmin": short(lo),
                "cmax": short(hi if hi > lo else lo + 1),
                "colorscale": colorscale(sweep),
                "showscale": True,
                "colorbar": colorbar,
            },
        }
    ]


def _curves_layout(sweep: SweepView, log_y: bool, shapes: list, annotations: list) -> dict:
    metric = esc(sweep.metric)
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
        "font": FONT,
        "height": 460,
        "margin": {"l": 64, "r": 20, "t": 60, "b": 48},
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
        "legend": {  # at the top, above the band labels
            "orientation": "h",
            "x": 0,
            "yref": "container",
            "y": 1.0,
            "yanchor": "top",
            "xanchor": "left",
            "bgcolor": "rgba(255,255,255,0.8)",
        },
        "shapes": shapes,
        "annotations": annotations,
        "updatemenus": [scale_buttons],
        # every run line shares these, so they are written once
        "template": {"data": {"scatter": [run_line]}},
    }


# the runs whose curves are drawn, best first (the leaderboard and export have every run)
CURVES_DRAWN = 200


def curves_figure(sweep: SweepView) -> tuple[dict[str, Any] | None, list[int], str | None]:
    """(figure, run index per run trace, note): metric per epoch, stops and thresholds."""
    if sweep.metric is None:
        return None, [], "The sweep has no metric to plot."
    series = [sweep.series(r) for r in sweep.runs]
    shown = [i for i, s in enumerate(series) if any(v is not None for v in s)]
    if not shown:
        return None, [], f"No run has logged {sweep.metric} yet."
    shown_set = set(shown)
    order = [i for i in reversed(sweep.ranked()) if i in shown_set]  # best drawn last, on top
    order = order[-CURVES_DRAWN:]  # a page of thousands of lines shows none of them
    shown = sorted(order)
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
    missing = len(sweep.runs) - len(shown_set)
    notes = []
    if len(order) < len(shown_set):
        notes.append(
            f"The best {len(order):,} of the {len(shown_set):,} runs that logged "
            f"{sweep.metric} are drawn."
        )
    if missing:
        notes.append(f"{plural(missing, 'run')} without a logged {sweep.metric}.")
    return figure, order, " ".join(notes) or None
