"""The tutorial's GradientTape training step as a ``keras.Model`` subclass.

W&B's "TensorFlow Sweeps" tutorial trains with a hand-written loop::

    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))

:class:`GradientTapeModel` keeps exactly that logic but in ``train_step``/``test_step``, so
``fit()``/``evaluate()`` drive it: compiled (``jit_compile``, ``steps_per_execution``),
distributed, mixed precision, callbacks and the progress bar all work, and the step does what
Keras' built-in one does (sample and class weights, regularisation losses, loss scaling,
distribution-aware loss reporting).

Example:
    >>> import keras
    >>> from kerasweep import GradientTapeModel
    >>> inputs = keras.Input(shape=(4,))
    >>> outputs = keras.layers.Dense(3)(inputs)
    >>> model = GradientTapeModel(inputs=inputs, outputs=outputs)
    >>> model.compile(optimizer="sgd",
    ...               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from kerasweep.adapters import keras_internals
from kerasweep.pipelines import StackedBatches
from kerasweep.stacked_fit import fit_stacked

__all__ = ["GradientTapeModel", "build_mlp"]

# The functional class of GradientTapeModel and of each subclass (``cls.Functional``).
_FUNCTIONAL_CLASSES: dict[type, type] = {}


def _require_tensorflow_backend() -> None:
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            f"GradientTapeModel needs the TensorFlow backend (tf.GradientTape), but Keras is "
            f"using {backend!r}: set KERAS_BACKEND=tensorflow before importing keras."
        )


def _functional_class(cls: type) -> type:
    """``cls`` with Keras' ``Functional`` mixed in, made once per class (``cls.Functional``).

    Keras turns ``SomeModelSubclass(inputs, outputs)`` into a functional model by rewriting
    the bases of the class and of every class above it (keras-team/keras#17270), after which
    subclass-style use of any of them fails. Functional instances get this class instead,
    and the user's classes stay as they are. It keeps the user's class's name and module
    and is reachable as ``cls.Functional``, so ``pickle`` finds it by name, and it is
    serialized under the user's class's registered name, so saved models load as usual.
    """
    if issubclass(cls, keras_internals.Functional):
        return cls
    functional = _FUNCTIONAL_CLASSES.get(cls)
    if functional is None:
        functional = type(
            cls.__name__,
            (cls, keras_internals.Functional),
            {"__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.Functional"},
        )
        keras_internals.share_registered_name(cls, functional)
        _FUNCTIONAL_CLASSES[cls] = functional
    return functional


class _FunctionalClassOf:
    """``SomeClass.Functional``: the class of ``SomeClass``'s functionally built models."""

    def __get__(self, instance: Any, owner: type) -> type:
        return _functional_class(owner)


@keras.saving.register_keras_serializable(package="kerasweep")
class GradientTapeModel(keras.Model):
    """A ``keras.Model`` whose training step is the tutorial's GradientTape loop.

    Use it wherever ``keras.Model`` is used, in any style, in any order in one process:

    - functional: ``GradientTapeModel(inputs=inputs, outputs=outputs)``;
    - subclassed: ``class MyNet(GradientTapeModel)`` with its own ``__init__`` and ``call``;
    - a subclass whose ``__init__`` builds a graph and calls
      ``super().__init__(inputs=..., outputs=...)``.

    A functionally built model is an instance of ``MyNet.Functional`` (for
    ``GradientTapeModel`` itself, ``GradientTapeModel.Functional``): a subclass of both the
    class it was built from and Keras' ``Functional``, with the same name, as
    ``keras.Model(inputs, outputs)`` is a ``Functional``. ``pickle``, ``copy.deepcopy`` and
    ``.keras`` files work as for ``keras.Model``; ``import kerasweep`` registers the class
    with Keras, so ``keras.models.load_model`` needs no ``custom_objects``.

    ``compile`` it as usual (optimizer, loss, metrics, ``jit_compile``,
    ``steps_per_execution``) and train with ``fit``. The step follows Keras' own order:
    unpack ``(x, y, sample_weight)``, forward pass under the tape with ``training=True``,
    compiled loss plus ``self.losses``, loss tracked unscaled for distribution and weighted by
    batch size, ``optimizer.scale_loss`` inside the tape (mixed precision), gradients,
    ``optimizer.apply``, metrics.

    Example:
        >>> import keras, numpy as np
        >>> from kerasweep import GradientTapeModel
        >>> class TwoLayer(GradientTapeModel):
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.hidden = keras.layers.Dense(8, activation="relu")
        ...         self.logits = keras.layers.Dense(3)
        ...     def call(self, x):
        ...         return self.logits(self.hidden(x))
        >>> model = TwoLayer()
        >>> model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> history = model.fit(np.zeros((8, 4)), np.zeros(8), verbose=0)
        >>> inputs = keras.Input((4,))
        >>> functional = GradientTapeModel(inputs, keras.layers.Dense(3)(inputs))
        >>> type(functional) is GradientTapeModel.Functional, type(functional).__name__
        (True, 'GradientTapeModel')
    """

    #: The class of this class's functionally built models (see the class docstring).
    Functional = _FunctionalClassOf()

    #: XLA for the loop of a stacked fit (``fit(StackedBatches)``): None follows
    #: ``jit_compile``. The loop is where XLA pays off most, even on a CPU where Keras'
    #: ``jit_compile="auto"`` leaves the per-step functions to the graph runtime.
    stacked_jit_compile: bool | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> GradientTapeModel:
        if keras_internals.is_functional_call(args, kwargs):
            cls = cls.Functional
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _require_tensorflow_backend()
        if keras_internals.is_functional_call(args, kwargs):
            if not isinstance(self, keras_internals.Functional):
                # A subclass's __init__ called super().__init__(inputs=..., outputs=...):
                # this instance becomes functional, its class and its bases stay as they are.
                self.__class__ = type(self).Functional
            keras_internals.init_functional(self, args, kwargs)
        else:
            super().__init__(*args, **kwargs)

    # -- the tutorial's steps, made complete -------------------------------------------------

    def _forward(self, x: Any, training: bool) -> Any:
        if keras_internals.call_has_training_arg(self):
            return self(x, training=training)
        return self(x)

    def _loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> Any:
        # compiled loss + regularisation / add_loss terms
        return keras_internals.compute_loss(self, x, y, y_pred, sample_weight, training)

    def _track_loss(self, loss: tf.Tensor, x: Any, count: Any = None) -> None:
        tracker = keras_internals.loss_tracker(self)
        if tracker is None:
            return
        if count is None:
            first_input = next(t for t in keras.tree.flatten(x) if t is not None)
            count = tf.shape(first_input)[0]
        tracker.update_state(
            keras_internals.unscale_loss_for_distribution(loss), sample_weight=count
        )

    def train_step(self, data: Any) -> dict[str, Any]:
        """One optimisation step on a batch: the tutorial's ``train_step`` under ``fit``."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return self._train_update(x, y, sample_weight, sample_weight)

    def _train_update(
        self,
        x: Any,
        y: Any,
        loss_weight: Any,
        metric_weight: Any,
        count: Any = None,
        *,
        rows: Any = None,
    ) -> dict[str, Any] | None:
        with tf.GradientTape() as tape:
            logits = self._forward(x, training=True)
            loss_value = self._loss(x, y, logits, loss_weight, training=True)
            self._track_loss(loss_value, x, count)
            if self.optimizer is not None:
                # Mixed precision: scale inside the tape; the optimizer unscales gradients.
                loss_value = self.optimizer.scale_loss(loss_value)
        weights = self.trainable_weights
        if weights:
            grads = tape.gradient(loss_value, weights)
            self.optimizer.apply_gradients(zip(grads, weights, strict=True))
        if rows is not None:
            return self._update_metrics_on_rows(y, logits, rows)
        return self.compute_metrics(x, y, logits, sample_weight=metric_weight)

    def test_step(self, data: Any) -> dict[str, Any]:
        """One evaluation step on a batch: the tutorial's ``test_step`` under ``evaluate``."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        val_logits = self._forward(x, training=False)
        loss_value = self._loss(x, y, val_logits, sample_weight, training=False)
        self._track_loss(loss_value, x)
        return self.compute_metrics(x, y, val_logits, sample_weight=sample_weight)

    def _update_metrics_on_rows(self, y: Any, y_pred: Any, rows: tf.Tensor) -> None:
        """Update every compiled metric over the real rows only (``rows`` is 1 or 0).

        ``compute_metrics`` cannot: Keras passes sample weights to ``weighted_metrics``
        only, so padding rows would count in plain ``metrics``.
        """
        for metric, y_t, y_p in keras_internals.compiled_metrics_by_output(self, y, y_pred):
            metric.update_state(y_t, y_p, sample_weight=rows)

    # -- several steps per compiled call: fit(StackedBatches) -------------------------------

    def fit(self, x: Any = None, y: Any = None, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.fit``, which also takes :class:`~kerasweep.pipelines.StackedBatches`.

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
            >>> from kerasweep.data import load_dataset
            >>> from kerasweep.pipelines import stack_batches
            >>> model = build_mlp(64, 16)
            >>> model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            ...               steps_per_execution=8)
            >>> history = model.fit(stack_batches(load_dataset("digits"), 64, 8), verbose=0)
            >>> int(model.optimizer.iterations)
            23
        """
        if isinstance(x, StackedBatches):
            for method in ("train_step", "compute_metrics"):
                if getattr(type(self), method) is not getattr(GradientTapeModel, method):
                    raise ValueError(
                        f"fit(StackedBatches) runs GradientTapeModel's own step; "
                        f"{type(self).__name__} overrides {method}, so fit a plain dataset"
                    )
            return fit_stacked(self, super().fit, x, y, *args, **kwargs)
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x: Any = None, *args: Any, **kwargs: Any) -> Any:
        """``keras.Model.evaluate``; stacked batches are for training only."""
        if isinstance(x, StackedBatches):
            raise ValueError(
                "evaluate() takes plain batches, not StackedBatches: use "
                "kerasweep.pipelines.validation_batches(data, batch_size)"
            )
        return super().evaluate(x, *args, **kwargs)

    def _train_stacked(
        self, data: Any, features: tf.Tensor, labels: tf.Tensor, x_scale: tf.Tensor | None = None
    ) -> dict[str, Any]:
        """The optimizer steps of one stacked element, in one ``tf.while_loop``.

        ``data`` is ``(indices, sizes)``; each step gathers its batch's rows of ``features``
        and ``labels`` (resident), then takes Keras' own step; rows past a batch's size
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
            self._train_update(x, y, real * scale, None, count=size, rows=real)
            return (i + 1,)

        # One loop body, traced and compiled once: a second, unmasked copy for full batches
        # made compiling slower than the masks cost at run time.
        tf.while_loop(lambda i: i < steps, body, (tf.constant(0),))
        return self.get_metrics_result()


def build_mlp(
    input_dim: int = 784,
    hidden_units: int | Sequence[int] = (64, 64),
    num_classes: int = 10,
    *,
    activation: str = "relu",
    dropout: float = 0.0,
    name: str = "mlp",
) -> GradientTapeModel:
    """The tutorial's classifier: ``digits`` input, ReLU hidden layers, ``predictions`` logits.

    Args:
        input_dim: Width of the flattened input (784 for MNIST, 64 for scikit-learn digits).
        hidden_units: Units per hidden layer; an int means one layer of that width.
        num_classes: Number of output logits.
        activation: Activation of the hidden layers.
        dropout: Dropout rate after each hidden layer (0 disables it, as in the tutorial).
        name: Model name.

    Returns:
        An uncompiled :class:`GradientTapeModel` that outputs logits.

    Example:
        >>> from kerasweep import build_mlp
        >>> model = build_mlp()
        >>> [layer.name for layer in model.layers][0], model.output_shape
        ('digits', (None, 10))
    """
    if isinstance(hidden_units, int):
        hidden_units = (hidden_units,)
    inputs = keras.Input(shape=(int(input_dim),), name="digits")
    x = inputs
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(int(units), activation=activation, name=f"dense_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(float(dropout), name=f"dropout_{i}")(x)
    outputs = keras.layers.Dense(int(num_classes), name="predictions")(x)
    return GradientTapeModel(inputs=inputs, outputs=outputs, name=name)
