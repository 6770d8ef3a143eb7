"""Checkpoints that let an interrupted ``fit`` continue exactly where it stopped.

:class:`RunCheckpoint` is a Keras callback, a run's ``BackupAndRestore``: at the end of every
``every``-th epoch it writes one file holding all that ``fit`` needs to go on as if it had
never stopped, and when ``fit`` begins with such a file present it puts all of it back and
makes ``fit`` start at the epoch after the saved one. With a seed, a run interrupted any
number of times and resumed in a new process ends with the same per-epoch losses (equal
floats) and the same weights (equal bits) as the same run left alone.

What a checkpoint holds:

- every variable of the model (``model.variables``: weights, and the state of the
  ``SeedGenerator`` of each ``Dropout``) and of its optimizer (slots and ``iterations``);
- the number of epochs done;
- the process-wide random state: Python's ``random``, NumPy's global generator,
  TensorFlow's global ``tf.random.Generator`` and its eager op seeds, and Keras' global
  ``SeedGenerator`` (what ``keras.random`` uses without a seed);
- what other objects ask to carry, as JSON (e.g. the rows a metrics logger has counted):
  see :class:`CarriesState`.

The data order is not state a checkpoint can hold: a training dataset reshuffles when a new
iterator is made (``make_datasets``) or draws each epoch's order from an endless seeded
stream (``stack_batches``). :meth:`RunCheckpoint.resume_data` moves the data to the saved
epoch, so the epochs that follow draw the orders they would have drawn; give ``fit`` the
training data through it in every run, resumed or not.

The state is taken at the epoch's end; the file is written while the next epoch trains,
in a thread of its own (one write at a time; readers in the same process wait for it), to
a temporary name in the run's directory, flushed to disk, then renamed into place: a reader
sees a whole file or none, and a file that does not read back whole (cut off, corrupted) is
skipped for the newest one that does. At rest a directory holds one checkpoint; while one
is written, two.

Example:
    >>> import tempfile
    >>> from kerasweep import build_mlp
    >>> from kerasweep._data import load_dataset
    >>> from kerasweep._pipelines import make_datasets
    >>> train, val = make_datasets(load_dataset("digits"), 64, seed=0)
    >>> checkpoint = RunCheckpoint(tempfile.mkdtemp(), every=1)
    >>> checkpoint.initial_epoch  # nothing saved yet: fit starts at epoch 0
    0
    >>> model = build_mlp(64, 16)
    >>> model.compile("sgd", "sparse_categorical_crossentropy")
    >>> history = model.fit(checkpoint.resume_data(train), validation_data=val, epochs=2,
    ...                     callbacks=[checkpoint], verbose=0, shuffle=False)
    >>> RunCheckpoint(checkpoint.directory).initial_epoch  # what a resumed run would do
    2
    >>> checkpoint.remove()  # the run has ended
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import re
import threading
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import keras
import numpy as np

from kerasweep import _current_run
from kerasweep._errors import KerasweepError

__all__ = ["CarriesState", "CheckpointMismatch", "RunCheckpoint", "run_checkpoint"]

#: Checkpoint files: ``checkpoint-<epochs done, 6 digits>.npz``.
_NAME = re.compile(r"^checkpoint-(\d+)\.npz$")
#: Files being written: ``.checkpoint-<epochs done>.npz.<pid>.tmp``; never read.
_PARTIAL = re.compile(r"^\.checkpoint-\d+\.npz\.\d+\.tmp$")
#: What is in a checkpoint's ``meta`` entry; another value is not read.
_FORMAT = 1


@runtime_checkable
class CarriesState(Protocol):
    """Something whose state a checkpoint carries, e.g. a callback that counts rows.

    Example:
        >>> class Rows:
        ...     def __init__(self):
        ...         self.rows = []
        ...     def checkpoint_state(self):
        ...         return {"rows": self.rows}
        ...     def restore_checkpoint_state(self, state):
        ...         self.rows = list(state["rows"])
        >>> isinstance(Rows(), CarriesState)
        True
    """

    def checkpoint_state(self) -> dict[str, Any]:
        """The state to save, JSON-able (taken at each checkpoint)."""
        ...

    def restore_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Take back ``state`` (called when ``fit`` begins from a checkpoint)."""
        ...


class CheckpointMismatch(KerasweepError, ValueError):
    """A checkpoint does not fit the model it would be restored into."""


@dataclasses.dataclass(frozen=True)
class _Saved:
    """A checkpoint read back whole."""

    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def epochs_done(self) -> int:
        return int(self.meta["epochs_done"])


