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

import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kerasweep import train
from kerasweep._current_run import CheckpointPlace
from kerasweep._quiet import import_tensorflow_quietly, quiet_wandb
from kerasweep.local._cleanup import run_cleanup
from kerasweep.local._controller import SweepProposer, propose
from kerasweep.local._function_spec import load_function
from kerasweep.local._heartbeat import Heartbeat
from kerasweep.local._hyperband import HyperbandJudge
from kerasweep.local._interrupts import AgentTerminated, sigterm_interrupts
from kerasweep.local._notebook import NotebookProgress, in_notebook
from kerasweep.local._progress import ObservedRun, ProgressObserver, StatusLines
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

#: the directory of the sweep's checkpoints, when not given (PostgreSQL stores need one)
CHECKPOINT_ROOT_ENV = "KERASWEEP_CHECKPOINT_DIR"

# W&B's agents stop after this many failed runs in a row (WANDB_AGENT_MAX_INITIAL_FAILURES)
DEFAULT_MAX_FAILURES = 5


@dataclass
class AgentResult:
    """What one :func:`local_agent` call did.

    ``reason`` says why it ended: ``"count"`` (it ran ``count`` runs), ``"exhausted"`` (the
    sweep had no more runs: grid done, ``run_cap`` reached or ``metric.target`` met) or
    ``"failures"`` (too many failed runs in a row) or ``"time_limit"`` (its time budget
    was spent).
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
    checkpoint_every: int = 1
    checkpoint_dir: str | os.PathLike | None = None
    time_limit: float | None = None
    resume_preempted: bool = True

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
        every = self.checkpoint_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ValueError(f"checkpoint_every must be an integer >= 0, not {every!r}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ValueError(f"time_limit must be positive seconds, not {self.time_limit!r}")


class _Agent:
    """The run loop of one :func:`local_agent` call."""

    def __init__(
        self,
        store: Store,
        sweep: SweepRecord,
        runner: Runner,
        options: AgentOptions,
        progress: ProgressObserver,
    ) -> None:
        self.store, self.sweep, self.runner, self.options = store, sweep, runner, options
        self.progress = progress
        self.current: LocalRun | None = None
        self.warned_metric = False
        self.checkpoints = checkpoint_root(store, options)
        # one hyperband judge and one cache of every run's metric values for the sweep,
        # kept across runs: each question reads only what is new
        self.judge = HyperbandJudge(sweep.config)
        self.metrics = SweepMetrics(sweep.id)

    def _rows_if_metric_missing(self, ended: RunRecord) -> RunRecord:
        """``ended`` with its rows when it ended without a value of the sweep metric, so that
        :meth:`RunRecord.metric_not_logged` can say which keys it logged instead (the rows
        are read only then)."""
        if self.sweep.metric is None or ended.metric_values or not ended.state.completed:
            return ended
        return replace(ended, history=tuple(self.store.history(ended.id)))

    def _checkpoint_of(self, run_id: str) -> CheckpointPlace | None:
        if self.checkpoints is None or self.options.checkpoint_every == 0:
            return None
        directory = self.checkpoints / self.sweep.id / run_id
        return CheckpointPlace(str(directory), self.options.checkpoint_every)

    def _resume_epoch(self, run: RunRecord) -> int:
        """The epoch a preempted run goes on at: its checkpoint's epochs done, else 0."""
        place = self._checkpoint_of(run.id)
        if place is None or not Path(place.directory).is_dir():
            return 0
        from kerasweep._checkpoints import RunCheckpoint

        return RunCheckpoint(place.directory, place.every).initial_epoch

    def _remove_checkpoint(self, place: CheckpointPlace | None) -> None:
        """An ended run's checkpoints are deleted (after its final state is written)."""
        if place is None or not Path(place.directory).is_dir():
            return
        from kerasweep._checkpoints import RunCheckpoint

        try:
            RunCheckpoint(place.directory, place.every).remove()
        except OSError as err:
            logger.warning("kerasweep: checkpoint %s not removed: %s", place.directory, err)

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
        began = time.monotonic()
        session = ExitStack()
        try:
            clean_up = session.enter_context(run_cleanup())
            session.enter_context(self.runner.session())
            while options.count is None or len(result.run_ids) < options.count:
                if (
                    options.time_limit is not None
                    and time.monotonic() - began >= options.time_limit
                ):
                    result.reason = "time_limit"
                    logger.info("kerasweep: time limit reached: the agent takes no new run")
                    break
                record = store.claim_run(
                    sweep.id,
                    agent_id,
                    proposer,
                    stale_after=options.stale_after,
                    resume=self._resume_epoch if options.resume_preempted else None,
                )
                if record is None:
                    result.reason = "exhausted"
                    if not any(_unended(r) for r in store.runs(sweep.id)):
                        store.set_sweep_state(sweep.id, "finished")
                    break
                result.run_ids.append(record.id)
                run = ObservedRun(
                    store,
                    sweep,
                    record,
                    agent_id=agent_id,
                    observer=self.progress,
                    judge=self.judge,
                    metrics=self.metrics,
                )
                run.checkpoint = self._checkpoint_of(run.id)
                if record.resumed_at:
                    logger.info("kerasweep: run %s %s", run.id, record.resumed)
                heartbeat.local_run = self.current = run
                index = len(result.run_ids)
                self.progress.run_started(sweep, record, index, options.count)
                started = time.monotonic()
                try:
                    state = self.runner.run(run)
                finally:
                    heartbeat.local_run = None
                    clean_up()
                seconds = time.monotonic() - started
                if RunState(state) is not RunState.PREEMPTED:
                    self._remove_checkpoint(run.checkpoint)
                ended = self._rows_if_metric_missing(store.run(run.id))
                self.current = None
                self.progress.run_ended(sweep, ended, index, options.count, seconds)
                missing = ended.metric_not_logged(sweep.metric)
                if missing and not self.warned_metric:  # once per sweep, not per run
                    self.warned_metric = True
                    logger.warning(f"warning: {missing}")
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
                "preempted (resumable) once the server is back"
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
        if not any(_unended(r) for r in runs) and propose(self.sweep, runs) is None:
            self.store.set_sweep_state(self.sweep.id, "finished")


