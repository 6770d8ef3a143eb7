"""The local agent: the offline twin of ``wandb.agent``.

For each run the agent asks W&B's engine for the next parameters given every run so far
(claimed atomically in the store, so agents in several processes share a sweep), makes the
run's handle (:class:`~kerasweep.local._run.LocalRun`) and has a runner carry it out: the
function in this process, or the sweep's program in its own
(:mod:`kerasweep.local._runners`), handed its parameters exactly as ``wandb.agent`` hands them
(:mod:`kerasweep.local._wandb_protocol`). Every ``wandb.log`` row is recorded and hyperband
is applied after each row holding the sweep metric.

wandb runs offline by default (``./wandb/offline-run-*``, syncable with ``wandb sync``), or
not at all with ``wandb_mode="disabled"``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from kerasweep import train
from kerasweep._text import format_value
from kerasweep.local._cleanup import run_cleanup
from kerasweep.local._controller import SweepProposer, propose, searched_params
from kerasweep.local._function_spec import load_function
from kerasweep.local._heartbeat import Heartbeat
from kerasweep.local._hyperband import HyperbandJudge
from kerasweep.local._interrupts import AgentTerminated, sigterm_interrupts
from kerasweep.local._run import LocalRun
from kerasweep.local._runners import FunctionRunner, ProgramOptions, ProgramRunner, Runner
from kerasweep.local._store import (
    RunRecord,
    RunState,
    Store,
    StoreLostError,
    StoreUnavailableError,
    SweepMetrics,
    SweepRecord,
)
from kerasweep.local._wandb_protocol import resolve_wandb_mode

__all__ = [
    "AgentOptions",
    "AgentResult",
    "AgentTerminated",
    "load_function",
    "local_agent",
]

logger = logging.getLogger("kerasweep.local")

# W&B's agents stop after this many failed runs in a row (WANDB_AGENT_MAX_INITIAL_FAILURES)
DEFAULT_MAX_FAILURES = 5


@dataclass
class AgentResult:
    """What one :func:`local_agent` call did.

    ``reason`` says why it ended: ``"count"`` (it ran ``count`` runs), ``"exhausted"`` (the
    sweep had no more runs: grid done, ``run_cap`` reached or ``metric.target`` met) or
    ``"failures"`` (too many failed runs in a row).
    """

    sweep_id: str
    agent_id: str
    run_ids: list[str] = field(default_factory=list)
    reason: str = "count"
    failed: int = 0


@dataclass(frozen=True)
class AgentOptions:
    """How many runs an agent does, and how it keeps its claim on them (see local_agent)."""

    count: int | None = None
    retry_failed: bool = False
    max_failures: int = DEFAULT_MAX_FAILURES
    heartbeat_interval: float = 10.0
    stale_after: float = 60.0

    def __post_init__(self) -> None:
        count = self.count
        if count is not None and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            raise ValueError(f"count must be a positive integer or None, not {count!r}")
        if self.max_failures < 1:
            raise ValueError(
                f"max_consecutive_failures must be at least 1, not {self.max_failures!r}"
            )


def _status_line(
    run: RunRecord, sweep: SweepRecord, index: int, count: int | None, seconds: float
) -> str:
    """One line saying how a run ended."""
    total = f"/{count}" if count else ""
    parts = [f"[{index}{total}]", run.id, f"{run.state:<8}"]
    metric = sweep.metric
    best = run.best(metric)
    if metric is not None and best is not None:
        epochs = len(run.metric_values)
        value = format_value(best)
        parts.append(f"{metric.name}={value} ({epochs} epoch{'s' if epochs != 1 else ''})")
    if run.state is RunState.STOPPED and run.stop:
        parts.append(f"stopped at {run.stop.sentence()}")
    if run.error:
        parts.append(run.error)
    shown = searched_params(sweep.config) or list(run.params)
    params = (f"{k}={format_value(run.params[k], width=30)}" for k in shown if k in run.params)
    parts.append(" ".join(params))
    parts.append(f"({seconds:.1f} s)")
    return "  ".join(part for part in parts if part)


class _Agent:
    """The run loop of one :func:`local_agent` call."""

    def __init__(
        self, store: Store, sweep: SweepRecord, runner: Runner, options: AgentOptions
    ) -> None:
        self.store, self.sweep, self.runner, self.options = store, sweep, runner, options
        self.current: LocalRun | None = None
        # one hyperband judge and one cache of every run's metric values for the sweep,
        # kept across runs: each question reads only what is new
        self.judge = HyperbandJudge(sweep.config)
        self.metrics = SweepMetrics(sweep.id)

    def run(self) -> AgentResult:
        store, sweep, options = self.store, self.sweep, self.options
        retry_upto = None
        if options.retry_failed:
            retry_upto = max((run.seq for run in store.runs(sweep.id)), default=0)
        agent_id = store.register_agent(sweep.id)
        result = AgentResult(sweep_id=sweep.id, agent_id=agent_id)
        proposer = SweepProposer(sweep, retry_upto=retry_upto)  # kept across claims
        heartbeat = Heartbeat(store, agent_id, options.heartbeat_interval)
        heartbeat.start()
        failures_in_a_row = 0
        session = ExitStack()
        try:
            clean_up = session.enter_context(run_cleanup())
            session.enter_context(self.runner.session())
            while options.count is None or len(result.run_ids) < options.count:
                record = store.claim_run(
                    sweep.id,
                    agent_id,
                    proposer,
                    stale_after=options.stale_after,
                )
                if record is None:
                    result.reason = "exhausted"
                    if not any(r.state is RunState.RUNNING for r in store.runs(sweep.id)):
                        store.set_sweep_state(sweep.id, "finished")
                    break
                result.run_ids.append(record.id)
                run = LocalRun(
                    store, sweep, record, agent_id=agent_id, judge=self.judge, metrics=self.metrics
                )
                heartbeat.local_run = self.current = run
                started = time.monotonic()
                try:
                    state = self.runner.run(run)
                finally:
                    heartbeat.local_run = None
                    clean_up()
                seconds = time.monotonic() - started
                ended = store.run(run.id)
                self.current = None
                logger.info(_status_line(ended, sweep, len(result.run_ids), options.count, seconds))
                if RunState(state).errored:
                    result.failed += 1
                    failures_in_a_row += 1
                    if failures_in_a_row >= options.max_failures:
                        logger.error(
                            f"{failures_in_a_row} runs failed in a row: agent stops "
                            f"(max_consecutive_failures={options.max_failures})"
                        )
                        result.reason = "failures"
                        break
                else:
                    failures_in_a_row = 0
            else:
                self._mark_finished_if_done()
        except StoreUnavailableError as err:
            raise self._lost(err) from None
        finally:
            try:
                session.close()
            finally:
                heartbeat.stop()
                self._end_agent(agent_id)
        return result

    def _lost(self, err: StoreUnavailableError) -> StoreLostError:
        """The one-line error of an agent whose store went away mid-sweep and stayed away."""
        away = self.store.away_for
        line = f"{err} (for {away:.0f} s)" if away is not None else str(err)
        run = self.current
        if run is not None:
            unwritten = run.recorder.unwritten
            rows = f" ({unwritten} row{'s' if unwritten != 1 else ''} not written)"
            line += (
                f"; the agent stops; its run {run.id}{rows if unwritten else ''} is marked "
                "crashed once the server is back"
            )
        else:
            line += "; the agent stops"
        return StoreLostError(line)

    def _end_agent(self, agent_id: str) -> None:
        try:
            self.store.end_agent(agent_id)
        except StoreUnavailableError as err:  # its heartbeat goes stale instead
            logger.debug("agent %s not marked ended: %s", agent_id, err)

    def _mark_finished_if_done(self) -> None:
        """After ``count`` runs: mark the sweep finished if it has nothing left to give."""
        config = self.sweep.config
        metric = config.get("metric") if isinstance(config.get("metric"), Mapping) else {}
        if not (config.get("method") == "grid" or config.get("run_cap") or metric.get("target")):
            return  # random and bayes go on forever
        runs = self.store.runs(self.sweep.id)
        if not any(r.state is RunState.RUNNING for r in runs) and propose(self.sweep, runs) is None:
            self.store.set_sweep_state(self.sweep.id, "finished")


def _runner(
    store: Store,
    sweep: SweepRecord,
    function: Callable[[], Any] | None,
    wandb_mode: str,
    program: ProgramOptions,
) -> Runner:
    """The sweep's program if it has one and no function is given, else the function."""
    if function is None and sweep.config.get("program"):
        return ProgramRunner(
            sweep, store.location, wandb_mode, program, reconnect_timeout=store.reconnect_timeout
        )
    return FunctionRunner(function or train.sweep_train, wandb_mode)


