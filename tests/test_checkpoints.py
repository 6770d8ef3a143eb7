"""RunCheckpoint: a run interrupted any number of times ends as the same run left alone.

"Equal" here is ``==`` on the per-epoch losses and byte equality of the final weights.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasweep import build_mlp, stack_batches, validation_batches
from kerasweep._checkpoints import CheckpointMismatch, RunCheckpoint
from kerasweep._data import Dataset
from kerasweep._pipelines import make_datasets
from tests.conftest import ROOT, subprocess_env

SEED = 7
EPOCHS = 6
BATCH = 32
RNG = np.random.default_rng(0)
# 300 training examples: 10 batches of 32, the last one of 12, so the stacked pipeline
# (4 batches an element) pads its epoch's last element.
X = RNG.random((380, 16)).astype("float32")
Y = (X[:, :3].sum(axis=1) * 2).astype("int32") % 4
DATA = Dataset("toy", X[:300], Y[:300], X[300:], Y[300:])
OPTIMIZERS = {
    "sgd-momentum": lambda: keras.optimizers.SGD(0.05, momentum=0.9),
    "adam": lambda: keras.optimizers.Adam(0.01),
}


class Rows(keras.callbacks.Callback):
    """The per-epoch metrics, carried by the checkpoint as a metrics logger's rows are."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, float]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in logs.items()}})

    def checkpoint_state(self):
        return {"rows": self.rows}

    def restore_checkpoint_state(self, state):
        self.rows = [dict(row) for row in state["rows"]]


class Interrupted(Exception):
    pass


