"""``sweep_train`` paced for the resume tests: each epoch's row is followed by a pause.

The pause (``TEST_EPOCH_PAUSE`` seconds, after the row is logged and before the checkpoint
is taken) leaves a test time to interrupt a run between epochs, and sometimes after an
epoch's row but before its checkpoint: the row is then logged again when the run resumes.
Used as ``--function tests/local/resume_functions.py:paced_sweep_train`` and, run as a
program, as the sweep's ``program``.
"""

from __future__ import annotations

import os
import time


def _pace() -> None:
    from kerasweep._callbacks import SweepMetricsLogger

    pause = float(os.environ.get("TEST_EPOCH_PAUSE", "0.4"))
    logged = SweepMetricsLogger.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        logged(self, epoch, logs)
        time.sleep(pause)

    SweepMetricsLogger.on_epoch_end = on_epoch_end


def paced_sweep_train() -> None:
    from kerasweep.train import sweep_train

    _pace()
    sweep_train()


if __name__ == "__main__":  # program mode: python resume_functions.py --key=value ...
    from kerasweep.train import main

    _pace()
    raise SystemExit(main())
