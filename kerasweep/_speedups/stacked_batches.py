"""Training batches stacked for one compiled loop, and the arrays they read kept resident.

What it buys (``benchmarks/RESULTS.md``):

- :func:`stack_batches`: the training batches of
  :func:`~kerasweep._pipelines.make_datasets`, their row indices stacked
  ``batches_per_element`` at a time, for a model's one-loop steps
  (:class:`~kerasweep._speedups.stacked_fit.StackedFit`): one ``tf.data`` element and one
  compiled call per ``batches_per_element`` optimizer steps, no examples copied per step.
- :func:`validation_batches`: the test arrays in order, made once per batch size and shared
  by the runs of a process.
- :func:`host_tensors`, :func:`device_tensors`: the examples copied to tensors once per
  process, and what is made from them shared while the read-only arrays of
  :func:`~kerasweep._data.load_dataset` live (:func:`kept_while_alive`).
- :func:`quick_to_start`: these hand-tuned pipelines without ``tf.data``'s graph rewrites and
  autotuning, which change nothing an element costs and slow every new iterator.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from kerasweep._data import Dataset

__all__ = [
    "StackedBatches",
    "device_tensors",
    "epoch_order",
    "gatherer",
    "host_tensors",
    "kept_while_alive",
    "quick_to_start",
    "stack_batches",
    "validation_batches",
]


def validation_batches(data: Dataset, batch_size: int):
    """The test arrays in order, in batches of ``batch_size`` (the last one smaller).

    The pipeline holds nothing random, so for the read-only arrays of
    :func:`~kerasweep._data.load_dataset` one is made per batch size and shared by the runs
    of a process: its batches are gathered once, on the first run's first validation.

    Example:
        >>> from kerasweep._data import load_dataset
        >>> val = validation_batches(load_dataset("digits"), 256)
        >>> [int(x.shape[0]) for x, _ in val]
        [256, 104]
    """
    import tensorflow as tf

    def make():
        return quick_to_start(
            tf.data.Dataset.range(len(data.x_test))
            .batch(int(batch_size))
            .map(gatherer(data.x_test, data.y_test), num_parallel_calls=tf.data.AUTOTUNE)
            .cache()
            .prefetch(tf.data.AUTOTUNE)
        )

    return kept_while_alive((data.x_test, data.y_test), int(batch_size), make)


#: What was made from read-only arrays, by the arrays' ids and a detail; an entry goes
#: when one of its arrays does.
_MADE_FROM: dict[tuple, Any] = {}


def kept_while_alive(arrays: tuple[np.ndarray, ...], detail: Any, make: Any) -> Any:
    """``make()``, made once for these read-only arrays and ``detail`` while the arrays live.

    Writable arrays may change between calls, so for them ``make()`` runs every time.
    """
    if any(a.flags.writeable for a in arrays):
        return make()
    key = (*(id(a) for a in arrays), detail)
    made = _MADE_FROM.get(key)
    if made is None:
        made = _MADE_FROM[key] = make()
        for array in arrays:
            weakref.finalize(array, _MADE_FROM.pop, key, None)
    return made


def quick_to_start(dataset):
    """``dataset`` without tf.data's graph rewrites and autotuning.

    Both run whenever an iterator is made: ``fit`` makes one per run for training and
    ``evaluate`` one per epoch for validation. For these pipelines (index batches gathered
    from resident arrays, parallelism and buffers set by hand) they change nothing an
    element costs, and without them an iterator starts in about half the time.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return dataset.with_options(options)


def gatherer(x: np.ndarray, y: np.ndarray):
    """A function from a batch of indices to the batch of ``(x, y)`` rows."""
    import tensorflow as tf

    features, labels = host_tensors(x, y)
    return lambda idx, *rest: (tf.gather(features, idx), tf.gather(labels, idx), *rest)


def host_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """``x`` and ``y`` as tensors in host memory, copied once per process for read-only arrays.

    Copying MNIST's training images into a tensor is a noticeable part of a short run; the
    runs of a sweep share :func:`~kerasweep._data.load_dataset`'s arrays, and these copies.
    """
    import tensorflow as tf

    def copy():
        with tf.device("/CPU:0"):  # tf.data runs on the host, whatever the accelerator
            return tf.constant(x), tf.constant(y)

    return kept_while_alive((x, y), "tensors", copy)


def epoch_order(n: int, key):
    """A permutation of ``0..n-1`` drawn from ``key`` (one per epoch)."""
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        tf.range(n, dtype=tf.int64), seed=tf.stack([key, tf.constant(0, tf.int64)])
    )


