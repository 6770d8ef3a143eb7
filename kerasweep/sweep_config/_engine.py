"""W&B's sweep engine (the ``sweeps`` package): the one module of kerasweep that calls it.

Everything kerasweep asks of the engine goes through here: its JSON schema and extra checks,
a dry run of a config, the next proposal (:func:`next_run`), hyperband's verdicts
(:func:`stop_runs`) and its filled-in settings, and the engine's run type
(:func:`sweep_run`).

The engine draws its random and bayes proposals from Python's ``random`` and NumPy's global
generator. Runs use those too (``keras.utils.set_random_seed`` reseeds both), so a run that
seeds would make the next proposal repeat the last. Every call here therefore runs the
engine on generator state of its own (:func:`own_randomness`) and puts the process's global
state back exactly as it found it:

- :func:`next_run` with a ``seed``: the state comes from ``(seed, proposal)``, so the
  proposal is a pure function of the config, the seed, the runs so far and the proposal's
  number, in any process;
- without a seed: fresh entropy from the operating system for every proposal.

Example:
    >>> next_run({"method": "grid", "parameters": {"a": {"values": [1, 2]}}}, []).config
    {'a': {'value': 1}}
    >>> config = {"method": "random", "parameters": {"a": {"min": 0.0, "max": 1.0}}}
    >>> first = next_run(config, [], seed=7, proposal=0).config
    >>> first == next_run(config, [], seed=7, proposal=0).config
    True
"""

from __future__ import annotations

import copy
import random
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from kerasweep._errors import KerasweepError

__all__ = [
    "EngineFailure",
    "dry_run",
    "filled_early_terminate",
    "hyperband_bands",
    "judged_at_row",
    "next_run",
    "own_randomness",
    "proposal_extremes",
    "schema",
    "schema_errors",
    "schema_violations",
    "stop_runs",
    "sweep_run",
]

# How many 32-bit words of a SeedSequence seed NumPy's Mersenne Twister (its whole key).
_NUMPY_KEY_WORDS = 624
# Engine calls swap the process's global generators: one thread at a time.
_GLOBAL_GENERATORS = threading.RLock()

# Grids up to this size are enumerated by the engine in a dry run.
_DRY_RUN_GRID = 10_000

_sweeps_module: ModuleType | None = None
_search_loaded = False


def _sweeps(*, search: bool = False) -> ModuleType:
    """W&B's engine, imported on first use without its pydantic deprecation noise.

    With ``search``, also the modules ``sweeps.next_run`` imports on its first call (bayes
    search, scikit-learn): importing them draws from the global generators, so they are
    imported here, apart, and a seeded proposal is the same whether or not it is a process's
    first. Imports leave the global generators as they found them too.
    """
    global _sweeps_module, _search_loaded
    if _sweeps_module is None:
        with own_randomness(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Valid config keys have changed in V2")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import sweeps
            import sweeps.grid_search
            import sweeps.hyperband_stopping
            import sweeps.params
            import sweeps.random_search

        _sweeps_module = sweeps
    if search and not _search_loaded:
        with own_randomness(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            import sweeps.bayes_search
        _search_loaded = True
    return _sweeps_module


@contextmanager
def own_randomness(seed: int | None = None, stream: int = 0) -> Iterator[None]:
    """Inside the block, ``random`` and ``numpy.random`` draw from a state of their own.

    Args:
        seed: With a seed (a non-negative integer), the state is derived from ``(seed,
            stream)`` with NumPy's ``SeedSequence``: the same in every process and on every
            platform. Without one, from fresh operating-system entropy.
        stream: Which of the seed's independent streams (e.g. the proposal's number).

    On leaving, both global generators are exactly as they were before the block (a draw
    after it gives what it would have given without the block). Blocks in different threads
    run one at a time.

    Example:
        >>> import random
        >>> random.seed(1)
        >>> with own_randomness(seed=3):
        ...     inside = random.random()
        >>> after = random.random()
        >>> random.seed(1)
        >>> after == random.random()
        True
    """
    import numpy

    sequence = numpy.random.SeedSequence(seed if seed is None else [seed, stream])
    key = sequence.generate_state(_NUMPY_KEY_WORDS)
    with _GLOBAL_GENERATORS:
        python_state, numpy_state = random.getstate(), numpy.random.get_state()
        try:
            random.seed(int.from_bytes(key[:8].tobytes(), "little"))
            numpy.random.seed(key)
            yield
        finally:
            random.setstate(python_state)
            numpy.random.set_state(numpy_state)


def schema() -> dict:
    """The engine's JSON schema of a sweep config."""
    return _sweeps().config.schema.sweep_config_jsonschema


def schema_errors(config: Mapping[str, Any]) -> list:
    """The schema's ``jsonschema`` errors for `config`, ordered by key path."""
    validator = _sweeps().config.schema.validator
    with own_randomness():
        errors = list(validator.iter_errors(config))
    return sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])


