"""What the running local-sweep run may ask of its controller (owned by kerasweep.local).

Training code calls :func:`stop_requested` after each logged epoch; outside a local sweep it
is always False. The local agent sets the state below around each run (in the agent's process
for a function, in the program's process for a program run).

Example:
    >>> from kerasweep.local import context
    >>> context.stop_requested()
    False
    >>> context.current_run_id() is None
    True
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_run_id: str | None = None
_stop = False


def stop_requested() -> bool:
    """True once the local controller has decided the current run should stop."""
    return _stop


def current_run_id() -> str | None:
    """The id of the local-sweep run in progress in this process, or None."""
    return _run_id


def _begin(run_id: str) -> None:
    """Mark ``run_id`` as the run in progress, with no stop requested."""
    global _run_id, _stop
    with _lock:
        _run_id, _stop = run_id, False


def _request_stop() -> None:
    """Ask the run in progress to stop (the controller's decision)."""
    global _stop
    with _lock:
        if _run_id is not None:
            _stop = True


def _end() -> None:
    """Forget the run in progress: :func:`stop_requested` is False again."""
    global _run_id, _stop
    with _lock:
        _run_id, _stop = None, False
