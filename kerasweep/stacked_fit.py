"""Several optimizer steps per compiled call: what ``GradientTapeModel.fit(StackedBatches)`` does.

:func:`fit_stacked` checks the arguments, builds the model for one batch, and for the call
swaps Keras' train function for one that runs the steps of a stacked element (the model's
``_train_stacked``: a ``tf.while_loop`` of its own steps) as one compiled function, one XLA
computation with ``jit_compile``. The function is kept on the model until it is compiled
again.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from kerasweep.adapters import keras_internals
from kerasweep.pipelines import StackedBatches

__all__ = ["fit_stacked"]


def fit_stacked(
    model: keras.Model,
    plain_fit: Callable[..., Any],
    stacked: StackedBatches,
    *args: Any,
    **kwargs: Any,
) -> Any:
    """``model.fit(stacked, *args, **kwargs)`` by ``plain_fit`` (Keras' own ``fit`` of the
    model) with the model's train function swapped for the stacked loop's, for this call."""
    arguments = inspect.signature(keras.Model.fit).bind(model, stacked, *args, **kwargs)
    for name in ("y", "batch_size", "sample_weight", "class_weight", "steps_per_epoch"):
        if arguments.arguments.get(name) is not None:
            raise ValueError(
                f"fit(StackedBatches): {name}= cannot be given; the stacked batches "
                "hold the labels, the batch size and the steps per epoch"
            )
    if arguments.arguments.get("validation_split"):
        raise ValueError("fit(StackedBatches): use validation_data, not validation_split")
    if isinstance(arguments.arguments.get("validation_data"), StackedBatches):
        raise ValueError(
            "fit(StackedBatches): validation_data takes plain batches, "
            "e.g. kerasweep.pipelines.validation_batches(data, batch_size)"
        )
    if model.steps_per_execution != stacked.batches_per_element:
        raise ValueError(
            f"fit(StackedBatches): the batches are stacked {stacked.batches_per_element} "
            f"at a time, so compile the model with "
            f"steps_per_execution={stacked.batches_per_element} "
            f"(it has {model.steps_per_execution})"
        )
    if model.distribute_strategy.num_replicas_in_sync > 1:
        raise ValueError(
            "fit(StackedBatches) trains on one device; under a tf.distribute strategy "
            "with several replicas, fit a plain tf.data.Dataset"
        )
    _build_for_stacked(model, stacked)
    kwargs = {k: v for k, v in arguments.arguments.items() if k not in ("self", "x")}
    kwargs.update(steps_per_epoch=stacked.steps_per_epoch, shuffle=False)
    # One stacked train function per compile(), kept beside Keras' own.
    # (the compile config compares by identity: a new one per compile())
    made_for = (keras_internals.compile_config(model), _stacked_jit(model))
    kept_for, function = getattr(model, "_stacked_train_function", (None, None))
    if kept_for != made_for:
        function = _make_stacked_train_function(model, stacked)
        model._stacked_train_function = (made_for, function)
    plain_function, model.train_function = model.train_function, function
    x_scale = None if stacked.x_scale is None else tf.constant(stacked.x_scale, tf.float32)
    model._stacked_examples = (stacked.features, stacked.labels, x_scale)
    try:
        return plain_fit(stacked.dataset, **kwargs)
    finally:
        model.train_function = plain_function
        model._stacked_examples = None  # the examples are the caller's to keep


def _build_for_stacked(model: keras.Model, stacked: StackedBatches) -> None:
    """Build the model, metrics, loss and optimizer for one batch, before tracing."""
    rows = (stacked.batch_size,)
    x_dtype = "float32" if stacked.x_scale is not None else stacked.features.dtype.name
    batch = (
        keras.KerasTensor(rows + tuple(stacked.features.shape[1:]), x_dtype),
        keras.KerasTensor(rows + tuple(stacked.labels.shape[1:]), stacked.labels.dtype.name),
    )
    with model.distribute_strategy.scope():
        keras_internals.symbolic_build(model, batch)


def _stacked_jit(model: keras.Model) -> bool:
    if model.stacked_jit_compile is None:
        return bool(model.jit_compile)
    return bool(model.stacked_jit_compile)


def _make_stacked_train_function(model: keras.Model, stacked: StackedBatches):
    def train_stacked(
        data: Any, features: tf.Tensor, labels: tf.Tensor, x_scale: tf.Tensor | None
    ) -> dict[str, Any]:
        return model.distribute_strategy.run(
            model._train_stacked, args=(data, features, labels, x_scale)
        )

    if not model.run_eagerly:
        # No AutoGraph (as Keras' own train functions): the loop is an explicit
        # tf.while_loop, and converting the step's Python would take a second or more.
        train_stacked = tf.function(
            train_stacked,
            reduce_retracing=True,
            jit_compile=_stacked_jit(model),
            autograph=False,
        )
        # Traced once for any number of batches per element, any batch size and any
        # number of examples: the loop reads them from its arguments, so later fits with
        # other batch sizes reuse the graph (XLA still compiles each new shape, on its
        # first call).
        x_scale = None if stacked.x_scale is None else tf.TensorSpec([], tf.float32)
        train_stacked.get_concrete_function(
            _any_batches(stacked.dataset.element_spec),
            _any_rows(stacked.features),
            _any_rows(stacked.labels),
            x_scale,
        )

    def function(iterator: Any) -> dict[str, Any]:
        features, labels, x_scale = model._stacked_examples
        return train_stacked(next(iterator), features, labels, x_scale)

    return function


def _any_batches(spec: Any) -> Any:
    """``spec`` with the stacked elements' two leading sizes (batches, rows) left open."""

    def relax(t: tf.TensorSpec) -> tf.TensorSpec:
        return tf.TensorSpec([None] * min(2, t.shape.rank) + t.shape[2:].as_list(), t.dtype)

    return keras.tree.map_structure(relax, spec)


def _any_rows(tensor: tf.Tensor) -> tf.TensorSpec:
    """The spec of ``tensor`` with any number of rows."""
    return tf.TensorSpec([None, *tensor.shape[1:]], tensor.dtype)
