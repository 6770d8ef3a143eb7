"""SweepMetricsLogger logs the tutorial's keys once per epoch; the guards stop cleanly."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import wandb
from wandb.integration.keras import WandbMetricsLogger

from kerasweep import SweepMetricsLogger, build_mlp
from kerasweep._callbacks import DivergenceGuard, ExecutionAwareMetricsLogger

RNG = np.random.default_rng(0)
X = RNG.uniform(size=(200, 12)).astype("float32")
Y = RNG.integers(0, 4, size=200).astype("int32")


@pytest.fixture
def logged(monkeypatch):
    """Every wandb.log call (one history row each) made while a disabled run is active."""
    rows: list[dict] = []
    run = wandb.init(mode="disabled")  # init rebinds wandb.log, so wrap it afterwards
    real_log = wandb.log

    def record(data, *args, **kwargs):
        rows.append(dict(data))
        return real_log(data, *args, **kwargs)

    monkeypatch.setattr(wandb, "log", record)
    yield rows
    run.finish()


def _model(metric="accuracy", **compile_kwargs):
    model = build_mlp(12, (8,), 4)
    model.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[metric],
        **compile_kwargs,
    )
    return model


@pytest.mark.parametrize(
    "metric",
    ["accuracy", "acc", keras.metrics.SparseCategoricalAccuracy()],
    ids=["accuracy", "acc", "sparse_categorical_accuracy"],
)
@pytest.mark.slow
def test_one_row_per_epoch_with_exactly_the_tutorials_keys(logged, metric):
    history = _model(metric).fit(
        X,
        Y,
        validation_split=0.25,
        epochs=3,
        batch_size=50,
        verbose=0,
        callbacks=[SweepMetricsLogger()],
    )
    assert [sorted(r) for r in logged] == [["acc", "epochs", "loss", "val_acc", "val_loss"]] * 3
    assert [r["epochs"] for r in logged] == [0, 1, 2]
    for row, loss, val_loss in zip(
        logged, history.history["loss"], history.history["val_loss"], strict=True
    ):
        assert all(type(v) is float for k, v in row.items() if k != "epochs")
        assert row["loss"] == pytest.approx(loss)
        assert row["val_loss"] == pytest.approx(val_loss)
        assert 0.0 <= row["acc"] <= 1.0 and 0.0 <= row["val_acc"] <= 1.0


@pytest.mark.slow
def test_rows_per_epoch_beside_wandb_metrics_logger(logged):
    """Hyperband counts rows holding val_loss: exactly one per epoch, whatever else logs."""
    epochs, batch_size, log_freq = 3, 10, 5  # 150 training examples: 15 steps per epoch
    _model().fit(
        X,
        Y,
        validation_split=0.25,
        epochs=epochs,
        batch_size=batch_size,
        verbose=0,
        callbacks=[WandbMetricsLogger(log_freq=log_freq), SweepMetricsLogger()],
    )
    per_epoch_batch_rows = 15 // log_freq
    assert len(logged) == epochs * (per_epoch_batch_rows + 2)  # + epoch/* row + our row
    assert sum("val_loss" in r for r in logged) == epochs
    assert sum("epoch/val_loss" in r for r in logged) == epochs
    assert sum("batch/loss" in r for r in logged) == epochs * per_epoch_batch_rows


@pytest.mark.slow
def test_without_validation_data_logs_what_exists_and_warns_once(logged):
    with pytest.warns(UserWarning, match="no validation data") as caught:
        _model().fit(X, Y, epochs=2, batch_size=50, verbose=0, callbacks=[SweepMetricsLogger()])
    assert len([w for w in caught if "no validation data" in str(w.message)]) == 1
    assert [sorted(r) for r in logged] == [["acc", "epochs", "loss"]] * 2


def test_needs_an_active_run():
    assert wandb.run is None
    with pytest.raises(wandb.Error, match="wandb.init"):
        SweepMetricsLogger()


@pytest.mark.slow
def test_stop_request_ends_fit_after_the_logged_epoch(logged):
    history = _model().fit(
        X,
        Y,
        validation_split=0.25,
        epochs=10,
        batch_size=50,
        verbose=0,
        callbacks=[SweepMetricsLogger(should_stop=lambda: len(logged) >= 2)],
    )
    assert len(history.history["loss"]) == 2
    assert [r["epochs"] for r in logged] == [0, 1]


class _StopAfter:
    """A log sink (what a local run is to wandb's capture), held as the run in progress, that
    asks to stop after n rows."""

    def __init__(self, rows: int) -> None:
        self.rows, self.limit = [], rows

    def log(self, data, step=None, commit=None):
        self.rows.append(dict(data))

    def report_error(self, err):
        raise err

    def should_stop(self):
        return len(self.rows) >= self.limit


def _epochs_trained(epochs: int) -> int:
    """How many of ``epochs`` a fit with ``SweepMetricsLogger()`` (no arguments) trains."""
    run = wandb.init(mode="disabled")
    history = _model().fit(
        X, Y, validation_split=0.25, epochs=epochs, batch_size=50, verbose=0,
        callbacks=[SweepMetricsLogger()],
    )  # fmt: skip
    run.finish()
    return len(history.history["loss"])


@pytest.mark.slow
def test_by_default_the_run_recording_wandb_decides_the_stop(logged):
    from kerasweep._adapters.wandb_internals import capture_log
    from kerasweep._current_run import holding

    # what a local run's recording does: capture wandb's rows, hold itself as the run
    with capture_log(_StopAfter(3)) as sink, holding(sink):
        assert _epochs_trained(10) == 3
    assert [r["epochs"] for r in sink.rows] == [0, 1, 2]
    assert _epochs_trained(4) == 4  # outside a local run nobody asks to stop


@pytest.mark.slow
@pytest.mark.parametrize(("steps_per_execution", "rows"), [(1, 8), (4, 8), (32, 4)])
def test_execution_aware_logger_keeps_log_spacing(logged, steps_per_execution, rows):
    """40 steps per epoch, log every 10: a row whenever a multiple of 10 steps was passed."""
    model = _model(steps_per_execution=steps_per_execution)
    model.fit(
        X,
        Y,
        epochs=2,
        batch_size=5,
        verbose=0,
        callbacks=[ExecutionAwareMetricsLogger(log_freq=10)],
    )
    batch_rows = [r for r in logged if "batch/loss" in r]
    assert len(batch_rows) == rows
    steps = [r["batch/batch_step"] for r in batch_rows]
    assert steps == sorted(steps) and steps[-1] == 80


def test_divergence_guard_stops_and_remembers_the_epoch(logged):
    model = build_mlp(12, (8,), 4, activation="linear")
    model.compile(
        keras.optimizers.SGD(1e6),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    guard = DivergenceGuard()
    history = model.fit(X * 1e3, Y, epochs=20, batch_size=10, verbose=0, callbacks=[guard])
    assert guard.diverged is not None
    assert not math.isfinite(guard.diverged.loss)
    assert len(history.history["loss"]) == guard.diverged.epoch + 1 < 20
    assert "diverged" in str(guard.diverged)


def test_the_batch_logger_carries_its_step_count_through_a_checkpoint():
    import wandb

    from kerasweep._callbacks import ExecutionAwareMetricsLogger

    run = wandb.init(mode="disabled")
    try:
        logger = ExecutionAwareMetricsLogger(log_freq=5)
        logger.global_step, logger.global_batch = 120, 24
        resumed = ExecutionAwareMetricsLogger(log_freq=5)
        resumed.restore_checkpoint_state(logger.checkpoint_state())
        assert (resumed.global_step, resumed.global_batch) == (120, 24)
    finally:
        run.finish()
