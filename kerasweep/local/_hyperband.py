"""Hyperband's judgement of a running run, exactly as W&B's engine gives it.

A :class:`HyperbandJudge` is built for one sweep and asked about one run at a time:
:meth:`HyperbandJudge.judge` takes the run and every run's finite metric values (a
:class:`~kerasweep.local._store.SweepMetrics`, which the store brings up to date with what
is new) and answers a :class:`Verdict`: the :class:`~kerasweep.local._records.StopReason`
when the run stops now (its band, threshold, value and epoch), and the band table. The
engine's ``sweeps.stop_runs`` decides; :func:`judge_run` is the same question as a function
of plain values.

The engine's hyperband reads, of each run, only its values at the bands it has reached (a
band's threshold is a quantile of the values of the runs that reached it) and, of the run it
judges, its state and all of its values. So the engine is shown the judged run whole, and
every other run as ended, with its values up to the last band it reached; runs that reached
no band are left out. Its decision and thresholds are those it gives on the runs whole, and
the work no longer grows with the rows past the bands.

An agent asks :meth:`HyperbandJudge.judge_held` instead: the judge keeps every band's values
sorted (:class:`~kerasweep.sweep_config._hyperband_bands.HyperbandBands`, proven equal to the
engine), fed only the runs read since its last question, so a question costs the same at
run 10,000 as at run 10.

Example:
    >>> config = {"method": "grid", "metric": {"name": "m"},
    ...           "parameters": {"a": {"values": [1]}},
    ...           "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2}}
    >>> judge = HyperbandJudge(config)
    >>> verdict = judge.judge("me", {"a": [1.0, 0.5], "b": [1.0, 0.6], "me": [1.0, 0.9]},
    ...                       running={"me"})
    >>> verdict.stop
    StopReason(band=2, threshold=0.6, value=0.9, epoch=2)
    >>> verdict.bands[0]
    (2, 0.6)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kerasweep.local._records import StopReason
from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config._hyperband_bands import HyperbandBands
from kerasweep.sweep_config._metric import Metric

__all__ = ["HeldMetrics", "HyperbandJudge", "Verdict", "hyperband_applies", "judge_run"]

BandTable = list[tuple[int, "float | None"]]


class HeldMetrics(Protocol):
    """Every run's finite metric values, kept up to date
    (:class:`~kerasweep.local._store.SweepMetrics`)."""

    values: Mapping[str, Sequence[float]]
    running: Collection[str]
    rebuilt: bool  # it started over: what was built from it is to be built again

    def drain_changed(self) -> set[str]: ...


def hyperband_applies(config: Mapping[str, Any]) -> bool:
    """True if the sweep has hyperband early termination on a named metric.

    >>> hyperband_applies({"metric": {"name": "m"}, "early_terminate": {"type": "hyperband"}})
    True
    """
    early = config.get("early_terminate")
    return (
        isinstance(early, Mapping)
        and early.get("type") == "hyperband"
        and Metric.from_config(config) is not None
    )


@dataclass(frozen=True)
class Verdict:
    """Hyperband's answer about one run.

    Attributes:
        stop: Why the run stops now (band, threshold, value, epoch), or None: it goes on.
        bands: The ``(band, threshold)`` table, in the metric's own units, up to and
            including the first band no run has reached (threshold None).
    """

    stop: StopReason | None
    bands: BandTable


class HyperbandJudge:
    """W&B's hyperband for one sweep, asked about one run at a time.

    Args:
        config: The sweep config. A sweep without hyperband early termination on a named
            metric never stops a run (:attr:`applies` is False).
        bands: The sweep's bands, if already known (else the engine's, when first needed).
    """

    def __init__(self, config: Mapping[str, Any], *, bands: Sequence[int] | None = None) -> None:
        self.config = dict(config)
        self.applies = hyperband_applies(self.config)
        self._bands = None if bands is None else list(bands)
        self._rule: HyperbandBands | None = None  # fed by judge_held, across runs
        self._rule_built = False

    def _held_rule(self) -> HyperbandBands | None:
        """The bands' sorted values kept across questions (None: the engine answers)."""
        if not self._rule_built:
            self._rule_built = True
            try:
                self._rule = HyperbandBands.from_config(self.config) if self.applies else None
            except ValueError:  # bands the rule cannot compute: the engine says why
                self._rule = None
        return self._rule

    @property
    def bands(self) -> list[int]:
        """The bands (metric rows) the sweep's runs are compared at."""
        if self._bands is None:
            self._bands = engine.hyperband_bands(self.config) if self.applies else []
        return self._bands

    def judge(
        self, run_id: str, values: Mapping[str, Sequence[float]], running: Collection[str]
    ) -> Verdict:
        """Whether running run ``run_id`` stops now, given every run's finite metric values
        in log order (by run id) and the runs that are running."""
        if not self.applies or run_id not in values:
            return Verdict(None, [])
        stop, table = _judge(self.config, self.bands, values, running, run_id)
        return Verdict(stop, table)

    def judge_held(self, run_id: str, held: HeldMetrics) -> Verdict:
        """:meth:`judge` on every run's values as ``held`` holds them, kept up to date
        between questions (a :class:`~kerasweep.local._store.SweepMetrics`, one per sweep).

        Only the runs read since the last question (``held.drain_changed()``) are handed to
        the judge's bands (a :class:`~kerasweep.sweep_config._hyperband_bands.HyperbandBands`:
        every band's values kept sorted), so a question costs the same however many runs
        the sweep has; the answer is the engine's. Feed one judge from one ``held`` only.
        """
        if held.rebuilt:  # a resumed run's rows were replaced: the bands start over too
            held.rebuilt = False
            self._rule_built = False
        rule = self._held_rule()
        if rule is None:
            held.drain_changed()
            return self.judge(run_id, held.values, held.running)
        for changed in held.drain_changed():
            rule.sync(changed, held.values.get(changed, ()))
        if run_id not in held.values:
            return Verdict(None, [])
        verdict = rule.verdict(run_id, running=run_id in held.running)
        stop = None
        if verdict is not None and verdict.stop:
            stop = StopReason(
                band=verdict.band,
                threshold=verdict.threshold,
                value=verdict.value,
                epoch=verdict.epoch,
            )
        return Verdict(stop, rule.table())

    def __repr__(self) -> str:
        return f"HyperbandJudge(applies={self.applies}, bands={self._bands})"


