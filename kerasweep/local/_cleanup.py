"""Free what a finished run left behind, between the runs of one local agent.

After each run the custom gradients its tracing registered with TensorFlow are dropped
(:mod:`kerasweep._speedups.traced_gradients`), Keras' global state is cleared and garbage is
collected, so one run's models and graphs do not pile up in the next. The survivors of each
collection are frozen meanwhile, so the next one walks only what later runs made: when and
what is frozen, and when it is unfrozen, is :mod:`kerasweep._speedups.long_lived_objects`'
rule (:func:`~kerasweep._speedups.long_lived_objects.frozen_between_runs`), which also
knows when a compiled model kept across runs was let go.

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

from kerasweep._adapters.tensorflow_internals import eager_context
from kerasweep._speedups.long_lived_objects import frozen_between_runs
from kerasweep._speedups.traced_gradients import RegisteredDuring

__all__ = ["clear_keras", "run_cleanup"]

logger = logging.getLogger("kerasweep.local")


def clear_keras() -> None:
    """Free the previous run's models and graphs (Keras only if already loaded), collect.

    Keras' ``clear_session`` also empties TensorFlow's cache of instantiated kernels, so
    every compiled function and eager op would be instantiated again at its next call, each
    compiled function that a model kept for reuse calls included (``sweep_train``'s
    :class:`~kerasweep._speedups.compiled_models.CompiledModels`). The cache is kept: the
    kernels of a function leave it when the function is deleted, and those of eager ops are
    one per op signature.
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
def run_cleanup() -> Iterator[Callable[[], None]]:
    """A clean-up to call after each run; what it froze is unfrozen when the block ends."""
    with frozen_between_runs() as collect:
        registered = RegisteredDuring()

        def clean_up() -> None:
            registered.drop()  # what the run's tracing pinned in TensorFlow's registry
            collect(clear_keras)

        yield clean_up
