"""load_sweep_config against W&B's own validator and engine, on generated configs.

A seeded generator writes valid configs over every method and every distribution W&B's
schema knows (read from the schema itself), with and without hyperband, program and
command, nested parameters, and then mutates some of them (edge numbers, deleted and unknown
keys, repeated values, NaN). W&B's ``sweeps`` package judges each one the way a sweep meets
it: its schema and extra checks, a first proposal, what its sampling can propose at its
extreme draws, a second proposal after fake runs, hyperband's verdict on a running run. A
grid whose lists make the engine build more than ``MAX_GRID_SIZE`` combinations per request
is judged unrunnable without asking the engine (it would take minutes and gigabytes).

``load_sweep_config`` must accept every config the engine runs, and refuse every other one
with a one-line :class:`SweepConfigError`, except the few kinds listed in
:func:`_deliberately_refused`, each with its reason.
"""

from __future__ import annotations

import copy
import json
import math
import random
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from kerasweep.sweep_config import MAX_GRID_SIZE, SweepConfigError, load_sweep_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sweeps
    import sweeps.bayes_search  # imported here once, not within a judged config
    from sweeps import RunState, SweepRun
    from sweeps.params import HyperParameter, HyperParameterSet

CONFIGS = 400
METHODS = ("grid", "random", "bayes")

_DEFINITIONS = sweeps.config.schema.dereferenced_sweep_config_jsonschema["definitions"]


def _distribution_keys() -> dict[str, tuple[set[str], set[str]]]:
    """Each distribution the engine's schema names: its required and its optional keys."""
    keys: dict[str, tuple[set[str], set[str]]] = {}
    for definition in _DEFINITIONS.values():
        for branch in definition.get("anyOf", [definition]):
            properties = branch.get("properties", {})
            for name in properties.get("distribution", {}).get("enum", []):
                required = set(branch.get("required", [])) - {"distribution"}
                optional = set(properties) - required - {"distribution"}
                old_required, old_optional = keys.get(name, (required, set()))
                keys[name] = (old_required & required, old_optional | optional)
    return keys


DISTRIBUTIONS = _distribution_keys()
# the engine refuses these (min/max as exponents of e), its schema still lists them
_DEPRECATED = {"log_uniform", "inv_log_uniform", "q_log_uniform"}
_INFERRED = {  # distributions the engine infers when "distribution" is left out
    "constant",
    "categorical",
    "categorical_w_probabilities",
    "int_uniform",
    "uniform",
}

_ATOMS = [0, 1, -3, 2.5, 0.001, 1e6, "adam", "", True, False, None, [1, 2], {"a": 1}, 3.0]
_EDGES = [0, -1, 1, 2, 2.5, 3.0, 27.0, 800, -800, float("nan"), float("inf"), -float("inf")]
_EDGES += [1e308, -1e308, 1e-310, 2**63, 2**70, -(2**70), True, None, "x", "", [], {}]
# the schema's other top-level settings and metric options
_SETTINGS = [("name", "s"), ("description", "d"), ("project", "p"), ("entity", "e")]
_SETTINGS += [("controller", {"type": "local"}), ("kind", "sweep"), ("apiVersion", "v1")]
_SETTINGS += [("job", "j"), ("image_uri", "i"), ("run_cap", 1), ("run_cap", 10)]
_METRIC_OPTIONS = [("target", 0.5), ("impute", "best"), ("impute_while_running", "latest")]
_UNKNOWN_KEYS = ["values", "value", "min", "max", "q", "mu", "sigma", "s", "eta", "min_iter"]
_UNKNOWN_KEYS += ["max_iter", "distribution", "probabilities", "command", "goal", "name"]


# --- the generator ----------------------------------------------------------------------------


def _bounds(rng: random.Random, distribution: str) -> tuple[Any, Any]:
    if distribution == "int_uniform":
        low = rng.randint(-5, 20)
        return low, low + rng.randint(1, 40)
    if distribution in ("log_uniform_values", "inv_log_uniform_values", "q_log_uniform_values"):
        low = rng.choice([1e-5, 1e-3, 0.5, 1, 16])
        return low, low * rng.choice([2, 10, 1000])
    if distribution in _DEPRECATED:
        low = rng.choice([-9.0, -4.0, 0.0])
        return low, low + rng.choice([1.0, 5.0])
    low = rng.choice([-1.0, 0.0, 0.1, 1.0, 0])
    return low, low + rng.choice([0.5, 1.0, 10.0, 3])


