"""Faults: signals and kill -9 to real ``kerasweep agent`` processes, and agents racing.

tests/local/test_concurrency.py covers three agents on a grid and kill -9 of a function run
(the store sees the dead process). Here: SIGINT and SIGTERM end the run in progress cleanly
(function and program mode); kill -9 in the middle of real training, judged by heartbeat
alone as for an agent on another machine; kill -9 of a program-mode agent (its program must
end too) and of an agent in a burst of writes; four agents, one of them killed mid-run.
After each fault the store is sound (an SQLite file passes ``PRAGMA integrity_check``) and
every run's rows are intact. Each test runs on both stores (``any_db``): an SQLite file, and
a PostgreSQL database that the agents share as agents on several machines would.
"""

from __future__ import annotations

import functools
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy

from kerasweep.cli import main
from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from kerasweep.train import sweep_train
from tests.conftest import start_process
from tests.hardening.hardening_functions import spec
from tests.hardening.store_checks import agents_ended, assert_sound, query
from tests.local.helpers import function, subprocess_env

HANG_PROGRAM = Path(__file__).with_name("hang_program.py")
GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"a": {"values": [0, 1, 2]}},
}


def _agent(sweep_id, db, *options, env):
    command = [sys.executable, "-m", "kerasweep", "agent", sweep_id, "--db", str(db), *options]
    return start_process(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for_text(path: Path, proc, timeout: float = 120) -> str:
    """The content of ``path`` once written (the agent ``proc`` must still be alive)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        if proc.poll() is not None:
            pytest.fail(f"agent ended early:\n{proc.communicate()[0]}")
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.1)
    return path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "mode"),
    [(signal.SIGINT, "function"), (signal.SIGTERM, "function"), (signal.SIGTERM, "program")],
    ids=["SIGINT-function", "SIGTERM-function", "SIGTERM-program"],
)
def test_signal_ends_the_run_in_progress_cleanly_and_the_agent_exits(sig, mode, any_db, tmp_path):
    config = dict(GRID)
    flag = tmp_path / "hang"
    flag.touch()
    env = subprocess_env(TEST_OUT=str(tmp_path), TEST_HANG_FLAG=str(flag))
    options = ["--wandb-mode", "disabled"]
    if mode == "program":
        config["program"] = str(HANG_PROGRAM)
        started = tmp_path / "running"
    else:
        options += ["--function", function("hang_on_flag")]
        started = tmp_path / "hang.running"
    sweep_id = local_sweep(config, db=any_db)
    agent = _agent(sweep_id, any_db, *options, env=env)
    seen = _wait_for_text(started, agent)
    time.sleep(0.5)  # a heartbeat or two while the run hangs; nothing to wait for

    agent.send_signal(sig)
    out = agent.communicate(timeout=90)[0]
    # SIGTERM is a preemption (Slurm's --signal, scancel): the agent ends as asked, exit 0
    assert agent.returncode == (0 if sig == signal.SIGTERM else 128 + sig), out
    assert "Traceback" not in out
    why = "SIGTERM" if sig == signal.SIGTERM else "KeyboardInterrupt"
    assert "its run is marked preempted" in out or "its run is preempted" in out

    (run,) = Store(any_db).runs(sweep_id)  # the agent took no further run
    assert run.state == "preempted" and run.error == f"preempted: interrupted ({why})"
    assert run.metric_values == [0.0]  # the row it logged is kept
    assert run.ended_at is not None
    assert agents_ended(any_db)
    if mode == "program":
        assert not _alive(int(seen))  # the program ended with its agent
    assert_sound(any_db, sweep_id)


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie waiting to be reaped runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_kill_9_of_a_program_mode_agent_ends_its_program_too(any_db, tmp_path, monkeypatch):
    flag = tmp_path / "hang"
    flag.touch()
    sweep_id = local_sweep({**GRID, "program": str(HANG_PROGRAM)}, db=any_db)
    env = subprocess_env(TEST_OUT=str(tmp_path), TEST_HANG_FLAG=str(flag))
    agent = _agent(sweep_id, any_db, "--wandb-mode", "disabled", env=env)
    program = int(_wait_for_text(tmp_path / "running", agent))
    os.kill(agent.pid, signal.SIGKILL)
    agent.communicate()
    deadline = time.monotonic() + 60
    try:
        while _alive(program):  # a program left running would train on, owned by no agent
            assert time.monotonic() < deadline, "the program outlived its killed agent"
            time.sleep(0.1)
    finally:
        if _alive(program):
            os.kill(program, signal.SIGKILL)

    monkeypatch.setenv("TEST_OUT", str(tmp_path))
    result = local_agent(
        sweep_id, db=any_db, wandb_mode="disabled", program_output=False, resume_preempted=False
    )
    runs = Store(any_db).runs(sweep_id)
    assert result.reason == "exhausted"
    assert [r.state for r in runs] == ["preempted", "finished", "finished"]
    assert "is gone" in runs[0].error and runs[0].metric_values == [0.0]
    assert [r.metric_values for r in runs[1:]] == [[1.0], [2.0]]
    assert_sound(any_db, sweep_id)


@pytest.mark.slow
def test_kill_9_mid_training_then_stale_heartbeat_and_a_new_agent_finishes(any_db, tmp_path):
    """Real sweep_train on digits, killed between epochs, as if its agent ran elsewhere."""
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {
            "epochs": {"values": [1000, 1, 2]},  # the first run trains until killed
            "dataset": {"value": "digits"},
            "hidden_units": {"value": 8},
            "verbose": {"value": 0},
            "seed": {"value": 0},
        },
    }
    sweep_id = local_sweep(config, db=any_db)
    agent = _agent(sweep_id, any_db, "--wandb-mode", "offline", env=subprocess_env())
    deadline = time.monotonic() + 180
    while True:
        assert agent.poll() is None, agent.communicate()[0]
        assert time.monotonic() < deadline, "no epoch was recorded"
        done = query(any_db, "SELECT COUNT(*) AS n FROM history WHERE metric IS NOT NULL")[0].n
        if done >= 2:
            break
        time.sleep(0.2)
    os.kill(agent.pid, signal.SIGKILL)
    agent.communicate()

    (killed,) = Store(any_db).runs(sweep_id)
    assert killed.state == "running" and len(killed.metric_values) >= 2
    epochs = [row["epochs"] for row in Store(any_db).history(killed.id) if "epochs" in row]
    assert epochs == list(range(len(epochs)))  # the rows written before the kill are whole
    assert_sound(any_db, sweep_id)

    # as if the agent had run on another machine: only its heartbeat says it is gone
    with Store(any_db).engine.begin() as conn:
        conn.execute(sqlalchemy.text("UPDATE agents SET host = 'elsewhere'"))
    assert main(["show", sweep_id, "--db", str(any_db)]) == 0  # its heartbeat is still recent
    assert Store(any_db).run(killed.id).state == "running"

    time.sleep(1.5)  # let the last heartbeat age past stale_after below
    train = functools.partial(sweep_train, {"verbose": 0})
    result = local_agent(
        sweep_id,
        train,
        count=2,
        db=any_db,
        wandb_mode="disabled",
        stale_after=1.0,
        resume_preempted=False,
    )
    runs = Store(any_db).runs(sweep_id)
    assert result.reason == "count" and len(runs) == 3
    assert runs[0].state == "preempted" and "no heartbeat" in runs[0].error
    assert runs[0].metric_values == killed.metric_values  # nothing lost
    assert [r.state for r in runs[1:]] == ["finished", "finished"]
    assert [len(r.metric_values) for r in runs[1:]] == [1, 2]
    assert Store(any_db).sweep(sweep_id).state == "running"  # its preempted run is left
    assert_sound(any_db, sweep_id)


@pytest.mark.slow
def test_kill_9_in_a_burst_of_writes_leaves_every_row_whole(any_db, tmp_path):
    """Killed while committing a row after row: no torn or duplicated row, store writable."""
    config = {**GRID, "parameters": {"a": {"values": [0, 1]}}}
    sweep_id = local_sweep(config, db=any_db)
    env = subprocess_env(TEST_OUT=str(tmp_path))
    options = ["--function", spec("log_burst"), "--wandb-mode", "disabled"]
    agent = _agent(sweep_id, any_db, *options, env=env)
    run_id = _wait_for_text(tmp_path / "burst", agent)
    os.kill(agent.pid, signal.SIGKILL)
    agent.communicate()

    assert_sound(any_db, sweep_id)
    rows = Store(any_db).history(run_id)
    assert len(rows) > 200
    assert [row["i"] for row in rows] == list(range(len(rows)))
    assert Store(any_db).run(run_id).metric_values == [1.0 / (n + 1) for n in range(len(rows))]

    assert main(["show", sweep_id, "--db", str(any_db)]) == 0  # marks the run preempted
    assert Store(any_db).run(run_id).state == "preempted"
    result = local_agent(  # the store takes writes
        sweep_id, function("grid_point"), db=any_db, resume_preempted=False
    )
    assert result.reason == "exhausted" and len(result.run_ids) == 1
    assert_sound(any_db, sweep_id)


@pytest.mark.slow
def test_four_agents_share_a_grid_while_one_is_killed(any_db, tmp_path):
    values_a, values_b = [0, 1, 2, 3, 4], ["p", "q", "r", "s"]
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {"a": {"values": values_a}, "b": {"values": values_b}},
    }
    sweep_id = local_sweep(config, db=any_db)
    flag = tmp_path / "hang"
    flag.touch()
    options = ["--function", function("hang_on_flag"), "--wandb-mode", "disabled"]
    doomed = _agent(sweep_id, any_db, *options, env=subprocess_env(TEST_HANG_FLAG=str(flag)))
    hung_id = _wait_for_text(tmp_path / "hang.running", doomed)
    others = [_agent(sweep_id, any_db, *options, env=subprocess_env(TEST_SLEEP="0.2"))
              for _ in range(3)]  # fmt: skip
    deadline = time.monotonic() + 120
    while len(Store(any_db).runs(sweep_id)) < 4:  # the others are at work: kill the first one
        assert time.monotonic() < deadline and all(a.poll() is None for a in others)
        time.sleep(0.05)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.communicate()
    outputs = [agent.communicate(timeout=240)[0] for agent in others]
    assert [agent.returncode for agent in others] == [0, 0, 0], outputs

    assert main(["show", sweep_id, "--db", str(any_db)]) == 0
    runs = Store(any_db).runs(sweep_id)
    points = [(r.params["a"], r.params["b"]) for r in runs]
    assert sorted(points) == sorted(itertools.product(values_a, values_b))  # each once
    assert [r.name for r in runs] == [f"{sweep_id}-{n}" for n in range(1, 21)]
    hung = next(r for r in runs if r.id == hung_id)
    # preempted when the others saw its agent gone, then resumed by one of them (from
    # epoch 0: the function has no checkpoint), its row logged again once
    assert hung.state == "finished" and hung.resumed == "resumed at epoch 0"
    assert hung.metric_values == [float(hung.params["a"])]
    assert all(r.state == "finished" for r in runs if r is not hung)
    for run in runs:
        assert run.metric_values == [float(run.params["a"])]  # each run's own row, once
    assert_sound(any_db, sweep_id)
