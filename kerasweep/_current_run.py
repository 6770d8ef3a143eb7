"""The run in progress: held explicitly while its function runs, for the code it calls.

The local controller's run handle holds itself here for as long as the run's function (or
program) runs (:func:`holding`, entered by ``LocalRun.recording``). Code below the controller
asks :func:`stop_requested` (the default stop check of
:class:`~kerasweep._callbacks.SweepMetricsLogger`); the controller's own
``kerasweep.local.current_run`` and ``kerasweep.local.stop_requested`` read the same.

The run is held in a :class:`contextvars.ContextVar`: it is seen by the code the holder
calls, in its thread, and nowhere else (a thread the function starts begins without it).

Example:
    >>> class Run:
    ...     def should_stop(self): return True
    >>> stop_requested()
    False
    >>> with holding(Run()):
    ...     stop_requested()
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol, TypeVar

__all__ = ["StoppableRun", "current", "holding", "stop_requested"]


class StoppableRun(Protocol):
    """What is held: a run that can say when it should end."""

    def should_stop(self) -> bool:
        """True once the run should end."""


Run = TypeVar("Run", bound=StoppableRun)

_CURRENT: ContextVar[StoppableRun | None] = ContextVar("kerasweep_current_run", default=None)


def current() -> StoppableRun | None:
    """The run in progress, or None outside one."""
    return _CURRENT.get()


@contextmanager
def holding(run: Run) -> Iterator[Run]:
    """Inside the block, ``run`` is the run in progress (the one held before comes back)."""
    token = _CURRENT.set(run)
    try:
        yield run
    finally:
        _CURRENT.reset(token)


def stop_requested() -> bool:
    """True once the run in progress should stop; False outside one."""
    run = _CURRENT.get()
    return run is not None and run.should_stop()
