"""A program-mode run for the fault tests: logs one row, says it runs, then hangs.

Run as ``python hang_program.py --a=N`` by the local agent; writes its pid to
``$TEST_OUT/running`` once its row is logged.
"""

from __future__ import annotations

import os
import sys
import time

import wandb

a = int(sys.argv[1].split("=", 1)[1])
wandb.init(config={"a": -1})
wandb.log({"val_loss": float(a)})
with open(os.path.join(os.environ["TEST_OUT"], "running.tmp"), "w") as out:
    out.write(str(os.getpid()))
os.replace(os.path.join(os.environ["TEST_OUT"], "running.tmp"),
           os.path.join(os.environ["TEST_OUT"], "running"))  # fmt: skip
while True:
    time.sleep(1)
