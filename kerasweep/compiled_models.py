"""Compiled models kept across the runs of one process, started afresh for each run.

Every run of a sweep builds a model, compiles it and traces (with XLA: compiles) its train
and test functions before its first step: about a second on a CPU, as long as a whole
training run on a small data set. Runs whose model, optimizer and batch shapes are the same
(a tutorial sweep over ``learning_rate`` and four batch sizes has at most four such shapes)
can share those functions. :class:`CompiledModels` keeps one compiled model per shape and
hands it to the next run reset to exactly the state a fresh model would start in: the fresh
model's initial weights and random-generator state, and the fresh optimizer's variables
(iterations 0, the run's learning rate, empty slots). A run that reuses a model therefore
trains exactly as it would on a fresh one.

Example:
    >>> import keras
    >>> from kerasweep import build_mlp
    >>> pool = CompiledModels(capacity=2)
    >>> def compiled(learning_rate):
    ...     return pool.take(("mlp", 8), build_mlp(8, 4, 3), keras.optimizers.SGD(learning_rate),
    ...                      loss="sparse_categorical_crossentropy")
    >>> first = compiled(0.1)
    >>> second = compiled(0.01)  # the same compiled model, reset
    >>> second is first, round(float(second.optimizer.learning_rate), 4)
    (True, 0.01)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["CompiledModels"]


class CompiledModels:
    """Compiled models by key, least recently used first out.

    Args:
        capacity: How many compiled models to keep.
    """

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = int(capacity)
        self._models: OrderedDict[Hashable, Any] = OrderedDict()
        #: How many kept models were let go so far (evicted, replaced or cleared).
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._models)

    def kept(self) -> list[Any]:
        """The compiled models kept now, least recently used first."""
        return list(self._models.values())

    def clear(self) -> None:
        """Forget every kept model."""
        self.dropped += len(self._models)
        self._models.clear()

    def take(self, key: Hashable, fresh: Any, optimizer: Any, **compile_kwargs: Any) -> Any:
        """A compiled model in the state of ``fresh`` compiled with ``optimizer``.

        Args:
            key: Everything the compiled functions depend on besides variable values:
                architecture, optimizer class and its constants, loss, metrics, batch shapes,
                ``steps_per_execution``, ``jit_compile``, dtype policy.
            fresh: The run's newly built (uncompiled) model: its initial weights are used.
            optimizer: The run's new optimizer (not yet built): its initial state is used.
            **compile_kwargs: The rest of ``compile``'s arguments.

        Returns:
            ``fresh`` compiled (the first time a key is seen, or when the kept model does
            not match), else the kept model with ``fresh``'s weights and ``optimizer``'s
            initial state, and ``compile_kwargs``' ``steps_per_execution`` (a key may leave
            it out where the compiled functions do not depend on it, as in a stacked fit).
        """
        kept = self._models.get(key)
        if kept is not None and _reset_to(kept, fresh, optimizer):
            kept.steps_per_execution = compile_kwargs.get("steps_per_execution", 1)
            self._models.move_to_end(key)
            return kept
        fresh.compile(optimizer=optimizer, **compile_kwargs)
        if kept is not None:
            self.dropped += 1
        self._models[key] = fresh
        self._models.move_to_end(key)
        while len(self._models) > self.capacity:
            self._models.popitem(last=False)
            self.dropped += 1
        return fresh


def _same_shapes(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        tuple(x.shape) == tuple(y.shape) and x.dtype == y.dtype for x, y in zip(a, b, strict=True)
    )


def _reset_to(kept: Any, fresh: Any, optimizer: Any) -> bool:
    """Give ``kept`` the initial state of ``fresh`` and ``optimizer``; False if they differ."""
    if kept.optimizer is None or type(kept.optimizer) is not type(optimizer):
        return False
    if not _same_shapes(kept.variables, fresh.variables):
        return False
    optimizer.build(kept.trainable_variables)
    if not _same_shapes(kept.optimizer.variables, optimizer.variables):
        return False
    for target, source in zip(kept.variables, fresh.variables, strict=True):
        target.assign(source)
    for target, source in zip(kept.optimizer.variables, optimizer.variables, strict=True):
        target.assign(source)
    kept.reset_metrics()
    kept.stop_training = False
    return True
