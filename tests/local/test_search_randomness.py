"""The engine's randomness belongs to the sweep: runs that seed cannot steer the search.

W&B's engine draws proposals from Python's and NumPy's global generators; a run that calls
``keras.utils.set_random_seed`` (as sweep_train does) reseeds them in the agent's process.
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import yaml

from kerasweep.local import local_agent, local_sweep
from kerasweep.local._store import Store
from kerasweep.sweep_config import SWEEP_CONFIG
from tests.local.helpers import function, subprocess_env

# The tutorial's sweep, with the run seed a careful user sets; hyperband judges every row.
TUTORIAL = {
    **SWEEP_CONFIG,
    "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
    "parameters": {**SWEEP_CONFIG["parameters"], "seed": {"value": 0}},
}


def _points(db, sweep_id) -> list[tuple]:
    return [(r.params["batch_size"], r.params["learning_rate"]) for r in Store(db).runs(sweep_id)]


def _sweep(db, config, name, count, *, seed=None):
    sweep_id = local_sweep(config, db=db, seed=seed)
    local_agent(sweep_id, function(name), count=count, db=db)
    return sweep_id


@pytest.mark.slow
@pytest.mark.parametrize("method", ["random", "bayes", "grid"])
def test_a_seeding_run_does_not_change_what_the_engine_proposes(tmp_path, method):
    config = {**TUTORIAL, "method": method}
    seeding = _sweep(tmp_path / "a.db", config, "seeding_run", 8, seed=7)
    plain = _sweep(tmp_path / "b.db", config, "non_seeding_run", 8, seed=7)
    assert _points(tmp_path / "a.db", seeding) == _points(tmp_path / "b.db", plain)


@pytest.mark.slow
def test_random_search_under_a_seeding_function_draws_as_a_fresh_search(db):
    sweep_id = _sweep(db, {**TUTORIAL, "run_cap": 12}, "seeding_run", None, seed=0)
    points = _points(db, sweep_id)
    assert len(points) == 12
    assert len(set(points)) >= 8  # a generator reseeded by each run gives 2
    # and each run's own seeding still makes the run reproducible, hyperband's engine calls
    # between its rows notwithstanding
    random.seed(0)
    np.random.seed(0)
    draws = [(random.random(), np.random.random()) for _ in range(3)]
    for run in Store(db).snapshot(sweep_id)["runs"]:
        logged = [(row["draw"], row["np_draw"]) for row in run["history"]]
        assert logged and logged == draws[: len(logged)]


@pytest.mark.slow
def test_unseeded_sweeps_draw_fresh_entropy_per_proposal(db):
    first = _sweep(db, TUTORIAL, "seeding_run", 12)
    second = _sweep(db, TUTORIAL, "seeding_run", 12)
    assert Store(db).sweep(first).seed is None
    # 12 fresh draws from 20 points give fewer than 5 distinct ones with probability 2e-5
    assert len(set(_points(db, first))) >= 5
    assert _points(db, first) != _points(db, second)


def test_seed_is_stored_with_the_sweep(db):
    assert Store(db).sweep(local_sweep(TUTORIAL, db=db, seed=123)).seed == 123
    with pytest.raises(ValueError, match="seed: -1 is not an integer"):
        local_sweep(TUTORIAL, db=db, seed=-1)
    assert len(Store(db).sweeps()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("method", ["random", "bayes"])
def test_run_with_a_seed_proposes_the_same_in_two_processes(tmp_path, method):
    config_path = tmp_path / "sweep.yaml"
    config_path.write_text(yaml.safe_dump({**TUTORIAL, "method": method}))
    sequences = []
    for attempt in ("one", "two"):
        db = tmp_path / f"{attempt}.db"
        command = [sys.executable, "-m", "kerasweep", "--db", str(db), "run", str(config_path)]
        command += ["--seed", "11", "--count", "6", "--function", function("seeding_run")]
        command += ["--wandb-mode", "disabled"]
        subprocess.run(command, cwd=tmp_path, env=subprocess_env(), check=True, capture_output=True)
        (sweep,) = Store(db).sweeps()
        assert sweep.seed == 11
        sequences.append(_points(db, sweep.id))
    assert len(sequences[0]) == 6
    assert sequences[0] == sequences[1]


SEEDING_PROGRAM = """
import random, sys
import numpy as np
import wandb
wandb.init(config={"batch_size": 0, "learning_rate": 0.0, "seed": 0})
random.seed(wandb.config.seed)
np.random.seed(wandb.config.seed)
for epoch in range(3):
    wandb.log({"epochs": epoch, "val_loss": 1.0 - epoch / 10, "draw": random.random()})
