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

from kerasweep._adapters import keras_internals
from kerasweep._speedups.stacked_fit import with_stacked_fit

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
@with_stacked_fit
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

    ``fit`` also takes the batches of :func:`~kerasweep._pipelines.stack_batches`, which run
    several of these steps in one compiled loop (added by
    :func:`~kerasweep._speedups.stacked_fit.with_stacked_fit`); anything else goes to
    Keras' own ``fit``.

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

    def train_step(self, data: Any) -> dict[str, Any]:
        """One optimisation step on a batch: the tutorial's ``train_step`` under ``fit``."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            logits = self._forward(x, training=True)
            loss_value = self._loss(x, y, logits, sample_weight, training=True)
            self._track_loss(loss_value, x)
            if self.optimizer is not None:
                # Mixed precision: scale inside the tape; the optimizer unscales gradients.
                loss_value = self.optimizer.scale_loss(loss_value)
        self._apply_gradients(tape, loss_value)
        return self.compute_metrics(x, y, logits, sample_weight=sample_weight)

    def test_step(self, data: Any) -> dict[str, Any]:
        """One evaluation step on a batch: the tutorial's ``test_step`` under ``evaluate``."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        val_logits = self._forward(x, training=False)
        loss_value = self._loss(x, y, val_logits, sample_weight, training=False)
        self._track_loss(loss_value, x)
        return self.compute_metrics(x, y, val_logits, sample_weight=sample_weight)

    # -- the steps' pieces, as Keras' own step has them --------------------------------------

    def _forward(self, x: Any, training: bool) -> Any:
        if keras_internals.call_has_training_arg(self):
            return self(x, training=training)
        return self(x)

    def _loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> Any:
        # compiled loss + regularisation / add_loss terms
        return keras_internals.compute_loss(self, x, y, y_pred, sample_weight, training)

    def _track_loss(self, loss: tf.Tensor, x: Any, count: Any = None) -> None:
        """Track the loss for the logs, unscaled for distribution, weighted by ``count``
        examples (the batch's size by default)."""
        tracker = keras_internals.loss_tracker(self)
        if tracker is None:
            return
        if count is None:
            first_input = next(t for t in keras.tree.flatten(x) if t is not None)
            count = tf.shape(first_input)[0]
        tracker.update_state(
            keras_internals.unscale_loss_for_distribution(loss), sample_weight=count
        )

    def _apply_gradients(self, tape: tf.GradientTape, loss: tf.Tensor) -> None:
        """The tutorial's ``tape.gradient`` and ``optimizer.apply_gradients``."""
        weights = self.trainable_weights
        if weights:
            grads = tape.gradient(loss, weights)
            self.optimizer.apply_gradients(zip(grads, weights, strict=True))


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
