"""The rules of a sweep config that W&B's JSON schema cannot express.

Each ``check_*`` function takes the :class:`~kerasweep.sweep_config._reading.Document` (for
line numbers) and the config as plain data, and fails on the first problem it finds: the
top-level keys kerasweep can run, the method, the metric, hyperband's settings (bands that
can be computed), ``program``/``command``, and what the method needs of the parameters: a
grid of gridable values whose lists, repeats included, make at most
:data:`~kerasweep.sweep_config._grid.MAX_GRID_SIZE` combinations; bayes with something to
search and no NaN among its values; random and bayes proposals that stay finite numbers
(the engine's own sampling at its extreme draws decides). :func:`normalised` writes the
hyperband settings W&B counts as integers as ints.

Example:
    >>> from kerasweep.sweep_config._reading import read
    >>> check_method(read({"method": "grid"}), {"method": "grid"})
    'grid'
"""

from __future__ import annotations

import math

from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config import _grid as grid
from kerasweep.sweep_config._parameters import DISTRIBUTIONS, Leaf
from kerasweep.sweep_config._reading import Document
from kerasweep.sweep_config._text import clip, count, did_you_mean, format_path, show

__all__ = [
    "GOALS",
    "HYPERBAND_KEYS",
    "METHODS",
    "check_early_terminate",
    "check_method",
    "check_method_needs",
    "check_metric",
    "check_program_and_command",
    "check_top_level_keys",
    "normalised",
]

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
# The engine computes this many bands from min_iter: min_iter * eta**k for k < 100.
_HYPERBAND_BANDS = 100


def check_top_level_keys(doc: Document, config: dict) -> None:
    allowed = sorted(engine.schema()["properties"])
    for key in config:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f"; settings are: {', '.join(allowed)}"
            doc.fail(key, config[key], f"unknown setting (value {show(config[key])}){hint}")
    if "scheduler" in config:
        doc.fail(
            "scheduler",
            config["scheduler"],
            f"{show(config['scheduler'])}: custom schedulers run only on W&B Launch;"
            " kerasweep searches with W&B's own grid, random and bayes",
        )
    if "metrics" in config:
        doc.fail(
            "metrics",
            config["metrics"],
            f"{show(config['metrics'])}: several metrics need a custom scheduler on W&B"
            " Launch; give one `metric` instead",
        )


def check_method(doc: Document, config: dict) -> str:
    if "method" not in config:
        doc.fail("method", None, "missing: choose grid, random or bayes")
    method = config["method"]
    if method == "custom":
        doc.fail(
            "method",
            method,
            "'custom' needs a custom scheduler on W&B Launch; choose grid, random or bayes",
        )
    if not isinstance(method, str) or method not in METHODS:
        doc.fail(
            "method",
            method,
            f"{show(method)} is not a search method{did_you_mean(method, METHODS)};"
            " choose grid, random or bayes",
        )
    return method


def check_metric(doc: Document, config: dict, method: str) -> None:
    if "metric" not in config:
        if method == "bayes":
            doc.fail("metric", None, "missing: method 'bayes' needs a metric to optimize")
        return
    metric = config["metric"]
    if not isinstance(metric, dict):
        doc.fail(
            "metric",
            metric,
            f"{show(metric)} is not a mapping: write {{name: val_loss, goal: minimize}}",
        )
    if "name" not in metric:
        doc.fail(("metric", "name"), None, "missing: the name of the logged metric")
    name = metric["name"]
    if not isinstance(name, str) or not name.strip():
        doc.fail(("metric", "name"), name, f"{show(name)} is not a metric name")
    if "goal" in metric and metric["goal"] not in GOALS:
        goal = metric["goal"]
        doc.fail(
            ("metric", "goal"),
            goal,
            f"{show(goal)} is not minimize or maximize{did_you_mean(goal, GOALS)}",
        )


