"""wandb between the runs of one local agent: each run reads its own settings, cheaply.

``wandb.init`` reads its settings (run id, parameter file, group, name, mode) from the
environment once per process, into a singleton that also owns the wandb service (the
``wandb-core`` process that writes the run's files). ``wandb.agent`` calls
``wandb.teardown()`` before each run, which drops both, so every run waits for a new
service to start. Between runs the local agent forgets only the settings, so the next
``wandb.init`` reads the environment again and talks to the service already running; the
service is shut down with ``wandb.teardown()`` when the agent ends (or after a run that
failed, in case the service is what broke). The first service starts (``wandb.setup()``, a
wait for the new process) on a thread of its own while the agent claims its first run,
unless the runs' wandb is disabled (then no run starts one).

wandb also lists the installed Python packages at every ``wandb.init`` (the run's
``requirements.txt``), reading every package's metadata. While the agent runs, the list is
read once and handed to every run. And every ``wandb.init`` applies the inputs a W&B Launch
job staged, importing ``wandb.sdk.launch`` to do so (a slow import once TensorFlow is
loaded); while the agent runs, that step is skipped as long as nothing could have staged any
(:func:`kerasweep._adapters.wandb_internals.launch_inputs_only_when_staged`).

Example:
    >>> with agent_session() as session:  # doctest: +SKIP
    ...     for run in runs:
    ...         session.forget_settings()  # the next wandb.init reads the run's variables
    ...         function()
    ...         finish_run(failed=False)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from kerasweep._adapters import wandb_internals

__all__ = [
    "AgentSession",
    "agent_session",
    "finish_run",
    "forget_settings",
    "shared_package_list",
    "teardown",
]

logger = logging.getLogger("kerasweep.local")


class AgentSession:
    """wandb's service, started for an agent's runs on a thread while the agent goes on.

    Made by :func:`agent_session`; every wandb call of the agent's waits for the start to
    end first (:meth:`forget_settings`, the teardown when the session ends).

    Args:
        wandb_mode: The runs' ``WANDB_MODE``: the service starts in it; with
            ``"disabled"`` nothing starts. None: the mode the environment gives.
    """

    def __init__(self, wandb_mode: str | None = None) -> None:
        self._starting: threading.Thread | None = None
        if wandb_mode != "disabled":
            self._starting = threading.Thread(
                target=_start_service,
                args=(wandb_mode,),
                name="kerasweep-wandb-service",
                daemon=True,
            )
            self._starting.start()

    def wait(self) -> None:
        """Until the service's start has ended (started, or failed: ``wandb.init`` then
        starts it itself and raises what is wrong)."""
        if self._starting is not None:
            self._starting.join()

    def forget_settings(self) -> None:
        """:func:`forget_settings`, once the service's start has ended."""
        self.wait()
        forget_settings()


def _start_service(wandb_mode: str | None) -> None:
    import wandb

    try:
        # reads the settings, which each run forgets, and starts the service
        wandb.setup(wandb.Settings(mode=wandb_mode) if wandb_mode else None)
    except Exception:  # the first run's wandb.init tries again, and reports the error
        logger.debug("starting wandb's service before the first run failed", exc_info=True)


@contextmanager
def agent_session(wandb_mode: str | None = None) -> Iterator[AgentSession]:
    """wandb for the runs of one agent: torn down before the first and after the last.

    Inside, the service starts at once, on a thread (:class:`AgentSession`; not where
    ``wandb_mode`` is ``"disabled"``), the installed packages are listed once
    (:func:`shared_package_list`), and a run start reads W&B Launch's staged inputs only if
    some could exist.
    """
    teardown()
    session = AgentSession(wandb_mode)
    try:
        with wandb_internals.launch_inputs_only_when_staged(), shared_package_list():
            yield session
    finally:
        session.wait()
        teardown()


def forget_settings() -> None:
    """Make the next ``wandb.init`` read its settings from the environment again.

    Keeps wandb's service running. Falls back to ``wandb.teardown()`` when a run is still
    active (one the function did not finish) or when this wandb keeps its settings elsewhere
    (:func:`kerasweep._adapters.wandb_internals.forget_settings`).
    """
    if not wandb_internals.forget_settings():
        teardown()


def teardown() -> None:
    """``wandb.teardown()``: finish any run, stop the service, forget the settings."""
    import wandb

    try:
        wandb.teardown()
    except Exception:  # pragma: no cover - best effort
        logger.debug("wandb.teardown failed", exc_info=True)


def finish_run(failed: bool) -> None:
    """Finish the run's wandb run, then forget the settings wandb read for it.

    Left in place, the settings would give the next ``wandb.init`` (in the agent or after
    it) this run's id and parameters, or fail once the parameter file is gone. After a
    failed run wandb is torn down completely. This runs however the run ended, Ctrl-C
    included.
    """
    import wandb

    if wandb.run is not None:
        try:
            wandb.finish(exit_code=1 if failed else 0)
        except Exception:  # pragma: no cover - best effort
            logger.debug("wandb.finish failed", exc_info=True)
            failed = True
    if failed:
        teardown()
    else:
        forget_settings()


def shared_package_list() -> AbstractContextManager[None]:
    """Inside the block, ``wandb.init`` lists the installed packages once, not every run.

    (:func:`kerasweep._adapters.wandb_internals.cached_working_set`.)
    """
    return wandb_internals.cached_working_set()
