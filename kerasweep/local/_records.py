"""The sweep model: what a store holds, as frozen records.

:class:`SweepRecord` is a stored sweep (its config and seed), :class:`RunRecord` one of its
runs, :class:`Band` a hyperband threshold (a :class:`~kerasweep.local._sweep.Sweep` holds all
three, as :func:`kerasweep.load_sweep` returns it). A run's :class:`RunState` is an enum whose
members are also plain strings, so ``run.state == "finished"`` holds.

Example:
    >>> RunState("stopped").engine_state, RunState.STOPPED.completed
    ('finished', True)
    >>> run = RunRecord(id="a1", seq=1, sweep_id="s", name="s-1", state=RunState.FINISHED,
    ...                 params={"lr": 0.1}, history=({"loss": 2.0}, {"loss": 1.0, "acc": 0.5}))
    >>> run.summary
    {'loss': 1.0, 'acc': 0.5}

"Best" is the sweep's :class:`~kerasweep.sweep_config.Metric` deciding, everywhere:
:meth:`RunRecord.best`, :func:`best_run` and :func:`ranked`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from kerasweep._suggest import did_you_mean
from kerasweep._text import format_value
from kerasweep.sweep_config._metric import Metric

__all__ = [
    "Band",
    "NewRun",
    "RunRecord",
    "RunState",
    "StopReason",
    "SweepRecord",
    "best_run",
    "flatten",
    "logged_keys",
    "not_logged_sentence",
    "parse_time",
    "ranked",
    "sweep_state",
]


class RunState(str, enum.Enum):
    """Where a run is: ``pending``, ``running`` or one of the terminal states."""

    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"  # ended early by hyperband
    FAILED = "failed"  # its function raised, or its program exited non-zero
    CRASHED = "crashed"  # interrupted again and again at one epoch; or an old store's dead run
    PREEMPTED = "preempted"  # interrupted (signal, dead agent, lost store): resumed next

    __str__ = str.__str__
    __format__ = str.__format__

    @property
    def terminal(self) -> bool:
        """True once the run has ended, however it ended (a preempted run has not: an
        agent resumes it)."""
        return self not in (RunState.PENDING, RunState.RUNNING, RunState.PREEMPTED)

    @property
    def completed(self) -> bool:
        """True for runs that ended by themselves (finished, or stopped by hyperband)."""
        return self in (RunState.FINISHED, RunState.STOPPED)

    @property
    def errored(self) -> bool:
        """True for runs that ended in error: failed, or crashed (retried on request)."""
        return self in (RunState.FAILED, RunState.CRASHED)

    @classmethod
    def outcome(cls, value: str) -> RunState:
        """The state an agent ends a run with: ``finished``, ``failed``, ``crashed`` or
        ``preempted`` (ValueError otherwise; a finished run that hyperband stopped is
        stored ``stopped``).

        >>> RunState.outcome("failed")
        <RunState.FAILED: 'failed'>
        """
        try:
            state = cls(value)
        except ValueError:
            state = None
        if state not in (cls.FINISHED, cls.FAILED, cls.CRASHED, cls.PREEMPTED):
            raise ValueError(
                f"outcome must be finished, failed, crashed or preempted, not {value!r}"
            )
        return state

    @property
    def engine_state(self) -> str:
        """The state W&B's engine is shown: a stopped run's metric is a real observation."""
        return "finished" if self is RunState.STOPPED else self.value


@dataclass(frozen=True)
class StopReason:
    """Why hyperband stopped a run: at ``band``, its ``value`` was worse than ``threshold``.

    ``epoch`` counts the metric rows the run had logged when stopped (hyperband iterations).
    Values are in the metric's own units (not negated for ``maximize``).
    """

    band: int
    threshold: float
    value: float
    epoch: int

    def sentence(self, goal: Literal["minimize", "maximize"] | None = None) -> str:
        """The reason, said: the band, the run's value and the band's threshold.

        With the metric's ``goal``, it says which way the value was worse.

        >>> stop = StopReason(band=2, threshold=0.3, value=0.8, epoch=2)
        >>> stop.sentence(), stop.sentence("minimize")
        ('band 2: 0.8 vs threshold 0.3', 'band 2: 0.8 > threshold 0.3')
        """
        relation = "vs" if goal is None else (">" if goal == "minimize" else "<")
        value, threshold = format_value(self.value), format_value(self.threshold)
        return f"band {format_value(self.band)}: {value} {relation} threshold {threshold}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "band": self.band,
            "threshold": self.threshold,
            "value": self.value,
            "epoch": self.epoch,
        }


@dataclass(frozen=True)
class Band:
    """A hyperband band (``min_iter * eta**k`` metric rows) and its latest threshold.

    ``threshold`` is None while no run has reached the band.
    """

    band: int
    threshold: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"band": self.band, "threshold": self.threshold}


@dataclass(frozen=True)
class NewRun:
    """What a proposer hands ``Store.claim_run``: the parameters of the run to start."""

    params: dict
    retry_of: str | None = None
    search_info: dict | None = None


@dataclass(frozen=True)
class RunRecord:
    """One stored run.

    ``metric_values`` are its finite sweep-metric values in log order. ``history`` holds
    every row it logged, or is None when the run was read without them (claims and
    hyperband decisions need only the metric values).
    """

    id: str
    seq: int
    sweep_id: str
    name: str
    state: RunState
    params: dict
    agent_id: str | None = None
    retry_of: str | None = None
    retried: bool = False
    error: str | None = None
    stop: StopReason | None = None
    created_at: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    metric_values: list[float] = field(default_factory=list)
    history: tuple[dict, ...] | None = None
    resumed_at: tuple[int, ...] = ()  # the epoch of each resume, in order

    def __post_init__(self) -> None:
        if not isinstance(self.state, RunState):
            object.__setattr__(self, "state", RunState(self.state))

    @property
    def summary(self) -> dict[str, Any] | None:
        """The last logged value of each key (wandb's default run summary); None without
        its history."""
        if self.history is None:
            return None
        summary: dict[str, Any] = {}
        for row in self.history:
            summary.update(row)
        return summary

    @property
    def resumed(self) -> str | None:
        """Where the run was resumed, said: ``"resumed at epoch 6"`` (None if never).

        >>> RunRecord(id="a", seq=1, sweep_id="s", name="s-1", state="finished", params={},
        ...           resumed_at=(3, 6)).resumed
        'resumed at epochs 3, 6'
        """
        if not self.resumed_at:
            return None
        plural = "s" if len(self.resumed_at) > 1 else ""
        return f"resumed at epoch{plural} " + ", ".join(str(e) for e in self.resumed_at)

    @property
    def epochs(self) -> int:
        """Rows holding a finite sweep metric (hyperband's iterations)."""
        return len(self.metric_values)

    @property
    def seconds(self) -> float | None:
        """Run time from start to end (None while running or when unknown)."""
        start, end = parse_time(self.started_at), parse_time(self.ended_at)
        if start is None or end is None:
            return None
        return max((end - start).total_seconds(), 0.0)

    def best(self, metric: Metric | None) -> float | None:
        """The best finite value of the sweep metric the run logged (None if none)."""
        return None if metric is None else metric.best(self.metric_values)

    def __repr__(self) -> str:
        """Short, without the history: ``<RunRecord k3x9q2ab-1 (g6b4xxsw) finished, 3
        epochs, learning_rate=0.01>``."""
        epochs = f"{self.epochs} epoch{'' if self.epochs == 1 else 's'}"
        params = " ".join(f"{k}={format_value(v, width=24)}" for k, v in self.params.items())
        return f"<RunRecord {self.name} ({self.id}) {self.state.value}, {epochs}, {params}>"

    def metric_not_logged(self, metric: Metric | None) -> str | None:
        """The sentence saying this run ended by itself without ever logging the sweep
        metric (in no row by :meth:`Metric.raw_in`), naming the keys it did log and the
        likely one; None when it logged it, has not ended so, or was read without rows.

        >>> run = RunRecord(id="a1", seq=1, sweep_id="s", name="s-1", state="finished",
        ...                 params={}, history=({"loss": 2.0, "vl": 1.0},))
        >>> print(run.metric_not_logged(Metric("vls")))
        run a1 never logged the sweep metric 'vls'; it logged loss, vl (did you mean 'vl'?)
        >>> run.metric_not_logged(Metric("vl")) is None
        True
        """
        if metric is None or self.history is None or not self.state.completed:
            return None
        if any(metric.raw_in(row) is not None for row in self.history):
            return None
        return not_logged_sentence(metric, f"run {self.id}", logged_keys(self.history))


@dataclass(frozen=True)
class SweepRecord:
    """One stored sweep: its config (W&B's format) and search seed."""

    id: str
    name: str | None
    project: str | None
    config: dict
    state: str
    created_at: str
    seed: int | None = None

    @property
    def method(self) -> str:
        return str(self.config.get("method"))

    @property
    def metric(self) -> Metric | None:
        """The sweep metric (goal defaults to minimize), or None when it names none."""
        return Metric.from_config(self.config)


def sweep_state(stored: str, live_agents: int) -> str:
    """A sweep's state as ``ls``, ``show``, the report and the dashboard show it.

    ``finished`` once the store says it has no more runs to give (grid done, ``run_cap``
    reached, ``metric.target`` met); else ``running`` while an agent works on it (a live
    heartbeat); else ``idle``: nothing runs it now, and an agent would go on.

    >>> sweep_state("running", 0), sweep_state("running", 2), sweep_state("finished", 1)
    ('idle', 'running', 'finished')
    """
    if stored == "finished":
        return "finished"
    return "running" if live_agents > 0 else "idle"


def best_run(runs: Iterable[RunRecord], metric: Metric | None) -> RunRecord | None:
    """The best run of a sweep, the one rule ``kerasweep best``, ``ls``, ``show``, the report
    and the dashboard share: the finished or stopped run with the best finite metric value
    (the first of equals). Failed, crashed and running runs never count.

    >>> runs = [RunRecord(id=i, seq=n, sweep_id="s", name=i, state=state, params={},
    ...                   metric_values=[v]) for n, (i, state, v) in
    ...         enumerate([("a", "finished", 0.3), ("b", "crashed", 0.1)])]
    >>> best_run(runs, Metric("val_loss")).id
    'a'
    """
    if metric is None:
        return None
    best: RunRecord | None = None
    best_value: float | None = None
    for run in runs:
        value = run.best(metric) if run.state.completed else None
        if metric.better(value, best_value):
            best, best_value = run, value
    return best


def ranked(runs: Iterable[RunRecord], metric: Metric | None) -> list[RunRecord]:
    """The runs best metric value first (the first of equals first); runs without a value
    after, in their order. Without a metric, the runs in their order.

    >>> runs = [RunRecord(id=i, seq=n, sweep_id="s", name=i, state="finished", params={},
    ...                   metric_values=v) for n, (i, v) in enumerate([("a", [0.3]), ("b", []),
    ...                                                               ("c", [0.1])])]
    >>> [run.id for run in ranked(runs, Metric("val_loss"))]
    ['c', 'a', 'b']
    """
    runs = list(runs)
    if metric is None:
        return runs
    values = [run.best(metric) for run in runs]
    scored = sorted(
        (i for i, v in enumerate(values) if v is not None),
        key=lambda i: (metric.sign * values[i], i),
    )
    missing = [run for run, value in zip(runs, values, strict=True) if value is None]
    return [runs[i] for i in scored] + missing


def logged_keys(rows: Any) -> list[str]:
    """The keys of logged rows, each once: plain names first, then ``epoch/*`` and the like,
    each group in the order they were first logged."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(str(key) for key in row))
    return sorted(seen, key=lambda key: "/" in key)


def not_logged_sentence(
    metric: Metric, who: str, keys: list[str], *, they: str = "it", shown: int = 12
) -> str:
    """``{who} never logged the sweep metric 'm'; it logged a, b (did you mean 'x'?)``.

    >>> not_logged_sentence(Metric("acc"), "run a1", [])
    "run a1 never logged the sweep metric 'acc'; it logged nothing"
    """
    listed = ", ".join(keys[:shown])
    if len(keys) > shown:
        listed += f" and {len(keys) - shown} more"
    logged = f"{they} logged {listed or 'nothing'}"
    return (
        f"{who} never logged the sweep metric {metric.name!r}; "
        f"{logged}{did_you_mean(metric.name, keys)}"
    )


def parse_time(text: Any) -> datetime | None:
    """An ISO time as an aware datetime (UTC when it names no zone); None if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        time = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return time if time.tzinfo else time.replace(tzinfo=timezone.utc)


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level, their keys joined by dots.

    >>> flatten({"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}}, "params.")
    {'params.lr': 0.1, 'params.opt.name': 'adam', 'params.opt.beta': 0.9}
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