def _unended(run: RunRecord) -> bool:
    """Running, or preempted (to be resumed): the sweep is not finished."""
    return run.state in (RunState.RUNNING, RunState.PREEMPTED)


def checkpoint_root(store: Store, options: AgentOptions) -> Path | None:
    """Where the sweep's runs keep their checkpoints, or None (said in one line).

    ``options.checkpoint_dir``, else ``$KERASWEEP_CHECKPOINT_DIR``, else beside an SQLite
    store (``<store>.checkpoints``). A PostgreSQL store has no default: its agents may run
    on several machines, so the directory must be one they all reach.
    """
    if options.checkpoint_every == 0:
        return None
    given = options.checkpoint_dir or os.environ.get(CHECKPOINT_ROOT_ENV)
    if given:
        root = Path(given).expanduser()
    elif store.location.path is not None:
        root = store.location.path.with_name(store.location.path.name + ".checkpoints")
    else:
        logger.warning(
            "kerasweep: runs are not checkpointed (an interrupted run starts again from "
            "epoch 0): a PostgreSQL store needs a checkpoint directory every agent can reach "
            "(--checkpoint-dir or $%s)",
            CHECKPOINT_ROOT_ENV,
        )
        return None
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        logger.warning(
            "kerasweep: runs are not checkpointed (an interrupted run starts again from "
            "epoch 0): checkpoint directory %s is not writable (%s)",
            root,
            err.strerror or err,
        )
        return None
    return root


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
    progress: ProgressObserver | None = None,
    verbose: bool | None = None,
    checkpoint_every: int = 1,
    checkpoint_dir: str | os.PathLike | None = None,
    time_limit: float | None = None,
    resume_preempted: bool = True,
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
    progress is marked ``preempted`` ("interrupted"), keeping the rows it logged, and a
    ``KeyboardInterrupt`` saying so propagates (TensorFlow's frames left out), or the
    :class:`AgentTerminated`. So is a run whose agent died (``kill -9``, a lost node: its
    heartbeat goes stale) or lost its store. The next agent that asks for work resumes
    preempted runs before new ones: same id and parameters, from the run's last checkpoint
    (``sweep_train`` saves one every ``checkpoint_every`` epochs; see docs/resuming.md), its
    rows from that epoch on replaced.

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
            agent process on this host is gone, is marked preempted (and resumed).
        stop_grace: Program mode: seconds a stopped program may take to end by itself
            before it gets SIGTERM.
        kill_delay: Program mode: seconds between SIGTERM and SIGKILL.
        program_output: Program mode: echo the program's output.
        reconnect_timeout: PostgreSQL: seconds the agent keeps retrying while the server is
            away (a restart is ridden out). If it stays away longer, the run in progress is
            asked to stop, the rows it logged are kept for one more try, and the agent ends
            with :class:`~kerasweep.StoreLostError`.
        progress: Told of each run's start, rows and end, and of the agent's end
            (:class:`~kerasweep.local.ProgressObserver`). Default: in a notebook,
            one display updated in place, ending with the leaderboard
            (:class:`~kerasweep.local._notebook.NotebookProgress`); elsewhere one line per run
            on the ``kerasweep.local`` logger.
        verbose: Show what the runs print: Keras' progress bars (of ``sweep_train``),
            wandb's banners and TensorFlow's start-up logs. None: quiet in a notebook,
            shown elsewhere. Quiet, TensorFlow is imported before the first run, its
            start-up lines silenced (as ``kerasweep run`` does).
        checkpoint_every: Runs save a checkpoint every this many epochs (0: never); a
            run's ``checkpoint_every`` config key wins.
        checkpoint_dir: Where checkpoints go (``<dir>/<sweep>/<run>``); default
            ``$KERASWEEP_CHECKPOINT_DIR``, else beside an SQLite store
            (``<store>.checkpoints``). A PostgreSQL store needs one.
        time_limit: Seconds after which the agent takes no new run (the run in progress
            goes on to its end).
        resume_preempted: Take the sweep's preempted runs before new ones (False: leave
            them to other agents).

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
        checkpoint_every=checkpoint_every,
        checkpoint_dir=checkpoint_dir,
        time_limit=time_limit,
        resume_preempted=resume_preempted,
    )
    mode = resolve_wandb_mode(wandb_mode)
    if isinstance(function, str):
        function = load_function(function)
    notebook = in_notebook()
    if progress is None:
        progress = NotebookProgress() if notebook else StatusLines()
    quiet = not verbose if verbose is not None else notebook
    store = Store(db, create=False, reconnect_timeout=reconnect_timeout)
    try:
        sweep = store.sweep(sweep_id)
        if quiet and (function is not None or not sweep.config.get("program")):
            # TensorFlow's start-up lines bypass its log level: import it with them silenced
            with contextlib.suppress(Exception):  # a broken install fails each run, with its error
                import_tensorflow_quietly()
            if function is None or function is train.sweep_train:  # no progress bars
                function = functools.partial(train.sweep_train, {"verbose": 0})
        program = ProgramOptions(stop_grace, kill_delay, echo=program_output)
        runner = _runner(store, sweep, function, mode, program)
        agent = _Agent(store, sweep, runner, options, progress)
        with sigterm_interrupts(), quiet_wandb() if quiet else contextlib.nullcontext():
            try:
                result = agent.run()
            except KeyboardInterrupt as err:
                _tell_end(progress, store, sweep, "interrupted")
                if isinstance(err, AgentTerminated):
                    raise
                raise KeyboardInterrupt(_interrupted_line(store, sweep, agent)) from None
        _tell_end(progress, store, sweep, result.reason)
        return result
    finally:
        store.close()


def _interrupted_line(store: Store, sweep: SweepRecord, agent: _Agent) -> str:
    """``sweep ID interrupted; run ID-3 marked preempted, its rows kept``."""
    run, where = agent.current, ""
    if run is not None:
        try:
            state = store.run(run.id).state.value
        except Exception:  # the store went away too: say what the run was
            state = "interrupted"
        where = f"; run {run.id} marked {state}, its rows kept"
    return f"sweep {sweep.id} interrupted{where}"


def _tell_end(progress: ProgressObserver, store: Store, sweep: SweepRecord, reason: str) -> None:
    """The observer's last event, with every run of the sweep (never raises)."""
    try:
        progress.sweep_ended(sweep, store.runs(sweep.id), reason)
    except Exception as err:  # the sweep's outcome matters more than its display
        logger.debug("progress display failed at the end: %s", err)
