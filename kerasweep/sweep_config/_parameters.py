"""Parameters: the distributions W&B's engine knows, and checking a ``parameters`` mapping.

:func:`check_parameters` walks a config's (possibly nested) parameters and returns one
:class:`Leaf` per parameter, with the distribution the engine will sample it from, after
checking what the schema cannot say (min below max, positive log bounds, integer bounds,
probabilities summing to 1, ...).

Example:
    >>> from kerasweep.sweep_config._reading import read
    >>> config = {"lr": {"min": 0.001, "max": 0.1}, "units": {"values": [32, 64]}}
    >>> [leaf.distribution for leaf in check_parameters(read(config), config, ("parameters",))]
    ['uniform', 'categorical']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config._reading import Document
from kerasweep.sweep_config._text import did_you_mean, looks_numeric, show

__all__ = [
    "DEPRECATED",
    "DISTRIBUTIONS",
    "Distribution",
    "Leaf",
    "check_parameters",
    "searched_params",
]


@dataclass(frozen=True)
class Distribution:
    """What one distribution takes: its keys and how its bounds are checked."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    gridable: bool = False
    positive_bounds: bool = False
    integer_bounds: bool = False


# Keys per distribution, as in the engine's schema (tests keep the two in step).
DISTRIBUTIONS: dict[str, Distribution] = {
    "constant": Distribution(("value",), gridable=True),
    "categorical": Distribution(("values",), gridable=True),
    "categorical_w_probabilities": Distribution(("values", "probabilities")),
    "int_uniform": Distribution(("min", "max"), gridable=True, integer_bounds=True),
    "uniform": Distribution(("min", "max")),
    "q_uniform": Distribution(("min", "max"), ("q",), gridable=True),
    "log_uniform_values": Distribution(("min", "max"), positive_bounds=True),
    "inv_log_uniform_values": Distribution(("min", "max"), positive_bounds=True),
    "q_log_uniform_values": Distribution(("min", "max"), ("q",), positive_bounds=True),
    "normal": Distribution((), ("mu", "sigma")),
    "log_normal": Distribution((), ("mu", "sigma")),
    "q_normal": Distribution((), ("mu", "sigma", "q")),
    "q_log_normal": Distribution((), ("mu", "sigma", "q")),
    "beta": Distribution((), ("a", "b")),
    "q_beta": Distribution((), ("a", "b", "q")),
}
# Accepted by the schema, then refused by the engine's deprecation check: min/max are
# exponents of e there.
DEPRECATED = {
    "log_uniform": "log_uniform_values",
    "inv_log_uniform": "inv_log_uniform_values",
    "q_log_uniform": "q_log_uniform_values",
}
_NUMBER_KEYS = ("min", "max", "mu", "sigma", "q", "a", "b")
_POSITIVE_KEYS = ("sigma", "q", "a", "b")


@dataclass(frozen=True)
class Leaf:
    """One searchable (or constant) parameter after nested parameters are flattened."""

    path: tuple
    distribution: str
    spec: dict


def check_parameters(doc: Document, parameters: Any, path: tuple) -> list[Leaf]:
    """The leaves of the ``parameters`` mapping at `path`, each checked (fails on a problem)."""
    if not isinstance(parameters, dict):
        doc.fail(
            path,
            parameters,
            f"{show(parameters)} is not a mapping of parameter names to their settings",
        )
    if not parameters:
        doc.fail(path, parameters, "{} is empty: name at least one parameter to search")
    pattern = engine.schema()["definitions"]["parameters"]["propertyNames"]["pattern"]
    leaves: list[Leaf] = []
    for name, spec in parameters.items():
        if not re.search(pattern, name):
            doc.fail(
                (*path, name),
                name,
                f"parameter name {name!r} is not allowed: use letters, digits, '_', '.'"
                " and '-', starting with a letter or '_'",
            )
        leaves.extend(_parameter(doc, spec, (*path, name)))
    return leaves


def _parameter(doc: Document, spec: Any, path: tuple) -> list[Leaf]:
    if not isinstance(spec, dict):
        doc.fail(
            path,
            spec,
            f"{show(spec)} is not a mapping: write {{value: {show(spec)}}} for a"
            " constant or {values: [...]} for a choice",
        )
    if not spec:
        doc.fail(path, spec, "{} says nothing: give value, values, or a distribution with bounds")
    if "parameters" in spec:
        others = [key for key in spec if key != "parameters"]
        if others:
            doc.fail(
                (*path, others[0]),
                spec[others[0]],
                f"nested parameters cannot be mixed with {others[0]!r}"
                f" (value {show(spec[others[0]])})",
            )
        return check_parameters(doc, spec["parameters"], (*path, "parameters"))
    if "value" in spec and "values" in spec:
        doc.fail(
            (*path, "values"),
            spec["values"],
            f"both value {show(spec['value'])} and values {show(spec['values'])}"
            " are given: keep one",
        )
    name = _distribution_name(doc, spec, path)
    _distribution(doc, spec, path, name)
    return [Leaf(path, name, spec)]


