"""Tests for kerasweep.sweep_config._engine: the one door to W&B's engine."""

from __future__ import annotations

import ast
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kerasweep
from kerasweep.sweep_config import _engine as engine
from tests.conftest import subprocess_env

PACKAGE = Path(kerasweep.__file__).resolve().parent


def _imports_sweeps(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "sweeps" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sweeps":
            return True
    return False


def test_only_the_engine_module_imports_sweeps():
    importers = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if _imports_sweeps(p)
    )
    assert importers == ["sweep_config/_engine.py"]


# --- the engine's randomness is the sweep's own ----------------------------------------------

RANDOM = {
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 2},
    "parameters": {
        "x": {"distribution": "uniform", "min": 0.0, "max": 1.0},
        "y": {"values": [1, 2, 3, 4]},
    },
}
BAYES = {**RANDOM, "method": "bayes"}
GRID = {**RANDOM, "method": "grid", "parameters": {"y": {"values": [1, 2, 3, 4]}}}


def _global_states():
    return random.getstate(), np.random.get_state()


def _same_states(a, b) -> bool:
    (py_a, np_a), (py_b, np_b) = a, b
    return py_a == py_b and all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(np_a, np_b, strict=True)
    )


def _finished(config, values):
    """Finished engine runs at these (x, y) points with val_loss = x + y."""
    return [
        engine.sweep_run(
            name=f"r{i}",
            state="finished",
            config={"x": {"value": x}, "y": {"value": y}},
            history=[{"val_loss": x + y}, {"val_loss": x + y - 0.1}],
        )
        for i, (x, y) in enumerate(values)
    ]


@pytest.mark.parametrize("config", [RANDOM, BAYES, GRID], ids=["random", "bayes", "grid"])
def test_engine_calls_leave_the_global_generators_exactly_as_found(config):
    random.seed(11)
    np.random.seed(11)
    np.random.standard_normal()  # leaves a cached Gaussian in NumPy's state
    random.gauss(0, 1)  # and in Python's
    before = _global_states()
    runs = _finished(config, [(0.25, 1), (0.5, 2), (0.75, 3)])
    assert engine.next_run(config, runs) is not None
    assert engine.next_run(config, runs, seed=3, proposal=5) is not None
    running = engine.sweep_run(
        name="me", state="running", config={"y": {"value": 4}}, history=[{"val_loss": 9.0}] * 3
    )
    engine.stop_runs(config, [*runs, running])
    engine.filled_early_terminate(config)
    engine.schema_errors(config)
    engine.schema_violations(config)
    engine.dry_run(config, config["method"], 4)
    assert _same_states(_global_states(), before)
    expected = (random.random(), np.random.random())
    random.setstate(before[0])
    np.random.set_state(before[1])
    assert (random.random(), np.random.random()) == expected


@pytest.mark.slow
@pytest.mark.parametrize("config", [RANDOM, BAYES], ids=["random", "bayes"])
def test_a_seeded_proposal_ignores_the_global_generators(config):
    runs = _finished(config, [(0.25, 1), (0.5, 2), (0.75, 3)])
    proposals = []
    for global_seed in (0, 1, 0):
        random.seed(global_seed)
        np.random.seed(global_seed)
        proposals.append(engine.next_run(config, runs, seed=42, proposal=3).config)
    assert proposals[0] == proposals[1] == proposals[2]
    others = {str(engine.next_run(config, runs, seed=42, proposal=n).config) for n in range(4)}
    assert len(others) == 4  # each proposal number draws from its own stream
    assert engine.next_run(config, runs, seed=43, proposal=3).config != proposals[0]


@pytest.mark.parametrize("config", [RANDOM, BAYES], ids=["random", "bayes"])
def test_unseeded_proposals_do_not_repeat_when_the_globals_are_reseeded(config):
    runs = _finished(config, [(0.25, 1), (0.5, 2), (0.75, 3)])
    seen = set()
    for _ in range(4):
        random.seed(0)  # what a seeded run does between two proposals
        np.random.seed(0)
        seen.add(engine.next_run(config, runs).config["x"]["value"])
    assert len(seen) == 4


@pytest.mark.slow
def test_seeded_proposals_are_the_same_in_another_process():
    code = (
        "import json; from kerasweep.sweep_config import _engine as engine;"
        f"config = {RANDOM!r};"
        "print(json.dumps([engine.next_run(config, [], seed=5, proposal=n).config"
        " for n in range(3)]))"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=subprocess_env(PYTHONHASHSEED=str(hash_seed)),
        ).stdout
        for hash_seed in (1, 2)
    ]
    assert outputs[0] == outputs[1]
    here = [engine.next_run(RANDOM, [], seed=5, proposal=n).config for n in range(3)]
    assert json.loads(outputs[0]) == here


def test_own_randomness_blocks_in_threads_do_not_interleave():
    import threading

    inside = []

    def draw(seed):
        for _ in range(50):
            with engine.own_randomness(seed):
                inside.append((seed, random.random()))

    threads = [threading.Thread(target=draw, args=(s,)) for s in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.own_randomness(1):
        one = random.random()
    with engine.own_randomness(2):
        two = random.random()
    assert {value for seed, value in inside if seed == 1} == {one}
    assert {value for seed, value in inside if seed == 2} == {two}
