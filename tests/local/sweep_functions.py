"""Sweep functions for the local controller's tests: wandb protocol, no training."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import wandb

from kerasweep.local import stop_requested

# crafted val_loss series, chosen by the grid parameter "series"
SERIES = [
    [1.0, 0.8, 0.6, 0.5, 0.45, 0.4, 0.38, 0.36],
    [1.2, 1.1, 1.0, 0.95, 0.9, 0.88, 0.87, 0.86],  # worse than 0 at band 2
    [0.9, 0.7, 0.5, 0.4, 0.35, 0.3, 0.25, 0.2],  # best
    [1.5, 1.4, 1.3, 1.2, 1.1, 1.0, 0.9, 0.8],  # bad at band 2
    [1.0, 0.75, 0.55, 0.41, 0.39, 0.37, 0.36, 0.35],
    [1.0, 0.9, float("nan"), 0.7, 0.6, 0.5, 0.45, 0.44],  # a NaN is no iteration
    [2.0, 0.5, 0.45, 0.6, 0.6, 0.6, 0.6, 0.6],  # fine at band 2, poor at band 4
    [0.95, 0.6, 0.42, 0.3, 0.28, 0.27, 0.26, 0.25],
]


def crafted():
    """Logs SERIES[series] as val_loss (val_acc = 1 - val_loss), one row per epoch."""
    wandb.init(config={"series": 0})
    for epoch, value in enumerate(SERIES[wandb.config.series]):
        wandb.log({"epochs": epoch, "val_loss": value, "val_acc": 1.0 - value})
        if stop_requested():
            break


def crafted_nested():
    """crafted, its metric logged nested: ``{"val": {"loss": v}}`` (the metric ``val.loss``)."""
    wandb.init(config={"series": 0})
    for epoch, value in enumerate(SERIES[wandb.config.series]):
        wandb.log({"epochs": epoch, "val": {"loss": value}})
        if stop_requested():
            break


def _epochs_allowed(gate: str) -> int:
    try:
        return int(Path(gate).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def crafted_paced():
    """crafted, paced by the file $TEST_GATE when set (it holds how many epochs a run may have
    logged so far); then fails with the text of its "fail" parameter, when one is given."""
    wandb.init(config={"series": 0, "fail": ""})
    gate = os.environ.get("TEST_GATE")
    for epoch, value in enumerate(SERIES[wandb.config.series]):
        while gate and epoch >= _epochs_allowed(gate):
            time.sleep(0.05)
        wandb.log({"epochs": epoch, "val_loss": value, "val_acc": 1.0 - value})
        if stop_requested():
            break
    if wandb.config.fail:
        raise RuntimeError(wandb.config.fail)


def quadratic():
    """val_loss = (x - 0.3)^2 + (y - 2)^2 / 10 for numeric x, y; one row."""
    wandb.init(config={"x": 0.0, "y": 0})
    x, y = float(wandb.config.x), float(wandb.config.y)
    wandb.log({"val_loss": (x - 0.3) ** 2 + (y - 2) ** 2 / 10})


def grid_point():
    """Logs one row; sleeps a little so that concurrent agents interleave."""
    wandb.init(config={"a": 0, "b": "p"})
    time.sleep(float(os.environ.get("TEST_SLEEP", "0.05")))
    wandb.log({"val_loss": float(wandb.config.a), "pid": os.getpid()})


def protocol_rows_only():
    """Logs rows without the sweep metric (written only when the run ends)."""
    wandb.init(config={"a": 0})
    wandb.log({"loss": 1.0})


def fail_odd():
    """Raises for odd a."""
    wandb.init(config={"a": 0})
    if wandb.config.a % 2:
        raise ValueError(f"odd a={wandb.config.a}")
    wandb.log({"val_loss": 1.0 / (1 + wandb.config.a)})


def oom_on_one():
    """Logs one row; for a=1, then takes its own process down (as the kernel's OOM killer)."""
    wandb.init(config={"a": 0})
    wandb.log({"val_loss": float(wandb.config.a)})
    if wandb.config.a == 1:
        os.kill(os.getpid(), signal.SIGKILL)


def always_fail():
    raise RuntimeError("broken function\nsecond line")


def hang_on_flag():
    """Logs one row; if the file named by $TEST_HANG_FLAG exists, then waits forever."""
    wandb.init(config={"a": 0})
    wandb.log({"val_loss": float(wandb.config.a)})
    flag = os.environ.get("TEST_HANG_FLAG")
    if flag and os.path.exists(flag):
        os.remove(flag)
        with open(flag + ".running", "w") as out:
            out.write(wandb.run.id)
        while True:
            time.sleep(1)


def protocol():
    """Writes what the run sees (config, env, wandb run) to $TEST_OUT/<run id>.json."""
    before = {k: os.environ.get(k) for k in ("WANDB_SWEEP_PARAM_PATH", "WANDB_RUN_ID")}
    run = wandb.init(config={"a": -1, "b": "default", "untouched": 7})
    wandb.config.update({"extra": 1})
    seen = {
        "config": dict(wandb.config),
        "env": before,
        "sweep_env": {k: os.environ.get(k) for k in ("KERASWEEP_SWEEP_ID", "KERASWEEP_RUN_ID")},
        "wandb_sweep_id": os.environ.get("WANDB_SWEEP_ID"),
        "run_id": run.id,
        "group": run.group,
        "name": run.name,
        "project": run.project,
        "run_sweep_id": run.sweep_id,
        "offline": bool(run.settings._offline) if hasattr(run, "settings") else None,
        "dir": str(run.dir),
        "params_file": Path(before["WANDB_SWEEP_PARAM_PATH"]).read_text(),
    }
    wandb.log({"val_loss": 0.5, "epochs": 0})
    wandb.log({"val_loss": 0.25}, commit=False)
    wandb.log({"epochs": 1})
    with open(os.path.join(os.environ["TEST_OUT"], f"{run.id}.json"), "w") as out:
        json.dump(seen, out)


def _tutorial_space_run(seed_globals: bool) -> None:
    """A run over the tutorial's space that draws from Python's and NumPy's generators.

    val_loss depends on the parameters only; each of 3 rows also logs the run's own draws
    (``draw``, ``np_draw``). With ``seed_globals`` the run first seeds the way sweep_train
    does, with ``keras.utils.set_random_seed(config.seed)``.
    """
    import math
    import random

    import numpy as np

    wandb.init(config={"batch_size": 0, "learning_rate": 0.0, "seed": 0})
    config = wandb.config
    if seed_globals:
        import keras

        keras.utils.set_random_seed(config.seed)
    loss = abs(math.log10(config.learning_rate) + 3) + config.batch_size / 256
    for epoch in range(3):
        row = {"epochs": epoch, "val_loss": loss - epoch / 10}
        wandb.log({**row, "draw": random.random(), "np_draw": float(np.random.random())})


def seeding_run():
    """Seeds the global generators first, as sweep_train does; see _tutorial_space_run."""
    _tutorial_space_run(True)


def non_seeding_run():
    """The same run without seeding anything."""
    _tutorial_space_run(False)


def on_device():
    """Logs val_loss = a; writes its device and pid to $TEST_OUT/<run id>.json.

    Raises on the device named by $TEST_FAIL_DEVICE; with $TEST_HANG set, then writes its run
    id to $TEST_OUT/hang-<device> and waits forever.
    """
    run = wandb.init(config={"a": 0})
    device = os.environ.get("CUDA_VISIBLE_DEVICES")
    out = Path(os.environ["TEST_OUT"])
    (out / f"{run.id}.json").write_text(json.dumps({"device": device, "pid": os.getpid()}))
    if device == os.environ.get("TEST_FAIL_DEVICE"):
        raise RuntimeError(f"failing on device {device}")
    time.sleep(float(os.environ.get("TEST_SLEEP", "0.05")))
    wandb.log({"val_loss": float(wandb.config.a)})
    if os.environ.get("TEST_HANG"):
        (out / f"hang-{device}.tmp").write_text(run.id)
        os.replace(out / f"hang-{device}.tmp", out / f"hang-{device}")
        while True:
            time.sleep(1)
