"""Logged values as plain JSON-able Python, and the sweep metric found in a row."""

from __future__ import annotations

import json
from collections.abc import Mapping
from numbers import Number
from typing import Any

from kerasweep.sweep_config.metric import Metric

__all__ = ["dumps", "metric_value", "plain"]

_DROP = object()


def plain(value: Any) -> Any:
    """``value`` as plain JSON-able Python (numpy and tensor scalars become numbers).

    Values that are not data (images, tables, arbitrary objects) are left out of mappings
    and become ``None`` elsewhere.

    >>> import numpy as np
    >>> plain({"a": np.float32(0.5), "b": [np.int64(2), object()], "c": object()})
    {'a': 0.5, 'b': [2, None]}
    """
    result = _plain(value)
    return None if result is _DROP else result


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            item = _plain(item)
            if item is not _DROP:
                out[str(key)] = item
        return out
    if isinstance(value, (list, tuple)):
        return [None if (item := _plain(v)) is _DROP else item for v in value]
    if hasattr(value, "numpy") and callable(value.numpy):  # eager tensors
        try:
            return _plain(value.numpy())
        except Exception:
            return _DROP
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        try:
            return _plain(value.tolist())
        except Exception:
            return _DROP
    if isinstance(value, Number):
        try:
            return float(value)
        except (TypeError, ValueError):
            return _DROP
    return _DROP


def metric_value(row: Mapping[str, Any], name: str) -> float | None:
    """The finite value of metric ``name`` in a logged row, else None
    (:meth:`~kerasweep.sweep_config.Metric.value_in`).

    >>> metric_value({"val_loss": 0.25}, "val_loss")
    0.25
    """
    return Metric(name).value_in(row)


def dumps(value: Any) -> str:
    """Compact JSON; NaN and infinities kept as JavaScript writes them."""
    return json.dumps(value, allow_nan=True, separators=(",", ":"))
