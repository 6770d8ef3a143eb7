"""Every private TensorFlow API that kerasweep relies on, and nothing else.

TensorFlow keeps two things global to a process that a long sweep must manage between runs
and that its public API does not reach: the registry of gradient functions (where every
traced ``tf.custom_gradient`` leaves one, tensorflow/tensorflow#97697) and the eager
context's kernel cache (which ``keras.backend.clear_session`` empties). Both are looked up
only if TensorFlow is already loaded: kerasweep's clean-up must not import it.
``tests/adapters/test_tensorflow_internals.py`` checks each below, so a TensorFlow release
that changes one fails there loudly.

Tested on tensorflow 2.18.0 and 2.21.0.

Example:
    >>> registry = gradient_registry()
    >>> registry is None or isinstance(registry, dict)
    True
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["CUSTOM_GRADIENT_PREFIX", "eager_context", "gradient_registry"]

#: The name prefix ``tf.custom_gradient`` gives the functions it registers in graph mode.
CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def gradient_registry() -> dict[str, Any] | None:
    """TensorFlow's gradient registry (op name -> entry), or None if TF is not loaded.

    Relies on ``tensorflow.python.framework.ops._gradient_registry`` being a
    ``Registry`` whose entries live in the dict ``_registry``.
    """
    ops = sys.modules.get("tensorflow.python.framework.ops")
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def eager_context() -> Any:
    """TensorFlow's eager context (with ``clear_kernel_cache``), or None if TF is not loaded.

    Relies on ``tensorflow.python.eager.context.context()`` returning the process's
    ``Context``, whose ``clear_kernel_cache`` method ``clear_session`` calls.
    """
    eager = sys.modules.get("tensorflow.python.eager.context")
    context = getattr(eager, "context", lambda: None)()
    if context is None or not hasattr(context, "clear_kernel_cache"):
        return None
    return context
