"""Logged values as the store writes them: plain JSON-able Python
(:func:`kerasweep._plain.plain`), the sweep metric found in a row, compact JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kerasweep._plain import plain
from kerasweep.sweep_config._metric import Metric

__all__ = ["dumps", "metric_value", "plain"]


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
