"""Child processes that end with their agent: its own session, line-buffered text pipes.

A child is started in a new session (so signals sent to its process group reach whatever it
starts, and a terminal's Ctrl-C reaches it only through the agent), reads nothing from stdin,
and writes text lines that the agent reads as they come. On Linux it also gets SIGTERM when
the agent dies, even by ``kill -9``, so nothing goes on running unowned.

Example:
    >>> child = start_child([sys.executable, "-c", "print('hi')"], dict(os.environ))
    >>> child.stdout.read(), child.wait()
    ('hi\\n', 0)
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

__all__ = ["start_child"]

_PR_SET_PDEATHSIG = 1


def start_child(
    command: Sequence[str], env: Mapping[str, str], *, stderr: int = subprocess.PIPE
) -> subprocess.Popen:
    """Start ``command``; its stdout (and stderr, or ``subprocess.STDOUT`` to merge them) are
    text pipes of lines, undecodable bytes replaced."""
    return subprocess.Popen(
        list(command),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,
        preexec_fn=_end_with_this_process(),
    )


def _end_with_this_process():
    """A ``preexec_fn`` that has Linux send SIGTERM to the child when this process dies.

    (Strictly: when the thread that started the child ends; the agent waits for its children
    in that thread, so that happens only if the process dies.) None where that is not
    available. The hook only calls an already resolved ``prctl`` (nothing that could wait on
    a lock held by another thread at fork time), then checks that this process did not die
    before the request was made.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent, sigterm = os.getpid(), int(signal.SIGTERM)

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, sigterm)
        if os.getppid() != parent:
            os.kill(os.getpid(), sigterm)

    return hook
