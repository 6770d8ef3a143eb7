"""W&B's "TensorFlow Sweeps" tutorial, as the baseline the benchmarks compare against.

The tutorial's model, steps, training loop and ``sweep_train``, as its page gives them, with
only what running them here needs: no ``tqdm`` progress bar (not a dependency), Keras 3's
``reset_state()`` for the page's ``reset_states()``, the input width as a parameter (64 for
scikit-learn's digits) and an optional ``clock`` that records when the first training step
ended, when training ended, and each epoch's start, end and ``val_loss``.

Example:
    >>> model = tutorial_model(64)
    >>> model.output_shape
    (None, 10)
"""

from __future__ import annotations

import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "tutorial_model",
    "tutorial_sweep_train",
    "tutorial_test_step",
    "tutorial_train",
    "tutorial_train_step",
]

#: The tutorial's ``config_defaults`` plus what its ``sweep_train`` sets after ``init``.
TUTORIAL_DEFAULTS: dict[str, Any] = {
    "batch_size": 64,
    "learning_rate": 0.01,
    "epochs": 2,
    "log_step": 20,
    "val_log_step": 50,
    "architecture_name": "MLP",
    "dataset_name": "MNIST",
}


def tutorial_model(input_dim: int = 784):
    """The tutorial's ``Model()``: a plain functional ``keras.Model``."""
    inputs = keras.Input(shape=(input_dim,), name="digits")
    x1 = keras.layers.Dense(64, activation="relu")(inputs)
    x2 = keras.layers.Dense(64, activation="relu")(x1)
    outputs = keras.layers.Dense(10, name="predictions")(x2)
    return keras.Model(inputs=inputs, outputs=outputs)


def tutorial_train_step(x, y, model, optimizer, loss_fn, train_acc_metric):
    """The tutorial's ``train_step``."""
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))  # noqa: B905
    train_acc_metric.update_state(y, logits)
    return loss_value


def tutorial_test_step(x, y, model, loss_fn, val_acc_metric):
    """The tutorial's ``test_step``."""
    val_logits = model(x, training=False)
    loss_value = loss_fn(y, val_logits)
    val_acc_metric.update_state(y, val_logits)
    return loss_value


def tutorial_train(
    train_dataset,
    val_dataset,
    model,
    optimizer,
    loss_fn,
    train_acc_metric,
    val_acc_metric,
    epochs: int = 10,
    log_step: int = 200,
    val_log_step: int = 50,
    clock: dict[str, float] | None = None,
) -> None:
    """The tutorial's ``train`` loop: eager steps, one ``wandb.log`` row per epoch."""
    import wandb

    for epoch in range(epochs):
        epoch_start = time.perf_counter()
        train_loss = []
        val_loss = []
        for _step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
            loss_value = tutorial_train_step(
                x_batch_train, y_batch_train, model, optimizer, loss_fn, train_acc_metric
            )
            train_loss.append(float(loss_value))
            if clock is not None and "first_step" not in clock:
                clock["first_step"] = time.perf_counter()
        for _step, (x_batch_val, y_batch_val) in enumerate(val_dataset):
            val_loss_value = tutorial_test_step(
                x_batch_val, y_batch_val, model, loss_fn, val_acc_metric
            )
            val_loss.append(float(val_loss_value))
        train_acc = train_acc_metric.result()
        val_acc = val_acc_metric.result()
        train_acc_metric.reset_state()
        val_acc_metric.reset_state()
        wandb.log(
            {
                "epochs": epoch,
                "loss": np.mean(train_loss),
                "acc": float(train_acc),
                "val_loss": np.mean(val_loss),
                "val_acc": float(val_acc),
            }
        )
        if clock is not None:
            clock.setdefault("epochs", []).append(
                (epoch_start, time.perf_counter(), float(np.mean(val_loss)))
            )
    if clock is not None:
        clock["trained"] = time.perf_counter()


def tutorial_sweep_train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    params: dict[str, Any],
    clock: dict[str, float] | None = None,
) -> None:
    """The tutorial's ``sweep_train`` for one run with a sweep's ``params``.

    The data arrays are module globals in the tutorial, loaded once before the sweep; here
    they are passed in. ``wandb.init`` gets the defaults with ``params`` merged over them,
    which is what ``wandb.agent`` makes of a sweep's parameters.
    """
    import wandb

    wandb.init(config={**TUTORIAL_DEFAULTS, **params})
    config = wandb.config
    train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    train_dataset = (
        train_dataset.shuffle(buffer_size=1024)
        .batch(config.batch_size)
        .prefetch(buffer_size=tf.data.AUTOTUNE)
    )
    val_dataset = tf.data.Dataset.from_tensor_slices((x_test, y_test))
    val_dataset = val_dataset.batch(config.batch_size).prefetch(buffer_size=tf.data.AUTOTUNE)
    model = tutorial_model(x_train.shape[1])
    optimizer = keras.optimizers.SGD(learning_rate=config.learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    tutorial_train(
        train_dataset,
        val_dataset,
        model,
        optimizer,
        loss_fn,
        train_acc_metric,
        val_acc_metric,
        epochs=config.epochs,
        log_step=config.log_step,
        val_log_step=config.val_log_step,
        clock=clock,
    )