class InterruptAfter(keras.callbacks.Callback):
    """Stops fit after epoch ``after`` (1-based) has ended, as a signal would."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise Interrupted(epoch)


def _fit(pipeline, dropout, optimizer, directory=None, interrupt_after=None, every=1):
    """One seeded run as a process would do it: seed, data, a fresh model, fit.

    Returns the rows, the final weights' bytes and the ``History``.
    """
    keras.utils.set_random_seed(SEED)
    model = build_mlp(16, (32, 32), 4, dropout=dropout)
    if pipeline == "stacked":
        train = stack_batches(DATA, BATCH, 4, seed=SEED)
        val = validation_batches(DATA, 64)
        steps_per_execution = 4
    else:
        train, val = make_datasets(DATA, BATCH, seed=SEED)
        steps_per_execution = 1
    model.compile(
        OPTIMIZERS[optimizer](),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    rows = Rows()
    callbacks: list = [rows]
    if directory is not None:
        checkpoint = RunCheckpoint(directory, every=every, carry={"rows": rows})
        train = checkpoint.resume_data(train)
        callbacks.append(checkpoint)
    if interrupt_after is not None:
        callbacks.append(InterruptAfter(interrupt_after))
    history = model.fit(
        train, validation_data=val, epochs=EPOCHS, callbacks=callbacks, verbose=0, shuffle=False
    )
    return rows.rows, [v.numpy().tobytes() for v in model.variables], history


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", ["plain", "stacked"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_interrupted_twice_ends_as_the_uninterrupted_run(tmp_path, pipeline, dropout, optimizer):
    rows, weights, _ = _fit(pipeline, dropout, optimizer, tmp_path / "alone")
    assert len(rows) == EPOCHS

    run = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        _fit(pipeline, dropout, optimizer, run, interrupt_after=2)
    assert RunCheckpoint(run).initial_epoch == 2
    with pytest.raises(Interrupted):
        _fit(pipeline, dropout, optimizer, run, interrupt_after=4)
    assert RunCheckpoint(run).initial_epoch == 4
    resumed_rows, resumed_weights, history = _fit(pipeline, dropout, optimizer, run)

    assert resumed_rows == rows  # every epoch's loss, val_loss, accuracy: equal floats
    assert resumed_weights == weights  # bit for bit
    assert history.history["loss"] == [row["loss"] for row in rows[4:]]  # fit ran epochs 5, 6


@pytest.mark.slow
def test_every_two_saves_after_even_epochs_only(tmp_path):
    seen = []

    class Listing(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            checkpoint.wait()  # the write runs beside the next epoch
            seen.append(sorted(p.name for p in tmp_path.iterdir()))

    keras.utils.set_random_seed(SEED)
    model = build_mlp(16, 8, 4)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train, _ = make_datasets(DATA, BATCH, seed=SEED)
    checkpoint = RunCheckpoint(tmp_path, every=2)
    model.fit(train, epochs=5, callbacks=[checkpoint, Listing()], verbose=0, shuffle=False)
    assert seen == [
        [],
        ["checkpoint-000002.npz"],
        ["checkpoint-000002.npz"],
        ["checkpoint-000004.npz"],  # the older one goes once the newer one is in place
        ["checkpoint-000004.npz"],
    ]
    checkpoint.remove()
    assert not tmp_path.exists()


def _saved_model(directory, epochs_done, value):
    """A checkpoint of a small model whose weights are all ``value``; the model."""
    model = build_mlp(16, 8, 4)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    for variable in model.weights:
        variable.assign(np.full(variable.shape, value, variable.dtype))
    checkpoint = RunCheckpoint(directory)
    checkpoint.set_model(model)
    return checkpoint.save(epochs_done)


def _restored_value(directory):
    model = build_mlp(16, 8, 4)
    model.compile("adam", "sparse_categorical_crossentropy")
    checkpoint = RunCheckpoint(directory)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    return float(model.weights[0].numpy().flat[0])


@pytest.mark.parametrize("damage", ["cut off", "bytes changed"])
def test_a_broken_newest_checkpoint_is_skipped_for_the_previous_one(tmp_path, damage):
    older = _saved_model(tmp_path, 2, 2.0)
    kept = older.read_bytes()
    newer = _saved_model(tmp_path, 3, 3.0)
    assert not older.exists()  # at rest, one checkpoint
    older.write_bytes(kept)  # as when the newer one was cut off before the older one went
    blob = bytearray(newer.read_bytes())
    if damage == "cut off":
        blob = blob[: len(blob) // 2]
    else:
        blob[len(blob) // 2] ^= 0xFF
    newer.write_bytes(bytes(blob))
    (tmp_path / ".checkpoint-000004.npz.99999.tmp").write_bytes(b"PK\x03\x04 half a write")

    with pytest.warns(UserWarning, match="checkpoint-000003.npz, which does not read back"):
        assert RunCheckpoint(tmp_path).initial_epoch == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _restored_value(tmp_path) == 2.0


def test_a_write_cut_off_is_never_read(tmp_path):
    _saved_model(tmp_path, 1, 1.0)
    (tmp_path / ".checkpoint-000002.npz.12345.tmp").write_bytes(b"PK")
    assert RunCheckpoint(tmp_path).initial_epoch == 1
    path = _saved_model(tmp_path, 2, 2.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # the leftover went too


def test_off_neither_saves_nor_resumes(tmp_path):
    _saved_model(tmp_path / "run", 3, 3.0)
    for every in (None, 0):
        checkpoint = RunCheckpoint(tmp_path / "run", every=every)
        assert not checkpoint.enabled and not checkpoint.resuming
        assert checkpoint.initial_epoch == 0
    with pytest.raises(ValueError, match="every"):
        RunCheckpoint(tmp_path, every=-1)


def test_another_model_is_refused(tmp_path):
    _saved_model(tmp_path, 1, 1.0)
    model = build_mlp(16, 9, 4)
    model.compile("adam", "sparse_categorical_crossentropy")
    checkpoint = RunCheckpoint(tmp_path)
    checkpoint.set_model(model)
    with pytest.raises(CheckpointMismatch, match="same model and optimizer"):
        checkpoint.on_train_begin()


@pytest.mark.slow
def test_a_later_fit_of_the_same_model_starts_where_it_is_told(tmp_path):
    """The start epoch set for a resume does not stay on a model kept for the next run."""
    with pytest.raises(Interrupted):
        _fit("plain", 0.0, "adam", tmp_path, interrupt_after=2)
    keras.utils.set_random_seed(SEED)
    model = build_mlp(16, (32, 32), 4)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train, _ = make_datasets(DATA, BATCH, seed=SEED)
    checkpoint = RunCheckpoint(tmp_path)
    resumed = model.fit(
        checkpoint.resume_data(train), epochs=3, callbacks=[checkpoint], verbose=0, shuffle=False
    )
    assert resumed.epoch == [2]
    again = model.fit(train, epochs=2, verbose=0, shuffle=False)
    assert again.epoch == [0, 1]


def test_resuming_without_resume_data_warns(tmp_path):
    _saved_model(tmp_path, 1, 1.0)
    model = build_mlp(16, 8, 4)
    model.compile("adam", "sparse_categorical_crossentropy")
    checkpoint = RunCheckpoint(tmp_path)
    checkpoint.set_model(model)
    with pytest.warns(UserWarning, match="resume_data"):
        checkpoint.on_train_begin()


# -- a process killed with SIGKILL, resumed by another ------------------------------------------

#: ``python -c`` for a run of the stacked pipeline with XLA, as ``sweep_train`` trains on MNIST.
CHILD = """
import sys, time
from tests.test_checkpoints import child_run
child_run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def child_run(directory: str, out: str, stall_in_epoch: int) -> None:
    """Train, checkpointing into ``directory``; write the rows and a weights hash to ``out``.

    With ``stall_in_epoch`` (1-based), print ``STALLED`` in the middle of that epoch, once
    the checkpoint before it is on disk, and wait there to be killed.
    """

    class Stall(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch + 1 == stall_in_epoch:
                checkpoint.wait()  # the last epoch's checkpoint is on disk: the newest
                print("STALLED", flush=True)
                time.sleep(600)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

    keras.utils.set_random_seed(SEED)
    model = build_mlp(16, (32, 32), 4, dropout=0.2)
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=2,
    )
    model.stacked_jit_compile = True
    train = stack_batches(DATA, BATCH, 2, seed=SEED)
    rows = Rows()
    callbacks: list = [rows]
    checkpoint = RunCheckpoint(directory, carry={"rows": rows})
    train = checkpoint.resume_data(train)
    callbacks += [checkpoint, Stall()]
    model.fit(
        train, validation_data=validation_batches(DATA, 64), epochs=EPOCHS,
        callbacks=callbacks, verbose=0,
    )
    weights = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.variables))
    Path(out).write_text(json.dumps({"rows": rows.rows, "weights": weights.hexdigest()}))


