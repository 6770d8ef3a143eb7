"""Loading a sweep config: read, make plain, check by rule, by schema, by engine dry run.

Example:
    >>> from kerasweep.sweep_config._tutorial import SWEEP_CONFIG
    >>> config = load_sweep_config(SWEEP_CONFIG)
    >>> config["method"], grid_size(config)
    ('random', 20)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config import _grid as grid
from kerasweep.sweep_config import _rules as rules
from kerasweep.sweep_config._parameters import check_parameters
from kerasweep.sweep_config._plain import plain
from kerasweep.sweep_config._reading import Document, read
from kerasweep.sweep_config._schema import check_schema
from kerasweep.sweep_config._text import clip, show

__all__ = ["grid_size", "load_sweep_config"]


def load_sweep_config(source: Mapping | str | os.PathLike) -> dict:
    """Read and check a W&B sweep config.

    Args:
        source: The config as a mapping, or the path of a ``.yaml``/``.yml`` (read with
            PyYAML's safe loader) or ``.json`` file.

    Returns:
        The config as given, as plain JSON-able data (dicts, lists, str, int, float, bool,
        None; numpy scalars become Python numbers; hyperband's ``min_iter: 3.0`` becomes
        ``3``). Defaults are not filled in.

    Raises:
        SweepConfigError: The file cannot be read or parsed, or the config is not one that
            W&B's engine can run to the end; the message is one line.

    Example:
        >>> load_sweep_config({"method": "grid", "parameters": {"units": {"values": [32, 64]}}})
        {'method': 'grid', 'parameters': {'units': {'values': [32, 64]}}}
    """
    document = read(source)
    config = plain(document)
    _check(document, config)
    return rules.normalised(config)


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
    document = Document("<dict>", config)
    config = plain(document)
    if not isinstance(config, dict):
        document.fail(None, config, f"{show(config)} is not a mapping of sweep settings")
    if "parameters" not in config:
        document.fail("parameters", None, "missing")
    return grid.points(check_parameters(document, config["parameters"], ("parameters",)))


def _check(doc: Document, config: Any) -> None:
    if not isinstance(config, dict):
        if config is None:
            doc.fail(None, None, "the config is empty")
        doc.fail(None, config, f"{show(config)} is not a mapping of sweep settings")
    rules.check_top_level_keys(doc, config)
    method = rules.check_method(doc, config)
    if "parameters" not in config:
        doc.fail("parameters", None, "missing: a sweep needs parameters to search")
    leaves = check_parameters(doc, config["parameters"], ("parameters",))
    rules.check_metric(doc, config, method)
    rules.check_early_terminate(doc, config)
    rules.check_program_and_command(doc, config)
    check_schema(doc, config)
    built = rules.check_method_needs(doc, config, method, leaves)
    try:
        engine.dry_run(config, method, built)
    except engine.EngineFailure as failure:
        doc.fail(
            failure.section,
            config.get(failure.section),
            f"W&B's engine fails on it: {type(failure.cause).__name__}:"
            f" {clip(str(failure.cause), 200)}",
        )
