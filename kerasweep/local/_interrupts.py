"""Ctrl-C and SIGTERM end a local agent cleanly: its run is marked preempted (the next
agent resumes it), the exception goes on.

Example:
    >>> with sigterm_interrupts():  # doctest: +SKIP
    ...     agent.run()
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AgentTerminated", "interrupted_error", "sigterm_interrupts"]


class AgentTerminated(KeyboardInterrupt):
    """SIGTERM reached a local agent: handled as Ctrl-C is (its run is marked, it ends)."""


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
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


def interrupted_error(err: KeyboardInterrupt) -> str:
    """The error recorded for a run that Ctrl-C or SIGTERM ended.

    >>> interrupted_error(AgentTerminated())
    'preempted: interrupted (SIGTERM)'
    """
    why = "SIGTERM" if isinstance(err, AgentTerminated) else "KeyboardInterrupt"
    return f"preempted: interrupted ({why})"
