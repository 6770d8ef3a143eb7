"""Free what a finished run left behind, between the runs of one local agent.

After each run Keras' global state is cleared and garbage is collected, so one run's models
and graphs do not pile up in the next. A full collection walks every object Python tracks:
with TensorFlow, Keras and wandb loaded that is about 340,000 objects and 0.2 s, nearly all
of them modules, classes and functions that live as long as the process. So after each
collection the survivors are frozen (``gc.freeze()``: moved where the collector no longer
looks) and the next collection walks only what later runs made. When the agent ends they
are unfrozen (``gc.unfreeze()``), so anything that became garbage meanwhile is collected as
usual. A process that froze objects itself before the agent is left as it is.

Example:
    >>> with run_cleanup() as clean_up:  # doctest: +SKIP
    ...     for run in runs:
    ...         function()
    ...         clean_up()
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["clear_keras", "run_cleanup"]

logger = logging.getLogger("kerasweep.local")


def clear_keras() -> None:
    """Free the previous run's models and graphs (Keras only if already loaded), collect."""
    keras = sys.modules.get("keras")
    if keras is not None:
        try:
            keras.backend.clear_session()  # collects garbage itself (free_memory=True)
            return
        except Exception:  # pragma: no cover - best effort
            logger.debug("keras.backend.clear_session() failed", exc_info=True)
    gc.collect()


@contextmanager
def run_cleanup() -> Iterator[Callable[[], None]]:
    """A clean-up to call after each run; what it froze is unfrozen when the block ends."""
    freeze = hasattr(gc, "freeze") and gc.get_freeze_count() == 0

    def clean_up() -> None:
        clear_keras()
        if freeze:
            gc.freeze()

    try:
        yield clean_up
    finally:
        if freeze:
            gc.unfreeze()
