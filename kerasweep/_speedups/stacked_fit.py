"""Several optimizer steps per compiled call: ``fit(StackedBatches)``, added to a model class.

What it buys: Keras' ``fit`` makes one compiled call and takes one ``tf.data`` element per
step (or per ``steps_per_execution`` steps, each still its own element); for the small models
of a sweep that overhead is most of a step (``benchmarks/RESULTS.md``). Given
:func:`~kerasweep._speedups.stacked_batches.stack_batches`, a model of a class decorated
with :func:`with_stacked_fit` runs ``steps_per_execution`` optimizer steps in one
``tf.while_loop`` (one XLA computation with ``jit_compile``) over batches it gathers itself
from examples resident on the training device.

:class:`~kerasweep.GradientTapeModel` is decorated with it, so ``model.fit(stack_batches(...))``
works on it and on its subclasses; anything else ``fit`` takes goes to Keras' own ``fit``
unchanged. For the call, ``fit`` swaps Keras' train function for one that runs the steps of
a stacked element (:func:`_train_stacked`) as one compiled function, kept on the model until
it is compiled again. Each step is the model's own: its ``_forward``,
``_loss``, ``_track_loss`` and ``_apply_gradients`` (the pieces of
``GradientTapeModel.train_step``), with the rows of an epoch's smaller last batch masked.
"""

from __future__ import annotations

import inspect
from typing import Any

import keras
import tensorflow as tf

from kerasweep._adapters import keras_internals
from kerasweep._speedups.stacked_batches import StackedBatches

__all__ = ["with_stacked_fit"]


def with_stacked_fit(cls: type) -> type:
    """Class decorator: ``cls.fit`` also takes :class:`StackedBatches`; returns ``cls``.

    ``cls`` is a ``keras.Model`` subclass that defines the step pieces ``_forward``,
    ``_loss``, ``_track_loss`` and ``_apply_gradients`` (as
    :class:`~kerasweep.GradientTapeModel` does); its bases stay as they are. It gets
    :func:`fit`, :func:`evaluate`, the loop of one stacked element and
    ``stacked_jit_compile`` (XLA for the loop: None follows ``jit_compile``; the loop is
    where XLA pays off most, even on a CPU where Keras' ``jit_compile="auto"`` leaves the
    per-step functions to the graph runtime). ``cls`` is the class whose step the loop
    repeats: a subclass of it that overrides ``train_step`` or ``compute_metrics`` fits
    plain datasets only.
    """
    cls._stacked_step_class = cls
    cls.stacked_jit_compile = None
    for method in (fit, evaluate, _train_stacked, _update_metrics_on_rows):
        setattr(cls, method.__name__, method)
    return cls


def fit(self: Any, x: Any = None, y: Any = None, *args: Any, **kwargs: Any) -> Any:
    """``keras.Model.fit``, which also takes :class:`StackedBatches`.

    Given ``stack_batches(data, batch_size, k)`` and a model compiled with
    ``steps_per_execution=k``, each compiled call runs ``k`` optimizer steps in one loop
    (one XLA computation with ``jit_compile=True`` or ``stacked_jit_compile=True``) over
    ``k`` batches taken from the data set at once, instead of one compiled call and one
    ``tf.data`` element per step.
    Epochs, batch sizes (the last one smaller), the reshuffle every epoch, the optimizer
    steps, metrics, callbacks and the progress bar are those of a plain ``fit`` over the
    same batches. The padding rows of an epoch's last batch are masked, which is exact
    for models that treat examples independently (not ``BatchNormalization`` in
    training) and losses that average over the batch (Keras' default reduction).

    Example:
        >>> import keras
        >>> from kerasweep import build_mlp
        >>> from kerasweep._data import load_dataset
        >>> from kerasweep import stack_batches
        >>> model = build_mlp(64, 16)
        >>> model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ...               steps_per_execution=8)
        >>> history = model.fit(stack_batches(load_dataset("digits"), 64, 8), verbose=0)
        >>> int(model.optimizer.iterations)
        23
    """
    step_class = self._stacked_step_class
    plain_fit = super(step_class, self).fit
    if isinstance(x, StackedBatches):
        for method in ("train_step", "compute_metrics"):
            if getattr(type(self), method) is not getattr(step_class, method):
                raise ValueError(
                    f"fit(StackedBatches) runs {step_class.__name__}'s own step; "
                    f"{type(self).__name__} overrides {method}, so fit a plain dataset"
                )
        return _fit_stacked(self, plain_fit, x, y, *args, **kwargs)
    return plain_fit(x, y, *args, **kwargs)


