"""Did-you-mean: the known name a mistyped one most likely meant.

:func:`closest` is the one rule for suggestions: a config key ``sweep_train`` does not read,
a sweep metric no run logged.

Example:
    >>> closest("valloss", ["epochs", "loss", "val_loss", "val_acc"])
    'val_loss'
    >>> did_you_mean("learning_rat", ["batch_size", "learning_rate"])
    " (did you mean 'learning_rate'?)"
    >>> closest("zzz", ["loss"]) is None, did_you_mean("zzz", ["loss"])
    (True, '')
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name`` (case aside), or None when none is close."""
    choices = {str(k).lower(): str(k) for k in known}
    found = difflib.get_close_matches(str(name).lower(), list(choices), n=1, cutoff=0.6)
    return choices[found[0]] if found else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest known name, or an empty string."""
    found = closest(name, known)
    return "" if found is None else f" (did you mean {found!r}?)"