def _values(rng: random.Random) -> list:
    return [copy.deepcopy(rng.choice(_ATOMS)) for _ in range(rng.randint(1, 5))]


def _parameter(rng: random.Random, method: str) -> dict:
    names = sorted(DISTRIBUTIONS)
    if method == "grid" and rng.random() < 0.7:
        names = ["constant", "categorical", "int_uniform", "q_uniform"]
    distribution = rng.choice(names)
    required, optional = DISTRIBUTIONS[distribution]
    spec: dict[str, Any] = {}
    if distribution not in _INFERRED or rng.random() < 0.5:
        spec["distribution"] = distribution
    keys = sorted(required) + [key for key in sorted(optional) if rng.random() < 0.6]
    if {"min", "max"} <= set(keys):
        spec["min"], spec["max"] = _bounds(rng, distribution)
    for key in keys:
        if key in ("min", "max"):
            continue
        if key == "value":
            spec[key] = copy.deepcopy(rng.choice(_ATOMS))
        elif key == "values":
            spec[key] = _values(rng)
        elif key == "q":
            spec[key] = rng.choice([0.05, 0.5, 1, 2, 8])
        elif key == "mu":
            spec[key] = rng.choice([-1.0, 0, 0.5, 3.0])
        elif key in ("sigma", "a", "b"):
            spec[key] = rng.choice([0.1, 0.5, 1, 2, 5.0])
    if "probabilities" in keys:
        weights = [rng.randint(1, 4) for _ in spec["values"]]
        spec["probabilities"] = [w / sum(weights) for w in weights]
    return spec


def _early_terminate(rng: random.Random) -> dict:
    early: dict[str, Any] = {"type": "hyperband"}
    form = rng.choice(["min_iter", "min_iter", "max_iter", "both", "s_with_min_iter"])
    if form in ("min_iter", "both", "s_with_min_iter"):
        early["min_iter"] = rng.choice([1, 2, 3, 3.0, 5])
    if form in ("max_iter", "both"):
        early["max_iter"] = rng.choice([9, 27, 27.0, 81])
        early["s"] = rng.choice([1, 2, 3])
    if form == "s_with_min_iter":
        early["s"] = rng.choice([2, 2.5, 3])
    if rng.random() < 0.4:
        early["eta"] = rng.choice([2, 3, 1.5, 4.0])
    if rng.random() < 0.3:
        early["strict"] = rng.choice([True, False])
    return early


def _config(rng: random.Random) -> dict:
    method = rng.choice(METHODS)
    config: dict[str, Any] = {"method": method}
    if method == "bayes" or rng.random() < 0.6:
        config["metric"] = {"name": rng.choice(["val_loss", "acc"])}
        if rng.random() < 0.5:
            config["metric"]["goal"] = rng.choice(["minimize", "maximize"])
        if rng.random() < 0.2:
            key, value = rng.choice(_METRIC_OPTIONS)
            config["metric"][key] = value
    parameters: dict[str, Any] = {}
    for index in range(rng.randint(1, 3)):
        spec = _parameter(rng, method)
        if rng.random() < 0.1:
            inner = {"inner": _parameter(rng, method), "fixed": {"value": index}}
            spec = {"parameters": inner}
        parameters[f"p{index}"] = spec
    config["parameters"] = parameters
    if "metric" in config and rng.random() < 0.4:
        config["early_terminate"] = _early_terminate(rng)
    if rng.random() < 0.15:
        config["program"] = "train.py"
        config["command"] = rng.choice(
            [
                [],
                ["${env}", "${interpreter}", "${program}", "${args}"],
                ["${env}", "python", "${program}", "--epochs", 5, "${args}"],
                ["python", "${program}", 2.5, True, "${args_no_hyphens}"],
            ]
        )
    if rng.random() < 0.15:
        key, value = rng.choice(_SETTINGS)
        config[key] = copy.deepcopy(value)
    return config


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in children:
        yield (*path, key)
        if isinstance(child, (dict, list)):
            yield from _paths(child, (*path, key))


