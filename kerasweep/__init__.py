"""kerasweep: hyperparameter sweeps of Keras models, on W&B or fully offline.

The W&B "TensorFlow Sweeps" tutorial as a library: the tutorial's GradientTape loop lives in
:class:`GradientTapeModel.train_step`, :class:`SweepMetricsLogger` logs the keys a sweep's
hyperband watches, and :func:`sweep_train` is the function for ``wandb.agent`` or the local
agent.

Example:
    >>> import kerasweep
    >>> sorted(kerasweep.DEFAULT_CONFIG)[:2]
    ['activation', 'architecture_name']

Heavy modules (TensorFlow, wandb) are imported on first use of a name that needs them, so
``import kerasweep`` and the command line stay fast. Keras must still know
:class:`GradientTapeModel` for ``keras.models.load_model`` to find it: the class is defined,
and so registered with Keras, as soon as Keras is imported, before or after kerasweep.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

import wrapt

from kerasweep._quiet import tensorflow_quiet_in_notebook
from kerasweep._speedups.long_lived_objects import imports_uncollected
from kerasweep._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "GradientTapeModel": "kerasweep._model",
    "build_mlp": "kerasweep._model",
    "SweepMetricsLogger": "kerasweep._callbacks",
    "load_dataset": "kerasweep._data",
    "make_datasets": "kerasweep._pipelines",
    "stack_batches": "kerasweep._speedups.stacked_batches",
    "validation_batches": "kerasweep._speedups.stacked_batches",
    "StackedBatches": "kerasweep._speedups.stacked_batches",
    "Dataset": "kerasweep._data",
    "DatasetError": "kerasweep._data",
    "RunCheckpoint": "kerasweep._checkpoints",
    "run_checkpoint": "kerasweep._checkpoints",
    "DEFAULT_CONFIG": "kerasweep.train",
    "sweep_train": "kerasweep.train",
    "SWEEP_CONFIG": "kerasweep.sweep_config",
    "load_sweep_config": "kerasweep.sweep_config",
    "SweepConfigError": "kerasweep.sweep_config",
    "local_sweep": "kerasweep.local",
    "local_agent": "kerasweep.local",
    "load_sweep": "kerasweep.local",
    "report": "kerasweep._html_report",
    "serve": "kerasweep.dashboard",
    # errors: every one derives from KerasweepError and keeps its builtin base
    "KerasweepError": "kerasweep._errors",
    "CheckpointMismatch": "kerasweep._checkpoints",
    "RunConfigError": "kerasweep.train",
    "TrainingDiverged": "kerasweep._callbacks",
    "EngineFailure": "kerasweep.sweep_config._engine",
    "StoreError": "kerasweep.local._store",
    "StoreFullError": "kerasweep.local._store",
    "StoreLocationError": "kerasweep.local._store",
    "StoreLostError": "kerasweep.local._store",
    "StoreReadOnlyError": "kerasweep.local._store",
    "StoreUnavailableError": "kerasweep.local._store",
    "StoreVersionError": "kerasweep.local._store",
    "UnknownSweepError": "kerasweep.local._store",
    "NoBestRunError": "kerasweep._sweep_tables",
    "UsageError": "kerasweep.cli",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kerasweep' has no attribute {name!r}")
    # wandb's, sqlalchemy's: fewer collections while they load; TensorFlow's quiet in a notebook
    with imports_uncollected(), tensorflow_quiet_in_notebook():
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


@wrapt.when_imported("keras")
def _register_with_keras(keras: Any) -> None:
    """Define GradientTapeModel, registering it with Keras, once Keras is imported.

    Keras resolves a class named in a ``.keras`` file only among registered classes; it
    does not import the module a file names.
    """
    try:
        import kerasweep._model
    except ImportError as error:  # never break the import of keras itself
        warnings.warn(
            f"kerasweep: GradientTapeModel is not registered with Keras ({error})",
            stacklevel=2,
        )


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from kerasweep._callbacks import SweepMetricsLogger, TrainingDiverged
    from kerasweep._checkpoints import CheckpointMismatch, RunCheckpoint, run_checkpoint
    from kerasweep._data import Dataset, DatasetError, load_dataset
    from kerasweep._errors import KerasweepError
    from kerasweep._html_report import report
    from kerasweep._model import GradientTapeModel, build_mlp
    from kerasweep._pipelines import make_datasets
    from kerasweep._speedups.stacked_batches import (
        StackedBatches,
        stack_batches,
        validation_batches,
    )
    from kerasweep._sweep_tables import NoBestRunError
    from kerasweep.cli import UsageError
    from kerasweep.dashboard import serve
    from kerasweep.local import local_agent, local_sweep
    from kerasweep.local._results import load_sweep
    from kerasweep.local._store import (
        StoreError,
        StoreFullError,
        StoreLocationError,
        StoreLostError,
        StoreReadOnlyError,
        StoreUnavailableError,
        StoreVersionError,
        UnknownSweepError,
    )
    from kerasweep.sweep_config import SWEEP_CONFIG, SweepConfigError, load_sweep_config
    from kerasweep.sweep_config._engine import EngineFailure
    from kerasweep.train import DEFAULT_CONFIG, RunConfigError, sweep_train