def check_early_terminate(doc: Document, config: dict) -> None:
    if "early_terminate" not in config:
        return
    et = config["early_terminate"]
    path = ("early_terminate",)
    if not isinstance(et, dict):
        doc.fail(path, et, f"{show(et)} is not a mapping: write {{type: hyperband, min_iter: 3}}")
    if "type" not in et:
        doc.fail((*path, "type"), None, "missing: the only type is hyperband")
    if et["type"] != "hyperband":
        doc.fail(
            (*path, "type"),
            et["type"],
            f"{show(et['type'])} is not an early-termination type; the only one is hyperband",
        )
    doc.refuse_unknown(et, path, HYPERBAND_KEYS, "hyperband setting")
    for key in ("min_iter", "max_iter"):
        if key in et:
            value = et[key]
            if not _whole(value):
                doc.fail((*path, key), value, f"{show(value)} is not an integer")
            if value < 1:
                doc.fail((*path, key), value, f"{show(value)} must be at least 1")
    if "s" in et and "max_iter" in et:  # without max_iter, the engine ignores s
        s = et["s"]
        if isinstance(s, bool) or not isinstance(s, int):
            doc.fail(
                (*path, "s"),
                s,
                f"{show(s)} is not an integer (the engine counts s bands down from"
                " max_iter, and only a whole number written without a dot)",
            )
        if s < 1:
            doc.fail((*path, "s"), s, f"{show(s)} must be at least 1")
    eta = et.get("eta", 3)
    if "eta" in et:
        if isinstance(eta, bool) or not isinstance(eta, (int, float)):
            doc.fail((*path, "eta"), eta, f"{show(eta)} is not a number")
        if not math.isfinite(eta) or eta <= 1:
            doc.fail((*path, "eta"), eta, f"{show(eta)} must be a number greater than 1")
    if "strict" in et and not isinstance(et["strict"], bool):
        doc.fail((*path, "strict"), et["strict"], f"{show(et['strict'])} is not true/false")
    if "max_iter" in et and "s" not in et:
        doc.fail(
            (*path, "max_iter"),
            et["max_iter"],
            f"{show(et['max_iter'])} needs s as well (the engine takes max_iter and s"
            " before min_iter): add s or drop max_iter",
        )
    if "max_iter" in et:
        if et["max_iter"] / eta < 1:
            doc.fail(
                (*path, "max_iter"),
                et["max_iter"],
                f"{show(et['max_iter'])} is less than eta {show(eta)}: no band is left"
                " to stop runs at",
            )
    elif "min_iter" in et:
        try:
            band: float = et["min_iter"]
            for _ in range(_HYPERBAND_BANDS):
                int(band)
                band *= eta
        except OverflowError:
            if isinstance(eta, float):
                doc.fail(
                    (*path, "eta"),
                    eta,
                    f"{show(eta)} is too large: the engine computes {_HYPERBAND_BANDS} bands"
                    " (min_iter * eta^k) and they overflow; use an integer eta",
                )
            doc.fail(
                (*path, "min_iter"),
                et["min_iter"],
                f"{show(et['min_iter'])} is too large: the engine computes"
                f" {_HYPERBAND_BANDS} bands (min_iter * eta^k) and they overflow;"
                " write it as an integer, without a dot",
            )
    else:
        doc.fail((*path, "min_iter"), None, "missing: hyperband needs min_iter (or max_iter and s)")
    if "metric" not in config:
        doc.fail("metric", None, "missing: hyperband needs the metric that runs are judged by")


def check_program_and_command(doc: Document, config: dict) -> None:
    if "program" in config:
        program = config["program"]
        if not isinstance(program, str) or not program.strip():
            doc.fail("program", program, f"{show(program)} is not a path to a program")
    if "command" not in config:
        return
    command = config["command"]
    if not isinstance(command, list):
        doc.fail(
            "command",
            command,
            f'{show(command)} is not a list: write ["${{env}}", "${{interpreter}}",'
            ' "${program}", "${args}"]',
        )
    # [] runs the default command, and each item is run as its str(), as `wandb agent` does
    if "program" not in config and any("${program}" in str(part) for part in command):
        doc.fail("command", command, f"{show(command)} uses ${{program}} but no program is given")