def local_agent(
    sweep_id: str,
    function: Callable[[], Any] | str | None = None,
    count: int | None = None,
    *,
    db: str | os.PathLike | None = None,
    wandb_mode: str | None = None,
    retry_failed: bool = False,
    max_consecutive_failures: int = DEFAULT_MAX_FAILURES,
    heartbeat_interval: float = 10.0,
    stale_after: float = 60.0,
    stop_grace: float = 10.0,
    kill_delay: float = 30.0,
    program_output: bool = True,
    reconnect_timeout: float = 60.0,
) -> AgentResult:
    """Run a local sweep's runs in this process, the offline twin of ``wandb.agent``.

    Any number of agents may work on one sweep, one per process (say one per GPU): the
    store gives each run to exactly one of them.

    Between runs the agent keeps wandb's service process running (each ``wandb.init`` still
    reads the run's settings afresh), lists the installed packages for the runs'
    ``requirements.txt`` once, and collects garbage only among objects newer than the
    previous run (:mod:`kerasweep.local._wandb_session`, :mod:`kerasweep.local._cleanup`).
    What each run records is unchanged.

    Ctrl-C (``KeyboardInterrupt``) or, in the main thread of a process that has no SIGTERM
    handler of its own, SIGTERM (:class:`AgentTerminated`) ends the agent: the run in
    progress is marked crashed ("interrupted"), keeping the rows it logged, and the
    exception propagates.

    Args:
        sweep_id: A sweep made by :func:`kerasweep.local_sweep` (or ``kerasweep sweep``).
        function: What one run does (called with no arguments; reads its parameters with
            ``wandb.init(config=defaults)``), or ``"module:callable"``. Default: the
            sweep's ``program`` run as a command if it has one, else
            :func:`kerasweep.sweep_train`.
        count: How many runs to do; None runs until the sweep has no more (forever for
            random and bayes, as W&B).
        db: Store path (default ``$KERASWEEP_DB`` or ``./kerasweep.db``).
        wandb_mode: ``"offline"`` (default; runs stay syncable with ``wandb sync``) or
            ``"disabled"``. None takes ``$WANDB_MODE`` if it says disabled.
        retry_failed: First run again the parameters of the sweep's failed and crashed runs
            (each once), then go on with new ones.
        max_consecutive_failures: Stop after this many failed runs in a row (W&B: 5).
        heartbeat_interval: Seconds between heartbeats of this agent and its run.
        stale_after: A running run whose agent sent no heartbeat for this long, or whose
            agent process on this host is gone, is marked crashed.
        stop_grace: Program mode: seconds a stopped program may take to end by itself
            before it gets SIGTERM.
        kill_delay: Program mode: seconds between SIGTERM and SIGKILL.
        program_output: Program mode: echo the program's output.
        reconnect_timeout: PostgreSQL: seconds the agent keeps retrying while the server is
            away (a restart is ridden out). If it stays away longer, the run in progress is
            asked to stop, the rows it logged are kept for one more try, and the agent ends
            with :class:`~kerasweep.local._store.StoreLostError`.

    Returns:
        What the agent did (:class:`AgentResult`).

    Raises:
        StoreLostError: The store's server went away mid-sweep and stayed away; what was
            written before is kept.

    Example:
        >>> def train():
        ...     import wandb
        ...     wandb.init(config={"lr": 0.1})
        ...     wandb.log({"val_loss": wandb.config.lr})
        >>> local_agent(sweep_id, train, count=2)  # doctest: +SKIP
    """
    options = AgentOptions(
        count=count,
        retry_failed=retry_failed,
        max_failures=max_consecutive_failures,
        heartbeat_interval=heartbeat_interval,
        stale_after=stale_after,
    )
    mode = resolve_wandb_mode(wandb_mode)
    if isinstance(function, str):
        function = load_function(function)
    store = Store(db, create=False, reconnect_timeout=reconnect_timeout)
    try:
        sweep = store.sweep(sweep_id)
        program = ProgramOptions(stop_grace, kill_delay, echo=program_output)
        agent = _Agent(store, sweep, _runner(store, sweep, function, mode, program), options)
        with sigterm_interrupts():
            return agent.run()
    finally:
        store.close()
