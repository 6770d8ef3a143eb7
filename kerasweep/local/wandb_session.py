"""wandb between the runs of one local agent: each run reads its own settings, cheaply.

``wandb.init`` reads its settings (run id, parameter file, group, name, mode) from the
environment once per process, into a singleton that also owns the wandb service (the
``wandb-core`` process that writes the run's files). ``wandb.agent`` calls
``wandb.teardown()`` before each run, which drops both; starting the next service costs
about 0.2 s per run. Between runs the local agent forgets only the settings, so the next
``wandb.init`` reads the environment again and talks to the service already running; the
service is shut down with ``wandb.teardown()`` when the agent ends (or after a run that
failed, in case the service is what broke).

wandb also lists the installed Python packages at every ``wandb.init`` (the run's
``requirements.txt``), reading every package's metadata (about 0.2 s here). While the
agent runs, the list is read once and handed to every run.

Example:
    >>> with agent_session():  # doctest: +SKIP
    ...     for run in runs:
    ...         forget_settings()  # the next wandb.init reads the run's variables
    ...         function()
    ...         finish_run(failed=False)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["agent_session", "finish_run", "forget_settings", "shared_package_list", "teardown"]

logger = logging.getLogger("kerasweep.local")

# what wandb.teardown() resets in the singleton besides the service, with its fresh value
_SETTINGS_STATE = ("_settings", "_settings_environ", "_sweep_config", "_session_identity")


@contextmanager
def agent_session() -> Iterator[None]:
    """wandb for the runs of one agent: torn down before the first and after the last.

    Inside, the installed packages are listed once (:func:`shared_package_list`).
    """
    teardown()
    try:
        with shared_package_list():
            yield
    finally:
        teardown()


def forget_settings() -> None:
    """Make the next ``wandb.init`` read its settings from the environment again.

    Keeps wandb's service running. Falls back to ``wandb.teardown()`` when a run is still
    active (one the function did not finish) or when this wandb keeps its settings elsewhere.
    """
    import wandb
    from wandb.sdk import wandb_setup

    singleton = getattr(wandb_setup, "_singleton", None)
    lock = getattr(wandb_setup, "_singleton_lock", None)
    if singleton is None or lock is None:
        return  # nothing loaded yet (or a wandb this module does not know): init starts fresh
    if (
        wandb.run is not None
        or getattr(singleton, "_pid", None) != os.getpid()
        or getattr(singleton, "most_recent_active_run", True) is not None
        or not all(hasattr(singleton, name) for name in _SETTINGS_STATE)
        or not hasattr(singleton, "_logger")
        or not hasattr(wandb_setup, "_EarlyLogger")
    ):
        teardown()
        return
    with lock:
        for name in _SETTINGS_STATE:
            setattr(singleton, name, None)
        # the settings' own log lines go to the next run's debug log, as after a teardown
        singleton._logger = wandb_setup._EarlyLogger()


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


@contextmanager
def shared_package_list() -> Iterator[None]:
    """Inside the block, ``wandb.init`` lists the installed packages once, not every run.

    Patches ``wandb.util.working_set`` (what ``wandb.init`` calls to write the run's
    ``requirements.txt``) with a function that reads the list on its first call and
    returns the same list afterwards. Does nothing if this wandb has no such function.
    """
    import wandb.util

    original = getattr(wandb.util, "working_set", None)
    if original is None or not callable(original):
        yield
        return
    cached: list | None = None

    def working_set():
        nonlocal cached
        if cached is None:
            cached = list(original())
        return iter(cached)

    working_set.__wrapped__ = original
    wandb.util.working_set = working_set
    try:
        yield
    finally:
        if wandb.util.working_set is working_set:
            wandb.util.working_set = original
