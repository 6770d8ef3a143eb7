"""Keep Python's cyclic garbage collector off the objects that live as long as the process.

What it buys: importing TensorFlow, Keras and wandb makes hundreds of thousands of objects the
collector tracks, nearly all modules, classes and functions that never die. Every full
collection walks all of them: several while TensorFlow is imported, one at each run's
clean-up, several more at the process's exit. Frozen objects (``gc.freeze()``) are skipped;
this module is the one place in kerasweep that freezes and unfreezes them. What each moment
saves is measured in ``benchmarks/RESULTS.md``.

The rules, one function each:

- :func:`imports_uncollected`: no collection while a block imports. With ``freeze_new``, a
  block that imports that module first (``sweep_train``'s first run importing TensorFlow)
  also freezes what is alive after it. The command line pauses the collector for its import
  of TensorFlow but freezes nothing, so that an agent started after it still finds nothing
  frozen and freezes between runs itself.
- :func:`frozen_between_runs`: an agent's runs. It freezes only in a process where nothing
  was frozen when it started (a process that froze objects itself is left as it is), freezes
  the survivors after each run's collection, unfreezes everything before the next collection
  when an object kept across runs was let go since (:func:`let_go`: the compiled models
  ``sweep_train`` keeps, :mod:`kerasweep._speedups.compiled_models`), and unfreezes
  everything when it ends, so what became garbage meanwhile is collected as usual.
- :func:`freeze_survivors_at_exit`: at exit, once the other ``atexit`` handlers are done,
  whatever is alive is frozen, so the interpreter's shutdown collections skip it. Objects are
  still freed as their last references go; only those kept alive by reference cycles stay
  until the process ends, and Python does not promise ``__del__`` for objects alive at exit
  anyway. ``atexit`` handlers, ``weakref.finalize`` callbacks and ``logging``'s flush still
  run.

What was garbage in a reference cycle at a freeze (a few hundred objects after TensorFlow's
import) is kept until the next ``gc.unfreeze()``.

Example:
    >>> with imports_uncollected(freeze_new="json"):
    ...     import json
    >>> with frozen_between_runs() as collect:  # doctest: +SKIP
    ...     for run in runs:
    ...         run()
    ...         collect(gc.collect)
"""

from __future__ import annotations

import atexit
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["freeze_survivors_at_exit", "frozen_between_runs", "imports_uncollected", "let_go"]

#: How many objects kept across runs were let go so far in this process.
_let_go = 0


@contextmanager
def imports_uncollected(*, freeze_new: str | None = None) -> Iterator[None]:
    """No cyclic garbage collection within the block (for imports: they make little garbage).

    Args:
        freeze_new: A module's name: if the block imports it first, everything alive after
            the block is frozen (``gc.freeze()``).

    The collector is on again after the block unless it was off before.
    """
    was_enabled = gc.isenabled()
    new = freeze_new is not None and freeze_new not in sys.modules
    gc.disable()
    try:
        yield
    finally:
        if new and freeze_new in sys.modules:
            gc.freeze()
        if was_enabled:
            gc.enable()


def freeze_survivors_at_exit() -> None:
    """Make this process's shutdown skip collecting what is alive then; calling it again is
    a no-op (the handler is registered once, at the latest call)."""
    atexit.unregister(_freeze)
    atexit.register(_freeze)


def _freeze() -> None:
    gc.freeze()


def let_go() -> None:
    """Say that an object kept across runs, and so perhaps frozen, is no longer referenced.

    The next collection of :func:`frozen_between_runs` then unfreezes everything first, so
    the object (and the graphs it holds) is freed after this run, not when the agent ends.
    """
    global _let_go
    _let_go += 1


@contextmanager
def frozen_between_runs() -> Iterator[Callable[[Callable[[], object]], None]]:
    """The survivors of each run frozen until the block ends (see the module's rules).

    Yields:
        ``collect(collect_garbage)``: call it after each run with what collects the run's
        garbage (``gc.collect`` or something that calls it); survivors are frozen after.

    Also registers :func:`freeze_survivors_at_exit`.
    """
    owner = gc.get_freeze_count() == 0
    freeze_survivors_at_exit()
    seen = [_let_go]

    def collect(collect_garbage: Callable[[], object]) -> None:
        if owner and _let_go != seen[0]:
            gc.unfreeze()  # a kept object was frozen with the rest: look at everything
        seen[0] = _let_go
        collect_garbage()
        if owner:
            gc.freeze()

    try:
        yield collect
    finally:
        if owner:
            gc.unfreeze()
