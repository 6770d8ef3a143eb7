"""Interrupted runs resume exactly: real agent processes stopped by SIGTERM, SIGINT and
kill -9, then another agent goes on; the histories equal those of an uninterrupted sweep.

Each test runs one seeded sweep of ``sweep_train`` on digits (three runs of a few epochs,
hyperband on) twice in one store: once by one agent left alone, once by agents that are
interrupted in the first run (twice, then killed) and replaced. Every run's per-epoch
``val_loss`` history (==, equal floats), state and hyperband decision must be the same.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy

from kerasweep.local import local_sweep
from kerasweep.local._store import Store
from tests.conftest import start_process
from tests.hardening.store_checks import assert_sound
from tests.local.helpers import subprocess_env

FUNCTIONS = Path(__file__).with_name("resume_functions.py")
EPOCHS = 6
CONFIG = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
    "parameters": {
        "learning_rate": {"values": [0.05, 0.03, 0.0005]},
        "dataset": {"value": "digits"},
        "epochs": {"value": EPOCHS},
        "seed": {"value": 0},
        "hidden_units": {"value": 32},
        "batch_size": {"value": 32},
        "verbose": {"value": 0},
    },
}

def _agent(sweep_id, db, options, *extra):
    command = [sys.executable, "-m", "kerasweep", "agent", sweep_id, "--db", str(db)]
    return start_process(
        [*command, *options, *extra],
        env=subprocess_env(TEST_EPOCH_PAUSE="0.4"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_epochs(db, sweep_id, epochs, proc, timeout=240.0):
    """The first run once it has logged at least ``epochs`` metric rows, while running."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"agent ended early:\n{proc.communicate()[0]}")
        runs = Store(db).runs(sweep_id)
        if runs and runs[0].state == "running" and len(runs[0].metric_values) >= epochs:
            return runs[0]
        assert time.monotonic() < deadline, "the run never got that far"
        time.sleep(0.05)


def _outcome(db, sweep_id):
    """Per run: params, state, val_loss per epoch (from the ``epochs`` rows), stop."""
    store = Store(db)
    out = []
    for run in store.load(sweep_id).runs:
        epoch_rows = [row for row in run.history if "epochs" in row]
        assert [row["epochs"] for row in epoch_rows] == list(range(len(epoch_rows)))
        stop = None if run.stop is None else run.stop.to_dict()
        out.append((run.params, run.state.value, [r["val_loss"] for r in epoch_rows], stop))
    return out


def _interrupted_sweep(db, options, sig, *, twice_then_kill):
    """The sweep run by agents stopped mid-run by ``sig`` (and more), then one left alone."""
    sweep_id = local_sweep(CONFIG, db=db)
    first = _agent(sweep_id, db, options)
    _wait_for_epochs(db, sweep_id, 2, first)
    first.send_signal(sig)
    out = first.communicate(timeout=120)[0]
    assert first.returncode == (0 if sig == signal.SIGTERM else 130), out
    (run,) = Store(db).runs(sweep_id)
    assert run.state == "preempted" and "interrupted" in run.error, out
    if twice_then_kill:
        second = _agent(sweep_id, db, options)
        _wait_for_epochs(db, sweep_id, 4, second)
        second.send_signal(signal.SIGINT if sig == signal.SIGTERM else signal.SIGTERM)
        second.communicate(timeout=120)
        third = _agent(sweep_id, db, options, "--heartbeat-interval", "0.2")
        _wait_for_epochs(db, sweep_id, 5, third)
        third.kill()  # kill -9: nothing marks the run; its heartbeat goes stale
        third.communicate()
        with Store(db).engine.begin() as conn:  # as if it ran on another machine
            conn.execute(sqlalchemy.text("UPDATE agents SET host = 'elsewhere'"))
        time.sleep(1.5)
    last = _agent(sweep_id, db, options, "--stale-after", "1")
    out = last.communicate(timeout=600)[0]
    assert last.returncode == 0, out
    resumed = Store(db).runs(sweep_id)[0]
    assert resumed.id == run.id and resumed.params == run.params
    assert len(resumed.resumed_at) == (3 if twice_then_kill else 1), resumed.resumed_at
    assert resumed.resumed.startswith("resumed at epoch")
    assert all(epoch >= 1 for epoch in resumed.resumed_at)  # from a checkpoint, not epoch 0
    return sweep_id


