"""Helpers for the local controller's tests (importable from tests and subprocesses)."""

from __future__ import annotations

import re
from pathlib import Path

import sweeps

from tests.conftest import subprocess_env as subprocess_env  # re-exported for the tests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FUNCTIONS = HERE / "sweep_functions.py"


def function(name: str) -> str:
    """``--function`` spec of a test function in sweep_functions.py."""
    return f"{FUNCTIONS}:{name}"


def engine_replay(config, series_list):
    """What W&B's engine says, row by row: (rows logged, band) per run; band None if kept.

    Runs one after the other, each logging its series as ``val_loss`` (and ``val_acc = 1 -
    val_loss``); at each row the engine's ``stop_runs`` is asked about that run, given the
    finished runs before it.
    """
    done, expected = [], []
    for index, series in enumerate(series_list):
        history, outcome = [], (len(series), None)
        for value in series:
            history.append({"val_loss": value, "val_acc": 1.0 - value})
            me = sweeps.SweepRun(name="me", state=sweeps.RunState.running, history=history)
            if [r.name for r in sweeps.stop_runs(config, [*done, me])] == ["me"]:
                band = re.search(r"Band: (\d+)", me.early_terminate_info["lines"][-1])
                outcome = (len(history), int(band.group(1)))
                break
        expected.append(outcome)
        done.append(sweeps.SweepRun(name=f"r{index}", state="finished", history=list(history)))
    return expected
