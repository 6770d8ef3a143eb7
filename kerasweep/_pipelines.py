"""The ``tf.data`` pipelines that feed ``fit`` from a :class:`~kerasweep._data.Dataset`.

:func:`make_datasets` gives the tutorial's training and validation pipelines; the
stacked pipeline of the one-loop steps (:func:`kerasweep.stack_batches`) lives with the
other speed-ups, in :mod:`kerasweep._speedups.stacked_batches`. Arrays of
:func:`~kerasweep._data.load_dataset` are read-only, so what is made from them is shared by
the runs of a process while they live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasweep._speedups.stacked_batches import epoch_order, gatherer, validation_batches

if TYPE_CHECKING:
    from kerasweep._data import Dataset

__all__ = ["make_datasets"]


def make_datasets(
    data: Dataset,
    batch_size: int,
    *,
    seed: int | None = None,
    validation_batch_size: int | None = None,
):
    """Training and validation ``tf.data`` pipelines with the tutorial's semantics.

    Training batches are reshuffled every epoch over the whole training set and batched in
    ``batch_size`` (a smaller last batch, as the tutorial's ``batch`` gives); validation
    batches are in order. Unlike the tutorial's ``from_tensor_slices(...).shuffle().batch()``,
    which slices and shuffles one example at a time, each epoch draws one permutation of the
    indices in a single op and each batch is gathered from the resident arrays in one op, so
    the input pipeline stays off the training step's critical path.

    Args:
        data: The arrays.
        batch_size: Training batch size.
        seed: Shuffle seed (None: a fresh order every run).
        validation_batch_size: Validation batch size (default: ``batch_size``).

    Returns:
        ``(train_dataset, val_dataset)``.

    Example:
        >>> from kerasweep._data import load_dataset
        >>> train, val = make_datasets(load_dataset("digits"), 64, seed=0)
        >>> x, y = next(iter(train))
        >>> tuple(x.shape), x.dtype.name
        ((64, 64), 'float32')
    """
    import tensorflow as tf

    train = _reshuffled_index_batches(data.n_train, int(batch_size), seed)
    train = train.map(
        gatherer(data.x_train, data.y_train), num_parallel_calls=tf.data.AUTOTUNE
    ).prefetch(tf.data.AUTOTUNE)
    val = validation_batches(data, int(validation_batch_size or batch_size))
    return train, val


def _reshuffled_index_batches(n: int, batch_size: int, seed: int | None):
    """Batches of the indices ``0..n-1`` in a fresh random order every epoch.

    What ``range(n).shuffle(n, reshuffle_each_iteration=True).batch(batch_size)`` yields,
    without pushing ``n`` scalars through a shuffle buffer each epoch: every iteration of the
    dataset draws a new key, permutes all ``n`` indices in one op and slices the permutation
    into batches (the last one smaller when ``batch_size`` does not divide ``n``).
    """
    import tensorflow as tf

    batches = -(-n // batch_size)

    def epoch(key):
        order = epoch_order(n, key)
        return tf.data.Dataset.range(batches).map(
            lambda i: order[i * batch_size : (i + 1) * batch_size]
        )

    # One key per iteration: a new one each epoch, reproducible when a seed is given.
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    return keys.flat_map(epoch).apply(tf.data.experimental.assert_cardinality(batches))


