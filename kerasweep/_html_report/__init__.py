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

Modules, one job each: :mod:`.view` (the sweep read once), :mod:`.importance`,
:mod:`.figures` (plotly dicts), :mod:`.sections` (HTML parts), :mod:`.template` (skeleton),
:mod:`.assets` (style, script), :mod:`.page` (:func:`render_report`), :mod:`.output`
(:func:`report`).
"""

from __future__ import annotations

from kerasweep._html_report.importance import parameter_importance
from kerasweep._html_report.output import report
from kerasweep._html_report.page import render_report
from kerasweep._html_report.view import leaderboard

__all__ = ["leaderboard", "parameter_importance", "render_report", "report"]