def normalised(config: dict) -> dict:
    """The config with the hyperband settings W&B counts as integers (``3.0``) as ints.

    >>> normalised({"early_terminate": {"type": "hyperband", "min_iter": 3.0}})
    {'early_terminate': {'type': 'hyperband', 'min_iter': 3}}
    """
    et = config.get("early_terminate")
    if isinstance(et, dict):
        for key in ("min_iter", "max_iter"):
            if isinstance(et.get(key), float):
                et[key] = int(et[key])
    return config


def _whole(value: object) -> bool:
    """An integer as W&B's schema counts them: an int, or a float with nothing after the dot."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def check_method_needs(doc: Document, config: dict, method: str, leaves: list[Leaf]) -> int | None:
    """What the chosen method needs of the parameters.

    Returns, for a grid, how many combinations the engine builds for each request for a run
    (:func:`~kerasweep.sweep_config._grid.engine_points`), else None.
    """
    if method == "grid":
        return _check_grid(doc, leaves)
    if method == "bayes":
        searchable = [leaf for leaf in leaves if leaf.distribution != "constant"]
        if not searchable:
            doc.fail(
                "parameters",
                config["parameters"],
                f"{show(config['parameters'])}: every parameter is a constant; bayes needs"
                " one to search",
            )
        for leaf in leaves:
            if leaf.distribution == "categorical_w_probabilities":
                doc.fail(
                    (*leaf.path, "probabilities"),
                    leaf.spec["probabilities"],
                    f"{show(leaf.spec['probabilities'])}: W&B's bayes search fails on"
                    " categorical probabilities; drop them or use random",
                )
            if leaf.distribution == "categorical":
                for index, value in enumerate(leaf.spec["values"]):
                    if _holds_nan(value):
                        doc.fail(
                            (*leaf.path, "values", index),
                            value,
                            f"{show(value)} holds NaN, which equals nothing: W&B's bayes"
                            " search cannot find a run's value among the values and fails"
                            " once a run has it; drop it, or use random or grid",
                        )
    _check_proposals(doc, method, leaves)
    return None


def _check_grid(doc: Document, leaves: list[Leaf]) -> int:
    for leaf in leaves:
        if not DISTRIBUTIONS[leaf.distribution].gridable:
            why = (
                "a categorical with probabilities"
                if leaf.distribution == "categorical_w_probabilities"
                else f"the continuous distribution {leaf.distribution!r}"
            )
            doc.fail(
                leaf.path,
                leaf.spec,
                f"{show(leaf.spec)} is {why}: grid needs values, int_uniform,"
                " q_uniform or a constant",
            )
        if grid.leaf_points(leaf) is None:  # a q_uniform whose (max - min) / q overflows
            spec = leaf.spec
            key = "max" if math.isinf(spec["max"] - spec["min"]) else "q"
            doc.fail(
                (*leaf.path, key),
                spec[key],
                f"{show(spec[key])}: (max - min) / q is not a finite number, so the grid's"
                f" values cannot be listed (min {show(spec['min'])}, max {show(spec['max'])},"
                f" q {show(spec.get('q', 1.0))})",
            )
    size = grid.points(leaves)
    assert size is not None
    if size > grid.MAX_GRID_SIZE:
        factors = sorted(
            ((grid.leaf_points(leaf), leaf) for leaf in leaves), key=lambda f: -(f[0] or 0)
        )
        biggest = ", ".join(f"{format_path(leaf.path[1:])}: {count(n)}" for n, leaf in factors[:3])
        doc.fail(
            "parameters",
            size,
            f"the grid has {count(size)} points ({biggest}, ...); the limit is"
            f" {grid.MAX_GRID_SIZE:,}: use random or bayes, or fewer values",
        )
    built = grid.engine_points(leaves)
    assert built is not None
    if built > grid.MAX_GRID_SIZE:
        # only repeated values make the engine's product larger than the grid
        leaf = max(
            leaves,
            key=lambda leaf: (grid.leaf_engine_points(leaf) or 0) / (grid.leaf_points(leaf) or 1),
        )
        values = leaf.spec["values"]
        doc.fail(
            (*leaf.path, "values"),
            values,
            f"{show(values)}: {len(values):,} values, {grid.leaf_points(leaf):,} of them"
            f" distinct; W&B's engine lists the grid with the repeats, {count(built)}"
            f" combinations for every run it proposes (the limit is {grid.MAX_GRID_SIZE:,}):"
            " drop the repeated values",
        )
    return built


def _holds_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_holds_nan(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_nan(item) for item in value)
    return False


# The distribution each quantized one rounds to multiples of q.
_UNQUANTIZED = {
    "q_uniform": "uniform",
    "q_log_uniform_values": "log_uniform_values",
    "q_normal": "normal",
    "q_log_normal": "log_normal",
    "q_beta": "beta",
}
# What NumPy makes of NaN, or of a number beyond 64-bit integers, made an integer.
_INT64_MIN = -(2**63)
_NOT_SAMPLED = ("constant", "categorical", "categorical_w_probabilities")
_HINTS = {
    "q": "use a larger q",
    "min": "narrow the range",
    "max": "narrow the range",
    "mu": "use a smaller mu",
    "sigma": "use a smaller sigma",
}


def _check_proposals(doc: Document, method: str, leaves: list[Leaf]) -> None:
    """Every number random or bayes search can propose is finite and, for int_uniform,
    within min..max: finite extremes can still overflow (``max - min``, ``exp(mu)``,
    ``x / q``), and integers beyond 64 bits break the engine's sampling."""
    for leaf in leaves:
        if leaf.distribution in _NOT_SAMPLED:
            continue
        problem = _proposal_problem(leaf.distribution, leaf.spec)
        if problem is None:
            continue
        key = _culprit(leaf)
        where, value = ((*leaf.path, key), leaf.spec[key]) if key else (leaf.path, leaf.spec)
        if leaf.distribution == "int_uniform":
            hint = "keep min and max within 64-bit integers"
        elif key == "q" and isinstance(value, int):
            hint = f"write q with a dot ({value}.0), or keep the values within 64-bit integers"
        else:
            hint = _HINTS.get(key or "", "use smaller numbers")
        doc.fail(
            where,
            value,
            f"{show(value)}: with {show(leaf.spec)}, W&B's {method} search {problem}; {hint}",
        )


