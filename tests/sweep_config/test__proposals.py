"""Grid and random proposals without the history, against W&B's engine with all of it.

Grid: generated grids (categorical values with repeats and look-alikes such as 2 and 2.0,
lists and dicts, ``int_uniform``, ``q_uniform``, constants, nested parameters) and generated
runs (the engine's own proposals, other grid points written differently, points outside the
grid, runs lacking a parameter, dict values with extra keys, every state). After several
prefixes of each history, the points :class:`GridProposals` proposes one after another
equal those of ``sweeps.next_runs`` on the runs of the prefix.

Random: :func:`random_proposal` equals ``engine.next_run`` with generated runs, for the same
seed and proposal number.
"""

from __future__ import annotations

import random
import warnings

import pytest

from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config._proposals import GridProposals, grid_hash, random_proposal

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sweeps
    from sweeps import SweepRun

GRIDS = 300
RANDOM_SWEEPS = 120
STATES = ("running", "finished", "failed", "crashed", "killed")
CATEGORIES = (1, 1.0, 2, 2.0, 2.5, "a", "b", None, True, False, [1, 2], [1.0, 2], {"x": 1},
              {"x": 1, "y": 2}, {"y": 2}, 0, -3, "1", 10**20)


def _spec(rng: random.Random) -> dict:
    kind = rng.random()
    if kind < 0.5:
        values = [rng.choice(CATEGORIES) for _ in range(rng.randint(1, 5))]
        spec: dict = {"values": values}
        if rng.random() < 0.2:
            spec["distribution"] = "categorical"
        return spec
    if kind < 0.7:
        low = rng.randint(-2, 3)
        spec = {"min": low, "max": low + rng.randint(1, 4)}
        if rng.random() < 0.3:
            spec["distribution"] = "int_uniform"
        return spec
    if kind < 0.85:
        low = rng.choice((0, 0.5, 1))
        spec = {"distribution": "q_uniform", "min": low, "max": low + rng.choice((1, 1.5, 2))}
        if rng.random() < 0.7:
            spec["q"] = rng.choice((0.25, 0.5, 1, 0.1))
        return spec
    spec = {"value": rng.choice(CATEGORIES)}
    if rng.random() < 0.2:
        spec["distribution"] = "constant"
    return spec


def _parameters(rng: random.Random, depth: int = 0) -> dict:
    names = rng.sample(["a", "b", "c", "lr", "B", "a_1", "z"], rng.randint(1, 3))
    out = {}
    for name in names:
        if depth == 0 and rng.random() < 0.15:
            out[name] = {"parameters": _parameters(rng, depth + 1)}
        else:
            out[name] = _spec(rng)
    return out


def _leaf_values(spec: dict) -> list:
    if "values" in spec:
        return spec["values"]
    if "value" in spec:
        return [spec["value"]]
    if spec.get("distribution") == "q_uniform":
        return [spec["min"], spec["min"] + spec.get("q", 1.0)]
    return list(range(spec["min"], spec["max"] + 1))


def _other_params(rng: random.Random, parameters: dict) -> dict:
    """A run's parameters not from the engine: grid points written differently, values
    outside the grid, dicts with extra keys, parameters left out."""
    out: dict = {}
    for name, spec in parameters.items():
        if rng.random() < 0.05:
            continue
        if "parameters" in spec:
            out[name] = _other_params(rng, spec["parameters"])
            continue
        value = rng.choice(_leaf_values(spec))
        roll = rng.random()
        if isinstance(value, int) and not isinstance(value, bool) and roll < 0.3:
            value = float(value)
        elif isinstance(value, dict) and roll < 0.5:
            value = {**value, "injected": rng.random()}
        elif roll < 0.08:
            value = "elsewhere"
        out[name] = value
    return out


