"""The local agent: the offline twin of ``wandb.agent``.

For each run the agent asks W&B's engine for the next parameters given every run so far
(claimed atomically in the store, so agents in several processes share a sweep), hands them
to the function exactly as ``wandb.agent`` does, records every ``wandb.log`` row and applies
hyperband after each row holding the sweep metric.

The protocol ``wandb.agent`` uses, checked against wandb 0.31 offline:

- the parameters are written as ``{key: {value: v}}`` YAML and ``WANDB_SWEEP_PARAM_PATH``
  points to the file; ``wandb.init(config=defaults)`` merges them over the defaults and locks
  those keys (offline, a later ``config.update`` of them is ignored with a warning; with
  ``mode="disabled"`` it raises).
- ``WANDB_RUN_ID`` becomes the run's id. ``wandb.agent`` calls ``wandb.teardown()`` before
  each run so the next ``wandb.init`` reads these variables again; this agent makes wandb
  forget only the settings it read, keeping its service between runs (see
  :mod:`kerasweep.local.wandb_session`), and tears wandb down when it ends.
- ``WANDB_SWEEP_ID`` is *not* set: with it, ``wandb.init`` ignores its ``project``,
  ``entity`` and ``id`` arguments and records the sweep id in the run, and ``wandb sync``
  then fails with "sweep ... not found" (404) because the sweep exists only locally. Runs
  are labelled with the sweep instead by group (``sweep-<id>``, ``WANDB_RUN_GROUP``) and
  name (``<sweep id>-<n>``, ``WANDB_NAME``); ``wandb.init`` arguments still win.
  ``KERASWEEP_SWEEP_ID`` and ``KERASWEEP_RUN_ID`` name the sweep and run for the function.

wandb runs offline by default (``./wandb/offline-run-*``, syncable with ``wandb sync``), or
not at all with ``wandb_mode="disabled"``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasweep.local import wandb_session
from kerasweep.local.cleanup import run_cleanup
from kerasweep.local.controller import propose, searched_params
from kerasweep.local.run import LocalRun
from kerasweep.local.store import RunRecord, Store, SweepRecord

__all__ = ["AgentResult", "AgentTerminated", "load_function", "local_agent"]

logger = logging.getLogger("kerasweep.local")

WANDB_MODES = ("offline", "disabled")
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


class AgentTerminated(KeyboardInterrupt):
    """SIGTERM reached a local agent: handled as Ctrl-C is (its run is marked, it ends)."""


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Inside the block, the first SIGTERM raises :class:`AgentTerminated` in this thread.

    Python's default SIGTERM ends the process on the spot: the run in progress would stay
    ``running`` until another agent found its process gone. Applies only in the main thread
    and when the process has not set a SIGTERM handler of its own; later SIGTERMs are
    ignored while the run is being marked.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    fired = False

    def terminate(signum, frame) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise AgentTerminated("SIGTERM")

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupted(err: KeyboardInterrupt) -> str:
    """The error recorded for a run that Ctrl-C or SIGTERM ended."""
    why = "SIGTERM" if isinstance(err, AgentTerminated) else "KeyboardInterrupt"
    return f"crashed: interrupted ({why})"


def load_function(spec: str) -> Callable[[], Any]:
    """The callable named by ``module:callable`` or ``path/to/file.py:callable``.

    >>> load_function("os.path:basename") is os.path.basename
    True
    """
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"function {spec!r}: expected module:callable or file.py:callable")
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            path = Path(module_name)
            if not path.is_file():
                raise ValueError(f"function {spec!r}: no file {module_name}")
            name = f"_kerasweep_function_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"function {spec!r}: cannot import {module_name}: {err}") from err
    function = getattr(module, attr, None)
    if not callable(function):
        raise ValueError(f"function {spec!r}: {module_name} has no callable {attr!r}")
    return function


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


@contextmanager
def _environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables inside the block."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class _Heartbeat(threading.Thread):
    """Refreshes the agent's and its run's heartbeat every ``interval`` seconds."""

    def __init__(self, store: Store, agent_id: str, interval: float) -> None:
        super().__init__(name="kerasweep-heartbeat", daemon=True)
        self.store, self.agent_id, self.interval = store, agent_id, interval
        self.local_run: LocalRun | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            local_run = self.local_run
            run_id = local_run.id if local_run is not None else None
            try:
                if not self.store.heartbeat(self.agent_id, run_id) and local_run is not None:
                    local_run.request_stop()  # the run is no longer this agent's
            except Exception:  # a busy store must not kill the heartbeat
                logger.debug("heartbeat failed", exc_info=True)
        self.store.close()

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=self.interval + 5)


def _status_line(
    run: RunRecord, sweep: SweepRecord, index: int, count: int | None, seconds: float
) -> str:
    """One line saying how a run ended."""
    total = f"/{count}" if count else ""
    parts = [f"[{index}{total}]", run.id, f"{run.state:<8}"]
    metric = sweep.metric
    best = run.best(metric)
    if metric is not None and best is not None:
        epochs = run.epochs
        parts.append(f"{metric.name}={best:.4g} ({epochs} epoch{'s' if epochs != 1 else ''})")
    if run.state == "stopped" and run.stop:
        parts.append(
            f"stopped at band {run.stop.band}: {run.stop.value:.4g} vs threshold "
            f"{run.stop.threshold:.4g}"
        )
    if run.error:
        parts.append(run.error)
    shown = searched_params(sweep.config) or list(run.params)
    parts.append(" ".join(f"{k}={_short(run.params[k])}" for k in shown if k in run.params))
    parts.append(f"({seconds:.1f} s)")
    return "  ".join(part for part in parts if part)


def _short(value: Any) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 30 else text[:27] + "..."


class _Agent:
    def __init__(
        self,
        store: Store,
        sweep: SweepRecord,
        function: Callable[[], Any] | None,
        *,
        count: int | None,
        wandb_mode: str,
        retry_failed: bool,
        max_failures: int,
        heartbeat_interval: float,
        stale_after: float,
        stop_grace: float,
        kill_delay: float,
        program_output: bool,
    ) -> None:
        self.store, self.sweep, self.function = store, sweep, function
        self.count, self.wandb_mode = count, wandb_mode
        self.retry_failed, self.max_failures = retry_failed, max_failures
        self.heartbeat_interval, self.stale_after = heartbeat_interval, stale_after
        self.stop_grace, self.kill_delay = stop_grace, kill_delay
        self.program_output = program_output
        self.program_mode = function is None and bool(sweep.config.get("program"))

    def run(self) -> AgentResult:
        store, sweep = self.store, self.sweep
        retry_upto = None
        if self.retry_failed:
            retry_upto = max((run.seq for run in store.runs(sweep.id)), default=0)
        if self.program_mode:
            from kerasweep.local.program import program_file

            program = program_file(sweep.config)
            if program is not None and not Path(program).is_file():
                raise ValueError(
                    f"program {program!r} of sweep {sweep.id} not found in {Path.cwd()}"
                )
        function = self.function
        if function is None and not self.program_mode:
            from kerasweep.train import sweep_train

            function = sweep_train
        agent_id = store.register_agent(sweep.id)
        result = AgentResult(sweep_id=sweep.id, agent_id=agent_id)
        heartbeat = _Heartbeat(store, agent_id, self.heartbeat_interval)
        heartbeat.start()
        failures_in_a_row = 0
        session = ExitStack()
        try:
            clean_up = session.enter_context(run_cleanup())
            if not self.program_mode:
                session.enter_context(wandb_session.agent_session())
            while self.count is None or len(result.run_ids) < self.count:
                run = store.claim_run(
                    sweep.id,
                    agent_id,
                    lambda s, runs: propose(s, runs, retry_upto=retry_upto),
                    stale_after=self.stale_after,
                )
                if run is None:
                    result.reason = "exhausted"
                    if not any(r.state == "running" for r in store.runs(sweep.id)):
                        store.set_sweep_state(sweep.id, "finished")
                    break
                result.run_ids.append(run.id)
                local_run = LocalRun(store, sweep, run, agent_id=agent_id)
                heartbeat.local_run = local_run
                started = time.monotonic()
                try:
                    if self.program_mode:
                        state = self._run_program(local_run)
                    else:
                        state = self._run_function(local_run, function)
                finally:
                    heartbeat.local_run = None
                    clean_up()
                ended = store.run(run.id)
                logger.info(
                    _status_line(
                        ended, sweep, len(result.run_ids), self.count, time.monotonic() - started
                    )
                )
                if state in ("failed", "crashed"):
                    result.failed += 1
                    failures_in_a_row += 1
                    if failures_in_a_row >= self.max_failures:
                        logger.error(
                            f"{failures_in_a_row} runs failed in a row: agent stops "
                            f"(max_consecutive_failures={self.max_failures})"
                        )
                        result.reason = "failures"
                        break
                else:
                    failures_in_a_row = 0
            else:
                self._mark_finished_if_done()
        finally:
            try:
                session.close()
            finally:
                heartbeat.stop()
                store.end_agent(agent_id)
        return result

    def _mark_finished_if_done(self) -> None:
        """After ``count`` runs: mark the sweep finished if it has nothing left to give."""
        config = self.sweep.config
        metric = config.get("metric") if isinstance(config.get("metric"), Mapping) else {}
        if not (config.get("method") == "grid" or config.get("run_cap") or metric.get("target")):
            return  # random and bayes go on forever
        runs = self.store.runs(self.sweep.id)
        if not any(r.state == "running" for r in runs) and propose(self.sweep, runs) is None:
            self.store.set_sweep_state(self.sweep.id, "finished")

    # -- one run -----------------------------------------------------------------------------

    @contextmanager
    def _params_file(self, run: LocalRun) -> Iterator[Path]:
        """The run's ``{key: {value: v}}`` YAML, where ``wandb.agent`` puts it."""
        import yaml

        tmp = None
        if self.wandb_mode == "disabled":
            tmp = base = Path(tempfile.mkdtemp(prefix="kerasweep-"))
        else:
            base = Path(os.environ.get("WANDB_DIR") or os.getcwd())
        path = base / "wandb" / f"sweep-{self.sweep.id}" / f"config-{run.id}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        params = {key: {"value": value} for key, value in run.params.items()}
        path.write_text(yaml.safe_dump(params, default_flow_style=False, sort_keys=False))
        try:
            yield path
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    def _run_env(self, run: LocalRun, params_path: Path) -> dict[str, str | None]:
        env: dict[str, str | None] = {
            "WANDB_MODE": self.wandb_mode,
            "WANDB_SWEEP_PARAM_PATH": str(params_path),
            "WANDB_RUN_ID": run.id,
            "WANDB_SWEEP_ID": None,
            "WANDB_RUN_GROUP": f"sweep-{self.sweep.id}",
            "WANDB_NAME": run.name,
            "KERASWEEP_SWEEP_ID": self.sweep.id,
            "KERASWEEP_RUN_ID": run.id,
        }
        if self.sweep.project:
            env["WANDB_PROJECT"] = self.sweep.project
        return env

    def _run_function(self, run: LocalRun, function: Callable[[], Any]) -> str:
        outcome, error = "finished", None
        with self._params_file(run) as params_path, _environ(self._run_env(run, params_path)):
            wandb_session.forget_settings()  # the next wandb.init reads the run's variables
            try:
                with run.recording():
                    try:
                        function()
                    except KeyboardInterrupt as err:
                        outcome, error = "crashed", _interrupted(err)
                        raise
                    except SystemExit as exit_:
                        if exit_.code not in (None, 0):
                            outcome, error = "failed", f"SystemExit: {exit_.code}"
                    except Exception as err:
                        outcome, error = "failed", _first_line(err)
                        logger.debug("run %s raised:\n%s", run.id, traceback.format_exc())
                    finally:
                        wandb_session.finish_run(failed=outcome != "finished")
            finally:
                state = run.end(outcome, error)
        return state

    def _run_program(self, run: LocalRun) -> str:
        from kerasweep.local.program import build_command, child_env, run_program

        outcome, error = "finished", None
        with self._params_file(run) as params_path:
            json_path = params_path.with_suffix(".json")
            command = build_command(
                self.sweep.config, run.params, args_json_file=str(json_path), bridge=True
            )
            if "${args_json_file}" in (self.sweep.config.get("command") or []):
                import json

                json_path.write_text(json.dumps(run.params))
            base = dict(os.environ)
            for key, value in self._run_env(run, params_path).items():
                if value is None:
                    base.pop(key, None)
                else:
                    base[key] = value
            env = child_env(
                base,
                db=self.store.location,
                sweep_id=self.sweep.id,
                run_id=run.id,
                agent_id=run.agent_id,
            )
            logger.debug("run %s: %s", run.id, " ".join(command))
            try:
                result = run_program(
                    command,
                    env,
                    should_stop=lambda: run.should_stop() or run.stopped_in_store(),
                    stop_grace=self.stop_grace,
                    kill_delay=self.kill_delay,
                    echo=self.program_output,
                )
            except KeyboardInterrupt as err:
                run.end("crashed", _interrupted(err))
                raise
            if result.returncode != 0 and not result.terminated:
                outcome, error = "failed", result.error
        return run.end(outcome, error)