"""


@pytest.mark.slow
def test_program_mode_proposes_as_function_mode_with_the_same_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(SEEDING_PROGRAM)
    config = {**TUTORIAL, "program": "train.py"}
    sweep_id = local_sweep(config, db=tmp_path / "p.db", seed=5)
    local_agent(sweep_id, count=5, db=tmp_path / "p.db", program_output=False)
    runs = Store(tmp_path / "p.db").snapshot(sweep_id)["runs"]
    assert [r["state"] for r in runs] == ["finished"] * 5
    random.seed(0)
    first_draw = random.random()
    assert all(r["history"][0]["draw"] == first_draw for r in runs)
    in_function_mode = _sweep(tmp_path / "f.db", TUTORIAL, "seeding_run", 5, seed=5)
    assert _points(tmp_path / "p.db", sweep_id) == _points(tmp_path / "f.db", in_function_mode)


@pytest.mark.slow
def test_several_agents_make_the_proposals_one_agent_makes(tmp_path):
    config = {**TUTORIAL, "run_cap": 8}
    alone = _sweep(tmp_path / "alone.db", config, "seeding_run", None, seed=9)
    db = tmp_path / "shared.db"
    shared = local_sweep(config, db=db, seed=9)
    command = [sys.executable, "-m", "kerasweep", "--db", str(db), "agent", shared]
    command += ["--function", function("seeding_run"), "--wandb-mode", "disabled"]
    agents = [
        subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.DEVNULL) for _ in range(2)
    ]
    assert [agent.wait(timeout=300) for agent in agents] == [0, 0]
    runs = Store(db).runs(shared)
    assert len(runs) == 8
    # proposal k is drawn from (seed, k) whichever agent makes it
    assert _points(db, shared) == _points(tmp_path / "alone.db", alone)


@pytest.mark.slow
def test_the_reported_sweep_under_sweep_train_tries_many_configurations(tmp_path):
    """The report's case: the tutorial's random sweep, seed: {value: 0}, `kerasweep run`."""
    config = {**TUTORIAL, "early_terminate": SWEEP_CONFIG["early_terminate"], "run_cap": 12}
    config["parameters"] = {
        **TUTORIAL["parameters"], "dataset": {"value": "digits"}, "epochs": {"value": 1},
    }  # fmt: skip
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    db = tmp_path / "k.db"
    command = [sys.executable, "-m", "kerasweep", "--db", str(db), "run", str(path)]
    subprocess.run(
        [*command, "--seed", "0", "--wandb-mode", "disabled"],
        cwd=tmp_path,
        env=subprocess_env(),
        check=True,
        capture_output=True,
    )
    (sweep,) = Store(db).sweeps()
    runs = Store(db).snapshot(sweep.id)["runs"]
    assert len(runs) == 12 and all(r["state"] == "finished" for r in runs)
    assert len(set(_points(db, sweep.id))) >= 8  # it was 2 when the runs' seeding stuck it
    metric_by_point: dict[tuple, set] = {}
    for run in runs:
        point = (run["params"]["batch_size"], run["params"]["learning_rate"])
        metric_by_point.setdefault(point, set()).add(run["metric"])
    assert all(len(metrics) == 1 for metrics in metric_by_point.values())  # runs reproduce
    assert len(metric_by_point) < 12  # so that some point ran twice and was compared
