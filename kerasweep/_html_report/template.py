"""The report page's HTML skeleton (used by :mod:`.page` and the dashboard's pages), with
the stylesheet and script of :mod:`.assets`.

Every argument of :func:`page` must already be safe: HTML-escaped text, markup built from
escaped text, or JSON escaped for a ``<script>`` element. The page's own script reads that JSON
and draws the figures with plotly; it builds tooltips with ``textContent`` only.
"""

from __future__ import annotations

from collections.abc import Mapping

from kerasweep._html_report.assets import CSS, SCRIPT

_DOCUMENT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kerasweep">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
{body}<footer>{footer}</footer>
</main>
<div id="kw-tip"></div>
<script type="application/json" id="kw-data">{data_json}</script>
{scripts}
</body>
</html>
"""

_REPORT = """{above}<div data-part="header">{header}</div>
<nav class="toc"><a href="#parallel">Parallel coordinates</a>
<a href="#progress">Metric per epoch</a>
<a href="#importance">Parameter importance</a>
<a href="#runs">Leaderboard</a>
<a href="#config">Sweep config</a></nav>
<section class="panel" id="parallel">
  <h2>Parallel coordinates</h2>
  <p class="hint">One line per run, coloured by its best metric. Drag along an axis to filter;
  hover a line to see the run.</p>
  <div id="parcoords" class="plot"></div>
  <p class="note" data-part="parcoords_note">{parcoords_note}</p>
</section>
<div class="grid2">
<section class="panel" id="progress">
  <h2>Metric per epoch</h2>
  <p class="hint">Every run; circles mark where hyperband stopped a run, bars the band
  thresholds. Hover a line to see the run.</p>
  <div id="curves" class="plot"></div>
  <p class="note" data-part="curves_note">{curves_note}</p>
</section>
<section class="panel" id="importance">
  <h2>Parameter importance</h2>
  <p class="hint">Which parameters predict the metric, as in W&amp;B's sweep dashboard.</p>
  <div data-part="importance">{importance}</div>
</section>
</div>
<section class="panel" id="runs">
  <h2>Leaderboard</h2>
  <p class="hint">Best first. Click a column to sort; hover a row to find the run in the
  chart above.</p>
  <div data-part="leaderboard">{leaderboard}</div>
</section>
<div class="grid-config">
<section class="panel" id="engine">
  <h2>Engine</h2>
  <div data-part="engine">{engine}</div>
</section>
<section class="panel" id="config">
  <h2>Sweep config</h2>
  <div data-part="config">{config}</div>
</section>
</div>
"""

PARTS = ("header", "parcoords_note", "curves_note", "importance", "leaderboard", "engine", "config")


def inline_scripts(plotly_js: str) -> str:
    """The page's script elements with plotly's bundle and :data:`SCRIPT` inlined."""
    return f"<script>{plotly_js}</script>\n<script>{SCRIPT}</script>"


def document(*, title: str, body: str, data_json: str, scripts: str, footer: str) -> str:
    """A page of kerasweep's: the style, ``body`` and the footer in ``<main>``, then the
    tooltip, the data the script reads and the ``scripts`` (every argument already safe)."""
    return _DOCUMENT.format(
        title=title, css=CSS, body=body, footer=footer, data_json=data_json, scripts=scripts
    )


def report_body(parts: Mapping[str, str], *, above: str = "") -> str:
    """The report's sections, each of :data:`PARTS` in its ``data-part`` element, after
    ``above``."""
    return _REPORT.format(above=above, **{name: parts[name] for name in PARTS})


def page(
    *,
    title: str,
    parts: Mapping[str, str],
    data_json: str,
    scripts: str,
    footer: str,
    above: str = "",
) -> str:
    """Assemble the report's page from safe parts (see the module docstring).

    Args:
        title: the ``<title>`` text, escaped.
        parts: markup of each of :data:`PARTS`, by name; each lands in the element marked
            ``data-part="name"``, which a live page replaces when the part changes.
        data_json: what the script reads (:func:`.format.script_json` of it).
        scripts: the ``<script>`` elements that load plotly and :data:`SCRIPT`.
        footer: the footer's markup. above: markup before the header (a live page's links).
    """
    body = report_body(parts, above=above)
    return document(title=title, body=body, data_json=data_json, scripts=scripts, footer=footer)
