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
from kerasweep.local.store import Store
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


@pytest.mark.parametrize("method", ["random", "bayes", "grid"])
def test_a_seeding_run_does_not_change_what_the_engine_proposes(tmp_path, method):
    config = {**TUTORIAL, "method": method}
    seeding = _sweep(tmp_path / "a.db", config, "seeding_run", 8, seed=7)
    plain = _sweep(tmp_path / "b.db", config, "non_seeding_run", 8, seed=7)
    assert _points(tmp_path / "a.db", seeding) == _points(tmp_path / "b.db", plain)


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
