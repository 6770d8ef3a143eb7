"""How a sweep's values and stop reasons read as text, wherever they are shown.

:func:`format_value` is the one way a metric or parameter value is written (the agent's
status lines, ``kerasweep show``, the report and the dashboard), and :func:`stop_sentence`
the one way hyperband's reason for stopping a run is said.

Example:
    >>> format_value(0.123456), format_value(None), format_value(float("nan"))
    ('0.1235', '—', 'NaN')
    >>> stop_sentence(StopReason(band=2, threshold=0.3, value=0.8, epoch=2))
    'band 2: 0.8 vs threshold 0.3'
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from kerasweep.local.records import StopReason

__all__ = ["format_value", "stop_sentence"]


def format_value(
    value: Any, digits: int = 4, *, missing: str = "—", width: int | None = None
) -> str:
    """Display text of a metric or parameter value.

    Floats keep ``digits`` significant digits; None reads ``missing``; other values that are
    not text read as JSON. With ``width``, longer text is cut to that many characters,
    ending in ``...``.

    >>> format_value(True), format_value(3), format_value(float("-inf")), format_value([1, 2])
    ('true', '3', '-∞', '[1, 2]')
    >>> format_value("a" * 10, width=8), format_value(None, missing="-")
    ('aaaaa...', '-')
    """
    if value is None:
        text = missing
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if math.isnan(value):
            text = "NaN"
        elif math.isinf(value):
            text = "∞" if value > 0 else "-∞"
        else:
            text = format(value, f".{digits}g")
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, default=str)
    if width is not None and len(text) > width:
        text = text[: width - 3] + "..."
    return text


def stop_sentence(stop: StopReason, goal: Literal["minimize", "maximize"] | None = None) -> str:
    """Why hyperband stopped a run: its band, its value and the band's threshold.

    With the metric's ``goal``, the sentence says which way the value was worse.

    >>> stop_sentence(StopReason(band=4, threshold=0.9, value=0.85, epoch=4), "maximize")
    'band 4: 0.85 < threshold 0.9'
    """
    relation = "vs" if goal is None else (">" if goal == "minimize" else "<")
    value, threshold = format_value(stop.value), format_value(stop.threshold)
    return f"band {format_value(stop.band)}: {value} {relation} threshold {threshold}"
