"""Hyperband's stop rule, kept up to date one metric value at a time.

W&B's engine (``sweeps.hyperband_stopping.hyperband_stop_runs``) decides from every run's
whole history each time it is asked: per band, the values of all runs long enough are
sorted and the one at index ``int(n / eta)`` is the threshold. :class:`HyperbandBands` gives
the same verdicts from values handed to it as they are logged: each band keeps the sorted
values of the runs that reached it (``bisect.insort``), and each run its count of
iterations, its best value and its value at the last band it reached. A verdict then reads
one threshold, whatever the number of runs.

What it keeps exactly as the engine does:

- an iteration is a logged value that is a finite number (not a bool); anything else (NaN,
  inf, None, text) is skipped and adds no iteration (a complex number, on which the engine
  fails, is skipped too);
- the bands: ``min_iter * eta**k`` truncated to integers (100 of them), or, with
  ``max_iter`` and ``s``, ``max_iter / eta**i`` for i = 1..s while at least 1, ascending;
  ``eta`` defaults to 3 and ``strict`` to true;
- a band's threshold counts every run that reached it, whatever its state now (running,
  finished, failed, crashed, stopped): runs that end keep counting;
- only a running run is stopped, judged at the last band it has reached: with ``strict``
  its value at that band, else its best value so far, is compared with the band's
  threshold; it stops when worse;
- ``goal: maximize`` is judged on negated values; :class:`Verdict` gives values in the
  metric's own sign.

Example:
    >>> config = {"metric": {"name": "loss"},
    ...           "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2}}
    >>> bands = HyperbandBands.from_config(config)
    >>> bands.extend("a", [0.5, 0.4])
    >>> bands.extend("b", [0.9])
    >>> bands.verdict("b")
    Verdict(band=1, threshold=0.9, value=0.9, epoch=1, stop=False)
    >>> bands.extend("c", [0.95])
    >>> bands.verdict("c").stop, bands.verdict("c").threshold
    (True, 0.9)
    >>> bands.verdict("c", running=False).stop
    False
    >>> bands.table()
    [(1, 0.9), (2, 0.4), (4, None)]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Real
from typing import Any

__all__ = ["HyperbandBands", "Verdict", "band_list", "is_iteration"]

# How many bands the engine lists in the min_iter form.
_MIN_ITER_BANDS = 100


def is_iteration(value: Any) -> bool:
    """True if the engine counts `value` as one iteration: a finite real number as NumPy
    holds it (not a bool, a fraction or an integer beyond 64 bits).

    >>> [is_iteration(v) for v in (1, 0.5, float("nan"), float("inf"), True, None, "1")]
    [True, True, False, False, False, False, False]
    """
    if isinstance(value, (bool, Fraction)) or not isinstance(value, Real):
        return False
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return False
    try:
        return math.isfinite(value)
    except (TypeError, ValueError, OverflowError):
        return False


def band_list(early_terminate: Mapping[str, Any]) -> list[int]:
    """The bands of an ``early_terminate`` section, as the engine computes them.

    >>> band_list({"type": "hyperband", "min_iter": 5})[:3]
    [5, 15, 45]
    >>> band_list({"type": "hyperband", "max_iter": 27, "s": 2})
    [3, 9]
    """
    eta = early_terminate.get("eta", 3)
    if "max_iter" in early_terminate:
        band = early_terminate["max_iter"]
        bands = []
        for _ in range(early_terminate["s"]):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        bands = sorted(bands)
    elif "min_iter" in early_terminate:
        band = early_terminate["min_iter"]
        bands = []
        for _ in range(_MIN_ITER_BANDS):
            bands.append(int(band))
            band *= eta
    else:
        raise ValueError(
            'invalid config for hyperband stopping: either "max_iter" or "min_iter" must be'
            " specified"
        )
    if not bands:
        raise ValueError(
            "Bands must be an array of length at least 1. Try increasing s, decreasing eta,"
            " or increasing min_iter."
        )
    return bands


@dataclass(frozen=True)
class Verdict:
    """Hyperband's verdict on a run at the last band it reached (values in the metric's sign).

    Attributes:
        band: The band (iteration count) the run was judged at.
        threshold: That band's threshold.
        value: The run's value compared with it (at the band with ``strict``, else its best).
        epoch: The run's iterations so far.
        stop: True if the run is worse than the threshold (and was running).
    """

    band: int
    threshold: float
    value: float
    epoch: int
    stop: bool


class _Run:
    """What the rule needs of one run: iterations, best value, value at its last band."""

    __slots__ = ("at_band", "best", "iterations", "next_band", "seen")

    def __init__(self) -> None:
        self.seen = 0  # values handed in, iterations or not
        self.iterations = 0
        self.best = math.inf  # engine sign: lower is better
        self.at_band = math.inf
        self.next_band = 0  # index of the first band not reached


class HyperbandBands:
    """Every band's sorted values, kept as runs log; verdicts as the engine gives them.

    Args:
        bands: The bands, ascending (:func:`band_list`).
        eta: Keeps the best ``1/eta`` of the runs at each band.
        strict: Judge the value at the band (True) or the best value so far (False).
        maximize: Higher values are better.

    Feed each run's logged metric values in order (:meth:`observe`, :meth:`extend`, or
    :meth:`sync` with a run's values so far); ask :meth:`verdict` about a run at any time.
    """

    def __init__(
        self, bands: Iterable[int], *, eta: float = 3, strict: bool = True, maximize: bool = False
    ) -> None:
        self.bands = [int(band) for band in bands]
        if not self.bands or self.bands[0] < 1:
            raise ValueError(f"hyperband needs bands of at least one iteration: {self.bands[:3]}")
        self.eta = eta
        self.strict = strict
        self.maximize = maximize
        self._r = 1.0 / eta  # the engine's quantile: index int(r * n)
        self._values: list[list[float]] = [[] for _ in self.bands]
        self._runs: dict[str, _Run] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HyperbandBands:
        """The rule of a sweep config with ``early_terminate: {type: hyperband, ...}``.

        Raises:
            ValueError: The config has no hyperband section or no metric, or its bands
                cannot be computed.
        """
        early = config.get("early_terminate")
        if not isinstance(early, Mapping) or early.get("type") != "hyperband":
            raise ValueError("the sweep config has no hyperband early termination")
        metric = config.get("metric")
        if not isinstance(metric, Mapping) or "name" not in metric:
            raise ValueError('Hyperband stopping requires "metric" section')
        return cls(
            band_list(early),
            eta=early.get("eta", 3),
            strict=early.get("strict", True) is True,
            maximize=metric.get("goal") == "maximize",
        )

    def __repr__(self) -> str:
        return f"HyperbandBands(bands={self.bands[:4]}..., runs={len(self._runs)})"

    def __contains__(self, run_id: object) -> bool:
        """True for a run handed in (:meth:`observe`, :meth:`extend`, :meth:`sync`)."""
        return run_id in self._runs

    def __len__(self) -> int:
        return len(self._runs)

    def _run(self, run_id: str) -> _Run:
        run = self._runs.get(run_id)
        if run is None:
            run = self._runs[run_id] = _Run()
        return run

    def observe(self, run_id: str, value: Any) -> None:
        """Take the next logged metric value of a run (one that is not a number adds nothing)."""
        run = self._run(run_id)
        run.seen += 1
        if not is_iteration(value):
            return
        if self.maximize:
            value = -value
        run.iterations += 1
        if value < run.best:
            run.best = value
        bands, n = self.bands, run.iterations
        while run.next_band < len(bands) and bands[run.next_band] == n:
            bisect.insort(self._values[run.next_band], value)
            run.at_band = value
            run.next_band += 1

    def extend(self, run_id: str, values: Iterable[Any]) -> None:
        """Take several logged values of a run, in log order (none: the run is known)."""
        self._run(run_id)
        for value in values:
            self.observe(run_id, value)

    def sync(self, run_id: str, values: Sequence[Any]) -> None:
        """Take what is new in ``values``, all the values a run has logged so far."""
        self.extend(run_id, values[self._run(run_id).seen :])

    def iterations(self, run_id: str) -> int:
        """How many iterations (finite values) a run has logged."""
        run = self._runs.get(run_id)
        return 0 if run is None else run.iterations

    def _threshold(self, index: int) -> float:
        values = self._values[index]
        return values[int(self._r * len(values))] if values else math.inf

    def verdict(self, run_id: str, *, running: bool = True) -> Verdict | None:
        """The verdict on a run now, or None before it reaches the first band.

        ``stop`` is true only for a ``running`` run worse than its band's threshold.
        """
        run = self._runs.get(run_id)
        if run is None or run.next_band == 0:
            return None
        index = run.next_band - 1
        threshold = self._threshold(index)
        value = run.at_band if self.strict else run.best
        sign = -1.0 if self.maximize else 1.0
        return Verdict(
            band=self.bands[index],
            threshold=sign * float(threshold),
            value=sign * float(value),
            epoch=run.iterations,
            stop=running and value > threshold,
        )

    def should_stop(self, run_id: str, *, running: bool = True) -> bool:
        """True if hyperband stops the run now (as ``sweeps.stop_runs`` would list it)."""
        verdict = self.verdict(run_id, running=running)
        return verdict is not None and verdict.stop

    def thresholds(self) -> list[float]:
        """Every band's threshold in the engine's sign (inf where no run reached the band)."""
        return [self._threshold(index) for index in range(len(self.bands))]

    def table(self) -> list[tuple[int, float | None]]:
        """``(band, threshold)`` in the metric's sign, up to and including the first band no
        run has reached (threshold None there)."""
        sign = -1.0 if self.maximize else 1.0
        out: list[tuple[int, float | None]] = []
        for index, band in enumerate(self.bands):
            if not self._values[index]:
                out.append((band, None))
                break
            out.append((band, sign * float(self._threshold(index))))
        return out
