"""Compiled models kept across the runs of one process, started afresh for each run.

What it buys: every run of a sweep builds a model, compiles it and traces (with XLA:
compiles) its train and test functions before its first step, as long as a whole training
run on a small data set (``benchmarks/RESULTS.md``). Runs whose model, optimizer, compile
arguments and batch shapes are the same (a tutorial sweep over ``learning_rate`` and four
batch sizes has at most four such shapes) can share those functions. :class:`CompiledModels`
keeps one compiled model per :func:`reuse_key` and hands it to the next run reset to exactly
the state a fresh model would start in: the fresh model's initial weights and random-generator
state, and the fresh optimizer's variables (iterations 0, the run's learning rate, empty
slots). A run that reuses a model therefore trains exactly as it would on a fresh one.

:func:`reuse_key` derives the key from what the compiled functions are made of: the model's
and the optimizer's configs (less the learning rate, a variable), the compile arguments and
the shapes of the data, so a new model or optimizer knob is part of the key without naming
it. A kept model that is let go is reported to
:func:`kerasweep._speedups.long_lived_objects.let_go`: it may have been frozen with the
process's long-lived objects.

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

import hashlib
import json
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

from kerasweep._speedups.long_lived_objects import let_go

__all__ = ["CompiledModels", "reuse_key"]


def reuse_key(
    model: Any, optimizer: Any, data: Mapping[str, Any], **compile_kwargs: Any
) -> str:
    """What a model's compiled functions depend on besides variable values, as one string.

    Args:
        model: The run's newly built model.
        optimizer: The run's new optimizer; its name and its learning rate are left out
            (the rate when it is a number: the optimizer holds it in a variable; a schedule
            is part of the key).
        data: The shapes and dtypes the compiled functions see (and any choice of the
            caller's that changes them), as plain values.
        **compile_kwargs: ``compile``'s arguments (loss, metrics, ``steps_per_execution``,
            ``jit_compile``, ...), and any other choice that changes what is compiled.

    Returns:
        A digest of the Keras configs of all these and of the dtype policy.

    Example:
        >>> import keras
        >>> from kerasweep import build_mlp
        >>> def key(learning_rate, momentum=0.0):
        ...     optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum)
        ...     return reuse_key(build_mlp(8, 4, 3), optimizer, {"rows": 32}, loss="mse")
        >>> key(0.1) == key(0.01), key(0.1) == key(0.1, momentum=0.9)
        (True, False)
    """
    import keras

    optimizer_config = _serialized(optimizer)
    optimizer_config = {
        **optimizer_config,
        "config": _optimizer_constants(optimizer_config.get("config", {})),
    }
    parts = {
        "model": _serialized(model),
        "optimizer": optimizer_config,
        "data": dict(data),
        "compile": {name: _serialized(value) for name, value in compile_kwargs.items()},
        "dtype_policy": keras.config.dtype_policy().name,
    }
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _optimizer_constants(config: Mapping[str, Any]) -> dict[str, Any]:
    """An optimizer's config less what its compiled update does not hold as a constant.

    The learning rate, when a number, is a variable; the name (``adam``, ``adam_1``, ...)
    only names the variables.
    """
    variable = ("name",)
    if isinstance(config.get("learning_rate"), int | float):
        variable += ("learning_rate",)
    return {k: v for k, v in config.items() if k not in variable}


def _serialized(value: Any) -> Any:
    """A Keras object's serialized config; lists, dicts and plain values as they are."""
    import keras

    if isinstance(value, list | tuple):
        return [_serialized(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _serialized(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return keras.saving.serialize_keras_object(value)


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
        count = len(self._models)
        self._models.clear()
        self._dropped(count)

    def take(self, key: Hashable, fresh: Any, optimizer: Any, **compile_kwargs: Any) -> Any:
        """A compiled model in the state of ``fresh`` compiled with ``optimizer``.

        Args:
            key: Everything the compiled functions depend on besides variable values:
                architecture, optimizer class and its constants, loss, metrics, batch shapes,
                ``steps_per_execution``, ``jit_compile``, dtype policy (:func:`reuse_key`).
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
            self._dropped(1)
        self._models[key] = fresh
        self._models.move_to_end(key)
        while len(self._models) > self.capacity:
            self._models.popitem(last=False)
            self._dropped(1)
        return fresh

    def _dropped(self, count: int) -> None:
        if count:
            self.dropped += count
            let_go()


def _same_shapes(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        tuple(x.shape) == tuple(y.shape) and x.dtype == y.dtype for x, y in zip(a, b, strict=True)
    )




def _reset_to(kept: Any, fresh: Any, optimizer: Any) -> bool:
    """Give ``kept`` the initial state of ``fresh`` and ``optimizer``; False if they differ.

    They differ when the classes, the model's config, the optimizer's config (less the
    learning rate) or the variables' shapes and dtypes do.
    """
    if type(kept) is not type(fresh) or kept.optimizer is None:
        return False
    if type(kept.optimizer) is not type(optimizer):
        return False
    if not _same_shapes(kept.variables, fresh.variables):
        return False
    if kept.get_config() != fresh.get_config():
        return False
    constants = _optimizer_constants(kept.optimizer.get_config())
    if constants != _optimizer_constants(optimizer.get_config()):
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
