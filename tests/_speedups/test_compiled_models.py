"""CompiledModels: a reused compiled model trains exactly as a fresh one would."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasweep import build_mlp, stack_batches, validation_batches
from kerasweep._data import Dataset
from kerasweep._speedups.compiled_models import CompiledModels

RNG = np.random.default_rng(0)
X = RNG.random((120, 8)).astype("float32")
Y = RNG.integers(0, 3, 120).astype("int32")
DATA = Dataset("toy", X, Y, X[:30], Y[:30])
COMPILE = {
    "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    "metrics": ["accuracy"],
    "steps_per_execution": 4,
    "jit_compile": True,
}
OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
    "adam": keras.optimizers.Adam,
    "adagrad": keras.optimizers.Adagrad,  # slots start at 0.1, not 0
}


def _run(pool, optimizer, seed, lr):
    """One sweep-like run: seed, fresh model and optimizer, fit with dropout."""
    keras.utils.set_random_seed(seed)
    fresh = build_mlp(8, (16, 16), 3, dropout=0.2)
    opt = OPTIMIZERS[optimizer](lr)
    if pool is None:
        model = fresh
        model.compile(optimizer=opt, **COMPILE)
    else:
        model = pool.take(("toy", optimizer), fresh, opt, **COMPILE)
    history = model.fit(
        stack_batches(DATA, 16, 4, seed=seed),
        validation_data=validation_batches(DATA, 16),
        epochs=2,
        verbose=0,
    )
    return model, history.history, [w.copy() for w in model.get_weights()]


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_a_reused_model_trains_exactly_as_a_fresh_one(optimizer):
    _, fresh_history, fresh_weights = _run(None, optimizer, seed=3, lr=0.05)
    pool = CompiledModels()
    first, _, _ = _run(pool, optimizer, seed=11, lr=0.5)  # leaves trained weights and slots
    reused, history, weights = _run(pool, optimizer, seed=3, lr=0.05)
    assert reused is first
    assert history == fresh_history
    for a, b in zip(weights, fresh_weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(reused.optimizer.iterations) == 2 * 8


@pytest.mark.slow
def test_another_optimizer_class_or_shape_is_not_reused():
    pool = CompiledModels()
    a = pool.take("k", build_mlp(8, 4, 3), keras.optimizers.SGD(0.1), **COMPILE)
    b = pool.take("k", build_mlp(8, 4, 3), keras.optimizers.Adam(0.1), **COMPILE)
    assert b is not a  # a kept SGD model cannot take Adam's slots
    assert pool.dropped == 1  # replaced
    a.fit(stack_batches(DATA, 16, 4), verbose=0)  # built: now its shapes are known
    c = pool.take("k", build_mlp(8, 5, 3), keras.optimizers.Adam(0.1), **COMPILE)
    assert c is not b
    assert len(pool) == 1


def test_least_recently_used_models_leave_first():
    pool = CompiledModels(capacity=2)
    models = {
        k: pool.take(k, build_mlp(8, 4, 3), keras.optimizers.SGD(0.1), **COMPILE) for k in "ab"
    }
    assert pool.take("a", build_mlp(8, 4, 3), keras.optimizers.SGD(0.1), **COMPILE) is models["a"]
    pool.take("c", build_mlp(8, 4, 3), keras.optimizers.SGD(0.1), **COMPILE)
    assert len(pool) == 2 and pool.dropped == 1  # "b" went
    assert pool.kept()[0] is models["a"] and models["b"] not in pool.kept()
    assert (
        pool.take("b", build_mlp(8, 4, 3), keras.optimizers.SGD(0.1), **COMPILE) is not models["b"]
    )
    assert pool.dropped == 2  # "a" went
    pool.clear()
    assert len(pool) == 0 and pool.dropped == 4


def test_a_kept_model_of_other_constants_but_the_same_shapes_is_not_reused():
    # a key written by hand that forgot a knob: the reset check still refuses the kept model
    pool = CompiledModels()

    def take(activation="relu", **sgd):
        return pool.take("k", build_mlp(8, 4, 3, activation=activation), sgd_(**sgd), **COMPILE)

    def sgd_(learning_rate=0.1, **kwargs):
        return keras.optimizers.SGD(learning_rate, **kwargs)

    relu = take()
    tanh = take("tanh")
    assert tanh is not relu and pool.dropped == 1
    nesterov = take("tanh", nesterov=True)  # the same variables, another update
    assert nesterov is not tanh and pool.dropped == 2
    assert take("tanh", learning_rate=0.5, nesterov=True) is nesterov  # the rate is a variable
