"""Capture a run's ``wandb.log`` rows into the store, with a hyperband decision per metric row.

While a run of a local sweep is in progress, wandb's ``Run.log`` (and the ``NoopRun.log`` of
``mode="disabled"``) is wrapped: wandb logs as usual, then the same row goes to a
:class:`RunRecorder`. Rows are assembled as wandb assembles history rows (``commit=False``
and explicit ``step`` merge calls into one row). A row holding the sweep metric is written at
once, and the engine's hyperband rules are applied right after it; rows without the metric
are written with the next one that has it (or when the run ends).

Example:
    >>> with capture_wandb_log(recorder):  # doctest: +SKIP
    ...     function()
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kerasweep.local import context
from kerasweep.local.controller import StopDecision, hyperband_applies, hyperband_decision
from kerasweep.local.store import Store, SweepRecord, plain

__all__ = ["RunRecorder", "capture_wandb_log", "patch_wandb_on_import"]

logger = logging.getLogger("kerasweep.local")

# module -> class whose ``log`` is wrapped
_LOG_CLASSES = {"wandb.sdk.wandb_run": "Run", "wandb.sdk.lib.noop_run": "NoopRun"}

_active: RunRecorder | None = None
_patch_lock = threading.RLock()
_patch_depth = 0


class RunRecorder:
    """Stores the rows one run logs and asks hyperband after each row with the metric.

    Args:
        store: The sweep's store.
        sweep: The sweep the run belongs to.
        run_id: The run (running, owned by ``agent_id``).
        agent_id: Owner check for writes; None skips it.
        buffer_limit: Rows without the metric kept in memory before they are written anyway.
    """

    def __init__(
        self,
        store: Store,
        sweep: SweepRecord,
        run_id: str,
        *,
        agent_id: str | None = None,
        buffer_limit: int = 1000,
    ) -> None:
        self.store = store
        self.sweep = sweep
        self.run_id = run_id
        self.agent_id = agent_id
        self.metric = sweep.metric["name"] if sweep.metric else None
        self.hyperband = hyperband_applies(sweep.config)
        self.buffer_limit = buffer_limit
        self.stop: StopDecision | None = None
        self.lost = False  # the run is no longer this agent's (marked crashed meanwhile)
        self.rows = 0
        self._buffer: list[dict] = []
        self._pending: dict | None = None
        self._pending_step: int | None = None
        self._bands: list | None = None
        self._lock = threading.RLock()
        self._warned = False

    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None):
        """Take one ``wandb.log(data, step, commit)`` call."""
        with self._lock:
            if (
                step is not None
                and self._pending is not None
                and self._pending_step is not None
                and step != self._pending_step
            ):
                self._emit(self._pending)
                self._pending = None
            pending = self._pending if self._pending is not None else {}
            pending.update(data)
            self._pending, self._pending_step = pending, step
            if commit or (step is None and commit is None):
                self._pending = None
                self._emit(pending)

    def _emit(self, row: dict) -> None:
        row = plain(row)
        self.rows += 1
        self._buffer.append(row)
        if self.metric is not None and self.metric in row:
            self.flush()
            if self.hyperband and self.stop is None and not self.lost:
                self._judge()
        elif len(self._buffer) >= self.buffer_limit:
            self.flush()

    def _judge(self) -> None:
        runs = self.store.runs(self.sweep.id)
        decision, bands = hyperband_decision(self.sweep.config, runs, self.run_id)
        if decision is not None:
            self.stop = decision
            self.store.record_stop(
                self.run_id,
                band=decision.band,
                threshold=decision.threshold,
                value=decision.value,
                epoch=decision.epoch,
                bands=bands,
            )
            self._bands = bands
            context._request_stop()
        elif bands != self._bands:
            self.store.set_bands(self.sweep.id, bands)
            self._bands = bands

    def report_error(self, err: Exception) -> None:
        """Warn (once per run) that a row could not be recorded; the run goes on."""
        if not self._warned:
            self._warned = True
            logger.warning(
                "kerasweep: a row of run %s could not be recorded (%s: %s); the run goes on",
                self.run_id,
                type(err).__name__,
                err,
            )

    def flush(self) -> None:
        """Write the buffered rows."""
        with self._lock:
            if not self._buffer:
                return
            rows, self._buffer = self._buffer, []
            if self.lost:
                return
            if not self.store.append_rows(self.run_id, rows, self.metric, agent_id=self.agent_id):
                self.lost = True
                context._request_stop()

    def close(self) -> None:
        """Write what is left, including a row still open (as ``wandb.finish`` does)."""
        with self._lock:
            try:
                if self._pending is not None:
                    pending, self._pending = self._pending, None
                    self._emit(pending)
                self.flush()
            except Exception as err:  # the run itself is over; say so and go on
                self.report_error(err)


def _wrap_log(original):
    @functools.wraps(original)
    def log(self, data, *args, **kwargs):
        row = dict(data) if isinstance(data, Mapping) else data
        result = original(self, data, *args, **kwargs)
        recorder = _active
        if recorder is not None and isinstance(row, Mapping):
            step = kwargs.get("step", args[0] if len(args) > 0 else None)
            commit = kwargs.get("commit", args[1] if len(args) > 1 else None)
            try:
                recorder.log(row, step=step, commit=commit)
            except Exception as err:  # recording must never break the run's own logging
                recorder.report_error(err)
        return result

    log.__kerasweep_original__ = original
    return log


def _patch_module(module) -> None:
    cls = getattr(module, _LOG_CLASSES[module.__name__], None)
    if cls is not None and "log" in vars(cls):
        current = vars(cls)["log"]
        if not hasattr(current, "__kerasweep_original__"):
            cls.log = _wrap_log(current)


def _unpatch_module(module) -> None:
    cls = getattr(module, _LOG_CLASSES[module.__name__], None)
    current = vars(cls).get("log") if cls is not None else None
    original = getattr(current, "__kerasweep_original__", None)
    if original is not None:
        cls.log = original


@contextmanager
def capture_wandb_log(recorder: RunRecorder) -> Iterator[RunRecorder]:
    """Send every ``wandb.log`` row of this process to ``recorder`` inside the block."""
    global _active, _patch_depth
    import wandb.sdk.lib.noop_run
    import wandb.sdk.wandb_run  # noqa: F401

    with _patch_lock:
        for name in _LOG_CLASSES:
            _patch_module(sys.modules[name])
        _patch_depth += 1
        previous, _active = _active, recorder
    try:
        yield recorder
    finally:
        with _patch_lock:
            _active = previous
            _patch_depth -= 1
            if _patch_depth == 0:
                for name in _LOG_CLASSES:
                    _unpatch_module(sys.modules[name])
        recorder.close()


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _patch_module(module)


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Wraps wandb's log methods as soon as their modules are imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _LOG_CLASSES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


def patch_wandb_on_import(recorder: RunRecorder) -> None:
    """Capture into ``recorder`` for the rest of this process, patching wandb when it loads.

    Used in a program run's own process, before the program imports wandb.
    """
    global _active
    with _patch_lock:
        _active = recorder
        for name in _LOG_CLASSES:
            if name in sys.modules:
                _patch_module(sys.modules[name])
        if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _PatchOnImport())
