"""The dashboard's first page: every sweep in the store, with its runs by state and best metric.

Example:
    >>> rows = sweep_rows(StoreReader("kerasweep.db", create=False))  # doctest: +SKIP
    >>> rows[0]["runs"]  # doctest: +SKIP
    {'finished': 7, 'stopped': 5}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kerasweep._html_report.format import esc, fmt
from kerasweep._html_report.sections import state_badge, state_chips
from kerasweep.local._records import parse_time
from kerasweep.local._results import sweep_summaries

__all__ = ["sweep_href", "sweep_list_html", "sweep_rows"]


def sweep_href(sweep_id: str) -> str:
    """The path of a sweep's page (the id percent-quoted)."""
    return "/sweeps/" + quote(str(sweep_id), safe="")


def sweep_rows(store: Any) -> list[dict[str, Any]]:
    """One plain dict per sweep, oldest first: ``id``, ``name``, ``state``, ``method``,
    ``metric`` (``{"name", "goal"}`` or None), ``runs`` (count by state), ``best`` (the
    value of the best finished or stopped run, or None) and ``created_at``; ``state`` is
    ``running`` only while an agent is live (``idle`` or ``finished`` otherwise), as in
    ``kerasweep ls``."""
    rows = []
    for summary in sweep_summaries(store):
        row = summary.to_dict()
        rows.append({key: row[key] for key in _ROW_KEYS})
    return rows


_ROW_KEYS = ("id", "name", "state", "method", "metric", "runs", "best", "created_at")


def sweep_list_html(rows: list[dict[str, Any]]) -> str:
    """The sweeps as a table, newest first, each linking to its page (escaped markup)."""
    if not rows:
        return '<p class="note">No sweeps in this store yet: create one with kerasweep run.</p>'
    head = (
        "<tr><th>Sweep</th><th>State</th><th>Method</th><th>Runs</th>"
        '<th class="num">Best</th><th>Metric</th><th>Created</th></tr>'
    )
    body = []
    for row in reversed(rows):
        name = row["name"] or row["id"]
        who = f'<a class="run-name" href="{esc(sweep_href(row["id"]))}">{esc(name)}</a>'
        if name != row["id"]:
            who += f' <span class="run-id mono">{esc(row["id"])}</span>'
        metric = row["metric"]
        metric_text = f"{metric['name']} ({metric['goal']})" if metric else "—"
        created = parse_time(row["created_at"])
        when = created.strftime("%Y-%m-%d %H:%M %Z").strip() if created else row["created_at"]
        total = sum(row["runs"].values())
        body.append(
            f"<tr><td>{who}</td><td>{state_badge(row['state'])}</td>"
            f"<td>{esc(row['method'])}</td>"
            f'<td><div class="chips"><b>{total}</b>{state_chips(row["runs"])}</div></td>'
            f'<td class="num metric">{esc(fmt(row["best"]))}</td><td>{esc(metric_text)}</td>'
            f"<td>{esc(when)}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="sweeps" id="sweeps"><thead>'
        + head
        + "</thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )
