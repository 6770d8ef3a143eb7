"""How a metric or parameter value reads as text, wherever it is shown.

:func:`format_value` is the one way a value is written: the agent's status lines,
``kerasweep show``, the report and the dashboard, and hyperband's stop reasons
(:meth:`kerasweep.local._records.StopReason.sentence`) all use it.

Example:
    >>> format_value(0.123456), format_value(None), format_value(float("nan"))
    ('0.1235', '—', 'NaN')
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["format_value"]


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
