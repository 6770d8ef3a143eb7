"""Every use of wandb's private API: the ``log`` of its run classes, its settings singleton.

kerasweep's local controller needs five things wandb has no public API for:

- the rows a run logs, however it logs them (``wandb.log``, ``run.log``, a Keras callback):
  :func:`capture_log` wraps ``log`` on ``wandb.sdk.wandb_run.Run`` and
  ``wandb.sdk.lib.noop_run.NoopRun`` (what ``mode="disabled"`` returns) while a local run
  is in progress, and puts the originals back after it (the wrapper only passes rows on:
  which run is in progress is held elsewhere, by the run itself);
- a fresh read of the environment at the next ``wandb.init`` without stopping wandb's
  service (:func:`forget_settings`): it resets ``_settings``, ``_settings_environ``,
  ``_sweep_config`` and ``_session_identity`` of ``wandb.sdk.wandb_setup._singleton``
  (guarded by ``_singleton_lock``; its ``_logger`` becomes a new ``_EarlyLogger``), which is
  what ``wandb.teardown()`` resets besides the service;
- one listing of the installed packages per agent (:func:`cached_working_set`): wandb calls
  ``wandb.util.working_set`` at every ``wandb.init`` for the run's ``requirements.txt``;
- a run start that skips W&B Launch's staged inputs while none can exist, and with them
  the import of ``wandb.sdk.launch`` (:func:`launch_inputs_only_when_staged`).

Tested with wandb 0.28.2 and 0.31.0 (read in 0.29.0 and 0.30.0 too). wandb 0.28.0 and
0.28.1 keep the account lookup as ``_server``, not ``_session_identity``.
``tests/adapters/test_wandb_internals.py`` fails if a wandb release moves any of these.

Example:
    >>> class Sink:
    ...     rows = []
    ...     def log(self, data, step=None, commit=None): self.rows.append(data)
    ...     def report_error(self, err): raise err
    >>> import wandb
    >>> with capture_log(Sink()) as sink:
    ...     run = wandb.init(mode="disabled")
    ...     run.log({"loss": 1.0})
    ...     run.finish()
    >>> sink.rows
    [{'loss': 1.0}]
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

__all__ = [
    "LOG_CLASSES",
    "SETTINGS_STATE",
    "LogSink",
    "cached_working_set",
    "capture_log",
    "capturing",
    "forget_settings",
    "launch_inputs_only_when_staged",
]

#: module -> wandb run class whose ``log`` is wrapped while a local run records
LOG_CLASSES = {"wandb.sdk.wandb_run": "Run", "wandb.sdk.lib.noop_run": "NoopRun"}

#: where W&B Launch jobs stage their inputs, which every ``wandb.init`` applies
LAUNCH_INPUTS_MODULE = "wandb.sdk.launch.inputs.internal"

#: what ``wandb.teardown()`` resets in the setup singleton besides the service
SETTINGS_STATE = ("_settings", "_settings_environ", "_sweep_config", "_session_identity")

_install_lock = threading.Lock()
_sink: LogSink | None = None  # where the rows go while captured (one capture at a time)


class LogSink(Protocol):
    """Where a captured run's rows go: the local run in progress."""

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None):
        """Take one ``wandb.log(data, step, commit)`` call."""

    def report_error(self, err: Exception) -> None:
        """A row could not be taken; the run goes on."""


Sink = TypeVar("Sink", bound=LogSink)


def _log_classes() -> list[type]:
    classes = []
    for module_name, class_name in LOG_CLASSES.items():
        cls = getattr(importlib.import_module(module_name), class_name, None)
        if cls is None or "log" not in vars(cls):
            raise RuntimeError(f"this wandb has no {module_name}.{class_name}.log to capture")
        classes.append(cls)
    return classes


def _wrap(original: Callable, sink: LogSink) -> Callable:
    @functools.wraps(original)
    def log(self, data, *args, **kwargs):
        row = dict(data) if isinstance(data, Mapping) else data
        result = original(self, data, *args, **kwargs)
        if isinstance(row, Mapping):
            step = kwargs.get("step", args[0] if len(args) > 0 else None)
            commit = kwargs.get("commit", args[1] if len(args) > 1 else None)
            try:
                sink.log(row, step=step, commit=commit)
            except Exception as err:  # recording must never break the run's own logging
                sink.report_error(err)
        return result

    return log


