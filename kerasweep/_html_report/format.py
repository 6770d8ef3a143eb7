"""How values read on the report's pages: escaping, numbers, durations, colours.

Example:
    >>> fmt(0.123456), fmt(None), esc("<b>")
    ('0.1235', '—', '&lt;b&gt;')
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

from kerasweep._text import format_value as fmt  # a value's text, as everywhere

__all__ = [
    "NO_METRIC",
    "SCALE",
    "clip",
    "esc",
    "finite",
    "fmt",
    "fmt_duration",
    "plural",
    "scale_color",
    "script_json",
    "short",
]

# Best end first: dark blue for the best runs, orange for the worst (readable on white).
SCALE = ["#0d0887", "#5302a3", "#8b0aa5", "#b83289", "#db5c68", "#f48849", "#f8a53a"]
NO_METRIC = "#b7bcc4"


def esc(value: Any) -> str:
    """HTML-escape any value's text (also right for plotly text, which decodes entities)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def finite(value: Any) -> float | None:
    """The value as a float when it is a finite real number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def short(value: float) -> float:
    """Six significant digits: enough for any chart, and short JSON."""
    return float(f"{value:.6g}")


def script_json(obj: Any) -> str:
    """Compact JSON that is safe as the text of a ``<script>`` element."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def scale_color(t: float) -> str:
    """Colour at ``t`` in [0, 1] on the report's scale (0 = best)."""
    t = min(max(t, 0.0), 1.0) * (len(SCALE) - 1)
    i = min(int(t), len(SCALE) - 2)
    a, b = SCALE[i], SCALE[i + 1]
    f = t - i
    rgb = [round(int(a[k : k + 2], 16) * (1 - f) + int(b[k : k + 2], 16) * f) for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"
