"""One agent process per device: what ``kerasweep agent SWEEP_ID --gpus 0,1,2,3`` runs.

Each listed device gets its own ``kerasweep agent`` process with ``CUDA_VISIBLE_DEVICES`` set
to that device alone, so every agent trains on one GPU and the runs of one sweep share a
multi-GPU node. Each line an agent prints is printed here with its device in front
(``[gpu 1] ...``), on the stream it was written to. The first SIGINT (Ctrl-C) or SIGTERM this
process gets is passed on to every agent (each marks its run preempted and ends, as a single
agent does); a second one kills the agents still running. The exit status is the worst of the
agents' (the highest; an agent killed by signal N counts as 128 + N).

The agents run in their own sessions, so a terminal's Ctrl-C reaches each of them once,
through this process; on Linux they also get SIGTERM if this process dies, even by
``kill -9``.

A reader of this output that goes away (``kerasweep agent ID --gpus 0,1 | head -1``) is
noticed at the next line: nothing more is written, every agent gets SIGTERM (its run is
marked crashed, as for Ctrl-C) while the rest of its output is drained, so none blocks on a
full pipe, and :func:`run_per_device` raises ``BrokenPipeError`` once they have ended (the
command line then exits quietly with status 141).

Example:
    >>> parse_devices("0,1,3")
    ['0', '1', '3']
    >>> worst_status([0, 1, -15])
    143
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import IO

from kerasweep.local._children import start_child

__all__ = ["parse_devices", "run_per_device", "worst_status"]

_DEVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*")  # an index, or a GPU/MIG UUID


def parse_devices(text: str) -> list[str]:
    """The device ids of a ``--gpus`` value: comma-separated, each once.

    Raises:
        ValueError: naming the value, when it lists no device, an empty or odd id, or one
            id twice.
    """
    devices = [part.strip() for part in text.split(",")]
    bad = [d for d in devices if not _DEVICE.fullmatch(d)]
    if bad:
        raise ValueError(f"--gpus {text!r}: expected device ids like 0,1,2,3, not {bad[0]!r}")
    twice = sorted({d for d in devices if devices.count(d) > 1})
    if twice:
        raise ValueError(f"--gpus {text!r}: device {twice[0]} is listed twice")
    return devices


def worst_status(codes: Iterable[int]) -> int:
    """The highest exit status; a process killed by signal N (code -N) counts as 128 + N."""
    return max((128 - code if code < 0 else code for code in codes), default=0)


def run_per_device(
    devices: Sequence[str],
    agent_args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    python: str = sys.executable,
) -> int:
    """Runs ``kerasweep agent *agent_args`` once per device, all at once; returns the worst
    exit status.

    ``env`` (default: this process's) is each agent's environment, with
    ``CUDA_VISIBLE_DEVICES`` set to its device. Call from the main thread (it handles SIGINT
    and SIGTERM while the agents run).

    Raises:
        BrokenPipeError: The reader of this output went away; the agents were stopped and
            have ended.
    """
    base = dict(os.environ if env is None else env)
    base["PYTHONUNBUFFERED"] = "1"  # lines show up as they are printed
    agents: list[subprocess.Popen] = []
    output = _Output(agents)
    readers: list[threading.Thread] = []
    with _forwarding_signals(agents):  # a signal while they start reaches those started
        for device in devices:
            agents.append(_start(python, agent_args, {**base, "CUDA_VISIBLE_DEVICES": device}))
            prefix = f"[gpu {device}] "
            for pipe, out in ((agents[-1].stdout, sys.stdout), (agents[-1].stderr, sys.stderr)):
                copying = (pipe, out, prefix, output)
                reader = threading.Thread(target=_copy, args=copying, daemon=True)
                reader.start()
                readers.append(reader)
        started = ", ".join(f"gpu {d} (pid {p.pid})" for d, p in zip(devices, agents, strict=True))
        output.line(sys.stdout, f"Started {len(agents)} agents, one per device: {started}")
        output.stop_agents_if_gone()  # those started after the reader went
        codes = [proc.wait() for proc in agents]
    for reader in readers:
        reader.join(timeout=5)
    ended = ", ".join(f"gpu {d} {_status(c)}" for d, c in zip(devices, codes, strict=True))
    output.line(sys.stdout, f"Agents ended: {ended}")
    if output.gone.is_set():
        raise BrokenPipeError(errno.EPIPE, "the reader of the agents' output went away")
    return worst_status(codes)


def _start(python: str, agent_args: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
    return start_child([python, "-m", "kerasweep", "agent", *agent_args], env)


class _Output:
    """This process's output, shared by the threads copying the agents' lines.

    Once a write finds the reader gone, nothing more is written and every agent is sent
    SIGTERM, once.
    """

    def __init__(self, agents: Sequence[subprocess.Popen]) -> None:
        self.agents = agents
        self.lock = threading.Lock()
        self.gone = threading.Event()
        self._stopped: set[int] = set()

    def line(self, out: IO[str], text: str) -> None:
        """Write one line (a newline added if it has none), unless the reader is gone."""
        with self.lock:
            if self.gone.is_set():
                return
            try:
                out.write(text if text.endswith("\n") else text + "\n")
                out.flush()
            except BrokenPipeError:
                self.gone.set()
        self.stop_agents_if_gone()

    def stop_agents_if_gone(self) -> None:
        """SIGTERM to each agent not yet sent it, once the reader is gone."""
        if not self.gone.is_set():
            return
        with self.lock:
            for proc in list(self.agents):
                if proc.pid not in self._stopped and proc.poll() is None:
                    self._stopped.add(proc.pid)
                    with suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGTERM)


def _copy(pipe: IO[str], out: IO[str], prefix: str, output: _Output) -> None:
    """Copy an agent's lines, prefixed; once the reader is gone, drain them unwritten."""
    for line in pipe:
        output.line(out, prefix + line)


def _status(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit {code}"


@contextmanager
def _forwarding_signals(agents: Sequence[subprocess.Popen]) -> Iterator[None]:
    """Inside the block the first SIGINT/SIGTERM goes on to every agent, a second kills them."""
    received = 0

    def forward(signum: int, frame: object) -> None:
        nonlocal received
        received += 1
        to_send = signum if received == 1 else signal.SIGKILL
        for proc in agents:
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.kill(proc.pid, to_send)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
