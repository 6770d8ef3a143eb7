"""The sweep's metric: its name, whether lower or higher is better, and the target if any.

Parsed once from a config (:meth:`Metric.from_config`), then asked everywhere a run is
compared with another: :meth:`Metric.better`, :meth:`Metric.best`, :meth:`Metric.reached`.
A logged row's value of the metric is found by :meth:`Metric.raw_in` (and
:meth:`Metric.value_in`, its finite value) alone, a dotted name in nested rows too: what the
store indexes, what hyperband judges and what the report draws are the same values.
Values that are None or not finite (NaN, inf from a diverged run) are never better than
anything and never best.

Example:
    >>> metric = Metric.from_config({"metric": {"name": "val_acc", "goal": "maximize"}})
    >>> metric
    Metric(name='val_acc', goal='maximize', target=None)
    >>> metric.better(0.9, 0.8), metric.best([0.7, float("nan"), 0.9, None])
    (True, 0.9)
    >>> Metric.from_config({"method": "grid"}) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Number
from typing import Any, Literal

__all__ = ["Metric"]

Goal = Literal["minimize", "maximize"]


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Metric:
    """A sweep's metric.

    Attributes:
        name: The logged key the sweep optimizes (``"val_loss"``).
        goal: ``"minimize"`` (the default, as on W&B) or ``"maximize"``.
        target: ``metric.target``: the sweep is finished once a run reaches it (None: none).
    """

    name: str
    goal: Goal = "minimize"
    target: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Metric | None:
        """The metric of a sweep config (checked or stored), or None when it names none.

        >>> Metric.from_config({"metric": {"name": "val_loss", "target": 0.1}})
        Metric(name='val_loss', goal='minimize', target=0.1)
        """
        metric = config.get("metric") if isinstance(config, Mapping) else None
        if not isinstance(metric, Mapping) or not metric.get("name"):
            return None
        goal: Goal = "maximize" if metric.get("goal") == "maximize" else "minimize"
        target = metric.get("target")
        return cls(str(metric["name"]), goal, None if target is None else float(target))

    @property
    def maximize(self) -> bool:
        """True when higher values are better."""
        return self.goal == "maximize"

    @property
    def sign(self) -> float:
        """+1.0 when lower is better, -1.0 when higher is better: ``sign * value`` sorts best first.

        >>> sorted([0.2, 0.9, 0.5], key=lambda v: Metric("acc", "maximize").sign * v)
        [0.9, 0.5, 0.2]
        """
        return -1.0 if self.maximize else 1.0

    def better(self, a: float | None, b: float | None) -> bool:
        """Whether `a` is strictly better than `b` (a finite value beats None and NaN).

        >>> Metric("val_loss").better(0.1, 0.2), Metric("val_loss").better(0.2, None)
        (True, True)
        >>> Metric("val_loss").better(float("nan"), 0.2)
        False
        """
        a, b = _finite(a), _finite(b)
        if a is None:
            return False
        if b is None:
            return True
        return a > b if self.maximize else a < b

    def best(self, values: Iterable[float | None]) -> float | None:
        """The best finite value, or None when there is none.

        >>> Metric("val_loss").best([0.3, 0.1, float("inf")])
        0.1
        >>> Metric("val_loss").best([]) is None
        True
        """
        best: float | None = None
        for value in values:
            if self.better(value, best):
                best = _finite(value)
        return best

    def value_in(self, row: Mapping[str, Any]) -> float | None:
        """The finite value of this metric in a logged row, else None.

        A dotted name also finds a nested value (``{"val": {"loss": 1}}`` for ``val.loss``).

        >>> Metric("val_loss").value_in({"val_loss": 0.25}), Metric("val.loss").value_in({})
        (0.25, None)
        >>> Metric("val_loss").value_in({"val_loss": float("nan")}) is None
        True
        """
        found = self.raw_in(row)
        if isinstance(found, bool) or not isinstance(found, Number):
            return None
        value = float(found)
        return value if math.isfinite(value) else None

    def raw_in(self, row: Mapping[str, Any]) -> Any:
        """This metric's value in a logged row as logged (NaN included); None if absent."""
        if self.name in row:
            return row[self.name]
        value: Any = row
        for part in self.name.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value

    def reached(self, value: float | None) -> bool:
        """Whether `value` reaches the target (False when there is no target).

        >>> Metric("val_acc", "maximize", target=0.9).reached(0.95)
        True
        """
        value = _finite(value)
        if self.target is None or value is None:
            return False
        return value >= self.target if self.maximize else value <= self.target
