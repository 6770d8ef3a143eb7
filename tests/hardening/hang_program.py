"""A program-mode run for the fault tests: ``python hang_program.py --a=N``.

Logs ``val_loss = N``; then, if the file named by ``$TEST_HANG_FLAG`` exists, removes it,
writes its pid to ``$TEST_OUT/running`` and hangs.
"""

from __future__ import annotations

import os
import sys
import time

import wandb

a = int(sys.argv[1].split("=", 1)[1])
wandb.init(config={"a": -1})
wandb.log({"val_loss": float(a)})
flag = os.environ.get("TEST_HANG_FLAG")
if flag and os.path.exists(flag):
    os.remove(flag)
    running = os.path.join(os.environ["TEST_OUT"], "running")
    with open(running + ".tmp", "w") as out:
        out.write(str(os.getpid()))
    os.replace(running + ".tmp", running)
    while True:
        time.sleep(1)
