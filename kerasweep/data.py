"""Data sets for sweeps and the ``tf.data`` pipelines that feed ``fit``.

Three sources, all preprocessed as the tutorial does (scaled to [0, 1], flattened) but as
float32:

- ``"mnist"``: ``keras.datasets.mnist`` (the local cache, else a download);
- ``"digits"``: scikit-learn's bundled 8x8 digits, split once (stratified, fixed seed):
  works with no network;
- a ``.npz`` file holding ``x_train``, ``y_train``, ``x_test``, ``y_test``.

Example:
    >>> from kerasweep import load_dataset
    >>> data = load_dataset("digits")
    >>> data.x_train.shape[1], data.num_classes, data.x_train.dtype.name
    (64, 10, 'float32')
"""

from __future__ import annotations

import dataclasses
import functools
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Dataset",
    "DatasetError",
    "StackedBatches",
    "download",
    "load_dataset",
    "make_datasets",
    "stack_batches",
    "validation_batches",
]

#: Where ``keras.datasets.mnist`` downloads ``mnist.npz`` from.
MNIST_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_DOWNLOAD_TIMEOUT_S = 15.0
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_SPLIT_SEED = 0


class DatasetError(ValueError):
    """A data set cannot be loaded; the message says what to do instead."""


@dataclass(frozen=True)
class Dataset:
    """Arrays of one data set, ready for a classifier with logits.

    Attributes:
        name: ``"mnist"``, ``"digits"`` or the ``.npz`` path.
        x_train, y_train, x_test, y_test: float32 features in [0, 1] (one row per example)
            and int32 class labels.
        x_train_uint8, x_scale: When the features are small integers scaled (images), the
            same training features as uint8, with ``x_train == x_train_uint8 / x_scale`` in
            float32 exactly; else None. A quarter of the bytes to move per batch.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_train_uint8: np.ndarray | None = field(default=None, repr=False)
    x_scale: float | None = None

    @property
    def input_dim(self) -> int:
        """Width of one flattened example."""
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes (largest label + 1)."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def _prepare(x: np.ndarray, y: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    x = x.reshape(len(x), -1).astype(np.float32)
    if scale != 1.0:
        x /= np.float32(scale)
    return x, np.asarray(y).reshape(-1).astype(np.int32)


def _as_uint8(x: np.ndarray, scale: float) -> np.ndarray | None:
    """``x`` flattened as uint8 when its values are the integers 0..255, else None."""
    x = np.asarray(x)
    if scale == 1.0 or x.size == 0 or x.min() < 0 or x.max() > 255:
        return None
    if not np.issubdtype(x.dtype, np.integer) and not np.array_equal(x, np.rint(x)):
        return None
    return x.reshape(len(x), -1).astype(np.uint8)


def _prepared(name: str, parts: dict[str, np.ndarray], scale: float) -> Dataset:
    """The float32 data set, with its uint8 training features where they exist."""
    x_train, y_train = _prepare(parts["x_train"], parts["y_train"], scale)
    x_test, y_test = _prepare(parts["x_test"], parts["y_test"], scale)
    compact = _as_uint8(parts["x_train"], scale)
    return Dataset(
        name,
        x_train,
        y_train,
        x_test,
        y_test,
        x_train_uint8=compact,
        x_scale=scale if compact is not None else None,
    )


def _keras_cache_dir() -> Path:
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "datasets"


def download(url: str, path: Path, *, sha256: str, timeout: float) -> Path:
    """Fetch ``url`` into ``path`` (checked against ``sha256``); ``timeout`` per socket wait.

    The timeout is this download's own: no process-wide socket default is changed. The file
    appears only once complete and verified.
    """
    import hashlib
    import shutil
    import tempfile
    import urllib.request

    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise OSError(f"{url}: downloaded file does not match its SHA-256")
        except BaseException:
            out.close()
            os.unlink(out.name)
            raise
    shutil.move(out.name, path)
    return path


def _load_mnist() -> Dataset:
    cached = _keras_cache_dir() / "mnist.npz"
    path = cached
    if not cached.exists():
        try:
            path = download(MNIST_ORIGIN, cached, sha256=MNIST_SHA256, timeout=_DOWNLOAD_TIMEOUT_S)
        except Exception as exc:  # any network, DNS or HTTP failure
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DatasetError(
                f"MNIST is not in the Keras cache ({cached}) and could not be downloaded "
                f"({reason}); use dataset 'digits' (bundled with scikit-learn, works offline) "
                "or a .npz path holding x_train, y_train, x_test, y_test"
            ) from None
    return dataclasses.replace(_load_npz(path), name="mnist")


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data,
        digits.target,
        test_size=_DIGITS_TEST_FRACTION,
        stratify=digits.target,
        random_state=_DIGITS_SPLIT_SEED,
    )
    # digits' pixels are 0..16
    parts = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _prepared("digits", parts, 16.0)


def _load_npz(path: Path) -> Dataset:
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
            if missing:
                raise DatasetError(
                    f"{path}: missing array {missing[0]!r} "
                    "(expected x_train, y_train, x_test, y_test)"
                )
            parts = {k: arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"{path}: not a readable .npz file ({exc})") from None
    for split in ("train", "test"):
        if len(parts[f"x_{split}"]) != len(parts[f"y_{split}"]):
            raise DatasetError(
                f"{path}: x_{split} has {len(parts[f'x_{split}'])} rows but y_{split} has "
                f"{len(parts[f'y_{split}'])}"
            )
    # Integer images are 0..255 as in MNIST; float features are taken as already scaled.
    scale = 255.0 if np.issubdtype(parts["x_train"].dtype, np.integer) else 1.0
    return _prepared(str(path), parts, scale)


def load_dataset(name_or_path: str | os.PathLike[str]) -> Dataset:
    """Load ``"mnist"``, ``"digits"`` or a ``.npz`` file as float32 arrays in [0, 1].

    The arrays are read once per process and shared, read-only, by later calls with the
    same source, so the runs of a sweep in one agent do not each reload the data.

    Args:
        name_or_path: ``"mnist"`` or ``"digits"`` (case-insensitive), or a path to a ``.npz``.

    Returns:
        The :class:`Dataset`.

    Raises:
        DatasetError: unknown name, missing or malformed file, or MNIST neither cached nor
            downloadable (with the remedies in the message).

    Example:
        >>> load_dataset("digits").x_test.shape
        (360, 64)
    """
    text = os.fspath(name_or_path)
    key = text.strip().lower()
    if key == "mnist":
        source: tuple = (key, str(_keras_cache_dir()))
        loader = _load_mnist
    elif key == "digits":
        source = (key,)
        loader = _load_digits
    elif key.endswith(".npz") or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise DatasetError(f"{path}: no such file")
        stat = path.stat()
        # a file rewritten between runs is read again
        source = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        loader = functools.partial(_load_npz, path)
    else:
        raise DatasetError(
            f"unknown dataset {text!r}: use 'mnist', 'digits' or a path to a .npz file "
            "holding x_train, y_train, x_test, y_test"
        )
    cached = _LAST_LOADED.get(source)
    if cached is None:
        cached = _read_only(loader())
        # One data set kept: the runs of a sweep share it; a sweep over data sets reloads.
        _LAST_LOADED.clear()
        _LAST_LOADED[source] = cached
    return cached


def _read_only(data: Dataset) -> Dataset:
    """Freeze the arrays: runs in one process share them, so none may change them."""
    for array in (data.x_train, data.y_train, data.x_test, data.y_test, data.x_train_uint8):
        if array is not None:
            array.setflags(write=False)
    return data


#: The most recently loaded data set, by source (name, or file path with mtime and size).
_LAST_LOADED: dict[tuple, Dataset] = {}


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
        >>> train, val = make_datasets(load_dataset("digits"), 64, seed=0)
        >>> x, y = next(iter(train))
        >>> tuple(x.shape), x.dtype.name
        ((64, 64), 'float32')
    """
    import tensorflow as tf

    train = _reshuffled_index_batches(len(data.x_train), int(batch_size), seed)
    train = train.map(
        _gatherer(data.x_train, data.y_train), num_parallel_calls=tf.data.AUTOTUNE
    ).prefetch(tf.data.AUTOTUNE)
    val = validation_batches(data, int(validation_batch_size or batch_size))
    return train, val


