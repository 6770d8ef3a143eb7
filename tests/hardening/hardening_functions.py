"""Sweep functions of the hardening tests (see tests/local/sweep_functions.py for the rest)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import wandb

from kerasweep._callbacks import TrainingDiverged

DIVERGES_ABOVE = 0.6


def spec(name: str) -> str:
    """``--function`` spec of a function in this file."""
    return f"{Path(__file__).resolve()}:{name}"


def diverging_quadratic():
    """val_loss = (x - 0.3)^2, but for x above DIVERGES_ABOVE the "training" diverges.

    A diverging run does what ``sweep_train`` does: one NaN epoch row, then
    :class:`~kerasweep._callbacks.TrainingDiverged` naming the epoch.
    """
    wandb.init(config={"x": 0.0})
    x = float(wandb.config.x)
    if x > DIVERGES_ABOVE:
        wandb.log({"epochs": 0, "loss": float("nan"), "val_loss": float("nan")})
        raise TrainingDiverged(0, float("nan"))
    wandb.log({"epochs": 0, "val_loss": (x - 0.3) ** 2})


def record_sys_modules():
    """Logs one row; writes the modules this process has loaded to $TEST_OUT/<run id>.json."""
    run = wandb.init(config={"a": 0})
    wandb.log({"val_loss": 1.0})
    with open(os.path.join(os.environ["TEST_OUT"], f"{run.id}.json"), "w") as out:
        json.dump(sorted(sys.modules), out)


def log_burst():
    """Logs val_loss rows as fast as it can (one store transaction each), for a long time.

    Once 200 rows are logged, writes its run id to $TEST_OUT/burst (then goes on logging).
    """
    run = wandb.init(config={"a": 0})
    for i in range(1_000_000):
        wandb.log({"i": i, "val_loss": 1.0 / (i + 1)})
        if i == 200:
            path = os.path.join(os.environ["TEST_OUT"], "burst")
            with open(path + ".tmp", "w") as out:
                out.write(run.id)
            os.replace(path + ".tmp", path)


def paced_rows():
    """Logs $TEST_ROWS rows (default 40) of val_loss, one every $TEST_PACE seconds (0.1).

    After each row, writes ``<run id> <rows logged>`` to $TEST_OUT/paced, so that a test
    knows how far the run got. Ends early when the local controller asks it to, as
    ``fit`` with :class:`~kerasweep.SweepMetricsLogger` does.
    """
    import time

    from kerasweep.local import stop_requested

    run = wandb.init(config={"a": 0})
    pace = float(os.environ.get("TEST_PACE", "0.1"))
    path = os.path.join(os.environ["TEST_OUT"], "paced")
    for i in range(int(os.environ.get("TEST_ROWS", "40"))):
        wandb.log({"epochs": i, "val_loss": float(wandb.config.a) + 1.0 / (i + 1)})
        with open(path + ".tmp", "w") as out:
            out.write(f"{run.id} {i + 1}")
        os.replace(path + ".tmp", path)
        if stop_requested():
            return
        time.sleep(pace)
