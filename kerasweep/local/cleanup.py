"""Free what a finished run left behind, between the runs of one local agent.

After each run the custom gradients its tracing registered with TensorFlow are dropped
(:mod:`kerasweep.traced_gradients`), Keras' global state is cleared and garbage is
collected, so one run's models and graphs do not pile up in the next.

A full collection walks every object Python tracks: with TensorFlow, Keras and wandb
loaded that is about 340,000 objects and 0.2 s, nearly all of them modules, classes and
functions that live as long as the process. So after each collection the survivors are
frozen (``gc.freeze()``: moved where the collector no longer looks) and the next collection
walks only what later runs made. When ``sweep_train`` lets go of a compiled model it kept
across runs (:class:`~kerasweep.compiled_models.CompiledModels` holds a few), the next
clean-up unfreezes everything first and collects it all. When the agent ends everything is
unfrozen (``gc.unfreeze()``), so anything that became garbage meanwhile is collected as
usual; the process's exit skips collecting what is still alive then
(:func:`kerasweep.long_lived_objects.freeze_survivors_at_exit`: 1.3 s less with TensorFlow
loaded). A process that froze objects before the agent is left as it is (one where
``sweep_train`` imported TensorFlow, which froze what was alive then, included).

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

from kerasweep.adapters.tensorflow_internals import eager_context
from kerasweep.long_lived_objects import freeze_survivors_at_exit
from kerasweep.traced_gradients import RegisteredDuring

__all__ = ["clear_keras", "run_cleanup"]

logger = logging.getLogger("kerasweep.local")


def clear_keras() -> None:
    """Free the previous run's models and graphs (Keras only if already loaded), collect.

    Keras' ``clear_session`` also empties TensorFlow's cache of instantiated kernels, so
    every compiled function and eager op would be instantiated again at its next call: about
    40 ms for each compiled function that a model kept for reuse calls (``sweep_train``'s
    :class:`~kerasweep.compiled_models.CompiledModels`), as long as a whole short run. The
    cache is kept: the kernels of a function leave it when the function is deleted, and
    those of eager ops are one per op signature.
    """
    keras = sys.modules.get("keras")
    if keras is not None:
        try:
            with _kernel_cache_kept():
                keras.backend.clear_session()  # collects garbage itself (free_memory=True)
            return
        except Exception:  # pragma: no cover - best effort
            logger.debug("keras.backend.clear_session() failed", exc_info=True)
    gc.collect()


@contextmanager
def _kernel_cache_kept() -> Iterator[None]:
    """Within the block, TensorFlow's eager context ignores ``clear_kernel_cache()``."""
    context = eager_context()
    if context is None:
        yield
        return
    own = getattr(context, "__dict__", {}).get("clear_kernel_cache")  # set by someone else
    try:
        context.clear_kernel_cache = lambda: None  # shadows the method on this object only
    except AttributeError:  # pragma: no cover - a Context without instance attributes
        yield
        return
    try:
        yield
    finally:
        if own is None:
            del context.clear_kernel_cache
        else:
            context.clear_kernel_cache = own


@contextmanager
def run_cleanup(
    dropped_models: Callable[[], int] = lambda: 0,
) -> Iterator[Callable[[], None]]:
    """A clean-up to call after each run; what it froze is unfrozen when the block ends.

    Args:
        dropped_models: How many models kept across runs have been let go so far
            (:attr:`kerasweep.compiled_models.CompiledModels.dropped`): when it grows, the
            next clean-up collects everything, frozen objects included.
    """
    freeze = gc.get_freeze_count() == 0
    freeze_survivors_at_exit()
    registered = RegisteredDuring()
    dropped = [dropped_models()]

    def clean_up() -> None:
        registered.drop()  # what the run's tracing pinned in TensorFlow's registry
        now_dropped = dropped_models()
        if freeze and now_dropped != dropped[0]:
            # A compiled model kept across runs was frozen with them; now it is let go,
            # only a collection over everything frees it (and the graphs it holds).
            gc.unfreeze()
        dropped[0] = now_dropped
        clear_keras()
        if freeze:
            gc.freeze()

    try:
        yield clean_up
    finally:
        if freeze:
            gc.unfreeze()
