"""Sweep configs: the tutorial's search space, and loading and checking W&B sweep configs.

A sweep config is W&B's format (``method``, ``metric``, ``parameters``, ``early_terminate``,
...). :func:`load_sweep_config` reads one from a dict or a YAML/JSON file and checks it twice
over: against W&B's own JSON schema (from the ``sweeps`` package, the engine W&B's controller
runs), and for what that engine would only trip over later, mid-sweep: a grid over a
continuous distribution, bayes without a metric, hyperband bands that cannot be computed, a
grid too large to enumerate. Every problem is reported as one :class:`SweepConfigError` line
naming the file, the key and the value::

    sweep.yaml:9: parameters.learning_rate.min: 0.5 is greater than max 0.1

Example:
    >>> config = load_sweep_config(SWEEP_CONFIG)
    >>> config["method"], grid_size(config)
    ('random', 20)
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import yaml

__all__ = [
    "MAX_GRID_SIZE",
    "SWEEP_CONFIG",
    "SweepConfigError",
    "grid_size",
    "load_sweep_config",
]

SWEEP_CONFIG: dict = {
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 5},
    "parameters": {
        "batch_size": {"values": [32, 64, 128, 256]},
        "learning_rate": {"values": [0.01, 0.005, 0.001, 0.0005, 0.0001]},
    },
}
"""The sweep of W&B's TensorFlow Sweeps tutorial: random search, hyperband from epoch 5."""

MAX_GRID_SIZE = 100_000
"""Largest grid (number of distinct points) a ``method: grid`` config may span.

W&B's engine builds the whole product of the grid on every request for a run: at a million
points that takes about 2 s and 200 MB per run, so larger grids are refused up front.
"""

# A config holding more values than this is refused: YAML aliases nested in aliases expand
# exponentially. Twice the largest grid leaves room for long lists of values.
_MAX_VALUES = 2 * MAX_GRID_SIZE

# Grids up to this size are also enumerated by the engine as a final check.
_ENGINE_DRY_RUN_GRID = 10_000

_METHODS = ("grid", "random", "bayes")
_GOALS = ("minimize", "maximize")
_SUFFIXES = (".yaml", ".yml", ".json")
_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
# The engine computes this many bands from min_iter: min_iter * eta**k for k < 100.
_HYPERBAND_BANDS = 100


class SweepConfigError(ValueError):
    """A sweep config that cannot be run, described in one line.

    Attributes:
        source: The file path as given, or ``"<dict>"`` for a mapping.
        key: Dotted path of the offending key (``"parameters.lr.min"``), or None when the
            problem is the file or the document as a whole.
        value: The offending value (None when it is missing).
        line: 1-based line in the file, when known.

    Example:
        >>> try:
        ...     load_sweep_config({"method": "grid", "parameters": {"lr": {"min": 1.0,
        ...                                                         "max": 0.1}}})
        ... except SweepConfigError as err:
        ...     print(err)
        <dict>: parameters.lr.min: 1.0 is greater than max 0.1
    """

    def __init__(
        self,
        source: str,
        key: str | None,
        value: Any,
        problem: str,
        *,
        line: int | None = None,
    ) -> None:
        self.source = source
        self.key = key
        self.value = value
        self.problem = problem
        self.line = line
        where = f"{source}:{line}" if line else source
        text = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        super().__init__(" ".join(text.split()))


def load_sweep_config(source: Mapping | str | os.PathLike) -> dict:
    """Read and check a W&B sweep config.

    Args:
        source: The config as a mapping, or the path of a ``.yaml``/``.yml`` (read with
            PyYAML's safe loader) or ``.json`` file.

    Returns:
        The config as given, as plain JSON-able data (dicts, lists, str, int, float, bool,
        None; numpy scalars become Python numbers). Defaults are not filled in.

    Raises:
        SweepConfigError: The file cannot be read or parsed, or the config is not one that
            W&B's engine can run to the end; the message is one line.

    Example:
        >>> load_sweep_config({"method": "grid", "parameters": {"units": {"values": [32, 64]}}})
        {'method': 'grid', 'parameters': {'units': {'values': [32, 64]}}}
    """
    document = _read(source)
    checker = _Checker(document)
    config = checker.plain(document.data)
    checker.check(config)
    return config


