"""Data sets for sweeps; the ``tf.data`` pipelines that feed ``fit`` are :mod:`.pipelines`.

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

import functools
import os
from pathlib import Path

import numpy as np

from kerasweep._errors import KerasweepError

__all__ = [
    "Dataset",
    "DatasetError",
    "download",
    "load_dataset",
]

#: Where ``keras.datasets.mnist`` downloads ``mnist.npz`` from.
MNIST_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
_DOWNLOAD_TIMEOUT_S = 15.0
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_SPLIT_SEED = 0


class DatasetError(KerasweepError, ValueError):
    """A data set cannot be loaded; the message says what to do instead."""


class Dataset:
    """Arrays of one data set, ready for a classifier with logits.

    Attributes:
        name: ``"mnist"``, ``"digits"`` or the ``.npz`` path.
        x_train, y_train, x_test, y_test: float32 features in [0, 1] (one row per example)
            and int32 class labels.
        x_train_uint8, x_scale: When the features are small integers scaled (images), the
            same training features as uint8, with ``x_train == x_train_uint8 / x_scale`` in
            float32 exactly; else None. A quarter of the bytes to hold and read per batch.
            Given these, ``x_train`` may be left out (None): it is then made from them on
            first use, which a stacked fit never needs (for MNIST, 188 MB of float32 never made).

    Example:
        >>> import numpy as np
        >>> pixels = np.array([[0, 255], [51, 102]], np.uint8)
        >>> data = Dataset("two", None, np.array([0, 1]), pixels / 255, np.array([0, 1]),
        ...                x_train_uint8=pixels, x_scale=255.0)
        >>> data.x_train.tolist()
        [[0.0, 1.0], [0.20000000298023224, 0.4000000059604645]]
    """

    __slots__ = ("_x_train", "name", "x_scale", "x_test", "x_train_uint8", "y_test", "y_train")

    def __init__(
        self,
        name: str,
        x_train: np.ndarray | None,
        y_train: np.ndarray,
        x_test: np.ndarray,
        y_test: np.ndarray,
        x_train_uint8: np.ndarray | None = None,
        x_scale: float | None = None,
    ) -> None:
        if x_train is None and (x_train_uint8 is None or x_scale is None):
            raise ValueError(
                "Dataset: x_train is needed unless x_train_uint8 and x_scale are given"
            )
        for attr, value in (
            ("name", name),
            ("_x_train", x_train),
            ("y_train", y_train),
            ("x_test", x_test),
            ("y_test", y_test),
            ("x_train_uint8", x_train_uint8),
            ("x_scale", x_scale),
        ):
            object.__setattr__(self, attr, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Dataset is read-only: cannot set {name!r}")

    def __repr__(self) -> str:
        shapes = f"x_train={self.n_train}x{self.input_dim}, x_test={tuple(self.x_test.shape)}"
        return f"Dataset(name={self.name!r}, {shapes}, x_scale={self.x_scale!r})"

    @property
    def x_train(self) -> np.ndarray:
        """The training features as float32 (made from the uint8 ones on first use)."""
        if self._x_train is None:
            x = _features(self.x_train_uint8, self.x_scale)
            x.setflags(write=self.x_train_uint8.flags.writeable)
            object.__setattr__(self, "_x_train", x)
        return self._x_train

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return len(self.y_train)

    @property
    def input_dim(self) -> int:
        """Width of one flattened example."""
        return int(self.x_test.shape[1])

    @property
    def num_classes(self) -> int:
        """Number of classes (largest label + 1)."""
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def renamed(self, name: str) -> Dataset:
        """The same arrays under another name."""
        return Dataset(
            name,
            self._x_train,
            self.y_train,
            self.x_test,
            self.y_test,
            self.x_train_uint8,
            self.x_scale,
        )


def _features(x: np.ndarray, scale: float) -> np.ndarray:
    """``x`` flattened to one float32 row per example, divided by ``scale``."""
    x = np.asarray(x)
    x = x.reshape(len(x), -1).astype(np.float32)
    if scale != 1.0:
        x /= np.float32(scale)
    return x


def _labels(y: np.ndarray) -> np.ndarray:
    """``y`` as a flat int32 array."""
    return np.asarray(y).reshape(-1).astype(np.int32)


def _as_uint8(x: np.ndarray, scale: float) -> np.ndarray | None:
    """``x`` flattened as uint8 when its values are the integers 0..255, else None."""
    x = np.asarray(x)
    if scale == 1.0 or x.size == 0 or x.min() < 0 or x.max() > 255:
        return None
    if not np.issubdtype(x.dtype, np.integer) and not np.array_equal(x, np.rint(x)):
        return None
    return x.reshape(len(x), -1).astype(np.uint8, copy=False)


def _prepared(name: str, parts: dict[str, np.ndarray], scale: float) -> Dataset:
    """The float32 data set, with its uint8 training features where they exist."""
    compact = _as_uint8(parts["x_train"], scale)
    # with uint8 pixels, the float32 copy is made only if something asks for it
    x_train = _features(parts["x_train"], scale) if compact is None else None
    return Dataset(
        name,
        x_train,
        _labels(parts["y_train"]),
        _features(parts["x_test"], scale),
        _labels(parts["y_test"]),
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
    return _load_npz(path).renamed("mnist")


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
    for array in (data._x_train, data.y_train, data.x_test, data.y_test, data.x_train_uint8):
        if array is not None:
            array.setflags(write=False)
    return data


#: The most recently loaded data set, by source (name, or file path with mtime and size).
_LAST_LOADED: dict[tuple, Dataset] = {}