class RunCheckpoint(keras.callbacks.Callback):
    """Saves a run's training state every ``every`` epochs and resumes ``fit`` from it.

    Give ``fit`` the training data through :meth:`resume_data` and this callback last in
    ``callbacks`` (it saves what the others have done in the epoch, e.g. the rows that
    the objects in ``carry`` counted). When ``fit`` begins and ``directory`` holds a
    checkpoint, the model, its optimizer, the random state and what ``carry`` holds are
    put back as they were at that epoch's end, and ``fit`` starts at the next epoch: its
    ``History`` then has the resumed epochs only.

    The model must have the same architecture and optimizer as the saved one (else
    :class:`CheckpointMismatch`); it may be a new one, in a new process.

    Args:
        directory: Where this run's checkpoints go: one directory per run, created on the
            first save. Nothing else may write in it.
        every: Save after every ``every``-th epoch (epochs counted from 1: ``every=2``
            saves after epochs 2, 4, ...). None or 0: never save nor resume.
        carry: Objects whose state each checkpoint carries, by name (see
            :class:`CarriesState`); restored when ``fit`` begins from a checkpoint.
        background: Write to disk in a thread of its own while the next epoch trains
            (the state is still taken at the epoch's end, and a checkpoint is read only
            whole); a write that failed raises at the next checkpoint, at the end of
            ``fit`` or in :meth:`wait`. False: ``on_epoch_end`` returns once the checkpoint
            is on disk.

    Example:
        >>> checkpoint = RunCheckpoint("/tmp/runs/abc123", every=2)
        >>> checkpoint.enabled, checkpoint.resuming
        (True, False)
        >>> RunCheckpoint("/tmp/runs/abc123", every=None).enabled
        False
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every: int | None = 1,
        *,
        carry: Mapping[str, CarriesState] | None = None,
        background: bool = True,
    ) -> None:
        super().__init__()
        if every is not None and (isinstance(every, bool) or int(every) != every or every < 0):
            raise ValueError(f"RunCheckpoint: every must be None or an integer >= 0, not {every!r}")
        self.directory = Path(directory)
        self.every = int(every or 0)
        self.carry = dict(carry or {})
        self.background = bool(background)
        self._saved: _Saved | None = None
        self._read = False
        self._data_at: int | None = None  # epochs done that resume_data moved the data to

    # -- what a caller asks before fit ---------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """Whether this callback saves and resumes at all (``every`` is not None or 0)."""
        return self.every > 0

    @property
    def resuming(self) -> bool:
        """Whether ``fit`` will begin from a checkpoint."""
        return self._latest() is not None

    @property
    def initial_epoch(self) -> int:
        """The (0-based) epoch ``fit`` begins at: the epochs a checkpoint has done, else 0."""
        saved = self._latest()
        return 0 if saved is None else saved.epochs_done

    def carried(self, name: str) -> dict[str, Any] | None:
        """What the checkpoint ``fit`` resumes from carries for ``name`` (None: nothing)."""
        saved = self._latest()
        return None if saved is None else saved.meta["carried"].get(name)

    def resume_data(self, train: Any) -> Any:
        """``train`` as ``fit`` should get it: at the epoch it resumes at, one order an epoch.

        Call it on the training data of every ``fit`` with this callback, resumed or not,
        once per ``fit``. It takes:

        - a finite ``tf.data.Dataset`` that draws a new order each time an iterator of it is
          made (:func:`~kerasweep._pipelines.make_datasets`; a ``shuffle`` with
          ``reshuffle_each_iteration``): given back wrapped so that an order is drawn only
          when ``fit`` reads an epoch (Keras makes iterators it never reads), after as many
          orders were drawn and dropped as epochs were done;
        - :class:`~kerasweep.StackedBatches`, whose epochs follow each other in
          one endless seeded stream: a copy that skips the done epochs' elements.

        Switched off (``every`` None or 0), ``train`` itself.

        Example:
            >>> from kerasweep._data import load_dataset
            >>> from kerasweep import stack_batches
            >>> stacked = stack_batches(load_dataset("digits"), 64, 8, seed=0)
            >>> RunCheckpoint("/tmp/runs/new").resume_data(stacked) is stacked
            True
        """
        if not self.enabled:
            return train
        epochs = self.initial_epoch
        self._data_at = epochs
        from kerasweep._speedups.stacked_batches import StackedBatches

        if isinstance(train, StackedBatches):
            if epochs == 0:
                return train
            skipped = train.dataset.skip(epochs * train.elements_per_epoch)
            return dataclasses.replace(train, dataset=skipped)
        import tensorflow as tf

        if not isinstance(train, tf.data.Dataset):
            raise TypeError(
                "RunCheckpoint.resume_data takes a tf.data.Dataset or StackedBatches, "
                f"not {type(train).__name__}"
            )
        return _one_order_per_epoch(train, epochs)

    def remove(self) -> None:
        """Delete this run's checkpoints (and the directory, once empty): the run has ended."""
        with contextlib.suppress(OSError):  # a write that failed leaves nothing to keep
            _wait_for_write(self.directory)
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                if _NAME.match(path.name) or _PARTIAL.match(path.name):
                    path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # something else is in it: not ours to delete
                self.directory.rmdir()
        self._saved, self._read = None, True

    # -- Keras' hooks ------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        saved = self._latest()
        if saved is None:
            return
        _restore(self.model, saved)
        if self._data_at != saved.epochs_done:
            warnings.warn(
                f"RunCheckpoint: fit resumes after epoch {saved.epochs_done} but its training "
                "data was not given through resume_data(), so the epochs that follow draw "
                "other orders than the uninterrupted run",
                stacklevel=2,
            )
        for name, state in saved.meta["carried"].items():
            if name in self.carry:
                self.carry[name].restore_checkpoint_state(state)
        _start_fit_at(self.model, saved.epochs_done)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # fit has read where to start; a later fit of this model starts where it is told
        _start_fit_at(self.model, None)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.enabled or (epoch + 1) % self.every:
            return
        if self.background:
            _wait_for_write(self.directory)  # one write at a time, each whole
            arrays = self._capture(epoch + 1)
            _write_in_background(self.directory, epoch + 1, arrays)
        else:
            self.save(epoch + 1)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        _start_fit_at(self.model, None)
        self._saved, self._read, self._data_at = None, False, None  # the next fit reads anew
        self.wait()

    # -- writing and reading -----------------------------------------------------------------

    def save(self, epochs_done: int) -> Path:
        """Write the checkpoint of the model after ``epochs_done`` epochs now; its path."""
        _wait_for_write(self.directory)
        return _write(self.directory, epochs_done, self._capture(epochs_done))

    def wait(self) -> None:
        """Return once the checkpoint being written (if any) is on disk.

        Raises what the write raised, e.g. ``OSError`` for a full disk.
        """
        _wait_for_write(self.directory)

    def _capture(self, epochs_done: int) -> dict[str, np.ndarray]:
        """The state to save, read from the model and the process now."""
        carried = {name: obj.checkpoint_state() for name, obj in self.carry.items()}
        meta, arrays = _capture(self.model, epochs_done, carried)
        arrays["meta"] = np.array(json.dumps(meta))
        return arrays

    def _latest(self) -> _Saved | None:
        """The newest checkpoint that reads back whole, read once per fit."""
        if not self.enabled:
            return None
        if not self._read:
            with contextlib.suppress(OSError):  # a failed write: the newest one before it
                _wait_for_write(self.directory)
            self._saved, self._read = _read_newest(self.directory), True
        return self._saved


