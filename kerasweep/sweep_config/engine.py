"""W&B's sweep engine (the ``sweeps`` package): the one module of kerasweep that calls it.

Everything kerasweep asks of the engine goes through here: its JSON schema and extra checks,
a dry run of a config, the next proposal (:func:`next_run`), hyperband's verdicts
(:func:`stop_runs`) and its filled-in settings, and the engine's run type
(:func:`sweep_run`).

Example:
    >>> next_run({"method": "grid", "parameters": {"a": {"values": [1, 2]}}}, []).config
    {'a': {'value': 1}}
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

__all__ = [
    "EngineFailure",
    "dry_run",
    "filled_early_terminate",
    "next_run",
    "schema",
    "schema_errors",
    "schema_violations",
    "stop_runs",
    "sweep_run",
]

# Grids up to this size are enumerated by the engine in a dry run.
_DRY_RUN_GRID = 10_000

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
            import sweeps.hyperband_stopping
            import sweeps.params
            import sweeps.random_search

        _sweeps_module = sweeps
    return _sweeps_module


def schema() -> dict:
    """The engine's JSON schema of a sweep config."""
    return _sweeps().config.schema.sweep_config_jsonschema


def schema_errors(config: Mapping[str, Any]) -> list:
    """The schema's ``jsonschema`` errors for `config`, ordered by key path."""
    validator = _sweeps().config.schema.validator
    return sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])


def schema_violations(config: Mapping[str, Any]) -> list[str]:
    """The engine's own extra checks (min < max, probabilities, deprecated distributions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return list(_sweeps().schema_violations_from_proposed_config(config))
        except Exception as err:  # the engine raises instead of reporting some problems
            return [f"{type(err).__name__}: {err}"]


class EngineFailure(Exception):
    """The engine failed on a config in a dry run: ``section`` is the key it failed on."""

    def __init__(self, section: str, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.section = section
        self.cause = cause


def dry_run(config: Mapping[str, Any], method: str, grid_points: int | None) -> None:
    """Ask the engine for a first run (and hyperband bands) the way a sweep will.

    A grid larger than the engine can enumerate quickly only has its parameters parsed.

    Raises:
        EngineFailure: The engine raised; ``section`` names the part of the config.
    """
    import random

    import numpy

    sweeps = _sweeps()
    python_state, numpy_state = random.getstate(), numpy.random.get_state()
    section = "method"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The search modules directly: next_run would import bayes' scikit-learn too.
            if method == "random":
                sweeps.random_search.random_search_next_runs(copy.deepcopy(config))
            elif method == "bayes":
                sweeps.next_run(copy.deepcopy(config), [])
            elif (grid_points or 0) <= _DRY_RUN_GRID:
                sweeps.grid_search.grid_search_next_runs([], copy.deepcopy(config))
            else:
                section = "parameters"
                sweeps.params.HyperParameterSet.from_config(copy.deepcopy(config["parameters"]))
            if "early_terminate" in config:
                section = "early_terminate"
                sweeps.stop_runs(copy.deepcopy(config), [])
    except Exception as err:
        raise EngineFailure(section, err) from err
    finally:
        random.setstate(python_state)
        numpy.random.set_state(numpy_state)


def sweep_run(*, name: str, state: str, config: Mapping[str, Any], history: list[dict]) -> Any:
    """The engine's ``SweepRun`` for one run (``config`` as ``{key: {"value": v}}``)."""
    return _sweeps().SweepRun(name=name, state=state, config=dict(config), history=history)


def next_run(config: Mapping[str, Any], runs: Sequence[Any]) -> Any:
    """The engine's next proposal (a ``SweepRun``), or None when the search is over."""
    return _sweeps().next_run(config, list(runs))


def stop_runs(config: Mapping[str, Any], runs: Sequence[Any]) -> list:
    """The runs hyperband stops now (the engine fills in their ``early_terminate_info``)."""
    return _sweeps().stop_runs(config, list(runs))


def filled_early_terminate(config: Mapping[str, Any]) -> dict:
    """The config's ``early_terminate`` with the engine's defaults filled in."""
    fill = _sweeps().hyperband_stopping.hyperband_baseline_validate_and_fill
    return fill(dict(config))["early_terminate"]
