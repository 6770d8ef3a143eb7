"""How a local agent carries out one run: a function in its own process, or a program.

Both take a :class:`~kerasweep.local._run.LocalRun`, hand it its parameters the way
``wandb.agent`` does (:mod:`kerasweep.local._wandb_protocol`), let it record and stop, end it,
and return its final state. :meth:`Runner.session` wraps all of an agent's runs.

Example:
    >>> runner = FunctionRunner(sweep_train, wandb_mode="offline")  # doctest: +SKIP
    >>> with runner.session():  # doctest: +SKIP
    ...     state = runner.run(local_run)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kerasweep.local import _wandb_session as wandb_session
from kerasweep.local._interrupts import interrupted_error
from kerasweep.local._program import build_command, child_env, program_file, run_program
from kerasweep.local._run import LocalRun
from kerasweep.local._store import RunState, SweepRecord
from kerasweep.local._wandb_protocol import environ, params_file, run_environ, with_environ

__all__ = ["FunctionRunner", "ProgramOptions", "ProgramRunner", "Runner", "error_line"]

logger = logging.getLogger("kerasweep.local")


class Runner(Protocol):
    """One way of carrying out a run."""

    def session(self) -> AbstractContextManager[Any]:
        """What stays set up around all of an agent's runs."""

    def run(self, run: LocalRun) -> str:
        """Carry out ``run`` to its end; its final state."""


def error_line(err: BaseException) -> str:
    """The one line recorded for a run that raised ``err``.

    >>> error_line(ValueError("bad\\nmore"))
    'ValueError: bad'
    """
    text = str(err).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


@dataclass
class FunctionRunner:
    """Calls ``function()`` in this process, its wandb rows recorded into the run."""

    function: Callable[[], Any]
    wandb_mode: str
    _wandb: wandb_session.AgentSession | None = field(default=None, init=False, repr=False)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        with wandb_session.agent_session(self.wandb_mode) as self._wandb:
            try:
                yield
            finally:
                self._wandb = None

    def run(self, run: LocalRun) -> str:
        outcome, error = RunState.FINISHED, None
        with (
            params_file(run, wandb_mode=self.wandb_mode) as path,
            environ(run_environ(run, path, wandb_mode=self.wandb_mode)),
        ):
            # the next wandb.init reads the run's variables
            if self._wandb is not None:
                self._wandb.forget_settings()
            else:
                wandb_session.forget_settings()
            try:
                with run.recording():
                    try:
                        self.function()
                    except KeyboardInterrupt as err:
                        outcome, error = RunState.PREEMPTED, interrupted_error(err)
                        raise
                    except SystemExit as exit_:
                        if exit_.code not in (None, 0):
                            outcome, error = RunState.FAILED, f"SystemExit: {exit_.code}"
                    except Exception as err:
                        outcome, error = RunState.FAILED, error_line(err)
                        logger.debug("run %s raised:\n%s", run.id, traceback.format_exc())
                    finally:
                        wandb_session.finish_run(failed=outcome is not RunState.FINISHED)
            finally:
                state = run.end(outcome, error)
        return state


@dataclass(frozen=True)
class ProgramOptions:
    """How a program run is watched.

    Args:
        stop_grace: Seconds a stopped program may take to end by itself before SIGTERM.
        kill_delay: Seconds between SIGTERM and SIGKILL.
        echo: Echo the program's output.
    """

    stop_grace: float = 10.0
    kill_delay: float = 30.0
    echo: bool = True


@dataclass(frozen=True)
class ProgramRunner:
    """Runs the sweep's ``program`` per run, as ``wandb agent`` does (see ``program``)."""

    sweep: SweepRecord
    db: os.PathLike | str
    wandb_mode: str
    options: ProgramOptions = ProgramOptions()
    reconnect_timeout: float = 60.0  # the agent's: the program's process waits as long

    def __post_init__(self) -> None:
        program = program_file(self.sweep.config)
        if program is not None and not Path(program).is_file():
            raise ValueError(
                f"program {program!r} of sweep {self.sweep.id} not found in {Path.cwd()}"
            )

    def session(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def run(self, run: LocalRun) -> str:
        config, options = self.sweep.config, self.options
        outcome, error = RunState.FINISHED, None
        with params_file(run, wandb_mode=self.wandb_mode) as params_path:
            json_path = params_path.with_suffix(".json")
            command = build_command(config, run.params, args_json_file=str(json_path), bridge=True)
            if "${args_json_file}" in (config.get("command") or []):
                json_path.write_text(json.dumps(run.params))
            variables = run_environ(run, params_path, wandb_mode=self.wandb_mode)
            if run.checkpoint is not None:  # where the program's checkpoints go
                variables.update(run.checkpoint.environ())
            base = with_environ(os.environ, variables)
            env = child_env(
                base,
                db=self.db,
                sweep_id=run.sweep_id,
                run_id=run.id,
                agent_id=run.agent_id,
                reconnect_timeout=self.reconnect_timeout,
            )
            logger.debug("run %s: %s", run.id, " ".join(command))
            try:
                result = run_program(
                    command,
                    env,
                    should_stop=run.watch_program,
                    stop_grace=options.stop_grace,
                    kill_delay=options.kill_delay,
                    echo=options.echo,
                )
            except KeyboardInterrupt as err:
                run.end(RunState.PREEMPTED, interrupted_error(err))
                raise
            if result.returncode != 0 and not result.terminated:
                outcome, error = RunState.FAILED, result.error
        return run.end(outcome, error)