def grid_size(config: Mapping) -> int | None:
    """Number of distinct points in the grid spanned by a config's parameters.

    Counts as W&B's grid search does (``int_uniform`` spans min..max, ``q_uniform`` spans
    ``numpy.arange(min, max, q)``, repeated values count once, constants count 1, nested
    parameters multiply in) without enumerating anything.

    Args:
        config: A sweep config (any method) with a ``parameters`` mapping.

    Returns:
        The number of points, or None when the space is not a finite grid (a continuous
        distribution, a categorical with probabilities).

    Raises:
        SweepConfigError: The parameters are malformed.

    Example:
        >>> grid_size({"method": "grid", "parameters": {"a": {"values": [1, 2, 3]},
        ...                                             "b": {"min": 1, "max": 10}}})
        30
        >>> grid_size({"method": "random", "parameters": {"lr": {"min": 0.0, "max": 1.0}}})
    """
    checker = _Checker(_Document("<dict>", config))
    config = checker.plain(config)
    if not isinstance(config, dict):
        checker.fail(None, config, f"{_show(config)} is not a mapping of sweep settings")
    if "parameters" not in config:
        checker.fail("parameters", None, "missing")
    leaves = checker.parameters(config["parameters"], ("parameters",))
    return _grid_size(leaves)


# --- reading ---------------------------------------------------------------------------------


