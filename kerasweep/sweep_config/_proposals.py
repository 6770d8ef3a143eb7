"""Proposals that need no history: random search, and a grid's next point from the points done.

W&B's engine (``sweeps.next_run``) is handed every run of the sweep for each proposal. Two of
its methods need less:

- random search (``sweeps.random_search.random_search_next_runs``) never reads the runs: it
  samples every parameter afresh. :func:`random_proposal` asks the engine with no runs, on the
  same randomness (the sweep's seed and the proposal's number) as a call with all of them;
- grid search (``sweeps.grid_search.grid_search_next_runs``) proposes the first point of the
  grid, in its order, that no run has taken. :class:`GridProposals` keeps the points taken
  and a cursor into that order, so the next point costs nothing per earlier run.

The grid is the engine's, point for point:

- parameters in the engine's order (names sorted at each level of nesting, nested ones
  depth first), the last varying fastest (``itertools.product``);
- ``int_uniform`` spans ``range(min, max + 1)``, ``q_uniform`` ``numpy.arange(min, max, q)``
  (``q`` 1.0 by default), constants are not searched;
- values are told apart by their YAML text, an integral float as its integer
  (``sweeps.grid_search.yaml_hash``): of values told alike, the first fixes the position
  and the last is proposed; a run's dict value is compared on the keys the grid's dict
  values have;
- every run counts as taking its point, whatever its state (a failed or crashed run's point
  is not proposed again); a run lacking a parameter takes no point.

A config the grid here does not read exactly as the engine does (a distribution that is
not gridable, malformed bounds) gives no :class:`GridProposals` (:meth:`from_config`
returns None): the engine answers then, and raises its own error.

Example:
    >>> grid = GridProposals.from_config(
    ...     {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"value": 0}}})
    >>> grid.next()
    {'a': {'value': 1}, 'b': {'value': 0}}
    >>> grid.add({"a": 1, "b": 0})
    >>> grid.next()
    {'a': {'value': 2}, 'b': {'value': 0}}
    >>> grid.add({"a": 2.0, "b": 0})
    >>> grid.next() is None
    True
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from numbers import Real
from typing import Any

import yaml

from kerasweep.sweep_config import _engine as engine

__all__ = ["GridProposals", "grid_hash", "random_proposal"]

# Distinct values whose YAML text is remembered (values outside the grid can be many).
_HASH_CACHE_LIMIT = 10_000


def random_proposal(
    config: Mapping[str, Any], *, seed: int | None = None, proposal: int = 0
) -> dict | None:
    """The engine's random-search proposal number ``proposal`` (``{name: {"value": v}}``).

    The same as :func:`kerasweep.sweep_config._engine.next_run` with every run so far: the
    engine's random search reads none of them.
    """
    if config.get("method") != "random":
        raise ValueError(f"not a random search: method {config.get('method')!r}")
    suggestion = engine.next_run(config, [], seed=seed, proposal=proposal)
    return None if suggestion is None else suggestion.config


def grid_hash(value: Any) -> str:
    """The text by which the engine's grid tells values apart (its ``yaml_hash``, unhashed).

    >>> grid_hash(3.0) == grid_hash(3), grid_hash([3.0]) == grid_hash([3])
    (True, False)
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return yaml.dump(value, default_flow_style=True, sort_keys=True)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _grid_values(spec: Any) -> tuple[str, Any] | None:
    """``("constant", value)`` or ``("values", [...])`` as the engine's grid reads a spec."""
    if not isinstance(spec, Mapping):
        return None
    keys = set(spec)
    kind = spec.get("distribution")
    if "value" in spec and keys <= {"value", "distribution"} and kind in (None, "constant"):
        return "constant", spec["value"]
    if "values" in spec and keys <= {"values", "distribution"} and kind in (None, "categorical"):
        values = spec["values"]
        return ("values", list(values)) if isinstance(values, list) and values else None
    if keys <= {"min", "max", "distribution"} and kind in (None, "int_uniform"):
        low, high = spec.get("min"), spec.get("max")
        if _int(low) and _int(high) and low < high:
            return "values", list(range(low, high + 1))
        return None
    if keys <= {"min", "max", "q", "distribution"} and kind == "q_uniform":
        low, high, q = spec.get("min"), spec.get("max"), spec.get("q", 1.0)
        if _number(low) and _number(high) and _number(q) and low < high and q > 0:
            import numpy

            return "values", numpy.arange(low, high, q).tolist()
        return None
    return None


