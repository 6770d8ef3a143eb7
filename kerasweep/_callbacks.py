"""Keras callbacks that log what a W&B sweep watches and guard a run against divergence.

The tutorial logs ``epochs, loss, acc, val_loss, val_acc`` with ``wandb.log`` once per epoch;
a sweep's ``metric`` and its ``hyperband`` early termination read those plain keys.
``WandbMetricsLogger`` logs ``epoch/val_loss`` instead, which hyperband watching ``val_loss``
never sees, so :class:`SweepMetricsLogger` logs the tutorial's keys beside it.

Example:
    >>> import wandb
    >>> from kerasweep import SweepMetricsLogger
    >>> run = wandb.init(mode="disabled")
    >>> callback = SweepMetricsLogger()
    >>> run.finish()
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import keras
import wandb
from wandb.integration.keras import WandbMetricsLogger

from kerasweep import _current_run
from kerasweep._adapters import keras_internals
from kerasweep._errors import KerasweepError

__all__ = ["DivergenceGuard", "ExecutionAwareMetricsLogger", "SweepMetricsLogger"]

# Names Keras gives an accuracy metric, most specific last; "acc" is the tutorial's.
_ACCURACY_NAMES = (
    "acc",
    "accuracy",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
)


def _find_accuracy_key(logs: dict[str, Any]) -> str | None:
    """The training-accuracy key in Keras' epoch logs, whatever the metric was called."""
    for name in _ACCURACY_NAMES:
        if name in logs:
            return name
    candidates = sorted(k for k in logs if not k.startswith("val_") and k.endswith(_ACCURACY_NAMES))
    return candidates[0] if candidates else None


class SweepMetricsLogger(keras.callbacks.Callback):
    """Logs one W&B history row per epoch with the tutorial's keys.

    The row holds ``epochs`` (0-based), ``loss``, ``acc``, ``val_loss`` and ``val_acc`` as
    Python floats, whatever Keras named the accuracy metric (``accuracy``,
    ``sparse_categorical_accuracy``, ...). Each row is one hyperband iteration for a sweep
    whose metric is ``val_loss``. Without validation data the ``val_*`` keys are left out and
    a warning says so once.

    When ``should_stop()`` turns True, training ends cleanly after the epoch just logged. By
    default that is when the local sweep recording this run decides it should stop
    (hyperband): :func:`kerasweep.local.stop_requested`, always False outside a local sweep.

    Args:
        accuracy_key: Name of the accuracy entry in Keras' logs; found automatically if None.
        should_stop: Asked after each logged epoch, e.g. a run handle's
            :meth:`~kerasweep.local.LocalRun.should_stop`. Default: see above.

    Example:
        >>> # model.fit(train, validation_data=val, callbacks=[
        >>> #     WandbMetricsLogger(), SweepMetricsLogger()])
    """

    def __init__(
        self,
        accuracy_key: str | None = None,
        *,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        if wandb.run is None:
            raise wandb.Error("You must call wandb.init() before SweepMetricsLogger()")
        self.accuracy_key = accuracy_key
        self.should_stop = should_stop or _current_run.stop_requested
        self._warned_no_validation = False

    def epoch_row(self, epoch: int, logs: dict[str, Any]) -> dict[str, float | int]:
        """The history row for one epoch's Keras logs."""
        acc_key = self.accuracy_key or _find_accuracy_key(logs)
        row: dict[str, float | int] = {"epochs": int(epoch)}
        if "loss" in logs:
            row["loss"] = float(logs["loss"])
        if acc_key and acc_key in logs:
            row["acc"] = float(logs[acc_key])
        if "val_loss" in logs:
            row["val_loss"] = float(logs["val_loss"])
            val_acc_key = f"val_{acc_key}" if acc_key else None
            if val_acc_key and val_acc_key in logs:
                row["val_acc"] = float(logs[val_acc_key])
        elif not self._warned_no_validation:
            self._warned_no_validation = True
            warnings.warn(
                "SweepMetricsLogger: fit() has no validation data, so no val_loss/val_acc is "
                "logged; a sweep whose metric is val_loss sees no value from this run.",
                stacklevel=2,
            )
        return row

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        wandb.log(self.epoch_row(epoch, logs or {}))
        if self.should_stop() and self.model is not None:
            self.model.stop_training = True


class ExecutionAwareMetricsLogger(WandbMetricsLogger):
    """``WandbMetricsLogger`` that logs every ``log_freq`` steps under ``steps_per_execution``.

    With ``steps_per_execution=k`` Keras calls ``on_train_batch_end`` once per k steps, with
    the index of the first or the last of them (the Keras release decides which); the stock
    logger then logs only when that index happens to be a multiple of ``log_freq``, and
    counts executions as steps. This one logs whenever a multiple of ``log_freq`` steps has
    been passed and keeps the true step count, so ``batch/*`` rows keep their spacing
    whatever ``steps_per_execution`` and the Keras release are.

    Example:
        >>> # model.fit(..., callbacks=[ExecutionAwareMetricsLogger(log_freq=20)])
    """

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._steps_in_epoch = 0

    def checkpoint_state(self) -> dict[str, int]:
        """The step counts a :class:`~kerasweep.RunCheckpoint` carries, so that ``batch/*``
        steps go on after a resume."""
        return {"global_step": int(self.global_step), "global_batch": int(self.global_batch)}

    def restore_checkpoint_state(self, state: dict[str, int]) -> None:
        self.global_step = int(state.get("global_step", self.global_step))
        self.global_batch = int(state.get("global_batch", self.global_batch))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        steps_per_execution = getattr(self.model, "steps_per_execution", None) or 1
        done = keras_internals.steps_done_at_train_batch_end(batch, steps_per_execution)
        # Keras reports a partial last execution as if it were full: clamp to the epoch.
        steps = (self.params or {}).get("steps")
        if steps:
            done = min(done, int(steps))
        previous = getattr(self, "_steps_in_epoch", 0)
        self._steps_in_epoch = done
        self.global_step += done - previous
        if not self.logging_batch_wise:
            return
        if done // self.log_freq > previous // self.log_freq or self.log_freq == 1:
            row = {f"batch/{k}": v for k, v in (logs or {}).items()}
            row["batch/batch_step"] = self.global_step
            lr = self._get_lr()
            if lr is not None:
                row["batch/learning_rate"] = lr
            wandb.log(row)


class TrainingDiverged(KerasweepError, RuntimeError):
    """The training loss became NaN or infinite; ``epoch`` is 0-based."""

    def __init__(self, epoch: int, loss: float) -> None:
        super().__init__(f"training diverged: loss became {loss} in epoch {epoch}")
        self.epoch = epoch
        self.loss = loss


class DivergenceGuard(keras.callbacks.Callback):
    """Stops training as soon as the training loss is NaN or infinite.

    Like ``keras.callbacks.TerminateOnNaN``, but remembers where it happened so the caller
    can mark the run diverged (see :attr:`diverged`) instead of reporting a normal finish.

    Example:
        >>> guard = DivergenceGuard()
        >>> guard.diverged is None
        True
    """

    def __init__(self) -> None:
        super().__init__()
        self.diverged: TrainingDiverged | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or self.diverged is not None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self.diverged = TrainingDiverged(self._epoch, loss)
            if self.model is not None:
                self.model.stop_training = True