def judge_run(
    config: Mapping[str, Any],
    values: Mapping[str, Sequence[float]],
    running: Collection[str],
    run_id: str,
    *,
    bands: Sequence[int] | None = None,
) -> tuple[StopReason | None, BandTable]:
    """:meth:`HyperbandJudge.judge` as a function: the stop reason (None: the run goes on)
    and the band table.

    Args:
        config: The sweep config.
        values: Every run's finite metric values in log order, by run id.
        running: The runs that are running.
        run_id: The run judged.
        bands: The sweep's bands (:func:`kerasweep.sweep_config._engine.hyperband_bands`),
            if already known.
    """
    verdict = HyperbandJudge(config, bands=bands).judge(run_id, values, running)
    return verdict.stop, verdict.bands


def _visible_bands(bands: Sequence[int], thresholds: Sequence[float], sign: float) -> BandTable:
    """Bands up to and including the first that no run has reached (threshold None)."""
    out: BandTable = []
    for band, threshold in zip(bands, thresholds, strict=True):
        finite = threshold is not None and math.isfinite(threshold)
        out.append((int(band), sign * float(threshold) if finite else None))
        if not finite:
            break
    return out


def _band_history(values: Sequence[float], bands: Sequence[int]) -> Sequence[float]:
    """``values`` up to the last band they reach (empty below the first band)."""
    reached = bisect.bisect_right(bands, len(values))
    return values[: bands[reached - 1]] if reached else ()


def _judge(
    config: dict,
    bands: Sequence[int],
    values: Mapping[str, Sequence[float]],
    running: Collection[str],
    run_id: str,
) -> tuple[StopReason | None, BandTable]:
    """The engine asked about ``run_id`` (see the module notes)."""
    metric = Metric.from_config(config)
    assert metric is not None  # hyperband applies
    name, sign = metric.name, metric.sign
    candidates = []
    for other, series in values.items():
        series = series if other == run_id else _band_history(series, bands)
        if not series:
            continue
        state = "running" if other == run_id and run_id in running else "finished"
        history = [{name: value} for value in series]
        candidates.append(engine.sweep_run(name=other, state=state, config={}, history=history))
    target = next((r for r in candidates if r.name == run_id), None)
    if target is None:  # no metric row yet: nothing to judge; the table as the engine has it
        target = engine.sweep_run(name=run_id, state="running", config={}, history=[])
        candidates.append(target)
    stopped = {r.name for r in engine.stop_runs(config, candidates)}
    info = target.early_terminate_info or {}
    engine_bands = list(info.get("bands", []))
    thresholds = list(info.get("thresholds", []))
    table = _visible_bands(engine_bands, thresholds, sign)
    if run_id not in stopped:
        return None, table
    history = [sign * v for v in target.metric_history(name, filter_invalid=True)]
    reached = [(b, t) for b, t in zip(engine_bands, thresholds, strict=True) if b <= len(history)]
    band, threshold = max(reached, key=lambda bt: bt[0])
    strict = engine.filled_early_terminate(config).get("strict") is True
    value = history[band - 1] if strict else min(history)
    stop = StopReason(
        band=int(band),
        threshold=sign * float(threshold),
        value=sign * float(value),
        epoch=len(history),
    )
    return stop, table