def _leaves(parameters: Any, prefix: tuple = ()) -> list[tuple[tuple, Any]] | None:
    """``(path, spec)`` per parameter in the engine's order, or None if malformed."""
    if not isinstance(parameters, Mapping):
        return None
    out: list[tuple[tuple, Any]] = []
    for key in sorted(parameters):
        spec = parameters[key]
        if not isinstance(key, str) or not isinstance(spec, Mapping):
            return None
        if set(spec) == {"parameters"}:
            nested = _leaves(spec["parameters"], (*prefix, key))
            if not nested:
                return None
            out.extend(nested)
        else:
            out.append(((*prefix, key), spec))
    return out


class _Axis:
    """One searched parameter: its distinct values in grid order."""

    __slots__ = ("hashes", "known_keys", "path", "values")

    def __init__(self, path: tuple, values: list) -> None:
        self.path = path
        hashes = [grid_hash(value) for value in values]
        last = dict(zip(hashes, values, strict=True))  # the engine proposes the last alike
        self.hashes = list(dict.fromkeys(hashes))
        self.values = [last[h] for h in self.hashes]
        keys: set = set()
        for value in values:
            if isinstance(value, dict):
                keys.update(value)
        self.known_keys = keys or None


class GridProposals:
    """The next point of a grid search, from the points its runs have taken.

    Build with :meth:`from_config`, :meth:`add` each run's parameters (any order, any
    state), and ask :meth:`next`. Proposing does not take the point: add the run made
    from it.
    """

    def __init__(self, constants: list[tuple[tuple, Any]], axes: list[_Axis]) -> None:
        self._constants = constants
        self._axes = axes
        self._taken: set[tuple[str, ...]] = set()
        self._cursor = 0  # every point before it is taken
        self._hashes: dict[tuple[type, str], str] = {}
        size = 1
        for axis in axes:
            size *= len(axis.hashes)
        self.size = size

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> GridProposals | None:
        """The grid of a ``method: grid`` config, or None where the engine must answer."""
        if config.get("method") != "grid":
            return None
        leaves = _leaves(config.get("parameters"))
        if not leaves:
            return None
        constants, axes = [], []
        for path, spec in leaves:
            read = _grid_values(spec)
            if read is None:
                return None
            kind, values = read
            if kind == "constant":
                constants.append((path, values))
            else:
                axes.append(_Axis(path, values))
        return cls(constants, axes)

    def __repr__(self) -> str:
        return f"GridProposals(size={self.size}, taken={len(self._taken)})"

    @property
    def taken(self) -> int:
        """Distinct points the runs added have taken (grid points or not)."""
        return len(self._taken)

    def _hash(self, value: Any) -> str:
        key = (type(value), repr(value))
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= _HASH_CACHE_LIMIT:
                self._hashes.clear()
            found = self._hashes[key] = grid_hash(value)
        return found

    def add(self, params: Mapping[str, Any]) -> None:
        """Take the point of a run with these parameters (``{name: value}``, nested as stored)."""
        hashes = []
        for axis in self._axes:
            value: Any = params
            try:
                for key in axis.path:
                    value = value[key]
            except KeyError:
                return  # a run lacking a parameter takes no point
            if axis.known_keys is not None and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k in axis.known_keys}
            hashes.append(self._hash(value))
        self._taken.add(tuple(hashes))

    def add_config(self, config: Mapping[str, Any]) -> None:
        """:meth:`add` for a run config as the engine holds it (``{name: {"value": v}}``)."""
        self.add({key: spec["value"] for key, spec in config.items() if "value" in spec})

    def _point(self, index: int) -> tuple[str, ...]:
        hashes = []
        for axis in reversed(self._axes):
            index, at = divmod(index, len(axis.hashes))
            hashes.append(axis.hashes[at])
        return tuple(reversed(hashes))

    def next(self) -> dict | None:
        """The engine's next proposal (``{name: {"value": v}}``), or None when every point
        is taken."""
        while self._cursor < self.size and self._point(self._cursor) in self._taken:
            self._cursor += 1
        if self._cursor >= self.size:
            return None
        index, chosen = self._cursor, []
        for axis in reversed(self._axes):
            index, at = divmod(index, len(axis.hashes))
            chosen.append((axis.path, axis.values[at]))
        flat = sorted([*self._constants, *chosen], key=lambda item: item[0])
        nested: dict = {}
        for path, value in flat:
            place = nested
            for key in path[:-1]:
                place = place.setdefault(key, {})
            place[path[-1]] = copy.deepcopy(value)
        return {key: {"value": value} for key, value in nested.items()}
