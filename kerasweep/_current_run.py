"""The run in progress: held explicitly while its function runs, for the code it calls.

The local controller's run handle holds itself here for as long as the run's function (or
program) runs (:func:`holding`, entered by ``LocalRun.recording``). Code below the controller
asks :func:`stop_requested` (the default stop check of
:class:`~kerasweep._callbacks.SweepMetricsLogger`); the controller's own
``kerasweep.local.current_run`` and ``kerasweep.local.stop_requested`` read the same.

Where the run in progress keeps its checkpoints (:func:`checkpoint_place`) is asked of the
held run (its ``checkpoint_place()``, a local agent's run handle has one), else read from the
variables a local agent sets for a program run (:data:`CHECKPOINT_DIR_ENV`,
:data:`CHECKPOINT_EVERY_ENV`). Outside both: None, no checkpoints.

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

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = [
    "CHECKPOINT_DIR_ENV",
    "CHECKPOINT_EVERY_ENV",
    "CheckpointPlace",
    "StoppableRun",
    "checkpoint_place",
    "current",
    "holding",
    "stop_requested",
]

#: A program run's checkpoint directory, set by its agent.
CHECKPOINT_DIR_ENV = "KERASWEEP_RUN_CHECKPOINT_DIR"
#: How often a program run saves (epochs; 0: never), set by its agent.
CHECKPOINT_EVERY_ENV = "KERASWEEP_RUN_CHECKPOINT_EVERY"


@dataclass(frozen=True)
class CheckpointPlace:
    """Where the run in progress keeps its checkpoints, and every how many epochs."""

    directory: str
    every: int = 1

    def environ(self) -> dict[str, str]:
        """The variables that hand this place to a program run.

        >>> CheckpointPlace("/ckpt/s/r", 2).environ()["KERASWEEP_RUN_CHECKPOINT_EVERY"]
        '2'
        """
        return {CHECKPOINT_DIR_ENV: self.directory, CHECKPOINT_EVERY_ENV: str(self.every)}


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


def checkpoint_place() -> CheckpointPlace | None:
    """Where the run in progress keeps its checkpoints; None outside a run that has one.

    >>> checkpoint_place() is None
    True
    """
    run = _CURRENT.get()
    asks = getattr(run, "checkpoint_place", None)
    place = asks() if callable(asks) else None
    if place is not None:
        return place
    directory = os.environ.get(CHECKPOINT_DIR_ENV)
    if not directory:
        return None
    try:
        every = int(os.environ.get(CHECKPOINT_EVERY_ENV) or 1)
    except ValueError:
        every = 1
    return CheckpointPlace(directory, max(every, 0))


def stop_requested() -> bool:
    """True once the run in progress should stop; False outside one."""
    run = _CURRENT.get()
    return run is not None and run.should_stop()