def capturing() -> LogSink | None:
    """The sink :func:`capture_log` is sending this process's rows to, or None."""
    return _sink


@contextmanager
def capture_log(sink: Sink) -> Iterator[Sink]:
    """Inside the block, every row a wandb run of this process logs also goes to ``sink``.

    wandb logs as usual first. One capture at a time per process (a local agent runs one
    run at a time): a second one raises RuntimeError.
    """
    global _sink
    classes = _log_classes()
    with _install_lock:
        if _sink is not None:
            raise RuntimeError("another local run is already recording this process's wandb")
        originals = [vars(cls)["log"] for cls in classes]
        for cls, original in zip(classes, originals, strict=True):
            cls.log = _wrap(original, sink)
        _sink = sink
    try:
        yield sink
    finally:
        with _install_lock:
            for cls, original in zip(classes, originals, strict=True):
                cls.log = original
            _sink = None


def forget_settings() -> bool:
    """Make the next ``wandb.init`` read the environment again, keeping wandb's service.

    Returns False, changing nothing, where that is not safe or not possible: a run still
    active, a singleton made in another process, or a wandb that keeps these elsewhere (the
    caller then tears wandb down). True also when wandb has not been set up yet.
    """
    import wandb
    from wandb.sdk import wandb_setup

    singleton = getattr(wandb_setup, "_singleton", None)
    lock = getattr(wandb_setup, "_singleton_lock", None)
    if singleton is None or lock is None:
        return True  # nothing loaded yet (or a wandb this does not know): init starts fresh
    if (
        wandb.run is not None
        or getattr(singleton, "_pid", None) != os.getpid()
        or getattr(singleton, "most_recent_active_run", True) is not None
        or not all(hasattr(singleton, name) for name in SETTINGS_STATE)
        or not hasattr(singleton, "_logger")
        or not hasattr(wandb_setup, "_EarlyLogger")
    ):
        return False
    with lock:
        for name in SETTINGS_STATE:
            setattr(singleton, name, None)
        # the settings' own log lines go to the next run's debug log, as after a teardown
        singleton._logger = wandb_setup._EarlyLogger()
    return True


@contextmanager
def cached_working_set() -> Iterator[None]:
    """Inside the block, ``wandb.init`` lists the installed packages once, not every run.

    Replaces ``wandb.util.working_set`` with a function that reads the list on its first
    call and returns the same list afterwards. Does nothing if this wandb has no such
    function.
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


@contextmanager
def launch_inputs_only_when_staged() -> Iterator[bool]:
    """Inside, a run's start reads W&B Launch's staged job inputs only if any can exist.

    Every ``wandb.init`` calls ``Run._detect_and_apply_job_inputs``, which imports
    ``wandb.sdk.launch`` (:data:`LAUNCH_INPUTS_MODULE`) to apply the inputs a W&B Launch job
    staged. Inputs are staged only through that module, so while it is not imported there
    are none, and the import is all the call does, a slow one once TensorFlow is loaded
    (its pydantic models read their fields' docstrings through ``inspect.getmodule``, which
    scans every loaded module on Python < 3.13). Inside the block the call is skipped while
    the module is not imported, and made as before once it is. Yields False, changing
    nothing, for a wandb without that method.

    Example:
        >>> import wandb
        >>> with launch_inputs_only_when_staged() as skipping:
        ...     wandb.init(mode="disabled").finish()
        >>> skipping
        True
    """
    from wandb.sdk import wandb_run

    original = getattr(wandb_run.Run, "_detect_and_apply_job_inputs", None)
    if original is None:
        yield False
        return

    @functools.wraps(original)
    def apply_if_staged(self: Any) -> None:
        if sys.modules.get(LAUNCH_INPUTS_MODULE) is not None:  # something may have staged
            original(self)

    wandb_run.Run._detect_and_apply_job_inputs = apply_if_staged
    try:
        yield True
    finally:
        if wandb_run.Run._detect_and_apply_job_inputs is apply_if_staged:
            wandb_run.Run._detect_and_apply_job_inputs = original
