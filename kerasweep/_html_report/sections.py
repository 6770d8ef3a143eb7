"""The report's HTML sections: header cards, importance table, leaderboard, engine, config.

Each function returns markup built from escaped text only.

Example:
    >>> "<table" in leaderboard_html(SweepView(load_sweep("k3x9q2ab")), {})  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kerasweep._html_report.format import (
    clip,
    esc,
    finite,
    fmt,
    fmt_duration,
)
from kerasweep._html_report.importance import importance_table
from kerasweep._html_report.view import MISSING, SweepView, run_name, why_stopped
from kerasweep.local._records import RunState, parse_time

# the order the report lists states in: the runs that ended by themselves first
STATE_ORDER = (
    RunState.FINISHED,
    RunState.STOPPED,
    RunState.RUNNING,
    RunState.PENDING,
    RunState.PREEMPTED,
    RunState.FAILED,
    RunState.CRASHED,
)


def state_badge(state: Any) -> str:
    s = str(state or "unknown")
    css = s if s in STATE_ORDER else "unknown"
    return f'<span class="state state-{css}">{esc(s)}</span>'


def state_chips(counts: Mapping[str, int]) -> str:
    """A badge and a count per state, in :data:`STATE_ORDER`."""
    states = sorted(counts, key=lambda s: (*STATE_ORDER, s).index(s))
    return "".join(f'<span class="chip">{state_badge(s)}<b>{counts[s]}</b></span>' for s in states)


def header_html(sweep: SweepView) -> str:
    info = sweep.sweep
    counts: dict[str, int] = {}
    for run in sweep.runs:
        counts[run.state.value] = counts.get(run.state.value, 0) + 1
    chips = state_chips(counts)
    sub = [f'<span class="mono">{esc(info.id)}</span>']
    if info.project:
        sub.append(f"project {esc(info.project)}")
    if info.state:
        sub.append(f"sweep {esc(info.state)}")
    created = parse_time(info.created_at)
    if created:
        sub.append(f"created {created.strftime('%Y-%m-%d %H:%M %Z').strip()}")
    best = sweep.best()
    if best is not None:
        run = sweep.runs[best]
        best_card = (
            f'<div class="label">Best {esc(sweep.metric)} ({esc(sweep.goal)})</div>'
            f'<div class="big">{esc(fmt(sweep.values[best]))}</div>'
            f'<div class="muted">{esc(run_name(run))}'
            f" · {esc(fmt(run.epochs))} epochs</div>"
        )
    elif sweep.metric:
        best_card = (
            f'<div class="label">Best {esc(sweep.metric)}</div><div class="big">—</div>'
            '<div class="muted">no run has a finite value yet</div>'
        )
    else:
        best_card = '<div class="label">Metric</div><div class="big">—</div>'
        best_card += '<div class="muted">the sweep config names none</div>'
    method = sweep.method
    early = sweep.early_terminate
    engine_line = "no early termination"
    if early:
        engine_line = (
            esc(early.get("type") or "early termination")
            + " "
            + ", ".join(f"{esc(k)} {esc(fmt(v))}" for k, v in early.items() if k != "type")
        )
    epochs = sum(run.epochs for run in sweep.runs)
    seconds = [run.seconds for run in sweep.runs if run.seconds is not None]
    said = info.metric_notice()
    notice = f'\n  <p class="notice" role="alert">{esc(said)}</p>' if said else ""
    return f"""
<header class="top">
  <div class="eyebrow">kerasweep · sweep report</div>
  <h1>{esc(sweep.title)}</h1>
  <div class="sub">{" · ".join(sub)}</div>
  <div class="cards">
    <div class="card"><div class="label">Runs</div><div class="big">{len(sweep.runs)}</div>
      <div class="chips">{chips}</div></div>
    <div class="card best">{best_card}</div>
    <div class="card"><div class="label">Search</div><div class="big">{esc(method)}</div>
      <div class="muted">{engine_line}</div>
      <div class="muted">{esc(sweep.search_summary())}</div></div>
    <div class="card"><div class="label">Epochs trained</div><div class="big">{epochs}</div>
      <div class="muted">{fmt_duration(sum(seconds)) if seconds else "—"} of run time</div></div>
  </div>{notice}
