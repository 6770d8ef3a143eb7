"""RunSpeedups: the one seam of sweep_train's speed-ups, and the reuse key it derives."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasweep import GradientTapeModel, build_mlp
from kerasweep._data import Dataset
from kerasweep._speedups import run as speedups_run
from kerasweep._speedups.compiled_models import CompiledModels
from kerasweep._speedups.run import RunSpeedups
from kerasweep._speedups.stacked_batches import StackedBatches
from kerasweep.train import make_optimizer, resolve_config

RNG = np.random.default_rng(0)
X = RNG.random((96, 8)).astype("float32")
Y = RNG.integers(0, 3, 96).astype("int32")
DATA = Dataset("toy", X, Y, X[:24], Y[:24])
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def build_mlp_with(*, use_bias: bool = True, kernel_initializer: str = "glorot_uniform"):
    """``build_mlp`` with two knobs it does not have, as a user would add them."""
    config = build_mlp(8, 16, 3).get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "Dense":
            layer["config"].update(use_bias=use_bias, kernel_initializer=kernel_initializer)
    return GradientTapeModel.from_config(config)


@pytest.fixture
def pool(monkeypatch):
    """sweep_train's process-wide pool, empty for the test."""
    fresh = CompiledModels(capacity=4)
    monkeypatch.setattr(speedups_run, "COMPILED_MODELS", fresh)
    return fresh


def _compiled(model, **config):
    """What sweep_train does with a built model: data, then compile (or reuse)."""
    cfg = resolve_config({"batch_size": 16, "epochs": 1, "learning_rate": 0.1, **config})
    with RunSpeedups() as speedups:
        speedups.datasets(cfg, DATA)
        return speedups.compile(model, make_optimizer(cfg), loss=LOSS, metrics=["accuracy"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("knob", "values"),
    [("use_bias", (True, False)), ("kernel_initializer", ("glorot_uniform", "he_normal"))],
)
def test_a_new_model_knob_is_part_of_the_reuse_key_without_naming_it(pool, knob, values):
    first = _compiled(build_mlp_with(**{knob: values[0]}))
    assert _compiled(build_mlp_with(**{knob: values[0]})) is first  # equal values: reused
    other = _compiled(build_mlp_with(**{knob: values[1]}))
    assert other is not first  # another value: compiled afresh
    assert other.get_config() != first.get_config()
    assert len(pool) == 2


@pytest.mark.slow
def test_optimizer_constants_are_in_the_key_and_the_learning_rate_is_not(pool):
    first = _compiled(build_mlp(8, 16, 3), optimizer="sgd", momentum=0.0)
    assert _compiled(build_mlp(8, 16, 3), optimizer="sgd", learning_rate=0.5) is first
    assert _compiled(build_mlp(8, 16, 3), optimizer="sgd", momentum=0.9) is not first
    assert _compiled(build_mlp(8, 16, 3), optimizer="adam") is not first


@pytest.mark.slow
def test_stacked_runs_share_one_model_whatever_the_batch_size(pool):
    # the test set is evaluated in one batch: the compiled functions see no batch size
    first = _compiled(build_mlp(8, 16, 3), batch_size=16)
    assert _compiled(build_mlp(8, 16, 3), batch_size=32) is first
    assert first.steps_per_execution == 3  # the latest run's: 96 / 32 batches an epoch
    plain = _compiled(build_mlp(8, 16, 3), batch_size=16, steps_per_execution=1)
    assert plain is not first  # one step per call: Keras' own train function


def test_the_seam_gives_stacked_batches_when_steps_are_stacked():
    cfg = resolve_config({"batch_size": 16, "steps_per_execution": 4})
    with RunSpeedups() as speedups:
        train, validation = speedups.datasets(cfg, DATA)
    assert isinstance(train, StackedBatches) and train.batches_per_element == 4
    assert [int(x.shape[0]) for x, _ in validation] == [24]  # the whole test set


def test_compile_before_datasets_is_an_error():
    with RunSpeedups() as speedups, pytest.raises(RuntimeError, match="datasets"):
        speedups.compile(build_mlp(8, 16, 3), keras.optimizers.SGD(), loss=LOSS)
