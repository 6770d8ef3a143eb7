"""traced_gradients: what tracing pinned in TensorFlow's registry goes, nothing else."""

from __future__ import annotations

import gc
import weakref

import pytest
import tensorflow as tf

from kerasweep._adapters.tensorflow_internals import gradient_registry
from kerasweep._speedups.traced_gradients import RegisteredDuring


@tf.custom_gradient
def _double(x):
    return 2 * x, lambda dy: 2 * dy


def _gradient_function():
    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = _double(x)
        return tape.gradient(y, x)

    return gradient


def _custom_gradients() -> set[str]:
    return {name for name in gradient_registry() if name.startswith("CustomGradient-")}


def test_drops_what_was_registered_meanwhile_and_keeps_the_rest():
    earlier = _gradient_function()
    earlier(tf.constant(1.0))  # registered before: stays
    before = _custom_gradients()
    registered = RegisteredDuring()
    traced = _gradient_function()
    assert float(traced(tf.constant(1.0))) == 2.0
    assert len(_custom_gradients() - before) == 1
    assert registered.drop() == 1
    assert _custom_gradients() == before
    assert registered.drop() == 0
    # a function traced before the drop still runs: its gradient is in its graph already
    assert float(traced(tf.constant(3.0))) == 2.0
    assert float(earlier(tf.constant(3.0))) == 2.0


@pytest.mark.slow
def test_the_traced_graph_is_freed_once_dropped():
    registered = RegisteredDuring()
    traced = _gradient_function()
    graph = weakref.ref(traced.get_concrete_function(tf.constant(1.0)).graph)
    del traced
    gc.collect()  # the registry still pins it here (tensorflow/tensorflow#97697)
    registered.drop()
    gc.collect()
    assert graph() is None