def _proposal_problem(distribution: str, spec: dict) -> str | None:
    try:
        values = engine.proposal_extremes({**spec, "distribution": distribution})
    except Exception as err:  # the engine's sampling fails on the parameter
        return f"fails: {type(err).__name__}: {clip(str(err), 100)}"
    for value in values:
        if isinstance(value, float) and not math.isfinite(value):
            return f"proposes {value} (its arithmetic overflows)"
        if distribution == "int_uniform" and not spec["min"] <= value <= spec["max"]:
            return f"proposes {value}, outside min..max"
        if value == _INT64_MIN and isinstance(spec.get("q"), int):
            return (
                f"proposes {value} (NaN or a number beyond 64-bit integers, made an integer"
                " because q is one)"
            )
    return None


def _culprit(leaf: Leaf) -> str | None:
    """The key to name for a parameter whose proposals overflow."""
    spec, distribution = leaf.spec, leaf.distribution
    if "q" in spec and distribution in _UNQUANTIZED:
        unquantized = {key: value for key, value in spec.items() if key != "q"}
        if _proposal_problem(_UNQUANTIZED[distribution], unquantized) is None:
            return "q"
        distribution = _UNQUANTIZED[distribution]
    if "min" in spec and "max" in spec:
        return max(("max", "min"), key=lambda key: abs(spec[key]))
    if distribution in ("normal", "log_normal"):
        mu, sigma = abs(spec.get("mu", 0.0)), spec.get("sigma", 1.0)
        if (distribution == "log_normal" and mu > 700) or sigma <= mu:
            return "mu" if "mu" in spec else None
        return "sigma" if "sigma" in spec else None
    return None
