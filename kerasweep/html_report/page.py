"""The report as one self-contained HTML page (plotly's JavaScript inlined once).

Example:
    >>> html = render_report(store.snapshot("k3x9q2ab"))  # doctest: +SKIP
    >>> html.startswith("<!DOCTYPE html>")  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from kerasweep.html_report import template
from kerasweep.html_report.figures import curves_figure, parcoords_figure
from kerasweep.html_report.format import esc, fmt, script_json
from kerasweep.html_report.sections import (
    config_yaml,
    engine_html,
    header_html,
    importance_html,
    leaderboard_html,
)
from kerasweep.html_report.view import SweepView


def render_report(snapshot: Mapping[str, Any]) -> str:
    """The sweep report as one self-contained HTML page (plotly's JavaScript inlined once).

    Args:
        snapshot: a sweep snapshot, as ``kerasweep.local.store.Store.snapshot`` returns.

    Returns:
        The page's HTML text; it needs no network and no server to display.
    """
    sweep = SweepView(snapshot)
    parcoords, pc_runs, pc_note = parcoords_figure(sweep)
    curves, curve_runs, curves_note = curves_figure(sweep)
    trace_of = {run_i: k for k, run_i in enumerate(curve_runs)}
    runs_info = []
    for i, run in enumerate(sweep.runs):
        runs_info.append(
            {
                "name": str(run.get("name") or run.get("id") or ""),
                "id": str(run.get("id") or ""),
                "state": str(run.get("state") or ""),
                "metric": fmt(sweep.values[i]),
                "params": [[p.name, fmt(p.values[i])] for p in sweep.params if p.present(i)],
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
    return template.page(
        title=esc(f"{title} · kerasweep sweep report"),
        header=header_html(sweep),
        parcoords_note=esc(pc_note) if pc_note else "",
        curves_note=esc(curves_note) if curves_note else "",
        importance=importance_html(sweep),
        leaderboard=leaderboard_html(sweep, trace_of),
        engine=engine_html(sweep),
        config_yaml=esc(config_yaml(sweep.config)),
        data_json=script_json(data),
        plotly_js=get_plotlyjs(),
        generated=esc(datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    )