def validation_batches(data: Dataset, batch_size: int):
    """The test arrays in order, in batches of ``batch_size`` (the last one smaller).

    The pipeline holds nothing random, so for the read-only arrays of
    :func:`load_dataset` one is made per batch size and shared by the runs of a process:
    its batches are gathered once, on the first run's first validation.

    Example:
        >>> val = validation_batches(load_dataset("digits"), 256)
        >>> [int(x.shape[0]) for x, _ in val]
        [256, 104]
    """
    import tensorflow as tf

    def make():
        return _quick_to_start(
            tf.data.Dataset.range(len(data.x_test))
            .batch(int(batch_size))
            .map(_gatherer(data.x_test, data.y_test), num_parallel_calls=tf.data.AUTOTUNE)
            .cache()
            .prefetch(tf.data.AUTOTUNE)
        )

    return _kept_while_alive((data.x_test, data.y_test), int(batch_size), make)


#: What was made from read-only arrays, by the arrays' ids and a detail; an entry goes
#: when one of its arrays does.
_MADE_FROM: dict[tuple, Any] = {}


def _kept_while_alive(arrays: tuple[np.ndarray, ...], detail: Any, make: Any) -> Any:
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


def _quick_to_start(dataset):
    """``dataset`` without tf.data's graph rewrites and autotuning.

    Both run whenever an iterator is made: ``fit`` makes one per run for training and
    ``evaluate`` one per epoch for validation. For these pipelines (index batches gathered
    from resident arrays, parallelism and buffers set by hand) they change nothing an
    element costs, and without them an iterator starts in half the time (about 8 instead
    of 15 ms for digits' validation batches, 15 instead of 25 ms for stacked batches).
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return dataset.with_options(options)


def _gatherer(x: np.ndarray, y: np.ndarray):
    """A function from a batch of indices to the batch of ``(x, y)`` rows."""
    import tensorflow as tf

    features, labels = _host_tensors(x, y)
    return lambda idx, *rest: (tf.gather(features, idx), tf.gather(labels, idx), *rest)


def _host_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """``x`` and ``y`` as tensors in host memory, copied once per process for read-only arrays.

    Copying MNIST's training images into a tensor takes about 70 ms on a CPU; the runs of a
    sweep share :func:`load_dataset`'s arrays, and now these copies too.
    """
    import tensorflow as tf

    def copy():
        with tf.device("/CPU:0"):  # tf.data runs on the host, whatever the accelerator
            return tf.constant(x), tf.constant(y)

    return _kept_while_alive((x, y), "tensors", copy)


def _epoch_order(n: int, key):
    """A permutation of ``0..n-1`` drawn from ``key`` (one per epoch)."""
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        tf.range(n, dtype=tf.int64), seed=tf.stack([key, tf.constant(0, tf.int64)])
    )


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
        order = _epoch_order(n, key)
        return tf.data.Dataset.range(batches).map(
            lambda i: order[i * batch_size : (i + 1) * batch_size]
        )

    # One key per iteration: a new one each epoch, reproducible when a seed is given.
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    return keys.flat_map(epoch).apply(tf.data.experimental.assert_cardinality(batches))


@dataclass(frozen=True)
class StackedBatches:
    """Training batches stacked ``batches_per_element`` at a time, for one compiled loop.

    What :func:`stack_batches` returns and ``GradientTapeModel.fit`` takes in place of a
    dataset: each element of ``dataset`` is ``(x, y, sizes)`` with ``x`` of shape
    ``(batches_per_element, batch_size, ...)``, ``y`` of shape
    ``(batches_per_element, batch_size)`` and ``sizes`` the number of real examples in each
    batch (``batch_size``, fewer for an epoch's last batch, 0 for padding after it). The
    dataset never ends; each ``ceil(steps_per_epoch / batches_per_element)`` elements are one
    epoch.

    Attributes:
        dataset: The endless ``tf.data.Dataset`` of stacked elements.
        steps_per_epoch: Batches (optimizer steps) per epoch.
        batches_per_element: Batches per element; the model's ``steps_per_execution``.
        batch_size: Examples per full batch.
        x_scale: None, or the elements' ``x`` are uint8 and the model's input is
            ``float32(x) / x_scale`` (computed inside the compiled loop).
    """

    dataset: object
    steps_per_epoch: int
    batches_per_element: int
    batch_size: int
    x_scale: float | None = None

    @property
    def elements_per_epoch(self) -> int:
        """Elements that make one epoch (the last one padded)."""
        return -(-self.steps_per_epoch // self.batches_per_element)


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
    ``batches_per_element`` consecutive batches are gathered into one element, so a model
    compiled with ``steps_per_execution=batches_per_element`` runs all of them, one optimizer
    step per batch, in one call. The epoch's last element is padded with empty batches and
    its last batch with masked rows (``sizes`` says how many are real). Image data sets keep
    their pixels as uint8 in the elements (:attr:`Dataset.x_train_uint8`), a quarter of the
    bytes to gather and read; the compiled loop divides them by ``x_scale`` in float32, which
    gives exactly the float32 features.

    Args:
        data: The arrays.
        batch_size: Examples per optimizer step.
        batches_per_element: Batches per element (per compiled call).
        seed: Shuffle seed (None: a fresh order every run).

    Returns:
        A :class:`StackedBatches` to pass to ``GradientTapeModel.fit``.

    Example:
        >>> stacked = stack_batches(load_dataset("digits"), 64, 8, seed=0)
        >>> stacked.steps_per_epoch, stacked.elements_per_epoch
        (23, 3)
        >>> x, y, sizes = next(iter(stacked.dataset))
        >>> tuple(x.shape), sizes.numpy().tolist()
        ((8, 64, 64), [64, 64, 64, 64, 64, 64, 64, 64])
    """
    import tensorflow as tf

    n, batch_size, k = len(data.x_train), int(batch_size), int(batches_per_element)
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
        order = tf.pad(_epoch_order(n, key), [[0, padding]])  # padding rows gather example 0
        return tf.data.Dataset.from_tensor_slices(
            (tf.reshape(order, [elements, k, batch_size]), sizes)
        )

    # An endless stream of keys, one per epoch: fit keeps one iterator across epochs. One
    # element is gathered ahead while the model trains on another: elements are big (up to
    # k batches), and a gather is much shorter than k steps.
    compact = data.x_train_uint8 is not None
    features = data.x_train_uint8 if compact else data.x_train
    dataset = _quick_to_start(
        tf.data.Dataset.random(seed=seed)
        .flat_map(epoch)
        .map(_gatherer(features, data.y_train), num_parallel_calls=1)
        .prefetch(1)
    )
    return StackedBatches(dataset, steps, k, batch_size, data.x_scale if compact else None)
