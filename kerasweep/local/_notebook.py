"""A local agent's progress in a notebook: one display, updated in place.

In Jupyter, JupyterLab, VS Code and Colab (an IPython kernel with a front end),
:func:`~kerasweep.local.local_agent` shows :class:`NotebookProgress`: the runs so far (state,
metric, epochs, parameters, why stopped), the run in progress (epoch i/N, the last metric
value) and, once the agent ends, the sweep's leaderboard. Each update replaces the display's
HTML and its text form, so a front end without HTML shows the same table as text.

Example:
    >>> local_agent(sweep_id, count=4)  # in a notebook cell  # doctest: +SKIP
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kerasweep._quiet import in_notebook
from kerasweep._text import format_value
from kerasweep.local._records import RunRecord, SweepRecord, ranked
from kerasweep.local._run_tables import runs_html, runs_text

__all__ = ["NotebookProgress", "in_notebook"]

_LINE_STYLE = 'style="font-size:13px;padding:4px 0;white-space:pre"'
_ENDED = {
    "count": "done",
    "exhausted": "done: the sweep has no more runs",
    "failures": "stopped: too many failed runs in a row",
    "interrupted": "interrupted",
}


class NotebookProgress:
    """The :class:`~kerasweep.local._progress.ProgressObserver` of a notebook: one display.

    Args:
        min_interval: Seconds between redraws for epoch rows (run starts and ends always
            redraw).
    """

    def __init__(self, *, min_interval: float = 0.5) -> None:
        self.min_interval = min_interval
        self._runs: dict[str, RunRecord] = {}
        self._epochs: dict[str, int] = {}  # metric rows seen per run
        self._current: tuple[str, str] | None = None  # run id, its progress line
        self._handle: Any = None
        self._drawn = 0.0
        self._title = ""
        self._footer = ""

    # -- events -------------------------------------------------------------------------------

    def run_started(
        self, sweep: SweepRecord, run: RunRecord, index: int, count: int | None
    ) -> None:
        total = f"/{count}" if count else ""
        self._title = f"sweep {sweep.id}  {sweep.method}  run {index}{total}"
        self._runs[run.id] = run
        self._current = (run.id, f"{run.name or run.id}: starting")
        self._draw(sweep)

    def epoch_logged(self, sweep: SweepRecord, run: RunRecord, row: Mapping[str, Any]) -> None:
        metric = sweep.metric
        if metric is None or metric.raw_in(row) is None:
            return
        seen = self._epochs.get(run.id, 0) + 1
        self._epochs[run.id] = seen
        epochs = run.params.get("epochs")
        of = f"/{epochs}" if isinstance(epochs, int) and not isinstance(epochs, bool) else ""
        value = format_value(metric.raw_in(row))
        self._current = (run.id, f"{run.name or run.id}: epoch {seen}{of}  {metric.name}={value}")
        if time.monotonic() - self._drawn >= self.min_interval:
            self._draw(sweep)

    def run_ended(
        self, sweep: SweepRecord, run: RunRecord, index: int, count: int | None, seconds: float
    ) -> None:
        self._runs[run.id] = run
        self._current = None
        self._draw(sweep)

    def sweep_ended(self, sweep: SweepRecord, runs: Sequence[RunRecord], reason: str) -> None:
        self._runs = {run.id: run for run in ranked(runs, sweep.metric)}
        self._current = None
        metric = sweep.metric
        goal = f"  {metric.name} ({metric.goal})" if metric else ""
        self._title = f"sweep {sweep.id}  {sweep.method}{goal}: leaderboard"
        n = len(runs)
        self._footer = f"{n} run{'' if n == 1 else 's'}; agent {_ENDED.get(reason, reason)}"
        self._draw(sweep)

    # -- drawing ------------------------------------------------------------------------------

    def _bundle(self, sweep: SweepRecord) -> dict[str, str]:
        runs = list(self._runs.values())
        lines = [self._title, runs_text(sweep, runs)]
        parts = [runs_html(sweep, runs, caption=self._title)]
        for line in [self._current[1] if self._current else "", self._footer]:
            if line:
                lines.append(line)
                parts.append(f"<div {_LINE_STYLE}>{html.escape(line)}</div>")
        return {
            "text/plain": "\n".join(lines),
            "text/html": f'<div class="kerasweep-progress">{"".join(parts)}</div>',
        }

    def _draw(self, sweep: SweepRecord) -> None:
        from IPython.display import display

        bundle = self._bundle(sweep)
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        self._drawn = time.monotonic()