def _distribution_name(doc: Document, spec: dict, path: tuple) -> str:
    """The distribution a spec names, or the one the engine infers from its keys."""
    if "distribution" in spec:
        name = spec["distribution"]
        if isinstance(name, str) and name in DEPRECATED:
            doc.fail(
                (*path, "distribution"),
                name,
                f"{name!r} takes min/max as exponents of e and W&B's engine refuses it:"
                f" use {DEPRECATED[name]!r} with min/max as the values themselves",
            )
        if not isinstance(name, str) or name not in DISTRIBUTIONS:
            known = sorted(DISTRIBUTIONS)
            doc.fail(
                (*path, "distribution"),
                name,
                f"{show(name)} is not a distribution{did_you_mean(name, known)};"
                f" known: {', '.join(known)}",
            )
        return name
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical_w_probabilities" if "probabilities" in spec else "categorical"
    if "min" in spec or "max" in spec:
        bounds = (spec.get("min"), spec.get("max"))
        if all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
            return "int_uniform"
        return "uniform"
    key = next(iter(spec))
    doc.fail(
        (*path, key),
        spec[key],
        f"unknown key (value {show(spec[key])}): a parameter needs value, values,"
        " min and max, or a distribution",
    )


def _distribution(doc: Document, spec: dict, path: tuple, name: str) -> None:
    rules = DISTRIBUTIONS[name]
    allowed = ("distribution", *rules.required, *rules.optional)
    doc.refuse_unknown(spec, path, allowed, f"key for a {name} parameter")
    for key in rules.required:
        if key not in spec:
            needs = " and ".join(rules.required)
            doc.fail((*path, key), None, f"missing: a {name} parameter needs {needs}")
    for key in _NUMBER_KEYS:
        if key in spec:
            integer = rules.integer_bounds and key in ("min", "max")
            _number(doc, spec[key], (*path, key), integer=integer, name=name)
    for key in _POSITIVE_KEYS:
        if key in spec and spec[key] <= 0:
            doc.fail((*path, key), spec[key], f"{show(spec[key])} must be greater than 0")
    if "min" in spec and "max" in spec:
        low, high = spec["min"], spec["max"]
        if low > high:
            doc.fail((*path, "min"), low, f"{show(low)} is greater than max {show(high)}")
        if low == high:
            doc.fail(
                (*path, "min"),
                low,
                f"{show(low)} equals max {show(high)}: min must be less than max"
                " (use value: for a constant)",
            )
        if rules.positive_bounds and low <= 0:
            doc.fail(
                (*path, "min"),
                low,
                f"{show(low)} must be greater than 0: {name} samples between the logs of"
                " min and max",
            )
    if "values" in spec:
        _values(doc, spec, path, name)


def _number(doc: Document, value: Any, path: tuple, *, integer: bool, name: str) -> None:
    kind = "an integer" if integer else "a number"
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if ok and not isinstance(value, bool):
        if not math.isfinite(value):
            doc.fail(path, value, f"{show(value)} is not a finite number")
        return
    problem = f"{show(value)} is not {kind}"
    if integer and isinstance(value, float):
        problem += f" ({name} takes integer bounds; use uniform for real numbers)"
    elif isinstance(value, str) and looks_numeric(value):
        problem += " but a string"
        if doc.yaml_source:
            problem += f" (PyYAML reads {value} as text: write it with a dot, as 1.0e-5)"
    doc.fail(path, value, problem)


def _values(doc: Document, spec: dict, path: tuple, name: str) -> None:
    values = spec["values"]
    if not isinstance(values, list):
        doc.fail((*path, "values"), values, f"{show(values)} is not a list")
    if not values:
        doc.fail((*path, "values"), values, "[] is empty: give at least one value")
    if "probabilities" not in spec:
        return
    probabilities = spec["probabilities"]
    where = (*path, "probabilities")
    if not isinstance(probabilities, list):
        doc.fail(where, probabilities, f"{show(probabilities)} is not a list")
    for index, p in enumerate(probabilities):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
            doc.fail((*where, index), p, f"{show(p)} is not a number")
        if p < 0:
            doc.fail((*where, index), p, f"{show(p)} is negative")
    if len(probabilities) != len(values):
        doc.fail(
            where,
            probabilities,
            f"{show(probabilities)} has {len(probabilities)} entries but values has {len(values)}",
        )
    total = sum(probabilities)
    if abs(total - 1.0) > 1e-8 + 1e-5:  # numpy.isclose, as the engine checks
        doc.fail(where, probabilities, f"{show(probabilities)} sums to {total:g}, not 1")


def searched_params(config: Mapping[str, Any]) -> list[str]:
    """The parameters a sweep searches (those not fixed by a single ``value``).

    >>> searched_params({"parameters": {"lr": {"values": [0.1, 0.01]}, "epochs": {"value": 5}}})
    ['lr']
    """
    parameters = config.get("parameters") or {}
    return [
        name
        for name, spec in parameters.items()
        if not (isinstance(spec, Mapping) and set(spec) == {"value"})
    ]