def evaluate(self: Any, x: Any = None, *args: Any, **kwargs: Any) -> Any:
    """``keras.Model.evaluate``; stacked batches are for training only."""
    if isinstance(x, StackedBatches):
        raise ValueError(
            "evaluate() takes plain batches, not StackedBatches: use "
            "kerasweep._pipelines.validation_batches(data, batch_size)"
        )
    return super(self._stacked_step_class, self).evaluate(x, *args, **kwargs)


def _train_stacked(
    self: Any,
    data: Any, features: tf.Tensor, labels: tf.Tensor, x_scale: tf.Tensor | None = None
) -> dict[str, Any]:
    """The optimizer steps of one stacked element, in one ``tf.while_loop``.

    ``data`` is ``(indices, sizes)``; each step gathers its batch's rows of ``features``
    and ``labels`` (resident), then takes the model's own step; rows past a batch's size
    (only in an epoch's smaller last batch) weigh nothing in the loss and the metrics.
    With ``x_scale``, ``features`` are uint8 and the input is ``float32(x) / x_scale``.
    """
    indices, sizes = data
    steps = tf.reduce_sum(tf.cast(sizes > 0, tf.int32))
    batch_size = tf.shape(indices)[1]
    row_index = tf.range(batch_size)

    def body(i: tf.Tensor) -> tuple[tf.Tensor]:
        size = tf.gather(sizes, i)
        real = tf.cast(row_index < size, tf.float32)
        # the mean over the real rows: Keras' reduction divides by the full length
        scale = tf.cast(batch_size, tf.float32) / tf.cast(size, tf.float32)
        rows = indices[i]  # a dynamic slice, no gather (i is the loop's counter)
        x = tf.gather(features, rows)
        if x_scale is not None:
            x = tf.cast(x, tf.float32) / x_scale
        y = tf.gather(labels, rows)
        with tf.GradientTape() as tape:
            logits = self._forward(x, training=True)
            loss_value = self._loss(x, y, logits, real * scale, training=True)
            self._track_loss(loss_value, x, count=size)
            if self.optimizer is not None:
                loss_value = self.optimizer.scale_loss(loss_value)
        self._apply_gradients(tape, loss_value)
        self._update_metrics_on_rows(y, logits, real)
        return (i + 1,)

    # One loop body, traced and compiled once: a second, unmasked copy for full batches
    # made compiling slower than the masks cost at run time.
    tf.while_loop(lambda i: i < steps, body, (tf.constant(0),))
    return self.get_metrics_result()


def _update_metrics_on_rows(self: Any, y: Any, y_pred: Any, rows: tf.Tensor) -> None:
    """Update every compiled metric over the real rows only (``rows`` is 1 or 0).

    ``compute_metrics`` cannot: Keras passes sample weights to ``weighted_metrics``
    only, so padding rows would count in plain ``metrics``.
    """
    for metric, y_t, y_p in keras_internals.compiled_metrics_by_output(self, y, y_pred):
        metric.update_state(y_t, y_p, sample_weight=rows)


def _fit_stacked(
    model: Any,
    plain_fit: Any,
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
            "e.g. kerasweep._pipelines.validation_batches(data, batch_size)"
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
        # tf.while_loop, and converting the step's Python would cost more than the trace.
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