def _reference_sweep(db, options):
    sweep_id = local_sweep(CONFIG, db=db)
    agent = _agent(sweep_id, db, options)
    out = agent.communicate(timeout=600)[0]
    assert agent.returncode == 0, out
    return sweep_id


def _options(mode, db, tmp_path):
    options = ["--wandb-mode", "disabled", "--checkpoint-dir", str(tmp_path / "checkpoints")]
    if mode == "function":
        options += ["--function", f"{FUNCTIONS}:paced_sweep_train"]
    return options


def _config_for(mode):
    if mode == "program":
        CONFIG["program"] = str(FUNCTIONS)
    else:
        CONFIG.pop("program", None)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "sig", "twice_then_kill"),
    [
        ("function", signal.SIGTERM, True),
        ("function", signal.SIGINT, False),
        ("program", signal.SIGTERM, True),
    ],
    ids=["function-SIGTERM-SIGINT-kill9", "function-SIGINT", "program-SIGTERM-SIGINT-kill9"],
)
def test_interrupted_runs_resume_to_the_histories_of_an_uninterrupted_sweep(
    mode, sig, twice_then_kill, any_db, tmp_path
):
    _config_for(mode)
    try:
        options = _options(mode, any_db, tmp_path)
        reference = _outcome(any_db, _reference_sweep(any_db, options))
        interrupted = _interrupted_sweep(any_db, options, sig, twice_then_kill=twice_then_kill)
        assert _outcome(any_db, interrupted) == reference
    finally:
        CONFIG.pop("program", None)
    assert len(reference[0][2]) == EPOCHS
    # hyperband stopped the third run in both sweeps, at the same epoch
    assert [state for _, state, _, _ in reference] == ["finished", "finished", "stopped"]
    assert_sound(any_db, interrupted)
    # an ended run's checkpoints are removed
    assert not any((tmp_path / "checkpoints").rglob("*.npz"))


def test_a_run_that_takes_its_agent_down_each_time_is_given_up_and_the_sweep_goes_on(tmp_path):
    """A run that kills its agent process (as an out-of-memory kill does) is resumed by each
    next agent until it was interrupted four times without getting further; the fifth agent
    marks it crashed, says so in one line, and finishes the sweep."""
    from tests.local.helpers import function

    db = tmp_path / "kerasweep.db"
    config = {"method": "grid", "metric": {"name": "val_loss"},
              "parameters": {"a": {"values": [1, 2]}}}  # fmt: skip
    sweep_id = local_sweep(config, db=db)
    command = [sys.executable, "-m", "kerasweep", "agent", sweep_id, "--db", str(db),
               "--function", function("oom_on_one"), "--wandb-mode", "disabled"]  # fmt: skip
    for _ in range(4):
        proc = start_process(
            command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        out = proc.communicate(timeout=180)[0]
        assert proc.returncode == -signal.SIGKILL, out
    last = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True,
                          timeout=180)  # fmt: skip
    assert last.returncode == 0, last.stdout + last.stderr
    said = (last.stdout + last.stderr).splitlines()
    (warning,) = [line for line in said if "not resumed again" in line]
    assert "interrupted 4 times without getting past epoch 0" in warning
    stuck, other = Store(db).runs(sweep_id)
    assert (stuck.params, stuck.state.value, stuck.resumed_at) == ({"a": 1}, "crashed", (0, 0, 0))
    assert "its agent (process" in stuck.error and "is gone" in stuck.error
    assert (other.params, other.state.value) == ({"a": 2}, "finished")