@dataclass
class _Document:
    """A config as read: where it came from, the data, and the text for line numbers."""

    source: str
    data: Any
    text: str | None = None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                    key_node, yaml.ScalarNode
                ):
                    continue
                key = self.construct_object(key_node)
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} is given twice (first at line {first_line[key]})",
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _read(source: Any) -> _Document:
    if isinstance(source, Mapping):
        return _Document("<dict>", source)
    if not isinstance(source, (str, os.PathLike)):
        name = f"<{type(source).__name__}>"
        raise SweepConfigError(
            name, None, source, f"{_show(source)} is neither a mapping nor a file path"
        )
    name = os.fspath(source)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    path = Path(name).expanduser()
    if path.suffix.lower() not in _SUFFIXES:
        raise SweepConfigError(
            name, None, name, "not a sweep config file: expected a .yaml, .yml or .json file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepConfigError(name, None, name, "no such file") from None
    except IsADirectoryError:
        raise SweepConfigError(name, None, name, "is a directory, not a file") from None
    except PermissionError:
        raise SweepConfigError(name, None, name, "permission denied") from None
    except UnicodeDecodeError as err:
        raise SweepConfigError(
            name,
            None,
            err.object[err.start : err.start + 1],
            f"not UTF-8 text: byte {err.object[err.start]:#04x} at offset {err.start}",
        ) from None
    except OSError as err:
        raise SweepConfigError(name, None, name, f"cannot read: {err.strerror}") from None
    if path.suffix.lower() == ".json":
        return _Document(name, _parse_json(name, text), text)
    return _Document(name, _parse_yaml(name, text), text)


def _parse_yaml(name: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        snippet = _line_text(text, line)
        where = f" at column {mark.column + 1}" if mark else ""
        raise SweepConfigError(
            name, None, snippet, f"YAML syntax error{where}: {problem}: {snippet!r}", line=line
        ) from None
    except yaml.YAMLError as err:
        raise SweepConfigError(name, None, None, f"YAML syntax error: {err}") from None


def _parse_json(name: str, text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict:
        result: dict = {}
        for key, value in items:
            if key in result:
                raise _DuplicateJsonKey(key)
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        snippet = _line_text(text, err.lineno)
        raise SweepConfigError(
            name,
            None,
            snippet,
            f"JSON syntax error at column {err.colno}: {err.msg}: {snippet!r}",
            line=err.lineno,
        ) from None
    except _DuplicateJsonKey as err:
        raise SweepConfigError(
            name, err.key, err.key, f"key {err.key!r} is given twice in one object"
        ) from None


class _DuplicateJsonKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _same_key(text: str, part: Any) -> bool:
    """Whether a YAML key as written is the key `part` (``no`` is the key False)."""
    if text == str(part):
        return True
    try:
        return str(yaml.safe_load(text)) == str(part)
    except yaml.YAMLError:
        return False


def _line_text(text: str, line: int | None) -> str:
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return ""
    return _clip(lines[line - 1].strip())


def _line_of(text: str | None, path: tuple) -> int | None:
    """Line of the deepest key of `path` found in a YAML (or JSON) text."""
    if text is None:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and _same_key(key_node.value, part):
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


# --- the engine ----------------------------------------------------------------------------

_sweeps_module: ModuleType | None = None


def _sweeps() -> ModuleType:
    """W&B's engine, imported on first use without its pydantic deprecation noise."""
    global _sweeps_module
    if _sweeps_module is None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Valid config keys have changed in V2")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import sweeps
            import sweeps.grid_search
            import sweeps.params
            import sweeps.random_search

        _sweeps_module = sweeps
    return _sweeps_module


def _schema() -> dict:
    return _sweeps().config.schema.sweep_config_jsonschema


# --- parameters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Distribution:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    gridable: bool = False
    positive_bounds: bool = False
    integer_bounds: bool = False


# Keys per distribution, as in the engine's schema (tests keep the two in step).
_DISTRIBUTIONS: dict[str, _Distribution] = {
    "constant": _Distribution(("value",), gridable=True),
    "categorical": _Distribution(("values",), gridable=True),
    "categorical_w_probabilities": _Distribution(("values", "probabilities")),
    "int_uniform": _Distribution(("min", "max"), gridable=True, integer_bounds=True),
    "uniform": _Distribution(("min", "max")),
    "q_uniform": _Distribution(("min", "max"), ("q",), gridable=True),
    "log_uniform_values": _Distribution(("min", "max"), positive_bounds=True),
    "inv_log_uniform_values": _Distribution(("min", "max"), positive_bounds=True),
    "q_log_uniform_values": _Distribution(("min", "max"), ("q",), positive_bounds=True),
    "normal": _Distribution((), ("mu", "sigma")),
    "log_normal": _Distribution((), ("mu", "sigma")),
    "q_normal": _Distribution((), ("mu", "sigma", "q")),
    "q_log_normal": _Distribution((), ("mu", "sigma", "q")),
    "beta": _Distribution((), ("a", "b")),
    "q_beta": _Distribution((), ("a", "b", "q")),
}
# Accepted by the schema, then refused by the engine's deprecation check: min/max are
# exponents of e there.
_DEPRECATED = {
    "log_uniform": "log_uniform_values",
    "inv_log_uniform": "inv_log_uniform_values",
    "q_log_uniform": "q_log_uniform_values",
}
_NUMBER_KEYS = ("min", "max", "mu", "sigma", "q", "a", "b")
_POSITIVE_KEYS = ("sigma", "q", "a", "b")


@dataclass(frozen=True)
class _Leaf:
    """One searchable (or constant) parameter after nested parameters are flattened."""

    path: tuple
    distribution: str
    spec: dict


# --- checking ------------------------------------------------------------------------------


class _Checker:
    """Checks one config, raising SweepConfigError with the document's source and lines."""

    def __init__(self, document: _Document) -> None:
        self.document = document
        self.yaml_source = document.text is not None and not document.source.lower().endswith(
            ".json"
        )

    def fail(self, path: tuple | str | None, value: Any, problem: str) -> NoReturn:
        if isinstance(path, str):
            path = (path,)
        line = _line_of(self.document.text, path) if path else None
        raise SweepConfigError(
            self.document.source, _format_path(path) if path else None, value, problem, line=line
        )

    # plain data

    def plain(self, value: Any) -> Any:
        """A JSON-able copy of `value`; refuses non-string keys and non-JSON values."""
        budget = [_MAX_VALUES]
        return self._plain(value, (), set(), budget)

    def _plain(self, value: Any, path: tuple, parents: set[int], budget: list[int]) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            self.fail(
                path[:2],
                None,
                f"expands to more than {_MAX_VALUES:,} values (YAML aliases nested in aliases?)",
            )
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
            return self._plain(value.tolist(), path, parents, budget)
        if isinstance(value, (Mapping, list, tuple)):
            if id(value) in parents:
                self.fail(path, None, "the config contains itself (a recursive YAML alias)")
            parents = parents | {id(value)}
            if isinstance(value, Mapping):
                result = {}
                for key, item in value.items():
                    if not isinstance(key, str):
                        self.fail((*path, str(key)), key, self._key_problem(key))
                    result[key] = self._plain(item, (*path, key), parents, budget)
                return result
            return [
                self._plain(item, (*path, index), parents, budget)
                for index, item in enumerate(value)
            ]
        return self.fail(
            path,
            value,
            f"{_show(value)} is not a JSON value ({_a(type(value).__name__)})"
            + ("; quote it to keep it as text" if self.yaml_source else ""),
        )

    def _key_problem(self, key: Any) -> str:
        problem = f"key {_show(key)} is {_a(type(key).__name__)}, not a string"
        if self.yaml_source and isinstance(key, bool):
            problem += " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote it)"
        elif self.yaml_source:
            problem += " (quote it)"
        return problem

    # the whole config

    def check(self, config: Any) -> None:
        if not isinstance(config, dict):
            if config is None:
                self.fail(None, None, "the config is empty")
            self.fail(None, config, f"{_show(config)} is not a mapping of sweep settings")
        self.top_level_keys(config)
        method = self.method(config)
        if "parameters" not in config:
            self.fail("parameters", None, "missing: a sweep needs parameters to search")
        leaves = self.parameters(config["parameters"], ("parameters",))
        self.metric(config, method)
        self.early_terminate(config)
        self.program_and_command(config)
        self.schema(config)
        size = self.method_needs(config, method, leaves)
        self.engine_dry_run(config, method, size)

    def top_level_keys(self, config: dict) -> None:
        allowed = sorted(_schema()["properties"])
        for key in config:
            if key not in allowed:
                hint = _did_you_mean(key, allowed) or f"; settings are: {', '.join(allowed)}"
                self.fail(key, config[key], f"unknown setting (value {_show(config[key])}){hint}")
        if "scheduler" in config:
            self.fail(
                "scheduler",
                config["scheduler"],
                f"{_show(config['scheduler'])}: custom schedulers run only on W&B Launch;"
                " kerasweep searches with W&B's own grid, random and bayes",
            )
        if "metrics" in config:
            self.fail(
                "metrics",
                config["metrics"],
                f"{_show(config['metrics'])}: several metrics need a custom scheduler on W&B"
                " Launch; give one `metric` instead",
            )

    def method(self, config: dict) -> str:
        if "method" not in config:
            self.fail("method", None, "missing: choose grid, random or bayes")
        method = config["method"]
        if method == "custom":
            self.fail(
                "method",
                method,
                "'custom' needs a custom scheduler on W&B Launch; choose grid, random or bayes",
            )
        if not isinstance(method, str) or method not in _METHODS:
            self.fail(
                "method",
                method,
                f"{_show(method)} is not a search method{_did_you_mean(method, _METHODS)};"
                " choose grid, random or bayes",
            )
        return method

    def parameters(self, parameters: Any, path: tuple) -> list[_Leaf]:
        if not isinstance(parameters, dict):
            self.fail(
                path,
                parameters,
                f"{_show(parameters)} is not a mapping of parameter names to their settings",
            )
        if not parameters:
            self.fail(path, parameters, "{} is empty: name at least one parameter to search")
        pattern = _schema()["definitions"]["parameters"]["propertyNames"]["pattern"]
        leaves: list[_Leaf] = []
        for name, spec in parameters.items():
            if not re.search(pattern, name):
                self.fail(
                    (*path, name),
                    name,
                    f"parameter name {name!r} is not allowed: use letters, digits, '_', '.'"
                    " and '-', starting with a letter or '_'",
                )
            leaves.extend(self.parameter(spec, (*path, name)))
        return leaves

    def parameter(self, spec: Any, path: tuple) -> list[_Leaf]:
        if not isinstance(spec, dict):
            self.fail(
                path,
                spec,
                f"{_show(spec)} is not a mapping: write {{value: {_show(spec)}}} for a"
                " constant or {values: [...]} for a choice",
            )
        if not spec:
            self.fail(
                path, spec, "{} says nothing: give value, values, or a distribution with bounds"
            )
        if "parameters" in spec:
            others = [key for key in spec if key != "parameters"]
            if others:
                self.fail(
                    (*path, others[0]),
                    spec[others[0]],
                    f"nested parameters cannot be mixed with {others[0]!r}"
                    f" (value {_show(spec[others[0]])})",
                )
            return self.parameters(spec["parameters"], (*path, "parameters"))
        if "value" in spec and "values" in spec:
            self.fail(
                (*path, "values"),
                spec["values"],
                f"both value {_show(spec['value'])} and values {_show(spec['values'])}"
                " are given: keep one",
            )
        name = self.distribution_name(spec, path)
        self.distribution(spec, path, name)
        return [_Leaf(path, name, spec)]

    def distribution_name(self, spec: dict, path: tuple) -> str:
        """The distribution a spec names, or the one the engine infers from its keys."""
        if "distribution" in spec:
            name = spec["distribution"]
            if isinstance(name, str) and name in _DEPRECATED:
                self.fail(
                    (*path, "distribution"),
                    name,
                    f"{name!r} takes min/max as exponents of e and W&B's engine refuses it:"
                    f" use {_DEPRECATED[name]!r} with min/max as the values themselves",
                )
            if not isinstance(name, str) or name not in _DISTRIBUTIONS:
                known = sorted(_DISTRIBUTIONS)
                self.fail(
                    (*path, "distribution"),
                    name,
                    f"{_show(name)} is not a distribution{_did_you_mean(name, known)};"
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
        self.fail(
            (*path, key),
            spec[key],
            f"unknown key (value {_show(spec[key])}): a parameter needs value, values,"
            " min and max, or a distribution",
        )

    def distribution(self, spec: dict, path: tuple, name: str) -> None:
        rules = _DISTRIBUTIONS[name]
        allowed = ("distribution", *rules.required, *rules.optional)
        for key in spec:
            if key not in allowed:
                self.fail(
                    (*path, key),
                    spec[key],
                    f"unknown key for a {name} parameter (value {_show(spec[key])})"
                    f"{_did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}",
                )
        for key in rules.required:
            if key not in spec:
                needs = " and ".join(rules.required)
                self.fail((*path, key), None, f"missing: a {name} parameter needs {needs}")
        for key in _NUMBER_KEYS:
            if key in spec:
                self.number(
                    spec[key],
                    (*path, key),
                    integer=rules.integer_bounds
                    and key
                    in (
                        "min",
                        "max",
                    ),
                    name=name,
                )
        for key in _POSITIVE_KEYS:
            if key in spec and spec[key] <= 0:
                self.fail((*path, key), spec[key], f"{_show(spec[key])} must be greater than 0")
        if "min" in spec and "max" in spec:
            low, high = spec["min"], spec["max"]
            if low > high:
                self.fail((*path, "min"), low, f"{_show(low)} is greater than max {_show(high)}")
            if low == high:
                self.fail(
                    (*path, "min"),
                    low,
                    f"{_show(low)} equals max {_show(high)}: min must be less than max"
                    " (use value: for a constant)",
                )
            if rules.positive_bounds and low <= 0:
                self.fail(
                    (*path, "min"),
                    low,
                    f"{_show(low)} must be greater than 0: {name} samples between the logs of"
                    " min and max",
                )
        if "values" in spec:
            self.values(spec, path, name)

    def number(self, value: Any, path: tuple, *, integer: bool, name: str) -> None:
        kind = "an integer" if integer else "a number"
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if ok and not isinstance(value, bool):
            if not math.isfinite(value):
                self.fail(path, value, f"{_show(value)} is not a finite number")
            return
        problem = f"{_show(value)} is not {kind}"
        if integer and isinstance(value, float):
            problem += f" ({name} takes integer bounds; use uniform for real numbers)"
        elif isinstance(value, str) and _looks_numeric(value):
            problem += " but a string"
            if self.yaml_source:
                problem += f" (PyYAML reads {value} as text: write it with a dot, as 1.0e-5)"
        self.fail(path, value, problem)

    def values(self, spec: dict, path: tuple, name: str) -> None:
        values = spec["values"]
        if not isinstance(values, list):
            self.fail((*path, "values"), values, f"{_show(values)} is not a list")
        if not values:
            self.fail((*path, "values"), values, "[] is empty: give at least one value")
        if "probabilities" not in spec:
            return
        probabilities = spec["probabilities"]
        where = (*path, "probabilities")
        if not isinstance(probabilities, list):
            self.fail(where, probabilities, f"{_show(probabilities)} is not a list")
        for index, p in enumerate(probabilities):
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p):
                self.fail((*where, index), p, f"{_show(p)} is not a number")
            if p < 0:
                self.fail((*where, index), p, f"{_show(p)} is negative")
        if len(probabilities) != len(values):
            self.fail(
                where,
                probabilities,
                f"{_show(probabilities)} has {len(probabilities)} entries but values has"
                f" {len(values)}",
            )
        total = sum(probabilities)
        if abs(total - 1.0) > 1e-8 + 1e-5:  # numpy.isclose, as the engine checks
            self.fail(where, probabilities, f"{_show(probabilities)} sums to {total:g}, not 1")

    # other sections

    def metric(self, config: dict, method: str) -> None:
        if "metric" not in config:
            if method == "bayes":
                self.fail("metric", None, "missing: method 'bayes' needs a metric to optimize")
            return
        metric = config["metric"]
        if not isinstance(metric, dict):
            self.fail(
                "metric",
                metric,
                f"{_show(metric)} is not a mapping: write {{name: val_loss, goal: minimize}}",
            )
        if "name" not in metric:
            self.fail(("metric", "name"), None, "missing: the name of the logged metric")
        name = metric["name"]
        if not isinstance(name, str) or not name.strip():
            self.fail(("metric", "name"), name, f"{_show(name)} is not a metric name")
        if "goal" in metric and metric["goal"] not in _GOALS:
            goal = metric["goal"]
            self.fail(
                ("metric", "goal"),
                goal,
                f"{_show(goal)} is not minimize or maximize{_did_you_mean(goal, _GOALS)}",
            )

    def early_terminate(self, config: dict) -> None:
        if "early_terminate" not in config:
            return
        et = config["early_terminate"]
        path = ("early_terminate",)
        if not isinstance(et, dict):
            self.fail(
                path, et, f"{_show(et)} is not a mapping: write {{type: hyperband, min_iter: 3}}"
            )
        if "type" not in et:
            self.fail((*path, "type"), None, "missing: the only type is hyperband")
        if et["type"] != "hyperband":
            self.fail(
                (*path, "type"),
                et["type"],
                f"{_show(et['type'])} is not an early-termination type; the only one is hyperband",
            )
        for key in et:
            if key not in _HYPERBAND_KEYS:
                self.fail(
                    (*path, key),
                    et[key],
                    f"unknown hyperband setting (value {_show(et[key])})"
                    f"{_did_you_mean(key, _HYPERBAND_KEYS)}; allowed: {', '.join(_HYPERBAND_KEYS)}",
                )
        for key in ("min_iter", "max_iter", "s"):
            if key in et:
                value = et[key]
                if isinstance(value, bool) or not isinstance(value, int):
                    self.fail((*path, key), value, f"{_show(value)} is not an integer")
                if value < 1:
                    self.fail((*path, key), value, f"{_show(value)} must be at least 1")
        eta = et.get("eta", 3)
        if "eta" in et:
            if isinstance(eta, bool) or not isinstance(eta, (int, float)):
                self.fail((*path, "eta"), eta, f"{_show(eta)} is not a number")
            if not math.isfinite(eta) or eta <= 1:
                self.fail((*path, "eta"), eta, f"{_show(eta)} must be a number greater than 1")
        if "strict" in et and not isinstance(et["strict"], bool):
            self.fail((*path, "strict"), et["strict"], f"{_show(et['strict'])} is not true/false")
        if "max_iter" in et and "s" not in et:
            self.fail(
                (*path, "max_iter"),
                et["max_iter"],
                f"{_show(et['max_iter'])} needs s as well (the engine takes max_iter and s"
                " before min_iter): add s or drop max_iter",
            )
        if "s" in et and "max_iter" not in et:
            self.fail((*path, "s"), et["s"], f"{_show(et['s'])} needs max_iter as well")
        if "max_iter" in et:
            if et["max_iter"] / eta < 1:
                self.fail(
                    (*path, "max_iter"),
                    et["max_iter"],
                    f"{_show(et['max_iter'])} is less than eta {_show(eta)}: no band is left"
                    " to stop runs at",
                )
        elif "min_iter" in et:
            try:
                band: float = et["min_iter"]
                for _ in range(_HYPERBAND_BANDS):
                    int(band)
                    band *= eta
            except OverflowError:
                self.fail(
                    (*path, "eta"),
                    eta,
                    f"{_show(eta)} is too large: the engine computes {_HYPERBAND_BANDS} bands"
                    " (min_iter * eta^k) and they overflow; use an integer eta",
                )
        else:
            self.fail(
                (*path, "min_iter"), None, "missing: hyperband needs min_iter (or max_iter and s)"
            )
        if "metric" not in config:
            self.fail("metric", None, "missing: hyperband needs the metric that runs are judged by")

    def program_and_command(self, config: dict) -> None:
        if "program" in config:
            program = config["program"]
            if not isinstance(program, str) or not program.strip():
                self.fail("program", program, f"{_show(program)} is not a path to a program")
        if "command" not in config:
            return
        command = config["command"]
        if not isinstance(command, list):
            self.fail(
                "command",
                command,
                f'{_show(command)} is not a list: write ["${{env}}", "${{interpreter}}",'
                ' "${program}", "${args}"]',
            )
        if not command:
            self.fail("command", command, "[] is empty")
        for index, part in enumerate(command):
            if not isinstance(part, str):
                self.fail(("command", index), part, f"{_show(part)} is not a string (quote it)")
        if "program" not in config and any("${program}" in part for part in command):
            self.fail(
                "command", command, f"{_show(command)} uses ${{program}} but no program is given"
            )

    def schema(self, config: dict) -> None:
        """Whatever W&B's JSON schema still finds, in one line."""
        sweeps = _sweeps()
        errors = sorted(
            sweeps.config.schema.validator.iter_errors(config),
            key=lambda e: [str(p) for p in e.absolute_path],
        )
        if errors:
            self.schema_error(errors[0])
        # The engine's own extra checks (min < max, probabilities, deprecated distributions).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                violations = sweeps.schema_violations_from_proposed_config(config)
            except Exception as err:  # the engine raises instead of reporting some problems
                violations = [f"{type(err).__name__}: {err}"]
        if violations:
            self.fail(None, None, f"W&B's sweep schema refuses it: {_clip(violations[0], 200)}")

    def schema_error(self, error: Any) -> None:
        from jsonschema.exceptions import best_match

        if error.context:
            error = best_match(error.context)
        path = tuple(error.absolute_path)
        value = error.instance
        kind = error.validator
        if kind == "type":
            kind_name = str(error.validator_value)
            self.fail(
                path,
                value,
                f"{_show(value)} is not {_TYPE_NAMES.get(kind_name, kind_name)}",
            )
        if kind == "enum":
            choices = ", ".join(str(c) for c in error.validator_value)
            self.fail(path, value, f"{_show(value)} is not one of {choices}")
        if kind == "required":
            missing = [key for key in error.validator_value if key not in value]
            self.fail(path + tuple(missing[:1]), None, "missing")
        if kind == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            extra = [key for key in value if key not in allowed]
            key = extra[0] if extra else None
            self.fail(
                path + ((key,) if key else ()),
                value.get(key),
                f"unknown key (value {_show(value.get(key))}){_did_you_mean(key, allowed)};"
                f" allowed: {', '.join(allowed)}",
            )
        if kind in ("minItems", "minProperties"):
            self.fail(path, value, f"{_show(value)} is empty")
        if kind in ("minimum", "exclusiveMinimum"):
            relation = "at least" if kind == "minimum" else "greater than"
            self.fail(path, value, f"{_show(value)} must be {relation} {error.validator_value}")
        self.fail(path, value, _clip(error.message.splitlines()[0], 200))

    def method_needs(self, config: dict, method: str, leaves: list[_Leaf]) -> int | None:
        """What the chosen method needs of the parameters; returns the grid size."""
        if method == "grid":
            for leaf in leaves:
                if not _DISTRIBUTIONS[leaf.distribution].gridable:
                    why = (
                        "a categorical with probabilities"
                        if leaf.distribution == "categorical_w_probabilities"
                        else f"the continuous distribution {leaf.distribution!r}"
                    )
                    self.fail(
                        leaf.path,
                        leaf.spec,
                        f"{_show(leaf.spec)} is {why}: grid needs values, int_uniform,"
                        " q_uniform or a constant",
                    )
            size = _grid_size(leaves)
            assert size is not None
            if size > MAX_GRID_SIZE:
                factors = sorted(
                    ((_leaf_size(leaf), leaf) for leaf in leaves), key=lambda f: -(f[0] or 0)
                )
                biggest = ", ".join(
                    f"{_format_path(leaf.path[1:])}: {_count(n)}" for n, leaf in factors[:3]
                )
                self.fail(
                    "parameters",
                    size,
                    f"the grid has {_count(size)} points ({biggest}, ...); the limit is"
                    f" {MAX_GRID_SIZE:,}: use random or bayes, or fewer values",
                )
            return size
        if method == "bayes":
            searchable = [leaf for leaf in leaves if leaf.distribution != "constant"]
            if not searchable:
                self.fail(
                    "parameters",
                    config["parameters"],
                    f"{_show(config['parameters'])}: every parameter is a constant; bayes needs"
                    " one to search",
                )
            for leaf in leaves:
                if leaf.distribution == "categorical_w_probabilities":
                    self.fail(
                        (*leaf.path, "probabilities"),
                        leaf.spec["probabilities"],
                        f"{_show(leaf.spec['probabilities'])}: W&B's bayes search fails on"
                        " categorical probabilities; drop them or use random",
                    )
        return None

    def engine_dry_run(self, config: dict, method: str, size: int | None) -> None:
        """Ask W&B's engine for a first run (and hyperband bands) the way a sweep will."""
        import random

        import numpy

        sweeps = _sweeps()
        python_state, numpy_state = random.getstate(), numpy.random.get_state()
        step = "method"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # The search modules directly: next_run would import bayes' scikit-learn too.
                if method == "random":
                    sweeps.random_search.random_search_next_runs(copy.deepcopy(config))
                elif method == "bayes":
                    sweeps.next_run(copy.deepcopy(config), [])
                elif (size or 0) <= _ENGINE_DRY_RUN_GRID:
                    sweeps.grid_search.grid_search_next_runs([], copy.deepcopy(config))
                else:
                    step = "parameters"
                    sweeps.params.HyperParameterSet.from_config(copy.deepcopy(config["parameters"]))
                if "early_terminate" in config:
                    step = "early_terminate"
                    sweeps.stop_runs(copy.deepcopy(config), [])
        except Exception as err:
            self.fail(
                step,
                config.get(step),
                f"W&B's engine fails on it: {type(err).__name__}: {_clip(str(err), 200)}",
            )
        finally:
            random.setstate(python_state)
            numpy.random.set_state(numpy_state)


_TYPE_NAMES = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
}


# --- grid size -----------------------------------------------------------------------------


def _grid_size(leaves: list[_Leaf]) -> int | None:
    size = 1
    for leaf in leaves:
        n = _leaf_size(leaf)
        if n is None:
            return None
        size *= n
    return size


def _leaf_size(leaf: _Leaf) -> int | None:
    """Points one parameter contributes to the engine's grid; None if not gridable."""
    spec = leaf.spec
    if leaf.distribution == "constant":
        return 1
    if leaf.distribution == "categorical":
        return len({_grid_key(value) for value in spec["values"]})
    if leaf.distribution == "int_uniform":
        return spec["max"] - spec["min"] + 1
    if leaf.distribution == "q_uniform":
        # numpy.arange(min, max, q) holds ceil((max - min) / q) values
        steps = (spec["max"] - spec["min"]) / spec.get("q", 1.0)
        return math.ceil(steps) if math.isfinite(steps) else None
    return None


def _grid_key(value: Any) -> str:
    """Equal for two values exactly when the engine's grid treats them as one point."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # the engine hashes 3.0 and 3 alike
    return json.dumps(value, sort_keys=True)


# --- formatting ----------------------------------------------------------------------------


def _format_path(path: tuple) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _show(value: Any, limit: int = 60) -> str:
    return _clip(repr(value), limit)


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"{float(n):.1e}"


def _did_you_mean(word: Any, choices: Iterator[str] | tuple[str, ...] | list[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