def schema_violations(config: Mapping[str, Any]) -> list[str]:
    """The engine's own extra checks (min < max, probabilities, deprecated distributions)."""
    sweeps = _sweeps()
    with own_randomness(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return list(sweeps.schema_violations_from_proposed_config(config))
        except Exception as err:  # the engine raises instead of reporting some problems
            return [f"{type(err).__name__}: {err}"]


class EngineFailure(KerasweepError):
    """The engine failed on a config in a dry run: ``section`` is the key it failed on."""

    def __init__(self, section: str, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.section = section
        self.cause = cause


def dry_run(config: Mapping[str, Any], method: str, grid_points: int | None) -> None:
    """Ask the engine for a first run (and hyperband bands) the way a sweep will.

    ``grid_points`` is how many combinations the engine builds for the grid (repeated values
    included); a grid larger than the engine can enumerate quickly only has its parameters
    parsed.

    Raises:
        EngineFailure: The engine raised; ``section`` names the part of the config.
    """
    sweeps = _sweeps()
    section = "method"
    try:
        with own_randomness(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The search modules directly: next_run would import bayes' scikit-learn too.
            if method == "random":
                sweeps.random_search.random_search_next_runs(copy.deepcopy(config))
            elif method == "bayes":
                _sweeps(search=True).next_run(copy.deepcopy(config), [])
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


# The lowest and highest draws of random.uniform(0, 1) that the random search turns into a
# proposal (a multiple of 2**-53 in [0, 1)), and the middle.
_EXTREME_DRAWS = (2.0**-53, 0.5, 1.0 - 2.0**-53)


def proposal_extremes(spec: Mapping[str, Any]) -> list[Any]:
    """What the engine proposes for one parameter at its lowest, middle and highest draw.

    Random search turns a uniform draw into a value with the distribution's inverse CDF
    (bayes search too, with its own draws): a proposal that is not finite here is one the
    engine can make mid-sweep.

    Raises:
        Exception: Whatever the engine raises for this parameter.

    >>> proposal_extremes({"min": 1, "max": 3})
    [1, 2, 3]
    >>> proposal_extremes({"min": -1e308, "max": 1e308})
    [inf, inf, inf]
    """
    import numpy

    sweeps = _sweeps()
    with warnings.catch_warnings(), numpy.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        parameter = sweeps.params.HyperParameter("p", copy.deepcopy(dict(spec)))
        values = [parameter.ppf(draw) for draw in _EXTREME_DRAWS]
    return [value.item() if hasattr(value, "item") else value for value in values]


def sweep_run(*, name: str, state: str, config: Mapping[str, Any], history: list[dict]) -> Any:
    """The engine's ``SweepRun`` for one run (``config`` as ``{key: {"value": v}}``)."""
    return _sweeps().SweepRun(name=name, state=state, config=dict(config), history=history)


def next_run(
    config: Mapping[str, Any],
    runs: Sequence[Any],
    *,
    seed: int | None = None,
    proposal: int = 0,
) -> Any:
    """The engine's next proposal (a ``SweepRun``), or None when the search is over.

    Args:
        config: The sweep config.
        runs: The engine's runs so far (:func:`sweep_run`).
        seed: The sweep's seed, or None for fresh entropy (see :func:`own_randomness`).
        proposal: The proposal's number in the sweep (0 for the first): with a seed, each
            number draws from its own stream.
    """
    sweeps = _sweeps(search=True)
    with own_randomness(seed, proposal):
        return sweeps.next_run(config, list(runs))


def stop_runs(config: Mapping[str, Any], runs: Sequence[Any]) -> list:
    """The runs hyperband stops now (the engine fills in their ``early_terminate_info``)."""
    sweeps = _sweeps()
    with own_randomness():
        return sweeps.stop_runs(config, list(runs))


def filled_early_terminate(config: Mapping[str, Any]) -> dict:
    """The config's ``early_terminate`` with the engine's defaults filled in."""
    fill = _sweeps().hyperband_stopping.hyperband_baseline_validate_and_fill
    with own_randomness():
        return fill(dict(config))["early_terminate"]


def hyperband_bands(config: Mapping[str, Any]) -> list[int]:
    """The bands (metric rows) hyperband compares runs at, as the engine computes them.

    >>> hyperband_bands({"metric": {"name": "loss"}, "parameters": {"a": {"value": 1}},
    ...                  "early_terminate": {"type": "hyperband", "min_iter": 5}})[:3]
    [5, 15, 45]
    """
    probe = sweep_run(name="probe", state="running", config={}, history=[])
    stop_runs(config, [probe])
    return [int(band) for band in (probe.early_terminate_info or {}).get("bands", [])]


def judged_at_row(band: int) -> int:
    """The metric row (1-based) at which this engine first judges a run at ``band``.

    sweeps 0.3 compares the band's own row; 0.2 judges one row later.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        major_minor = tuple(int(part) for part in version("sweeps").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        major_minor = (0, 3)
    return band if major_minor >= (0, 3) else band + 1