def run_checkpoint(
    every: int | None = None, *, carry: Mapping[str, CarriesState] | None = None
) -> RunCheckpoint | None:
    """The :class:`RunCheckpoint` of the run in progress, or None outside a run that has one.

    Under :func:`kerasweep.local_agent` (a function, or a program it starts) the agent says
    where the run's checkpoints go; a preempted run is started again with the same
    directory, so ``fit`` continues after its last checkpoint. Outside a local agent
    (plain Python, ``wandb.agent``): None, and nothing is saved.

    Args:
        every: Save every ``every`` epochs (0: never); None takes the agent's setting.
        carry: Objects whose state each checkpoint carries (see :class:`CarriesState`).

    Example:
        >>> run_checkpoint() is None  # not in a local sweep's run
        True
        >>> # checkpoint = kerasweep.run_checkpoint()
        >>> # callbacks = [...] + ([checkpoint] if checkpoint else [])
        >>> # train = checkpoint.resume_data(train) if checkpoint else train
    """
    place = _current_run.checkpoint_place()
    if place is None:
        return None
    return RunCheckpoint(place.directory, place.every if every is None else every, carry=carry)


def _one_order_per_epoch(train: Any, done: int) -> Any:
    """``train`` that draws its next order when an epoch is read, ``done`` orders on.

    Each iterator made of ``train`` draws an order; ``fit`` may make iterators it never
    reads (Keras makes the next epoch's at the end of each epoch, then another). Wrapped
    in a one-element ``flat_map``, an iterator of ``train`` is made only when the wrapper
    is first read, so the ``k``-th epoch read is the ``k``-th order, whatever ``fit`` does.
    """
    import tensorflow as tf

    size = int(train.cardinality())
    if size == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "RunCheckpoint.resume_data: an endless dataset has no epochs to resume at; "
            "give fit a finite dataset that reshuffles each iteration, or StackedBatches"
        )
    for _ in range(done):
        iter(train)  # each new iterator draws the next order
    wrapped = tf.data.Dataset.range(1).flat_map(lambda _: train)
    if size >= 0:
        wrapped = wrapped.apply(tf.data.experimental.assert_cardinality(size))
    return wrapped


