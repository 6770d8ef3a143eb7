"""Values as plain JSON-able Python: what is stored, sent to W&B's engine and shown.

:func:`plain` is the one conversion of logged values and engine proposals: numpy and
tensor scalars become numbers, arrays become lists, and what is not data (images, tables,
arbitrary objects) is left out.

Example:
    >>> import numpy as np
    >>> plain({"a": np.float32(0.5), "b": [np.int64(2), object()], "c": object()})
    {'a': 0.5, 'b': [2, None]}
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Number
from typing import Any

__all__ = ["plain"]

_DROP = object()


def plain(value: Any) -> Any:
    """``value`` as plain JSON-able Python (numpy and tensor scalars become numbers).

    Values that are not data (images, tables, arbitrary objects) are left out of mappings
    and become ``None`` elsewhere.

    >>> import numpy as np
    >>> plain(np.arange(3)), plain(object()) is None
    ([0, 1, 2], True)
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
