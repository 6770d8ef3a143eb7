"""Sweep configs: the tutorial's search space, and loading and checking W&B sweep configs.

A sweep config is W&B's format (``method``, ``metric``, ``parameters``, ``early_terminate``,
...). :func:`load_sweep_config` reads one from a dict or a YAML/JSON file and checks it twice
over: against W&B's own JSON schema (from the ``sweeps`` package, the engine W&B's controller
runs), and for what that engine would only trip over later, mid-sweep: a grid over a
continuous distribution, bayes without a metric, hyperband bands that cannot be computed, a
grid too large to enumerate, NaN among bayes values, bounds whose proposals overflow to inf.
What W&B runs, it accepts. Every problem is reported as one :class:`SweepConfigError` line
naming the file, the key and the value::

    sweep.yaml:9: parameters.learning_rate.min: 0.5 is greater than max 0.1

The modules, one job each:

- ``reading``: a mapping or a YAML/JSON file read, with line numbers for errors;
- ``plain``: the config as plain JSON data;
- ``parameters``, ``rules``: what W&B's JSON schema cannot express; ``schema``: what it can;
- ``engine``: the only module that calls W&B's engine (``sweeps``);
- ``grid``: the number of points of a grid; ``metric``: the sweep's :class:`Metric`;
- ``load``: :func:`load_sweep_config` and :func:`grid_size`, putting the above together.

Example:
    >>> config = load_sweep_config(SWEEP_CONFIG)
    >>> config["method"], grid_size(config)
    ('random', 20)
"""

from __future__ import annotations

from kerasweep.sweep_config._errors import SweepConfigError
from kerasweep.sweep_config._grid import MAX_GRID_SIZE
from kerasweep.sweep_config._load import grid_size, load_sweep_config
from kerasweep.sweep_config._metric import Metric
from kerasweep.sweep_config._tutorial import SWEEP_CONFIG

__all__ = [
    "MAX_GRID_SIZE",
    "SWEEP_CONFIG",
    "Metric",
    "SweepConfigError",
    "grid_size",
    "load_sweep_config",
]
