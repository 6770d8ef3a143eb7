"""A program run's start: record the program's wandb rows into its run, then run it.

The local agent starts a program-mode run as ``python -m kerasweep.local._program_bridge
PROGRAM ARGS...`` (or ``... program_bridge -m MODULE ARGS...``), with the run named by the
``KERASWEEP_CHILD_*`` variables (:func:`kerasweep.local._program.child_env`). The bridge
attaches a :class:`~kerasweep.local._run.LocalRun` to that run, records every row the
program's wandb logs while it runs (hyperband judged after each metric row, in this
process), and runs the program as ``python PROGRAM ARGS`` would: as ``__main__``, with
``sys.argv`` and ``sys.path[0]`` as Python sets them. Its exit status is the program's.
Without those variables it just runs the program.

Example::

    KERASWEEP_CHILD_DB=... python -m kerasweep.local._program_bridge train.py --lr=0.1
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Sequence
from contextlib import ExitStack

from kerasweep.local._program import take_child_env

__all__ = ["main", "run_program_main"]

USAGE = "usage: python -m kerasweep.local._program_bridge (PROGRAM | -m MODULE) [ARGS...]"


def run_program_main(argv: Sequence[str]) -> None:
    """Run ``PROGRAM ARGS`` or ``-m MODULE ARGS`` in this process, as Python would."""
    if argv and argv[0] == "-m" and len(argv) > 1:
        sys.argv = [argv[1], *argv[2:]]
        sys.path[0] = os.getcwd()  # what ``python -m`` puts first
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    elif argv and argv[0] != "-m":
        path = argv[0]
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(path))  # what ``python PROGRAM`` puts
        runpy.run_path(path, run_name="__main__")
    else:
        raise SystemExit(USAGE)


def main(argv: Sequence[str] | None = None) -> None:
    """Attach to the run the environment names, record it, run the program."""
    argv = list(sys.argv[1:] if argv is None else argv)
    names = take_child_env()
    with ExitStack() as recording:
        if names is not None:
            from kerasweep.local._run import LocalRun

            try:
                db, sweep_id, run_id, agent_id, timeout = names
                run = LocalRun.attach(
                    db, sweep_id, run_id, agent_id, reconnect_timeout=float(timeout)
                )
                recording.enter_context(run.recording())
            except Exception as err:  # the program still runs, unrecorded
                print(f"kerasweep: cannot record this run: {err}", file=sys.stderr)
        run_program_main(argv)


if __name__ == "__main__":
    main()
