"""A sweep's runs as one table, as text and as HTML: the notebook's leaderboard and progress.

One row per run: its state, metric (best value), epochs, searched parameters and why it
stopped. Values are shown with :func:`kerasweep._text.format_value`.

Example:
    >>> sweep = load_sweep("k3x9q2ab")  # doctest: +SKIP
    >>> print(runs_text(sweep, sweep.ranked()))  # doctest: +SKIP
    run           state     val_loss  epochs  lr     why stopped
    k3x9q2ab-2    finished  0.31      5       0.01
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from kerasweep._text import format_value
from kerasweep.local._records import RunRecord, RunState, SweepRecord
from kerasweep.sweep_config._parameters import searched_params

__all__ = ["runs_html", "runs_text", "why_stopped"]

_STATE_COLORS = {
    RunState.RUNNING: "#1a73e8",
    RunState.FINISHED: "#188038",
    RunState.STOPPED: "#b06000",
    RunState.FAILED: "#c5221f",
    RunState.CRASHED: "#c5221f",
    RunState.PREEMPTED: "#b06000",
}


def why_stopped(sweep: SweepRecord, run: RunRecord) -> str:
    """Hyperband's stop, or the run's error; empty when it just finished."""
    if run.state is RunState.STOPPED and run.stop:
        return f"hyperband {run.stop.sentence()}"
    return run.error or ""


def _params(sweep: SweepRecord, runs: Sequence[RunRecord]) -> list[str]:
    params = list(searched_params(sweep.config))
    if not params:
        for run in runs:
            params += [k for k in run.params if k not in params]
    return params


def _cells(sweep: SweepRecord, runs: Sequence[RunRecord]) -> tuple[list[str], list[list[str]]]:
    metric, params = sweep.metric, _params(sweep, runs)
    header = ["run", "state", metric.name if metric else "metric", "epochs", *params]
    header.append("why stopped")
    rows = []
    for run in runs:
        row = [run.name or run.id, run.state.value, _fmt(run.best(metric)), str(run.epochs)]
        row += [_fmt(run.params.get(name)) for name in params]
        row.append(why_stopped(sweep, run))
        rows.append(row)
    return header, rows


def _fmt(value: Any) -> str:
    return format_value(value, missing="-", width=24)


def runs_text(sweep: SweepRecord, runs: Sequence[RunRecord]) -> str:
    """The runs as aligned plain text, one line each after a header."""
    header, rows = _cells(sweep, runs)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    lines = ("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
             for cells in [header, *rows])
    return "\n".join(lines)


def runs_html(sweep: SweepRecord, runs: Sequence[RunRecord], *, caption: str = "") -> str:
    """The runs as one self-contained HTML table (inline styles: notebooks drop ``<style>``
    in some front ends), ``caption`` above it."""
    header, rows = _cells(sweep, runs)
    cell = "padding:2px 10px;text-align:left;border-bottom:1px solid #ddd;white-space:nowrap"
    out = ['<table class="kerasweep-runs" style="border-collapse:collapse;font-size:13px">']
    if caption:
        out.append(
            f'<caption style="text-align:left;font-weight:600;padding:4px 0;white-space:pre">'
            f"{html.escape(caption)}</caption>"
        )
    out.append("<thead><tr>")
    out += [f'<th style="{cell}">{html.escape(h)}</th>' for h in header]
    out.append("</tr></thead><tbody>")
    for run, row in zip(runs, rows, strict=True):
        color = _STATE_COLORS.get(run.state, "inherit")
        out.append("<tr>")
        for i, value in enumerate(row):
            style = cell + (f";color:{color}" if i == 1 else "")
            out.append(f'<td style="{style}">{html.escape(value)}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)
