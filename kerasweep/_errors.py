"""The root of every error kerasweep raises: :class:`KerasweepError`.

Each error of the package derives from it and keeps the builtin base it has always had
(``DatasetError`` is still a ``ValueError``, ``UnknownSweepError`` still a ``KeyError``), so
``except KerasweepError`` catches anything kerasweep refuses, and older ``except`` clauses
still work.
"""

from __future__ import annotations

__all__ = ["KerasweepError"]


class KerasweepError(Exception):
    """Something kerasweep refuses or cannot do, said in one line.

    Example:
        >>> import kerasweep
        >>> try:
        ...     kerasweep.load_sweep_config({"method": "grid", "parameters": {}})
        ... except kerasweep.KerasweepError as error:
        ...     print(type(error).__name__, isinstance(error, ValueError))
        SweepConfigError True
    """
