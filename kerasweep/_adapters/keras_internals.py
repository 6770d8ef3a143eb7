"""Every private Keras API that kerasweep relies on, and what differs across Keras releases.

Keras' public API has no way to build a ``keras.Model`` subclass functionally without
rewriting its class hierarchy (keras-team/keras#17270), to name the class of functional
models, or to reach the loss tracker and the compiled metrics from a custom ``train_step``.
kerasweep needs each of those; this module is the only place that touches them, so a Keras
release that changes one breaks here, where ``tests/adapters/test_keras_internals.py``
checks every name and behaviour below. Public behaviour that changed between supported
releases is here too, decided once (:func:`steps_done_at_train_batch_end`).

Tested on keras 3.8.0 (with tensorflow 2.18.0) and keras 3.15.1 (tensorflow 2.21.0).

Example:
    >>> import keras
    >>> inputs = keras.Input((2,))
    >>> model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    >>> isinstance(model, Functional)
    True
"""

from __future__ import annotations

from typing import Any

import keras

# Under tf.distribute Keras divides compiled losses by the replica count (so that summed
# gradients average) and multiplies the reported loss back.
from keras.src.losses.loss import unscale_loss_for_distribution

# The class of functional models (``keras.Model(inputs, outputs)`` returns one); not exported.
from keras.src.models.functional import Functional

# The backend's Trainer mixin of keras.Model (TensorFlowTrainer on the TensorFlow backend),
# and Keras' own test of "called with functional arguments" (inputs=/outputs= or two
# positional arguments), both as keras.Model.__init__ uses them.
from keras.src.models.model import Trainer as BackendTrainer
from keras.src.models.model import functional_init_arguments

# register_keras_serializable's registry: class -> "package>name" (keras.saving exposes
# only the lookup, get_registered_name, not a way to give a second class the same name).
from keras.src.saving.object_registration import GLOBAL_CUSTOM_NAMES

__all__ = [
    "BackendTrainer",
    "Functional",
    "call_has_training_arg",
    "compile_config",
    "compiled_metrics_by_output",
    "compute_loss",
    "init_functional",
    "is_functional_call",
    "loss_tracker",
    "share_registered_name",
    "steps_done_at_train_batch_end",
    "symbolic_build",
    "unscale_loss_for_distribution",
]


def _release(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


#: (major, minor) of the installed Keras.
KERAS_RELEASE = _release(keras.__version__)

# Under ``steps_per_execution=k`` fit calls ``on_train_batch_end`` once per compiled call. The
# index it passes is the call's first step (0, k, 2k, ...) in keras 3.8 to 3.10 and its last
# step (k-1, 2k-1, ...) from keras 3.11 on (keras/src/backend/tensorflow/trainer.py of
# each release: ``on_train_batch_end(step, ...)`` became ``on_train_batch_end(end_step, ...)``).
_BATCH_END_IS_LAST_STEP_SINCE = (3, 11)


def steps_done_at_train_batch_end(
    batch: int, steps_per_execution: int, *, release: tuple[int, int] = KERAS_RELEASE
) -> int:
    """How many steps of the epoch have run when fit calls ``on_train_batch_end(batch)``.

    A partial last call is counted as full, as Keras counts it: clamp to the epoch's steps.

    Example:
        >>> steps_done_at_train_batch_end(3, 4, release=(3, 15))
        4
        >>> steps_done_at_train_batch_end(0, 4, release=(3, 8))
        4
    """
    if release >= _BATCH_END_IS_LAST_STEP_SINCE:
        return int(batch) + 1
    return int(batch) + max(int(steps_per_execution), 1)


def is_functional_call(args: tuple, kwargs: dict) -> bool:
    """True if ``Model(*args, **kwargs)`` asks for a functional model (Keras' own rule)."""
    return bool(functional_init_arguments(args, kwargs))


def init_functional(model: Any, args: tuple, kwargs: dict) -> None:
    """What ``keras.Model.__init__`` does with functional arguments, minus the rewriting.

    ``keras.Model.__init__`` runs the Trainer's ``__init__``, injects ``Functional`` into the
    bases of every class up the chain (keras-team/keras#17270), then runs
    ``Functional.__init__``. ``model``'s class must already derive from :class:`Functional`.
    """
    BackendTrainer.__init__(model)
    Functional.__init__(model, *args, **kwargs)


def share_registered_name(registered: type, alias: type) -> None:
    """Serialize ``alias`` under ``registered``'s registered name, if it has one."""
    name = GLOBAL_CUSTOM_NAMES.get(registered)
    if name is not None:
        GLOBAL_CUSTOM_NAMES[alias] = name


def compute_loss(model: Any, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool):
    """The compiled loss plus ``model.losses``, as Keras' own ``train_step`` computes it.

    ``Trainer._compute_loss`` calls a user's ``compute_loss`` override with or without the
    ``training`` argument, whichever its signature takes.
    """
    return model._compute_loss(
        x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
    )


def loss_tracker(model: Any) -> Any:
    """The ``Mean`` metric behind the ``loss`` key of ``fit``'s logs (None before compile)."""
    return getattr(model, "_loss_tracker", None)


def call_has_training_arg(model: Any) -> bool:
    """Whether the model's ``call`` takes a ``training`` argument (Keras passes it if so)."""
    return getattr(model, "_call_has_training_arg", True)


def compile_config(model: Any) -> Any:
    """The object ``compile()`` stores its arguments in: a new one per ``compile()`` call."""
    return model._compile_config


def symbolic_build(model: Any, data_batch: Any) -> None:
    """Build the model, its compiled loss and metrics and its optimizer for one batch.

    ``fit`` does this itself before tracing its train function; a train function made
    outside ``fit`` needs it done first.
    """
    model._symbolic_build(data_batch=data_batch)


def compiled_metrics_by_output(model: Any, y: Any, y_pred: Any) -> list[tuple[Any, Any, Any]]:
    """``(metric, y_true, y_pred)`` for every metric ``compile()`` made, plain and weighted.

    ``compute_metrics`` passes sample weights to ``weighted_metrics`` only; a caller that
    must weigh every metric updates these itself.
    """
    compiled = getattr(model, "_compile_metrics", None)
    if compiled is None:
        return []
    y_true, y_pred = compiled._flatten_y(y), compiled._flatten_y(y_pred)
    return [
        (metric, y_t, y_p)
        for metrics in (compiled._flat_metrics, compiled._flat_weighted_metrics)
        for metric, y_t, y_p in zip(metrics, y_true, y_pred, strict=False)
        if metric
    ]