def _resolve_wandb_mode(mode: str | None) -> str:
    if mode is None:
        return "disabled" if os.environ.get("WANDB_MODE") == "disabled" else "offline"
    if mode not in WANDB_MODES:
        raise ValueError(f"wandb_mode {mode!r}: expected one of {', '.join(WANDB_MODES)}")
    return mode


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
) -> AgentResult:
    """Run a local sweep's runs in this process, the offline twin of ``wandb.agent``.

    Any number of agents may work on one sweep, one per process (say one per GPU): the
    store gives each run to exactly one of them.

    Between runs the agent keeps wandb's service process running (each ``wandb.init`` still
    reads the run's settings afresh), lists the installed packages for the runs'
    ``requirements.txt`` once, and collects garbage only among objects newer than the
    previous run (:mod:`kerasweep.local.wandb_session`, :mod:`kerasweep.local.cleanup`).
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

    Returns:
        What the agent did (:class:`AgentResult`).

    Example:
        >>> def train():
        ...     import wandb
        ...     wandb.init(config={"lr": 0.1})
        ...     wandb.log({"val_loss": wandb.config.lr})
        >>> local_agent(sweep_id, train, count=2)  # doctest: +SKIP
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"count must be a positive integer or None, not {count!r}")
    if max_consecutive_failures < 1:
        raise ValueError(
            f"max_consecutive_failures must be at least 1, not {max_consecutive_failures!r}"
        )
    mode = _resolve_wandb_mode(wandb_mode)
    if isinstance(function, str):
        function = load_function(function)
    store = Store(db, create=False)
    agent = _Agent(
        store,
        store.sweep(sweep_id),
        function,
        count=count,
        wandb_mode=mode,
        retry_failed=retry_failed,
        max_failures=max_consecutive_failures,
        heartbeat_interval=heartbeat_interval,
        stale_after=stale_after,
        stop_grace=stop_grace,
        kill_delay=kill_delay,
        program_output=program_output,
    )
    try:
        with _sigterm_interrupts():
            return agent.run()
    finally:
        store.close()