</header>"""


def importance_html(sweep: SweepView) -> str:
    rows, constant, note = importance_table(sweep)
    if note:
        body = f'<p class="note">{esc(note)}</p>'
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
                f'<tr><td class="feat">{esc(r["feature"])}</td>'
                f'<td class="num imp"><div class="ibar" style="width:{width:.1f}%"></div>'
                f"<span>{r['importance']:.3f}</span></td>{corr_cell}</tr>"
            )
        body = (
            '<table class="importance"><thead><tr><th>Parameter</th><th class="num">Importance'
            '</th><th class="num">Correlation</th></tr></thead><tbody>'
            + "".join(trs)
            + "</tbody></table>"
            f'<p class="note">Correlation: linear, with {esc(sweep.metric)}; green where a '
            f"higher value goes with a better {esc(sweep.metric)} ({good} when you "
            f"{esc(sweep.goal)}). Importance: random-forest feature importance (scikit-learn, "
            "100 trees) with the parameters as inputs; a categorical parameter counts as one "
            "0/1 feature per value, log-scale parameters as log10.</p>"
        )
    if constant:
        names = ", ".join(esc(c) for c in constant)
        body += f'<p class="note">Same in every run, left out: {names}.</p>'
    lacking = sweep.scored()[2] if sweep.metric else []
    if lacking:
        names = ", ".join(esc(p.name) for p in lacking)
        body += f'<p class="note">Not in every run, left out: {names}.</p>'
    return body


def _sort_key(value: Any) -> str:
    """A ``data-v`` attribute value for numeric sorting ("" sorts last)."""
    number = finite(value)
    return "" if number is None else repr(number)


# the leaderboard's rows (a page of tens of thousands of rows is too slow to open)
LEADERBOARD_ROWS = 1_000


def leaderboard_html(sweep: SweepView, trace_of: dict[int, int]) -> str:
    """The runs best first; parameters that vary get a column, constant ones a note."""
    varying = [p for p in sweep.params if not p.constant or len(sweep.runs) < 2]
    constant = [p for p in sweep.params if p not in varying]
    metric = esc(sweep.metric) if sweep.metric else None
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
            f"{esc(p.name)}</th>"
        )
    best = sweep.best()
    body = []
    ranked = sweep.ranked()
    for rank, i in enumerate(ranked[:LEADERBOARD_ROWS], start=1):
        run = sweep.runs[i]
        value = sweep.values[i]
        name, rid = run_name(run), run.id
        who = f'<span class="run-name">{esc(name)}</span>'
        if rid and rid != name:
            who += f' <span class="run-id mono">{esc(rid)}</span>'
        cells = [
            f'<td class="num" data-v="{rank}">{rank if value is not None else ""}</td>',
            f"<td>{who}</td>",
            f"<td>{state_badge(run.state.value)}</td>",
        ]
        if metric:
            cells.append(
                f'<td class="num metric" data-v="{_sort_key(value)}">{esc(fmt(value))}</td>'
            )
        epochs, seconds = run.epochs, run.seconds
        why = why_stopped(run, sweep.goal)
        cells += [
            f'<td class="num" data-v="{_sort_key(epochs)}">{esc(fmt(epochs))}</td>',
            f'<td class="num" data-v="{_sort_key(seconds)}">{fmt_duration(seconds)}</td>',
            f'<td class="why" title="{esc(why)}">{esc(clip(why, 200))}</td>',
        ]
        for p in varying:
            if not p.present(i):
                cells.append('<td class="muted">—</td>')
            elif p.kind == "numeric":
                raw = p.values[i]
                cells.append(f'<td class="num" data-v="{_sort_key(raw)}">{esc(fmt(raw))}</td>')
            else:
                cells.append(f"<td>{esc(fmt(p.values[i]))}</td>")
        attrs = f' data-trace="{trace_of[i]}"' if i in trace_of else ""
        cls = ' class="best"' if i == best else ""
        body.append(f"<tr{cls}{attrs}>{''.join(cells)}</tr>")
    note = ""
    if len(ranked) > LEADERBOARD_ROWS:
        note += (
            f'<p class="note">The best {LEADERBOARD_ROWS:,} of {len(ranked):,} runs are listed; '
            "<code>kerasweep export</code> writes them all.</p>"
        )
    if constant:
        fixed = ", ".join(
            f"{esc(p.name)} = {esc(fmt(next(v for v in p.values if v is not MISSING)))}"
            for p in constant
        )
        note += f'<p class="note">Same in every run: {fixed}.</p>'
    return (
        '<div class="table-wrap"><table class="leaderboard" id="leaderboard"><thead><tr>'
        + "".join(head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
        + note
    )


def config_yaml(config: Mapping[str, Any]) -> str:
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


def engine_html(sweep: SweepView) -> str:
    info = sweep.sweep
    rows = [("Method", sweep.method)]
    rows.append(("Seed", "unseeded" if sweep.seed is None else str(sweep.seed)))
    rows.append(
        ("Distinct configurations", f"{sweep.distinct_configurations()} of {len(sweep.runs)} runs")
    )
    if sweep.metric:
        rows.append(("Metric", f"{sweep.metric} ({sweep.goal})"))
    else:
        rows.append(("Metric", "none"))
    early = sweep.early_terminate
    if early:
        rows.append(("Early termination", ", ".join(f"{k}: {fmt(v)}" for k, v in early.items())))
    else:
        rows.append(("Early termination", "none"))
    bands = [
        f"epoch {fmt(b.band)}: "
        + (fmt(finite(b.threshold)) if finite(b.threshold) is not None else "not reached")
        for b in sweep.bands
    ]
    if bands:
        rows.append(("Band thresholds", " · ".join(bands)))
    rows.append(("Sweep state", info.state or "?"))
    created = parse_time(info.created_at)
    if created:
        rows.append(("Created", created.strftime("%Y-%m-%d %H:%M:%S %Z").strip()))
    elif info.created_at:
        rows.append(("Created", info.created_at))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<dl class="engine">{dl}</dl>'
