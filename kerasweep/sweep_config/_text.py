"""How values, key paths and suggestions are written in one-line config errors.

Example:
    >>> format_path(("parameters", "lr", "values", 0))
    'parameters.lr.values[0]'
    >>> did_you_mean("rnadom", ("grid", "random", "bayes"))
    " (did you mean 'random'?)"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def format_path(path: tuple) -> str:
    """A key path as dotted text, list indexes in brackets."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def show(value: Any, limit: int = 60) -> str:
    """A value's repr, on one line, clipped to ``limit`` characters."""
    return clip(repr(value), limit)


def clip(text: str, limit: int = 60) -> str:
    """Text on one line, clipped to ``limit`` characters with ``...``."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def count(n: int) -> str:
    """A count with thousands separators, or in scientific notation when astronomical."""
    return f"{n:,}" if n < 10**15 else f"{float(n):.1e}"


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """A ``(did you mean 'x'?)`` hint when a close choice exists, else ``""``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def article(noun: str) -> str:
    """``noun`` with its indefinite article: ``an int``, ``a float``."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def looks_numeric(text: str) -> bool:
    """Whether a string reads as a number (``"1e-5"``)."""
    try:
        float(text)
    except ValueError:
        return False
    return True
