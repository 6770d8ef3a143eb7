"""Several agent processes on one sweep, as agents on several machines: each grid point once,
``run_cap`` exact, hyperband judging each run against every agent's rows; an agent killed
mid-run, then the sweep resumed. Each test runs on both stores (``any_db``)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy

from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from tests.local.helpers import engine_replay, function, subprocess_env
from tests.local.sweep_functions import SERIES


def _agent_process(sweep_id, db, name, env):
    command = [
        sys.executable, "-m", "kerasweep", "agent", sweep_id, "--db", str(db),
        "--function", function(name), "--wandb-mode", "disabled",
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_three_agent_processes_share_a_grid_without_repeats(any_db, tmp_path):
    values_a, values_b = [0, 1, 2, 3], ["p", "q", "r"]
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {"a": {"values": values_a}, "b": {"values": values_b}},
    }
    sweep_id = local_sweep(config, db=any_db)
    env = subprocess_env(TEST_SLEEP="0.2")
    agents = [_agent_process(sweep_id, any_db, "grid_point", env) for _ in range(3)]
    outputs = [agent.communicate(timeout=240)[0] for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0, 0], outputs
    runs = Store(any_db).runs(sweep_id)
    points = [(r.params["a"], r.params["b"]) for r in runs]
    assert sorted(points) == sorted(itertools.product(values_a, values_b))  # each once
    assert all(r.state == "finished" and len(r.metric_values) == 1 for r in runs)
    # every run was recorded by the agent process that ran it
    pids = {r.agent_id: {row["pid"] for row in Store(any_db).history(r.id)} for r in runs}
    assert all(len(p) == 1 for p in pids.values())
    with Store(any_db).engine.connect() as conn:
        query = sqlalchemy.text("SELECT COUNT(*) FROM agents WHERE ended_at IS NOT NULL")
        assert conn.execute(query).scalar_one() == 3


@pytest.mark.slow
def test_killed_agent_run_is_preempted_and_the_sweep_resumes(any_db, tmp_path):
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {"a": {"values": [0, 1, 2, 3]}},
    }
    sweep_id = local_sweep(config, db=any_db)
    flag = tmp_path / "hang"
    flag.touch()
    env = subprocess_env(TEST_HANG_FLAG=str(flag))
    agent = _agent_process(sweep_id, any_db, "hang_on_flag", env)
    deadline = time.monotonic() + 120
    while not (tmp_path / "hang.running").exists():
        assert agent.poll() is None, agent.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    hung_id = (tmp_path / "hang.running").read_text()
    os.kill(agent.pid, signal.SIGKILL)
    agent.communicate()
    hung = Store(any_db).run(hung_id)
    assert hung.state == "running" and hung.metric_values == [0.0]  # its row is stored

    # a new agent sees that the owner is gone, marks the run preempted and goes on
    result = local_agent(sweep_id, function("hang_on_flag"), db=any_db, resume_preempted=False)
    runs = Store(any_db).runs(sweep_id)
    assert runs[0].id == hung_id and runs[0].state == "preempted"
    assert "is gone" in runs[0].error and runs[0].metric_values == [0.0]
    assert sorted(r.params["a"] for r in runs) == [0, 1, 2, 3]
    assert [r.state for r in runs[1:]] == ["finished"] * 3 and result.reason == "exhausted"

    # the next agent resumes the preempted run: same id, its row logged again once
    resumed = local_agent(sweep_id, function("hang_on_flag"), db=any_db)
    runs = Store(any_db).runs(sweep_id)
    assert resumed.run_ids == [hung_id] and len(runs) == 4
    assert runs[0].state == "finished" and runs[0].metric_values == [0.0]
    assert runs[0].resumed == "resumed at epoch 0"


@pytest.mark.slow
def test_run_cap_is_exact_with_four_agent_processes(any_db):
    """W&B's agents overshoot run_cap (wandb #8549); these stop at exactly run_cap runs."""
    config = {
        "method": "random",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "run_cap": 9,
        "parameters": {"a": {"values": list(range(50))}, "b": {"values": ["p", "q"]}},
    }
    sweep_id = local_sweep(config, db=any_db)
    env = subprocess_env(TEST_SLEEP="0.2")
    agents = [_agent_process(sweep_id, any_db, "grid_point", env) for _ in range(4)]
    outputs = [agent.communicate(timeout=240)[0] for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0, 0, 0], outputs
    assert all("the sweep has no more runs to give" in out for out in outputs)
    runs = Store(any_db).runs(sweep_id)
    assert len(runs) == 9 and all(r.state == "finished" for r in runs)
    assert [r.name for r in runs] == [f"{sweep_id}-{n}" for n in range(1, 10)]
    assert len({r.agent_id for r in runs}) > 1  # the agents shared the work
    assert Store(any_db).sweep(sweep_id).state == "finished"


@pytest.mark.slow
def test_hyperband_judges_a_run_by_the_rows_other_agent_processes_logged(any_db, tmp_path):
    """One agent's run waits after its first epoch while two other agents finish theirs; then
    it logs its second epoch and is stopped at band 2 by their rows, as the engine says."""
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
        "parameters": {"series": {"values": [3, 0, 2]}},  # 3 is bad at band 2
    }
    sweep_id = local_sweep(config, db=any_db)
    gate = tmp_path / "gate"
    gate.write_text("1")  # the first agent's run may log one epoch
    held = _agent_process(sweep_id, any_db, "crafted_paced", subprocess_env(TEST_GATE=str(gate)))
    deadline = time.monotonic() + 120
    while not (runs := Store(any_db).runs(sweep_id)) or not runs[0].metric_values:
        assert held.poll() is None, held.communicate()[0]
        assert time.monotonic() < deadline, "the held run never logged its first epoch"
        time.sleep(0.1)
    others = [_agent_process(sweep_id, any_db, "crafted_paced", subprocess_env())
              for _ in range(2)]  # fmt: skip
    outputs = [agent.communicate(timeout=240)[0] for agent in others]
    assert [agent.returncode for agent in others] == [0, 0], outputs
    gate.write_text("100")
    out = held.communicate(timeout=240)[0]
    assert held.returncode == 0, out

    runs = Store(any_db).runs(sweep_id)
    held_run = runs[0]
    assert held_run.params["series"] == 3 and held_run.agent_id not in {
        r.agent_id for r in runs[1:]
    }
    assert [r.state for r in runs[1:]] == ["finished", "finished"]
    others_series = [SERIES[r.params["series"]] for r in runs[1:]]
    expected = engine_replay(config, [*others_series, SERIES[3]])[-1]
    assert expected == (2, 2)  # the engine stops it at band 2, after two epochs
    assert held_run.state == "stopped" and held_run.stop.band == 2
    assert len(held_run.metric_values) == 2