def _typed(value):
    """``value`` with every type spelled out: 1 and 1.0, or True and 1, compare unequal."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((key, _typed(v)) for key, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_typed(v) for v in value))
    return (type(value).__name__, value)


def _engine_sequence(config: dict, runs: list, limit: int) -> list:
    """The engine's next ``limit`` grid points after ``runs`` (each counted as taken by the
    next, as ``sweeps.next_runs`` does), ending with None if the grid ends first."""
    return [None if r is None else r.config for r in sweeps.next_runs(config, runs, n=limit)]


def _my_sequence(config: dict, runs: list, limit: int, *, shuffled: random.Random) -> list:
    grid = GridProposals.from_config(config)
    for run in shuffled.sample(runs, len(runs)):  # any order: an agent that starts late
        grid.add_config(run.config)
    out: list = []
    while len(out) < limit:
        proposed = grid.next()
        out.append(proposed)
        if proposed is None:
            break
        grid.add_config(proposed)
    return out


def _grid_sweep(seed: int) -> int:
    """One generated grid and history; the proposals after several of its prefixes."""
    rng = random.Random(seed)
    config = {"method": "grid", "parameters": _parameters(rng)}
    grid = GridProposals.from_config(config)
    assert grid is not None, config
    runs: list = []
    for number in range(rng.randint(0, 12)):
        proposed = grid.next()
        if proposed is not None and rng.random() < 0.7:
            params = {key: spec["value"] for key, spec in proposed.items()}
        else:
            params = _other_params(rng, config["parameters"])
        runs.append(
            SweepRun(
                name=f"r{number}",
                state=rng.choice(STATES),
                config={key: {"value": value} for key, value in params.items()},
            )
        )
        grid.add(params)
    limit = min(grid.size + 1, 40)
    cuts = {len(runs), *rng.sample(range(len(runs) + 1), min(2, len(runs) + 1))}
    checks = 0
    for cut in sorted(cuts):
        expected = _engine_sequence(config, runs[:cut], limit)
        mine = _my_sequence(config, runs[:cut], limit, shuffled=rng)
        assert _typed(mine) == _typed(expected), (config, cut)
        checks += len(expected)
    return checks


@pytest.mark.slow  # thousands of the engine's decisions
def test_grid_proposals_equal_the_engines_on_generated_sweeps():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the engine warns of runs lacking a parameter
        checks = sum(_grid_sweep(seed) for seed in range(GRIDS))
    assert checks > 10 * GRIDS


def test_a_grid_walks_to_its_end_as_the_engine():
    config = {
        "method": "grid",
        "parameters": {
            "b": {"values": [3, 1, 3.0, 2]},
            "a": {"parameters": {"y": {"min": 0, "max": 2}, "x": {"value": "k"}}},
            "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.3},
        },
    }
    grid = GridProposals.from_config(config)
    runs: list = []
    while True:
        expected = sweeps.next_run(config, runs)
        proposed = grid.next()
        assert _typed(proposed) == _typed(None if expected is None else expected.config)
        if proposed is None:
            break
        runs.append(SweepRun(name=str(len(runs)), state="finished", config=proposed))
        grid.add_config(proposed)
    assert len(runs) == grid.size == 3 * 3 * 4


@pytest.mark.parametrize(
    "parameters",
    [
        {"a": {"min": 0.0, "max": 1.0}},
        {"a": {"values": [1, 2], "probabilities": [0.5, 0.5]}},
        {"a": {"min": 3, "max": 3}},
        {"a": {"distribution": "normal"}},
        {"a": {"values": []}},
        {"a": {"parameters": {}}},
    ],
)
def test_what_the_grid_does_not_read_is_left_to_the_engine(parameters):
    assert GridProposals.from_config({"method": "grid", "parameters": parameters}) is None


def test_grid_hash_tells_values_apart_as_the_engine():
    from sweeps.grid_search import yaml_hash

    for a in CATEGORIES:
        for b in CATEGORIES:
            assert (grid_hash(a) == grid_hash(b)) == (yaml_hash(a) == yaml_hash(b)), (a, b)


_DISTRIBUTIONS = [
    {"min": 0.0, "max": 1.0},
    {"min": 1, "max": 9},
    {"values": ["x", "y", 3]},
    {"values": [1, 2], "probabilities": [0.3, 0.7]},
    {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    {"distribution": "q_log_uniform_values", "min": 1, "max": 256, "q": 8},
    {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10.0},
    {"distribution": "normal", "mu": 0.0, "sigma": 2.0},
    {"distribution": "q_normal", "mu": 0.0, "sigma": 2.0, "q": 0.5},
    {"distribution": "log_normal", "mu": 0.0, "sigma": 1.0},
    {"distribution": "beta", "a": 2.0, "b": 3.0},
    {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
    {"value": 7},
]


@pytest.mark.slow  # thousands of the engine's decisions
def test_random_proposals_equal_the_engines_with_every_run():
    rng = random.Random(0)
    for case in range(RANDOM_SWEEPS):
        names = rng.sample(["a", "b", "c", "d"], rng.randint(1, 3))
        parameters = {name: dict(rng.choice(_DISTRIBUTIONS)) for name in names}
        if rng.random() < 0.2:
            parameters["n"] = {"parameters": {"x": dict(rng.choice(_DISTRIBUTIONS))}}
        config = {"method": "random", "parameters": parameters}
        if rng.random() < 0.5:
            config["metric"] = {"name": "m", "goal": rng.choice(("minimize", "maximize"))}
        seed = rng.choice((0, 1, 2**40 + case))
        runs = [
            engine.sweep_run(
                name=f"r{i}",
                state=rng.choice(STATES),
                config={"a": {"value": rng.random()}},
                history=[{"m": rng.random()} for _ in range(rng.randint(0, 3))],
            )
            for i in range(rng.randint(1, 12))
        ]
        proposal = len(runs) + rng.randint(0, 3)
        expected = engine.next_run(config, runs, seed=seed, proposal=proposal).config
        mine = random_proposal(config, seed=seed, proposal=proposal)
        assert _typed(mine) == _typed(expected)


def test_random_proposal_refuses_another_method():
    with pytest.raises(ValueError, match="random"):
        random_proposal({"method": "grid", "parameters": {"a": {"values": [1]}}})