def _mutated(config: dict, rng: random.Random) -> dict:
    config = copy.deepcopy(config)
    for _ in range(rng.randint(1, 2)):
        paths = list(_paths(config))
        path = rng.choice(paths)
        parent = config
        for part in path[:-1]:
            parent = parent[part]
        values = parent.get("values") if isinstance(parent, dict) else None
        roll = rng.random()
        if roll < 0.45:
            parent[path[-1]] = copy.deepcopy(rng.choice(_EDGES))
        elif roll < 0.6 and isinstance(parent, dict) and len(parent) > 1:
            del parent[path[-1]]
        elif roll < 0.75 and isinstance(parent, dict):
            parent[rng.choice(_UNKNOWN_KEYS)] = copy.deepcopy(rng.choice(_EDGES))
        elif roll < 0.85 and isinstance(values, list):
            parent["values"] = values * rng.choice([2, 50, 400])
        elif roll < 0.95 and isinstance(values, list):
            parent["values"] = [*values, float("nan")]
        elif isinstance(parent, dict) and "min" in parent and "max" in parent:
            parent["min"], parent["max"] = parent["max"], parent["min"]
    return config


# configs from issue reports, judged as every generated one is
KNOWN = [
    {"method": "random", "metric": {"name": "loss"}, "parameters": {"a": {"value": 1}},
     "early_terminate": {"type": "hyperband", "min_iter": 3.0}},
    {"method": "random", "metric": {"name": "loss"}, "parameters": {"a": {"value": 1}},
     "early_terminate": {"type": "hyperband", "max_iter": 27.0, "s": 2}},
    {"method": "random", "metric": {"name": "loss"}, "parameters": {"a": {"value": 1}},
     "early_terminate": {"type": "hyperband", "min_iter": 3, "s": 2}},
    {"method": "random", "program": "t.py", "command": [], "parameters": {"a": {"value": 1}}},
    {"method": "random", "program": "t.py", "parameters": {"a": {"value": 1}},
     "command": ["${env}", "${interpreter}", "${program}", "--epochs", 5]},
    {"method": "bayes", "metric": {"name": "loss"},
     "parameters": {"a": {"values": [0.1, float("nan")]}}},
    {"method": "grid",
     "parameters": {"a": {"values": [0.5] * 5000}, "b": {"min": 1, "max": 20000}}},
    {"method": "grid", "parameters": {k: {"values": [1] * 1000} for k in "abc"}},
    {"method": "random", "parameters": {"a": {"min": -1e308, "max": 1e308}}},
    {"method": "random", "parameters": {"a": {"distribution": "log_normal", "mu": 800}}},
    {"method": "random",
     "parameters": {"a": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 1e-310}}},
    {"method": "random", "parameters": {"units": {"min": 1, "max": 2**70}}},
    {"method": "random",
     "parameters": {"a": {"distribution": "q_log_normal", "mu": 800, "q": 1}}},
    {"method": "bayes", "metric": {"name": "loss"},
     "parameters": {"a": {"distribution": "q_uniform", "min": 0, "max": 1e300, "q": 1}}},
    {"method": "grid",
     "parameters": {"a": {"distribution": "q_uniform", "min": -1e308, "max": 1e308, "q": 1e307}}},
]  # fmt: skip


def generated(count: int, seed: int = 2026) -> list[dict]:
    """``count`` configs: about half valid as generated, half mutated."""
    rng = random.Random(seed)
    configs = []
    for _ in range(count):
        config = _config(rng)
        configs.append(_mutated(config, rng) if rng.random() < 0.5 else config)
    return configs


# --- the reference: W&B's engine ----------------------------------------------------------------

_SAMPLED_FREE = (
    HyperParameter.CONSTANT,
    HyperParameter.CATEGORICAL,
    HyperParameter.CATEGORICAL_PROB,
)
_INT64_MIN = int(np.iinfo(np.int64).min)
_EXTREME_DRAWS = (2.0**-53, 0.5, 1.0 - 2.0**-53)  # random.uniform(0, 1)'s lowest and highest


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    states = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])


def _engine_grid_combinations(params: HyperParameterSet) -> float:
    """How many combinations the engine's grid search lists per request (repeats included)."""
    size = 1.0
    for p in params:
        if p.type == HyperParameter.CATEGORICAL:
            size *= len(p.config["values"])
        elif p.type == HyperParameter.INT_UNIFORM:
            size *= p.config["max"] - p.config["min"] + 1
        elif p.type == HyperParameter.Q_UNIFORM:
            steps = (p.config["max"] - p.config["min"]) / p.config["q"]
            size *= math.ceil(steps) if math.isfinite(steps) else math.inf
    return size