def _write(directory: Path, epochs_done: int, arrays: dict[str, np.ndarray]) -> Path:
    """Write a checkpoint whole or not at all; then remove the older ones. Its path."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"checkpoint-{epochs_done:06d}.npz"
    partial = directory / f".{final.name}.{os.getpid()}.tmp"
    try:
        with open(partial, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    for path in directory.iterdir():  # the older checkpoints, and any partial one left
        if path != final and (_NAME.match(path.name) or _PARTIAL.match(path.name)):
            path.unlink(missing_ok=True)
    return final


class _Write(threading.Thread):
    """A checkpoint written in the background; ``error`` is what the write raised."""

    def __init__(self, directory: Path, epochs_done: int, arrays: dict[str, np.ndarray]):
        # not a daemon: a process that ends after an epoch still finishes its checkpoint
        super().__init__(name=f"RunCheckpoint {directory}", daemon=False)
        self.args = (directory, epochs_done, arrays)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _write(*self.args)
        except BaseException as error:  # raised again in the thread that waits
            self.error = error


#: Checkpoints this process is writing, by directory: whoever reads one here waits.
_WRITING: dict[str, _Write] = {}
_WRITING_LOCK = threading.Lock()


def _write_in_background(directory: Path, epochs_done: int, arrays: dict[str, np.ndarray]) -> None:
    write = _Write(directory, epochs_done, arrays)
    with _WRITING_LOCK:
        _WRITING[os.path.abspath(directory)] = write
    write.start()


def _wait_for_write(directory: Path) -> None:
    """Return once this process's write into ``directory`` (if any) has ended; raise its error."""
    with _WRITING_LOCK:
        write = _WRITING.pop(os.path.abspath(directory), None)
    if write is not None:
        write.join()
        if write.error is not None:
            raise write.error


def _read_newest(directory: Path) -> _Saved | None:
    """The newest checkpoint in ``directory`` that reads back whole; a broken one is skipped."""
    if not directory.is_dir():
        return None
    found = sorted(
        (int(m.group(1)), path)
        for path in directory.iterdir()
        if (m := _NAME.match(path.name)) is not None
    )
    for _, path in reversed(found):
        try:
            return _read(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
            warnings.warn(
                f"RunCheckpoint: skipping {path}, which does not read back whole ({error})",
                stacklevel=3,
            )
    return None


def _read(path: Path) -> _Saved:
    blob = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        broken = archive.testzip()  # every member's CRC
        if broken is not None:
            raise zipfile.BadZipFile(f"{broken} is corrupt")
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != _FORMAT:
        raise ValueError(f"format {meta.get('format')!r} is not {_FORMAT}")
    return _Saved(path, meta, arrays)


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the platform can)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the state: captured into arrays and JSON, restored from them ------------------------------


