"""The one error a sweep config can raise: :class:`SweepConfigError`, one line."""

from __future__ import annotations

from typing import Any

from kerasweep._errors import KerasweepError

__all__ = ["SweepConfigError"]


class SweepConfigError(KerasweepError, ValueError):
    """A sweep config that cannot be run, described in one line.

    Attributes:
        source: The file path as given, or ``"<dict>"`` for a mapping.
        key: Dotted path of the offending key (``"parameters.lr.min"``), or None when the
            problem is the file or the document as a whole.
        value: The offending value (None when it is missing).
        line: 1-based line in the file, when known.

    Example:
        >>> from kerasweep.sweep_config import load_sweep_config
        >>> try:
        ...     load_sweep_config({"method": "grid", "parameters": {"lr": {"min": 1.0,
        ...                                                         "max": 0.1}}})
        ... except SweepConfigError as err:
        ...     print(err)
        <dict>: parameters.lr.min: 1.0 is greater than max 0.1
    """

    def __init__(
        self,
        source: str,
        key: str | None,
        value: Any,
        problem: str,
        *,
        line: int | None = None,
    ) -> None:
        self.source = source
        self.key = key
        self.value = value
        self.problem = problem
        self.line = line
        where = f"{source}:{line}" if line else source
        text = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        super().__init__(" ".join(text.split()))
