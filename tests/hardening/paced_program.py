"""A program-mode run for the fault tests: ``python paced_program.py --a=N``.

What tests/hardening/hardening_functions.py's ``paced_rows`` does, as a program: $TEST_ROWS
rows of val_loss, one every $TEST_PACE seconds, ``<run id> <rows logged> <pid>`` written to
$TEST_OUT/paced after each; ends early when the local controller asks it to.
"""

from __future__ import annotations

import os
import time

import wandb

from kerasweep.local import stop_requested

run = wandb.init(config={"a": 0})
pace = float(os.environ.get("TEST_PACE", "0.1"))
path = os.path.join(os.environ["TEST_OUT"], "paced")
for i in range(int(os.environ.get("TEST_ROWS", "40"))):
    wandb.log({"epochs": i, "val_loss": float(wandb.config.a) + 1.0 / (i + 1)})
    with open(path + ".tmp", "w") as out:
        out.write(f"{run.id} {i + 1} {os.getpid()}")
    os.replace(path + ".tmp", path)
    if stop_requested():
        break
    time.sleep(pace)