def _child(directory: Path, out: Path, stall_in_epoch: int = 0) -> subprocess.Popen:
    """The run in a new process; its stderr goes to ``out`` + ``.stderr``."""
    with open(f"{out}.stderr", "a") as stderr:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(directory), str(out), str(stall_in_epoch)],
            cwd=ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def _stderr(process: subprocess.Popen) -> str:
    return Path(f"{process.args[4]}.stderr").read_text()[-3000:]


def _kill_when_stalled(process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 240
    for line in process.stdout:
        if line.strip() == "STALLED":
            break
        assert time.monotonic() < deadline
    else:
        process.wait(timeout=60)
        raise AssertionError(_stderr(process))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def _finish(process: subprocess.Popen) -> None:
    process.communicate(timeout=300)
    assert process.returncode == 0, _stderr(process)


@pytest.mark.slow
def test_a_process_killed_mid_epoch_resumes_in_another_exactly(tmp_path):
    alone = _child(tmp_path / "alone", tmp_path / "alone.json")
    _finish(alone)

    run_dir = tmp_path / "run"
    killed = _child(run_dir, tmp_path / "never.json", stall_in_epoch=3)
    _kill_when_stalled(killed)  # mid epoch 3: the checkpoint of epoch 2 is the newest
    assert RunCheckpoint(run_dir).initial_epoch == 2
    killed_again = _child(run_dir, tmp_path / "never.json", stall_in_epoch=6)
    _kill_when_stalled(killed_again)
    assert RunCheckpoint(run_dir).initial_epoch == 5
    resumed = _child(run_dir, tmp_path / "resumed.json")
    _finish(resumed)

    expected = json.loads((tmp_path / "alone.json").read_text())
    got = json.loads((tmp_path / "resumed.json").read_text())
    assert len(got["rows"]) == EPOCHS
    assert got["rows"] == expected["rows"]
    assert got["weights"] == expected["weights"]
    assert not (tmp_path / "never.json").exists()


def test_a_failed_background_write_is_raised_when_fit_ends(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    model = build_mlp(16, 8, 4)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train, _ = make_datasets(DATA, BATCH, seed=SEED)
    checkpoint = RunCheckpoint(tmp_path / "file" / "run")
    with pytest.raises(OSError):
        model.fit(
            checkpoint.resume_data(train), epochs=1, callbacks=[checkpoint], verbose=0,
            shuffle=False,
        )


def test_the_process_random_state_comes_back(tmp_path):
    import random

    import tensorflow as tf

    def draws():
        return (
            random.random(),
            float(np.random.rand()),
            float(tf.random.get_global_generator().normal([])),
            float(keras.random.uniform(())),  # Keras' global SeedGenerator
        )

    model = build_mlp(16, 8, 4)
    model.compile("adam", "sparse_categorical_crossentropy")
    keras.utils.set_random_seed(3)
    draws()
    checkpoint = RunCheckpoint(tmp_path, background=False)
    checkpoint.set_model(model)
    checkpoint.save(1)
    expected = draws()
    draws()
    resumed = RunCheckpoint(tmp_path)
    resumed.set_model(model)
    with pytest.warns(UserWarning, match="resume_data"):
        resumed.on_train_begin()
    assert draws() == expected


@pytest.mark.slow
def test_a_run_resumed_on_a_kept_compiled_model_ends_as_left_alone(tmp_path):
    """An agent process runs other runs between; sweep_train reuses their compiled models."""
    from kerasweep._speedups.compiled_models import CompiledModels

    def run(pool, learning_rate, directory, interrupt_after=None):
        keras.utils.set_random_seed(SEED)
        model = pool.take(
            "toy",
            build_mlp(16, (32, 32), 4, dropout=0.3),
            keras.optimizers.Adam(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            steps_per_execution=4,
            jit_compile=True,
        )
        rows = Rows()
        checkpoint = RunCheckpoint(directory, carry={"rows": rows})
        callbacks = [rows, checkpoint]
        if interrupt_after is not None:
            callbacks.append(InterruptAfter(interrupt_after))
        model.fit(
            checkpoint.resume_data(stack_batches(DATA, BATCH, 4, seed=SEED)),
            validation_data=validation_batches(DATA, 64),
            epochs=EPOCHS,
            callbacks=callbacks,
            verbose=0,
        )
        return rows.rows, [v.numpy().tobytes() for v in model.variables]

    alone = run(CompiledModels(), 0.01, tmp_path / "alone")
    pool = CompiledModels()
    with pytest.raises(Interrupted):
        run(pool, 0.01, tmp_path / "a", interrupt_after=3)
    run(pool, 0.003, tmp_path / "b")  # another run on the same compiled model
    assert run(pool, 0.01, tmp_path / "a") == alone
    assert len(pool) == 1