def _capture(
    model: keras.Model, epochs_done: int, carried: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    import tensorflow as tf

    arrays: dict[str, np.ndarray] = {}
    model_vars, optimizer_vars = _state_variables(model)
    for prefix, variables in (("model", model_vars), ("optimizer", optimizer_vars)):
        for i, variable in enumerate(variables):
            # a copy: the write may run while the next epoch updates the variable
            arrays[f"{prefix}/{i}"] = np.array(keras.ops.convert_to_numpy(variable), copy=True)
    numpy_state = np.random.get_state(legacy=False)
    arrays["numpy/key"] = numpy_state["state"]["key"]
    generator = tf.random.get_global_generator()
    arrays["tf/generator"] = np.array(generator.state.numpy(), copy=True)
    keras_seed = _keras_global_seed_state()
    if keras_seed is not None:
        arrays["keras/global_seed"] = keras_seed
    meta = {
        "format": _FORMAT,
        "epochs_done": int(epochs_done),
        "shapes": {
            prefix: [[list(v.shape), str(v.dtype)] for v in variables]
            for prefix, variables in (("model", model_vars), ("optimizer", optimizer_vars))
        },
        "python_random": _json_random_state(random.getstate()),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "tf_generator_algorithm": int(generator.algorithm),
        "tf_op_seeds": _json_random_state(_tf_op_seed_state()),
        "carried": carried,
    }
    return meta, arrays


def _restore(model: keras.Model, saved: _Saved) -> None:
    import tensorflow as tf

    if not model.built:
        raise ValueError("RunCheckpoint: build the model before fit to resume it")
    model_vars, optimizer_vars = _state_variables(model)
    for prefix, variables in (("model", model_vars), ("optimizer", optimizer_vars)):
        expected = saved.meta["shapes"][prefix]
        actual = [[list(v.shape), str(v.dtype)] for v in variables]
        if actual != expected:
            raise CheckpointMismatch(
                f"{saved.path}: the {prefix}'s variables ({len(actual)}) are not those saved "
                f"({len(expected)}): a checkpoint resumes the same model and optimizer only"
            )
    for prefix, variables in (("model", model_vars), ("optimizer", optimizer_vars)):
        for i, variable in enumerate(variables):
            variable.assign(saved.arrays[f"{prefix}/{i}"])
    meta = saved.meta
    random.setstate(_random_state_from_json(meta["python_random"]))
    numpy_state = meta["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy_state["bit_generator"],
            "state": {"key": saved.arrays["numpy/key"], "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    state = saved.arrays["tf/generator"]
    generator = tf.random.get_global_generator()
    if int(generator.algorithm) == meta["tf_generator_algorithm"]:
        generator.reset(state)
    else:
        tf.random.set_global_generator(
            tf.random.Generator.from_state(state, meta["tf_generator_algorithm"])
        )
    _set_tf_op_seed_state(_random_state_from_json(meta["tf_op_seeds"]))
    _set_keras_global_seed_state(saved.arrays.get("keras/global_seed"))


def _state_variables(model: keras.Model) -> tuple[list[Any], list[Any]]:
    """The model's variables (weights and seed states) and its optimizer's, in order.

    An optimizer not built yet (no step taken) is built first: its slots as they start.
    """
    optimizer = model.optimizer
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    return list(model.variables), list(optimizer.variables) if optimizer is not None else []


def _json_random_state(state: tuple | None) -> list | None:
    """A ``random.Random.getstate()`` as JSON: ``[version, [ints], gauss]``."""
    return None if state is None else [state[0], list(state[1]), state[2]]


def _random_state_from_json(state: list | None) -> tuple | None:
    return None if state is None else (state[0], tuple(state[1]), state[2])


# -- Keras and TensorFlow internals this module relies on ---------------------------------------
# Each function names the private attribute it reads or writes; nothing else here does.


def _start_fit_at(model: keras.Model, epoch: int | None) -> None:
    """Make the next ``fit`` of ``model`` start at ``epoch`` (None: at its ``initial_epoch``).

    Keras' ``Trainer._initial_epoch``, which ``fit`` reads before its first epoch in place of
    its ``initial_epoch`` argument: what ``keras.callbacks.BackupAndRestore`` sets.
    """
    model._initial_epoch = epoch


def _global_seed_generator_key(seed_generator: object) -> str:
    return getattr(seed_generator, "GLOBAL_SEED_GENERATOR", "global_seed_generator")


def _keras_global_seed_state() -> np.ndarray | None:
    """The state of Keras' global ``SeedGenerator``, if one was made (else None).

    ``keras.src.backend.common.global_state``'s ``"global_seed_generator"`` attribute,
    which ``keras.src.random.seed_generator.global_seed_generator()`` makes on first use
    (the name is ``seed_generator.GLOBAL_SEED_GENERATOR`` from Keras 3.9, a literal before).
    """
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    generator = global_state.get_global_attribute(_global_seed_generator_key(seed_generator))
    return None if generator is None else keras.ops.convert_to_numpy(generator.state)


def _set_keras_global_seed_state(state: np.ndarray | None) -> None:
    """Give Keras' global ``SeedGenerator`` ``state`` (None: none, made afresh on first use)."""
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    if state is None:
        global_state.set_global_attribute(_global_seed_generator_key(seed_generator), None)
    else:
        seed_generator.global_seed_generator().state.assign(state)


def _tf_op_seed_state() -> tuple | None:
    """The state of the generator of TensorFlow's eager op seeds, when a global seed is set.

    ``tensorflow.python.eager.context.Context._rng``: a ``random.Random`` seeded by
    ``tf.random.set_seed``, which gives each eager random op without a seed of its own one.
    """
    from tensorflow.python.eager import context

    rng = getattr(context.context(), "_rng", None)
    return None if rng is None else rng.getstate()


def _set_tf_op_seed_state(state: tuple | None) -> None:
    from tensorflow.python.eager import context

    rng = getattr(context.context(), "_rng", None)
    if state is not None and rng is not None:
        rng.setstate(state)