def _python(value: Any) -> Any:
    """A NumPy scalar (or 0-d array) as the Python number it holds; anything else as is."""
    if isinstance(value, (np.generic, np.ndarray)) and np.ndim(value) == 0:
        return value.item()
    return value


def _proposal_problem(p: HyperParameter) -> str | None:
    """What the engine's sampling proposes for a parameter at its extreme draws, if wrong."""
    for draw in _EXTREME_DRAWS:
        value = _python(p.ppf(draw))
        if isinstance(value, float) and not math.isfinite(value):
            return f"{p.name} proposes {value}"
        if "q" in p.config and value == _INT64_MIN:  # NaN or beyond int64, cast by an int q
            return f"{p.name} proposes {value}: NaN or a number beyond 64-bit integers"
        if p.type == HyperParameter.INT_UNIFORM and not p.config["min"] <= value <= p.config["max"]:
            return f"{p.name} proposes {value} outside min..max"
    return None


def _as_sent(run_config: dict) -> dict:
    """A run's config as it comes back from W&B's server: through JSON."""
    return json.loads(json.dumps(run_config, default=lambda value: value.tolist()))


def _fake_runs(config: dict, first: SweepRun, params: HyperParameterSet) -> list[SweepRun]:
    """Finished runs with the first proposal's values, and, for each position in the lists
    of values, one run that took that value of every categorical parameter."""
    metric = config.get("metric", {}).get("name", "loss")
    history = [{metric: 1.0}, {metric: 0.5}]
    runs = [SweepRun(config=_as_sent(first.config), state=RunState.finished, history=history)]
    categorical = [p for p in params if p.type == HyperParameter.CATEGORICAL]
    longest = max((len(p.config["values"]) for p in categorical), default=0)
    for index in range(min(longest, 6)):
        for p in categorical:
            p.value = p.config["values"][index % len(p.config["values"])]
        for p in params:
            if p.type not in (HyperParameter.CATEGORICAL, HyperParameter.CONSTANT):
                p.value = _python(p.ppf(0.5))
        runs.append(
            SweepRun(config=_as_sent(params.to_config()), state=RunState.finished, history=history)
        )
    return runs


def wandb_verdict(config: dict, seed: int = 0) -> str | None:
    """None when W&B's engine runs the config; else why not."""
    config = copy.deepcopy(config)
    with _seeded(seed):
        try:
            sweeps.SweepConfig(config)  # the schema and the engine's own checks
            params = HyperParameterSet.from_config(config["parameters"])
            if config["method"] == "grid":
                combinations = _engine_grid_combinations(params)
                if combinations > MAX_GRID_SIZE:
                    return f"the grid's lists make {combinations:.3g} combinations per request"
            first = sweeps.next_run(copy.deepcopy(config), [])
            if first is None:
                return "no first proposal"
            if config["method"] != "grid":
                for p in params:
                    if p.type not in _SAMPLED_FREE and (problem := _proposal_problem(p)):
                        return problem
            runs = _fake_runs(config, first, params)
            if config["method"] != "random":  # random search does not look at the runs
                sweeps.next_run(copy.deepcopy(config), runs)
            if "early_terminate" in config:
                metric = config.get("metric", {}).get("name", "loss")
                history = [{metric: float(i)} for i in range(30)]
                running = SweepRun(config=first.config, state=RunState.running, history=history)
                sweeps.stop_runs(copy.deepcopy(config), [*runs, running])
        except Exception as err:  # the engine fails on it, one way or another
            return f"{type(err).__name__}: {err}"[:200]
    return None


def kerasweep_verdict(config: dict) -> str | None:
    """None when load_sweep_config accepts the config; else its one-line error."""
    try:
        load_sweep_config(copy.deepcopy(config))
    except SweepConfigError as err:
        assert "\n" not in str(err), str(err)
        return str(err)
    return None


# --- what kerasweep refuses on purpose -----------------------------------------------------------