@dataclass(frozen=True)
class StackedBatches:
    """Training batches stacked ``batches_per_element`` at a time, for one compiled loop.

    What :func:`stack_batches` returns and ``GradientTapeModel.fit`` takes in place of a
    dataset. The examples stay resident where the model trains (``features``, ``labels``);
    each element of ``dataset`` is ``(indices, sizes)``: ``indices`` of shape
    ``(batches_per_element, batch_size)`` are the rows of each batch, ``sizes`` the number of
    real examples in each batch (``batch_size``, fewer for an epoch's last batch, 0 for
    padding after it; padding rows point at row 0). The compiled loop gathers each step's
    batch itself. The dataset never ends; each ``ceil(steps_per_epoch / batches_per_element)``
    elements are one epoch.

    Attributes:
        dataset: The endless ``tf.data.Dataset`` of stacked index batches.
        features: The training features, a tensor on the training device (uint8 when
            ``x_scale`` is set).
        labels: The training labels, a tensor beside ``features``.
        steps_per_epoch: Batches (optimizer steps) per epoch.
        batches_per_element: Batches per element; the model's ``steps_per_execution``.
        batch_size: Examples per full batch.
        x_scale: None, or ``features`` are uint8 and the model's input is
            ``float32(features) / x_scale`` (computed inside the compiled loop).
    """

    dataset: Any
    features: Any
    labels: Any
    steps_per_epoch: int
    batches_per_element: int
    batch_size: int
    x_scale: float | None = None

    @property
    def elements_per_epoch(self) -> int:
        """Elements that make one epoch (the last one padded)."""
        return -(-self.steps_per_epoch // self.batches_per_element)

    def batches(self, elements: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The real batches of the first ``elements`` elements, as a plain ``fit`` sees them.

        Each is ``(x, y)`` with ``x`` the model's input (float32, scaled) and only the real
        rows, in training order: for checking what a stacked fit trains on. A new iterator
        of ``dataset``, so the order is the fit's when ``stack_batches`` had a seed.

        Example:
            >>> from kerasweep._data import load_dataset
            >>> stacked = stack_batches(load_dataset("digits"), 64, 8, seed=0)
            >>> [len(x) for x, _ in stacked.batches(stacked.elements_per_epoch)][-3:]
            [64, 64, 29]
        """
        features, labels = self.features.numpy(), self.labels.numpy()
        iterator = iter(self.dataset)
        for _ in range(elements):
            indices, sizes = next(iterator)
            for rows, size in zip(indices.numpy(), sizes.numpy(), strict=True):
                if size:
                    x = features[rows[:size]]
                    if self.x_scale is not None:
                        x = x.astype(np.float32) / np.float32(self.x_scale)
                    yield x, labels[rows[:size]]


def stack_batches(
    data: Dataset,
    batch_size: int,
    batches_per_element: int,
    *,
    seed: int | None = None,
) -> StackedBatches:
    """The training batches of :func:`make_datasets`, stacked for a compiled multi-step loop.

    Every epoch is one fresh permutation of the whole training set cut into batches of
    ``batch_size`` (the last one smaller), exactly as :func:`make_datasets` yields them; then
    ``batches_per_element`` consecutive batches' row indices are stacked into one element, so
    a model compiled with ``steps_per_execution=batches_per_element`` runs all of them, one
    optimizer step per batch, in one call that gathers each batch from the resident
    examples. The epoch's last element is padded with empty batches and its last batch with
    masked rows (``sizes`` says how many are real). Image data sets keep their pixels as
    uint8 (:attr:`Dataset.x_train_uint8`), a quarter of the bytes to hold and read; the
    compiled loop divides them by ``x_scale`` in float32, which gives exactly the float32
    features.

    The examples are copied once to the training device (the first GPU when there is
    one) and shared by the runs of a process while the read-only arrays of
    :func:`~kerasweep._data.load_dataset` live.

    Args:
        data: The arrays.
        batch_size: Examples per optimizer step.
        batches_per_element: Batches per element (per compiled call).
        seed: Shuffle seed (None: a fresh order every run).

    Returns:
        A :class:`StackedBatches` to pass to ``GradientTapeModel.fit``.

    Example:
        >>> from kerasweep._data import load_dataset
        >>> stacked = stack_batches(load_dataset("digits"), 64, 8, seed=0)
        >>> stacked.steps_per_epoch, stacked.elements_per_epoch
        (23, 3)
        >>> indices, sizes = next(iter(stacked.dataset))
        >>> tuple(indices.shape), sizes.numpy().tolist()
        ((8, 64), [64, 64, 64, 64, 64, 64, 64, 64])
    """
    import tensorflow as tf

    n, batch_size, k = data.n_train, int(batch_size), int(batches_per_element)
    if batch_size < 1 or k < 1:
        raise ValueError(
            f"batch_size ({batch_size}) and batches_per_element ({k}) must be at least 1"
        )
    steps = -(-n // batch_size)
    elements = -(-steps // k)
    padding = elements * k * batch_size - n
    sizes = np.clip(n - np.arange(elements * k) * batch_size, 0, batch_size)
    sizes = tf.constant(sizes.reshape(elements, k).astype(np.int32))

    def epoch(key):
        order = tf.cast(epoch_order(n, key), tf.int32)
        order = tf.pad(order, [[0, padding]])  # padding rows point at example 0
        return tf.data.Dataset.from_tensor_slices(
            (tf.reshape(order, [elements, k, batch_size]), sizes)
        )

    # An endless stream of keys, one per epoch: fit keeps one iterator across epochs.
    compact = data.x_train_uint8 is not None
    features, labels = device_tensors(
        data.x_train_uint8 if compact else data.x_train, data.y_train
    )
    dataset = quick_to_start(tf.data.Dataset.random(seed=seed).flat_map(epoch).prefetch(1))
    return StackedBatches(
        dataset,
        features,
        labels,
        steps,
        k,
        batch_size,
        data.x_scale if compact else None,
    )


def device_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """``x`` and ``y`` as tensors on the training device, copied once for read-only arrays.

    On a CPU these are :func:`host_tensors`; with a GPU, copies in its memory, so no
    compiled call copies examples to the device.
    """
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        return host_tensors(x, y)

    def copy():
        with tf.device("/GPU:0"):
            return tf.identity(tf.constant(x)), tf.identity(tf.constant(y))

    return kept_while_alive((x, y), "GPU tensors", copy)
