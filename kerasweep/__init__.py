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

from kerasweep._speedups.long_lived_objects import imports_uncollected
from kerasweep._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "GradientTapeModel": "kerasweep.model",
    "build_mlp": "kerasweep.model",
    "SweepMetricsLogger": "kerasweep.callbacks",
    "load_dataset": "kerasweep.data",
    "make_datasets": "kerasweep.pipelines",
    "stack_batches": "kerasweep._speedups.stacked_batches",
    "validation_batches": "kerasweep._speedups.stacked_batches",
    "StackedBatches": "kerasweep._speedups.stacked_batches",
    "Dataset": "kerasweep.data",
    "DatasetError": "kerasweep.data",
    "DEFAULT_CONFIG": "kerasweep.train",
    "sweep_train": "kerasweep.train",
    "SWEEP_CONFIG": "kerasweep.sweep_config",
    "load_sweep_config": "kerasweep.sweep_config",
    "SweepConfigError": "kerasweep.sweep_config",
    "local_sweep": "kerasweep.local",
    "local_agent": "kerasweep.local",
    "load_sweep": "kerasweep.local.results",
    "report": "kerasweep.html_report",
    "serve": "kerasweep.dashboard",
    # errors: every one derives from KerasweepError and keeps its builtin base
    "KerasweepError": "kerasweep._errors",
    "CheckpointMismatch": "kerasweep._checkpoints",
    "RunConfigError": "kerasweep.train",
    "TrainingDiverged": "kerasweep.callbacks",
    "EngineFailure": "kerasweep.sweep_config.engine",
    "StoreError": "kerasweep.local.store",
    "StoreFullError": "kerasweep.local.store",
    "StoreLocationError": "kerasweep.local.store",
    "StoreLostError": "kerasweep.local.store",
    "StoreReadOnlyError": "kerasweep.local.store",
    "StoreUnavailableError": "kerasweep.local.store",
    "StoreVersionError": "kerasweep.local.store",
    "UnknownSweepError": "kerasweep.local.store",
    "NoBestRunError": "kerasweep.sweep_tables",
    "UsageError": "kerasweep.cli",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kerasweep' has no attribute {name!r}")
    with imports_uncollected():  # wandb's, sqlalchemy's: fewer collections while they load
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
        import kerasweep.model
    except ImportError as error:  # never break the import of keras itself
        warnings.warn(
            f"kerasweep: GradientTapeModel is not registered with Keras ({error})",
            stacklevel=2,
        )


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from kerasweep._checkpoints import CheckpointMismatch
    from kerasweep._errors import KerasweepError
    from kerasweep._speedups.stacked_batches import (
        StackedBatches,
        stack_batches,
        validation_batches,
    )
    from kerasweep.callbacks import SweepMetricsLogger, TrainingDiverged
    from kerasweep.cli import UsageError
    from kerasweep.dashboard import serve
    from kerasweep.data import Dataset, DatasetError, load_dataset
    from kerasweep.html_report import report
    from kerasweep.local import local_agent, local_sweep
    from kerasweep.local.results import load_sweep
    from kerasweep.local.store import (
        StoreError,
        StoreFullError,
        StoreLocationError,
        StoreLostError,
        StoreReadOnlyError,
        StoreUnavailableError,
        StoreVersionError,
        UnknownSweepError,
    )
    from kerasweep.model import GradientTapeModel, build_mlp
    from kerasweep.pipelines import make_datasets
    from kerasweep.sweep_config import SWEEP_CONFIG, SweepConfigError, load_sweep_config
    from kerasweep.sweep_config.engine import EngineFailure
    from kerasweep.sweep_tables import NoBestRunError
    from kerasweep.train import DEFAULT_CONFIG, RunConfigError, sweep_train