def _deliberately_refused(config: dict) -> str | None:
    """Why kerasweep refuses a config W&B runs, if it does so on purpose; else None."""
    command = config.get("command")
    program = config.get("program")
    if isinstance(command, list) and not program and any("${program}" in str(c) for c in command):
        return "the command runs ${program} but no program is given"
    if program is not None and (not isinstance(program, str) or not program.strip()):
        return "an empty program runs the interpreter alone"
    metric = config.get("metric")
    name = metric.get("name") if isinstance(metric, dict) else None
    if isinstance(name, str) and not name.strip():
        return "a metric named '' cannot be logged"
    specs = [spec for spec in (config.get("parameters") or {}).values() if isinstance(spec, dict)]
    if any(spec.get("q") == math.inf for spec in specs):
        return (
            "q: inf is no step: W&B's grid happens to list min alone (its random and bayes"
            " search propose NaN); kerasweep refuses non-finite settings everywhere"
        )
    nested = list(_nested_specs(config))
    if any(_wrong_probabilities(spec) for spec in nested):
        return (
            "W&B checks that probabilities match the values and sum to 1 only for top-level"
            " parameters; nested, it samples from the wrong distribution"
        )
    if any(spec.get("distribution") in _DEPRECATED for spec in nested):
        return (
            "W&B refuses the deprecated exponent-of-e distributions (log_uniform, ...) but"
            " checks only the top-level parameters; kerasweep refuses them nested too"
        )
    return None


def _wrong_probabilities(spec: dict) -> bool:
    values, probabilities = spec.get("values"), spec.get("probabilities")
    if not isinstance(values, list) or not isinstance(probabilities, list):
        return False
    if len(values) != len(probabilities):
        return True
    if not all(isinstance(p, (int, float)) for p in probabilities):
        return True
    return not abs(sum(probabilities) - 1) <= 1e-5  # NaN included


def _nested_specs(config: dict) -> Iterator[dict]:
    """The specs of parameters nested in others."""
    stack = [spec for spec in (config.get("parameters") or {}).values() if isinstance(spec, dict)]
    while stack:
        inner = stack.pop().get("parameters")
        if isinstance(inner, dict):
            for spec in inner.values():
                if isinstance(spec, dict):
                    yield spec
                    stack.append(spec)


# --- the test ----------------------------------------------------------------------------------


def test_load_sweep_config_agrees_with_the_engine():
    disagreements = []
    verdicts: Counter = Counter()
    covered: set[tuple[str, str]] = set()
    for number, config in enumerate(KNOWN + generated(CONFIGS)):
        ours = kerasweep_verdict(config)
        theirs = wandb_verdict(config, seed=number)
        if theirs is None and ours is not None:
            if _deliberately_refused(config):
                verdicts["deliberately refused"] += 1
                continue
            disagreements.append(f"refused, though W&B runs it: {ours}\n    {config!r:.400}")
        elif theirs is not None and ours is None:
            disagreements.append(f"accepted, though W&B fails: {theirs}\n    {config!r:.400}")
        verdicts["accepted" if ours is None else "refused"] += 1
        if ours is None:
            for spec in config["parameters"].values():
                name = spec.get("distribution", "(inferred)")
                covered.add((config["method"], name))
            covered.add(("early_terminate", str(sorted(config.get("early_terminate", {})))))
    assert not disagreements, f"{len(disagreements)} disagreements:\n" + "\n".join(
        disagreements[:10]
    )
    # the generated configs cover what they are meant to
    assert verdicts["accepted"] > CONFIGS // 4 and verdicts["refused"] > CONFIGS // 4
    for method in METHODS:
        assert {name for m, name in covered if m == method} >= {"(inferred)"}
    runnable = set(DISTRIBUTIONS) - _DEPRECATED
    assert {name for m, name in covered if m in ("random", "bayes")} >= runnable - {
        "categorical_w_probabilities"  # bayes refuses it; random covers it
    }
    assert {name for m, name in covered if m == "random"} >= {"categorical_w_probabilities"}
    hyperband_forms = {name for m, name in covered if m == "early_terminate"}
    assert {"['min_iter', 'type']", "['max_iter', 's', 'type']"} <= hyperband_forms


@pytest.mark.parametrize("config", KNOWN, ids=range(len(KNOWN)))
def test_the_reported_configs_are_judged_as_the_engine_judges_them(config):
    assert (kerasweep_verdict(config) is None) == (wandb_verdict(config) is None)


def test_the_generator_is_deterministic():
    assert json.dumps(generated(50)) == json.dumps(generated(50))
