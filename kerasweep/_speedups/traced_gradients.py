"""Gradient functions that tracing leaves in TensorFlow's global registry, dropped after a run.

In a traced function, every ``tf.custom_gradient`` registers its gradient function under a
new name (``CustomGradient-<n>``) in TensorFlow's global gradient registry, and that function
keeps the traced tensors, and so the whole traced graph, alive for as long as the process
runs (tensorflow/tensorflow#97697). Keras' TensorFlow optimizer makes one in every traced
training step (the all-reduce of the gradients, even on one device), so every model whose
``fit`` was traced stays in memory after the model is gone: in a sweep that varies the
model's shape, every run's.

What it buys: memory that stays flat over the runs of one process
(``tests/hardening/test_memory.py``). ``sweep_train`` drops what its run registered
(:class:`kerasweep._speedups.run.RunSpeedups`), and the local agent what each run of any
function registered (:mod:`kerasweep.local._cleanup`).

A gradient function is looked up only while the graph that uses it is differentiated,
which for a training step happens while it is traced. So once a run is over, what it
registered can go; the functions of models kept for reuse are traced already and keep
working.

Example:
    >>> registered = RegisteredDuring()
    >>> # ... trace and train ...
    >>> registered.drop()  # the graphs traced meanwhile can now be freed
    0
"""

from __future__ import annotations

from kerasweep._adapters.tensorflow_internals import CUSTOM_GRADIENT_PREFIX, gradient_registry

__all__ = ["RegisteredDuring"]


class RegisteredDuring:
    """The custom gradients registered from now on, to drop once they are not needed."""

    def __init__(self) -> None:
        registry = gradient_registry()
        self._before = set(registry) if registry is not None else set()

    def drop(self) -> int:
        """Drop the custom gradients registered since this was made; returns how many."""
        registry = gradient_registry()
        if registry is None:
            return 0
        new = [
            n
            for n in list(registry)
            if n.startswith(CUSTOM_GRADIENT_PREFIX) and n not in self._before
        ]
        for name in new:
            registry.pop(name, None)
        return len(new)
