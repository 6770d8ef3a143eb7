"""A pytest plugin that runs the installed Keras wheel's own tests with GradientTapeModel.

Loaded by ``tests/keras_suite/run.py`` (``pytest -p tests.keras_suite.swap``). With
``--swap``, every Keras test module sees, from the moment it is imported:

- ``Model`` (``from keras.src.models import Model``, ``keras.Model``, ``models.Model``) as
  :class:`kerasweep.GradientTapeModel`, so every model a test builds, functional or
  subclassed, and every subclass it defines, is a GradientTapeModel;
- the TensorFlow backend's ``TensorFlowTrainer`` (the ``Trainer`` that trainer_test.py mixes
  into layers) as a Trainer with GradientTapeModel's step methods.

Keras' own modules keep the real classes: only the test modules' names are swapped.
Without ``--swap`` the same tests run untouched, for the comparison. ``--outcomes FILE``
writes each test's outcome (passed, failed, skipped) as JSON; ``--shuffle SEED`` runs the
tests in a shuffled order; ``--only FILE`` (a JSON list of node ids) runs only those tests,
still in that order.

trainer_test.py imports jax at its top, for its JAX-backend tests only: where jax is not
installed, an empty module stands in, and those tests skip as they do on TensorFlow.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# GradientTapeModel's training and evaluation steps, as given to trainer_test's Trainer.
STEP_METHODS = (
    "train_step",
    "test_step",
    "_forward",
    "_loss",
    "_track_loss",
    "_apply_gradients",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("keras suite")
    group.addoption("--swap", action="store_true", help="swap keras.Model for GradientTapeModel")
    group.addoption("--outcomes", default=None, help="write each test's outcome to this JSON")
    group.addoption("--shuffle", type=int, default=None, help="shuffle the tests with this seed")
    group.addoption("--only", default=None, help="run only the node ids this JSON list holds")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_trainable_backend: a backend that trains")
    config.addinivalue_line("markers", "large: a large test (Keras' own marker)")
    if config.getoption("outcomes"):
        config.pluginmanager.register(_Outcomes(config.getoption("outcomes")), "keras-outcomes")


def _swaps() -> dict[str, Any]:
    import keras
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

    from kerasweep import GradientTapeModel

    trainer = type(
        "GradientTapeTrainer",
        (TensorFlowTrainer,),
        {name: GradientTapeModel.__dict__[name] for name in STEP_METHODS},
    )
    return {"keras": keras, "Model": GradientTapeModel, "TensorFlowTrainer": trainer}


class _Namespace(types.ModuleType):
    """A module as a test sees it: some names swapped, the rest the real module's."""

    def __init__(self, real: types.ModuleType, **swapped: Any) -> None:
        super().__init__(real.__name__)
        self.__dict__.update(swapped)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextmanager
def _swapped_while_importing(swaps: dict[str, Any]) -> Iterator[None]:
    """Keras' modules hand out the swapped classes while a test module is imported."""
    import keras
    from keras.src import models
    from keras.src.backend.tensorflow import trainer
    from keras.src.models import model

    targets = [
        (model, "Model", swaps["Model"]),
        (models, "Model", swaps["Model"]),
        (keras, "Model", swaps["Model"]),
        (keras.models, "Model", swaps["Model"]),
        (trainer, "TensorFlowTrainer", swaps["TensorFlowTrainer"]),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in targets]
    before = set(sys.modules)
    for module, name, value in targets:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
    # A Keras module first imported in that window would keep a swapped class for good.
    leaked = sorted(
        name
        for name in set(sys.modules) - before
        if name.startswith("keras") and not name.endswith("_test")
    )
    if leaked:
        raise RuntimeError(f"imported while Model was swapped, import them first: {leaked}")


def _swap_module_names(module: types.ModuleType, swaps: dict[str, Any]) -> None:
    import keras
    from keras.src import models

    models_seen = _Namespace(models, Model=swaps["Model"])
    keras_seen = _Namespace(
        keras, Model=swaps["Model"], models=_Namespace(keras.models, Model=swaps["Model"])
    )
    for name, value in list(vars(module).items()):
        if value is keras:
            setattr(module, name, keras_seen)
        elif value is models:
            setattr(module, name, models_seen)


@contextmanager
def _jax_stand_in() -> Iterator[None]:
    """An empty ``jax`` module while a test module is imported, if jax is not installed.

    trainer_test.py imports jax at its top for its JAX-backend tests only; Keras' own
    modules, imported before, still see that jax is missing.
    """
    if importlib.util.find_spec("jax") is not None:
        yield
        return
    sys.modules["jax"] = types.ModuleType("jax")
    try:
        yield
    finally:
        del sys.modules["jax"]


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    if isinstance(collector, pytest.Module):
        # imported here; a failure stops the run (rather than a later unswapped import)
        _import_keras_modules_first()
        with _jax_stand_in():
            if collector.config.getoption("swap"):
                swaps = _swaps()
                with _swapped_while_importing(swaps):
                    module = collector.obj
                _swap_module_names(module, swaps)
            else:
                collector.obj  # noqa: B018 - the import
    yield


def _import_keras_modules_first() -> None:
    """The Keras modules the tests import, imported before any name is swapped."""
    for name in (
        "keras.src.testing",
        "keras.src.testing.test_utils",
        "keras.src.saving.saving_lib",
        "keras.src.models.cloning",
        "keras.src.models.variable_mapping",
        "keras.src.applications",
        "keras.src.trainers.data_adapters.py_dataset_adapter",
        "keras.src.distribution.distribution_lib",
        "keras.src.backend.common.symbolic_scope",
    ):
        importlib.import_module(name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seed = config.getoption("shuffle")
    if seed is not None:
        random.Random(seed).shuffle(items)
    only = config.getoption("only")
    if only is not None:
        wanted = set(json.loads(Path(only).read_text()))
        deselected = [item for item in items if item.nodeid not in wanted]
        items[:] = [item for item in items if item.nodeid in wanted]
        config.hook.pytest_deselected(items=deselected)


class _Outcomes:
    """Each test's outcome: failed if any phase failed, else skipped or passed."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.outcomes: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    def pytest_sessionfinish(self) -> None:
        self.path.write_text(json.dumps(self.outcomes, indent=1, sort_keys=True))
