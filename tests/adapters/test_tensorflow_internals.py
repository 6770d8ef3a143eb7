"""Each private TensorFlow API kerasweep relies on still exists and does what it is used for."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from kerasweep._adapters import tensorflow_internals
from tests.conftest import fresh_python


def test_nothing_is_found_and_nothing_imported_while_tensorflow_is_not_loaded():
    code = (
        "import sys; from kerasweep._adapters import tensorflow_internals as t;"
        "assert t.gradient_registry() is None and t.eager_context() is None;"
        "assert 'tensorflow' not in sys.modules; print('ok')"
    )
    proc = fresh_python("-c", code, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_traced_custom_gradients_land_in_the_gradient_registry():
    registry = tensorflow_internals.gradient_registry()
    assert isinstance(registry, dict) and registry
    before = set(registry)

    @tf.custom_gradient
    def double(x):
        return 2 * x, lambda dy: 2 * dy

    @tf.function
    def traced(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = double(x)
        return tape.gradient(y, x)

    assert float(traced(tf.constant(1.0))) == 2.0
    new = set(tensorflow_internals.gradient_registry()) - before
    assert new and all(n.startswith(tensorflow_internals.CUSTOM_GRADIENT_PREFIX) for n in new)


@pytest.mark.slow
def test_clear_session_empties_the_kernel_cache_of_the_eager_context(monkeypatch):
    context = tensorflow_internals.eager_context()
    assert context is not None
    calls = []
    monkeypatch.setattr(context, "clear_kernel_cache", lambda: calls.append(1))
    keras.backend.clear_session()
    assert calls == [1]
