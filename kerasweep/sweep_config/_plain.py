"""A config as plain JSON data: what is stored, sent to W&B's engine and written as YAML.

Example:
    >>> import numpy
    >>> from kerasweep.sweep_config._reading import read
    >>> plain(read({"lr": {"value": numpy.float32(0.5)}}))
    {'lr': {'value': 0.5}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kerasweep.sweep_config._grid import MAX_GRID_SIZE
from kerasweep.sweep_config._reading import Document
from kerasweep.sweep_config._text import article, show

__all__ = ["MAX_VALUES", "plain"]

MAX_VALUES = 2 * MAX_GRID_SIZE
"""A config holding more values than this is refused: YAML aliases nested in aliases expand
exponentially. Twice the largest grid leaves room for long lists of values."""


def plain(document: Document) -> Any:
    """A JSON-able copy of the document's data.

    Refuses non-string keys, non-JSON values, recursive aliases and configs that expand to
    more than :data:`MAX_VALUES` values, with :meth:`Document.fail`.
    """
    return _plain(document, document.data, (), set(), [MAX_VALUES])


def _plain(doc: Document, value: Any, path: tuple, parents: set[int], budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        doc.fail(
            path[:2],
            None,
            f"expands to more than {MAX_VALUES:,} values (YAML aliases nested in aliases?)",
        )
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _plain(doc, value.tolist(), path, parents, budget)
    if isinstance(value, (Mapping, list, tuple)):
        if id(value) in parents:
            doc.fail(path, None, "the config contains itself (a recursive YAML alias)")
        parents = parents | {id(value)}
        if isinstance(value, Mapping):
            result = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    doc.fail((*path, str(key)), key, _key_problem(doc, key))
                result[key] = _plain(doc, item, (*path, key), parents, budget)
            return result
        return [
            _plain(doc, item, (*path, index), parents, budget) for index, item in enumerate(value)
        ]
    return doc.fail(
        path,
        value,
        f"{show(value)} is not a JSON value ({article(type(value).__name__)})"
        + ("; quote it to keep it as text" if doc.yaml_source else ""),
    )


def _key_problem(doc: Document, key: Any) -> str:
    problem = f"key {show(key)} is {article(type(key).__name__)}, not a string"
    if doc.yaml_source and isinstance(key, bool):
        problem += " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote it)"
    elif doc.yaml_source:
        problem += " (quote it)"
    return problem
