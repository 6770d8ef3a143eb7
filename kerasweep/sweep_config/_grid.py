"""Grid size: how many distinct points W&B's grid search enumerates, counted, not listed.

Counts as the engine does (``int_uniform`` spans min..max, ``q_uniform`` spans
``numpy.arange(min, max, q)``, repeated values count once, constants count 1, nested
parameters multiply in).

Example:
    >>> from kerasweep.sweep_config._parameters import Leaf
    >>> points([Leaf(("a",), "categorical", {"values": [1, 2, 2.0]}),
    ...         Leaf(("b",), "int_uniform", {"min": 1, "max": 10})])
    20
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kerasweep.sweep_config._parameters import Leaf

__all__ = [
    "MAX_GRID_SIZE",
    "distinct_points",
    "engine_points",
    "grid_key",
    "leaf_engine_points",
    "leaf_points",
    "points",
]

MAX_GRID_SIZE = 100_000
"""Largest grid (number of distinct points) a ``method: grid`` config may span, and the most
combinations its lists may make with their repeats (:func:`engine_points`).

W&B's engine builds the whole product of the grid on every request for a run, so each run's
wait and memory grow with the grid: larger grids are refused up front.
"""


def points(leaves: Iterable[Leaf]) -> int | None:
    """Points of the grid over these parameters; None if one of them is not gridable."""
    return _product(leaves, leaf_points)


def leaf_points(leaf: Leaf) -> int | None:
    """Points one parameter contributes to the engine's grid; None if not gridable."""
    spec = leaf.spec
    if leaf.distribution == "constant":
        return 1
    if leaf.distribution == "categorical":
        return len({grid_key(value) for value in spec["values"]})
    if leaf.distribution == "int_uniform":
        return spec["max"] - spec["min"] + 1
    if leaf.distribution == "q_uniform":
        # numpy.arange(min, max, q) holds ceil((max - min) / q) values
        steps = (spec["max"] - spec["min"]) / spec.get("q", 1.0)
        return math.ceil(steps) if math.isfinite(steps) else None
    return None


def engine_points(leaves: Iterable[Leaf]) -> int | None:
    """Combinations the engine's grid builds, repeated values included; None if not gridable.

    The engine lists the whole product of every parameter's values, repeats and all, on each
    request for a run, and only then drops the points it has seen: this, not :func:`points`,
    is what a request costs.

    >>> engine_points([Leaf(("a",), "categorical", {"values": [1, 1, 1]}),
    ...                Leaf(("b",), "int_uniform", {"min": 1, "max": 10})])
    30
    """
    return _product(leaves, leaf_engine_points)


def leaf_engine_points(leaf: Leaf) -> int | None:
    """Values one parameter contributes to the engine's product, repeats included."""
    if leaf.distribution == "categorical":
        return len(leaf.spec["values"])
    return leaf_points(leaf)


def grid_key(value: Any) -> str:
    """Equal for two values exactly when the engine's grid treats them as one point."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine hashes 3.0 and 3 alike
    return json.dumps(value, sort_keys=True)


def distinct_points(param_sets: Iterable[Mapping[str, Any]]) -> int:
    """How many distinct configurations these parameter sets are, as the engine tells points.

    >>> distinct_points([{"a": 1, "b": "x"}, {"b": "x", "a": 1.0}, {"a": 2, "b": "x"}])
    2
    """
    return len(
        {tuple(sorted((name, grid_key(v)) for name, v in params.items())) for params in param_sets}
    )


def _product(leaves: Iterable[Leaf], count: Callable[[Leaf], int | None]) -> int | None:
    """The product of ``count`` over the parameters; None if one of them counts None."""
    size = 1
    for leaf in leaves:
        n = count(leaf)
        if n is None:
            return None
        size *= n
    return size
