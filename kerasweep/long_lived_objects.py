"""Keep Python's cyclic garbage collector off TensorFlow's long-lived objects.

Importing TensorFlow, Keras and wandb makes about 350,000 objects Python's collector
tracks, nearly all modules, classes and functions that live as long as the process. The
collector walks all of them at every full collection, and two moments of a sweep's process
pay that many times over (measured on a 2-core CPU):

- **the import**: a full collection runs each time the tracked objects grow by a quarter,
  seven times while ``import wandb, sqlalchemy, keras, tensorflow`` runs: 0.95 s of its 6 s,
  and the next full collection after it walks them all again (0.3 to 0.4 s).
  :func:`imports_uncollected` pauses the collector for an import; with ``freeze_new``, an
  import that loads that module first (TensorFlow) also freezes what is alive after it, so
  later collections walk only what the sweep makes. What was garbage in a reference cycle
  at that moment (a few hundred objects after TensorFlow's import) is kept until something
  calls ``gc.unfreeze()`` (the local agent does when it ends).
- **the exit**: Python clears every module and collects several times over what is left:
  ``python -c "import tensorflow"`` takes 1.39 s from the end of the script to the end of
  the process, 0.13 s with the survivors frozen. :func:`freeze_survivors_at_exit` registers
  an :mod:`atexit` handler that freezes (``gc.freeze()``) whatever is alive once the other
  handlers are done, so those collections skip it. Objects are still freed as their last
  references go while modules are cleared; only objects kept alive by reference cycles stay
  until the process ends, and Python does not promise to call ``__del__`` for objects
  alive at exit anyway. ``atexit`` handlers, ``weakref.finalize`` callbacks and
  ``logging``'s flush at exit still run.

Between runs the local agent freezes survivors as well (:mod:`kerasweep.local.cleanup`).

Example:
    >>> with imports_uncollected(freeze_new="json"):
    ...     import json
    >>> freeze_survivors_at_exit()  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["freeze_survivors_at_exit", "imports_uncollected"]


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
