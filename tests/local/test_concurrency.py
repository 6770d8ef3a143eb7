"""Several agent processes on one sweep; an agent killed mid-run, then the sweep resumed."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time

import sqlalchemy

from kerasweep.local import local_agent, local_sweep
from kerasweep.local.store import Store
from tests.local.helpers import function, subprocess_env


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


def test_three_agent_processes_share_a_grid_without_repeats(db, tmp_path):
    values_a, values_b = [0, 1, 2, 3], ["p", "q", "r"]
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {"a": {"values": values_a}, "b": {"values": values_b}},
    }
    sweep_id = local_sweep(config, db=db)
    env = subprocess_env(TEST_SLEEP="0.2")
    agents = [_agent_process(sweep_id, db, "grid_point", env) for _ in range(3)]
    outputs = [agent.communicate(timeout=240)[0] for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0, 0], outputs
    runs = Store(db).runs(sweep_id)
    points = [(r.params["a"], r.params["b"]) for r in runs]
    assert sorted(points) == sorted(itertools.product(values_a, values_b))  # each once
    assert all(r.state == "finished" and len(r.metric_values) == 1 for r in runs)
    # every run was recorded by the agent process that ran it
    pids = {r.agent_id: {row["pid"] for row in Store(db).history(r.id)} for r in runs}
    assert all(len(p) == 1 for p in pids.values())
    with Store(db).engine.connect() as conn:
        query = sqlalchemy.text("SELECT COUNT(*) FROM agents WHERE ended_at IS NOT NULL")
        assert conn.execute(query).scalar_one() == 3


def test_killed_agent_run_is_crashed_and_the_sweep_resumes(db, tmp_path):
    config = {
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {"a": {"values": [0, 1, 2, 3]}},
    }
    sweep_id = local_sweep(config, db=db)
    flag = tmp_path / "hang"
    flag.touch()
    env = subprocess_env(TEST_HANG_FLAG=str(flag))
    agent = _agent_process(sweep_id, db, "hang_on_flag", env)
    deadline = time.monotonic() + 120
    while not (tmp_path / "hang.running").exists():
        assert agent.poll() is None, agent.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    hung_id = (tmp_path / "hang.running").read_text()
    os.kill(agent.pid, signal.SIGKILL)
    agent.communicate()
    hung = Store(db).run(hung_id)
    assert hung.state == "running" and hung.metric_values == [0.0]  # its row is stored

    # a new agent sees that the owner is gone, marks the run crashed and goes on
    result = local_agent(sweep_id, function("hang_on_flag"), db=db)
    runs = Store(db).runs(sweep_id)
    assert runs[0].id == hung_id and runs[0].state == "crashed"
    assert "is gone" in runs[0].error and runs[0].metric_values == [0.0]
    assert sorted(r.params["a"] for r in runs) == [0, 1, 2, 3]
    assert [r.state for r in runs[1:]] == ["finished"] * 3 and result.reason == "exhausted"

    # --retry-failed runs the crashed point again
    retried = local_agent(sweep_id, function("hang_on_flag"), db=db, retry_failed=True)
    runs = Store(db).runs(sweep_id)
    assert len(retried.run_ids) == 1 and runs[-1].retry_of == hung_id
    assert runs[-1].params == runs[0].params and runs[-1].state == "finished"
