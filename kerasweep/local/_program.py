"""Program mode: a sweep config with ``program:`` runs that program once per run.

The command is built as ``wandb agent`` builds it: ``command:`` from the config (default
``${env} ${interpreter} ${program} ${args}``), with the same macros (``${args}`` gives
``--key=value`` per parameter; also ``${args_no_hyphens}``, ``${args_no_boolean_flags}``,
``${args_json}``, ``${args_json_file}``, ``${args_no_equals}``, ``${args_append_hydra}``,
``${args_override_hydra}``, ``${envvar:NAME}``). ``${interpreter}`` is the Python running the
agent (``wandb agent`` says ``python``), so the program sees the same packages.

How rows and stops reach the store: where the template starts ``${program}`` with
``${interpreter}`` (the default does), the program is started through
:mod:`kerasweep.local._program_bridge` (``python -m kerasweep.local._program_bridge train.py
--lr=0.1``, or ``... program_bridge -m pkg.train ...``). The bridge reads which run it is from
the ``KERASWEEP_CHILD_*`` variables, attaches a :class:`~kerasweep.local._run.LocalRun` to
it, records the program's wandb rows for as long as the program runs, then runs the program
as Python would (``__main__``, ``sys.argv``, ``sys.path[0]``). Each row the program logs is
written to the store from the program's own process, and hyperband is applied there after
each metric row, exactly as for a function run: a program using
:class:`kerasweep.SweepMetricsLogger` (or asking :func:`kerasweep.local.stop_requested`)
ends ``fit`` cleanly. A template that starts the program another way (a literal ``python``)
runs it as written, unrecorded. The agent watches the store: if a stopped program is still
running after ``stop_grace`` seconds it gets SIGTERM, then SIGKILL ``kill_delay`` seconds
later (W&B's agent sends SIGTERM then SIGKILL after 30 s); the program runs in its own process
group and the signals go to the whole group, so processes it started end with it. Exit status
0 means finished (or stopped), anything else failed, with the program's last error line as the
error.
On Linux the program also gets SIGTERM if its agent dies (even by ``kill -9``), so no run
goes on training, unowned, after its agent is gone.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerasweep.local._children import start_child

__all__ = [
    "BRIDGE_MODULE",
    "CHILD_ENV_VARS",
    "DEFAULT_COMMAND",
    "ProgramResult",
    "build_command",
    "child_env",
    "command_args",
    "program_file",
    "run_program",
    "take_child_env",
]

DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
_ENVVAR_MACRO = re.compile(r"\$\{envvar:([A-Za-z0-9_]*)\}")
#: the module a recorded program is started through
BRIDGE_MODULE = "kerasweep.local._program_bridge"

# what the bridge reads in the program's process
CHILD_ENV_VARS = ("KERASWEEP_CHILD_DB", "KERASWEEP_CHILD_SWEEP", "KERASWEEP_CHILD_RUN",
                  "KERASWEEP_CHILD_AGENT", "KERASWEEP_CHILD_RECONNECT_TIMEOUT")  # fmt: skip


def program_file(config: Mapping[str, Any]) -> str | None:
    """The file a program-mode config runs, or None (no program, or ``-m ${program}``).

    >>> program_file({"program": "train.py"}), program_file({"program": "pkg.train",
    ...     "command": ["${env}", "${interpreter}", "-m", "${program}", "${args}"]})
    ('train.py', None)
    """
    program = config.get("program")
    if not program:
        return None
    template = [str(c) for c in (config.get("command") or DEFAULT_COMMAND)]
    for before, chunk in zip(["", *template], template, strict=False):
        if chunk == "${program}" and before != "-m":
            return str(program)
    return None


def command_args(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """The argument lists behind each ``${args...}`` macro, formatted as ``wandb agent`` does.

    >>> command_args({"lr": 0.01, "aug": False})["args"]
    ['--lr=0.01', '--aug=False']
    >>> command_args({"lr": 0.01, "aug": False})["args_no_boolean_flags"]
    ['--lr=0.01']
    """
    flags, no_hyphens, no_booleans, no_equals, append, override = [], [], [], [], [], []
    for key, value in params.items():
        flag = f"{key}={value}"
        flags.append(f"--{flag}")
        no_hyphens.append(flag)
        no_equals += [f"--{key}", str(value)]
        append.append(f"+{flag}")
        override.append(f"++{flag}")
        if isinstance(value, bool):
            if value:
                no_booleans.append(f"--{key}")
        else:
            no_booleans.append(f"--{flag}")
    return {
        "args": flags,
        "args_no_hyphens": no_hyphens,
        "args_no_boolean_flags": no_booleans,
        "args_no_equals": no_equals,
        "args_json": [json.dumps(dict(params))],
        "args_append_hydra": append,
        "args_override_hydra": override,
    }


def build_command(
    config: Mapping[str, Any],
    params: Mapping[str, Any],
    *,
    args_json_file: str | None = None,
    bridge: bool = False,
) -> list[str]:
    """The command line of one run of a program-mode sweep.

    With ``bridge``, a program that ``${interpreter}`` starts is started through
    :data:`BRIDGE_MODULE`, which records its wandb rows (see the module's docstring).

    >>> cmd = build_command({"program": "train.py"}, {"lr": 0.1})
    >>> cmd[0], cmd[2:]
    ('/usr/bin/env', ['train.py', '--lr=0.1'])
    >>> build_command({"program": "train.py"}, {"lr": 0.1}, bridge=True)[2:]
    ['-m', 'kerasweep.local._program_bridge', 'train.py', '--lr=0.1']
    """
    template = [str(chunk) for chunk in (config.get("command") or DEFAULT_COMMAND)]
    macros: dict[str, list[str]] = dict(command_args(params))
    macros["env"] = ["/usr/bin/env"] if os.name == "posix" else []
    macros["interpreter"] = [sys.executable]
    macros["program"] = [str(config["program"])] if config.get("program") else []
    macros["args_json_file"] = [args_json_file] if args_json_file else []
    bridged = bridge and _interpreter_starts_program(template)
    command: list[str] = []
    for before, chunk in zip(["", *template], template, strict=False):
        chunk = _ENVVAR_MACRO.sub(lambda m: os.environ.get(m.group(1), m.group(1)), chunk)
        if bridged and chunk == "${program}":
            if before == "-m":  # ``-m ${program}``: ``-m bridge -m program``
                command += [BRIDGE_MODULE, "-m"]
            else:
                command += ["-m", BRIDGE_MODULE]
        if chunk.startswith("${") and chunk.endswith("}"):
            command += macros.get(chunk[2:-1], [])
        else:
            command.append(chunk)
    return command


def _interpreter_starts_program(template: Sequence[str]) -> bool:
    """True if ``${interpreter}`` comes before ``${program}`` (options may sit between).

    >>> _interpreter_starts_program(["${env}", "${interpreter}", "-u", "${program}"])
    True
    >>> _interpreter_starts_program(["python3", "${program}", "${args}"])
    False
    """
    if "${interpreter}" not in template or "${program}" not in template:
        return False
    between = template[template.index("${interpreter}") + 1 : template.index("${program}")]
    return all(chunk.startswith("-") and not chunk.startswith("${") for chunk in between)


def child_env(
    base: Mapping[str, str],
    *,
    db: Any,
    sweep_id: str,
    run_id: str,
    agent_id: str,
    reconnect_timeout: float = 60.0,
) -> dict[str, str]:
    """The environment of a program run: ``base`` plus what the bridge reads.

    ``db`` is the store (a path, URL or ``StoreLocation``), passed on to be reopened from
    the program's working directory; ``reconnect_timeout`` is the agent's (the program's
    process waits as long for a PostgreSQL server that went away). When this kerasweep is
    not installed where the interpreter finds it by itself (a source checkout), the
    directory it was imported from goes on ``PYTHONPATH`` so that the bridge imports the
    same copy.
    """
    from kerasweep.local._store.location import resolve_db

    env = dict(base)
    values = (resolve_db(db).reopen(), sweep_id, run_id, agent_id, repr(float(reconnect_timeout)))
    env.update(zip(CHILD_ENV_VARS, values, strict=True))
    root = _import_root()
    if root is not None:
        paths = [root, *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONUNBUFFERED", "1")  # output in order, as it comes
    return env


def _import_root() -> str | None:
    """The directory this kerasweep was imported from, if not one of the site directories."""
    import site

    root = Path(__file__).resolve().parents[2]  # holds the kerasweep package
    sites = [*site.getsitepackages(), site.getusersitepackages()]
    if any(Path(p).resolve() == root for p in sites if p):
        return None
    return str(root)


def take_child_env() -> tuple[str, str, str, str, str] | None:
    """In a program's process: the run it records (db, sweep, run, agent, the agent's
    reconnect timeout in seconds), or None.

    The variables are removed, so that processes the program starts do not record too.
    """
    values = [os.environ.pop(name, None) for name in CHILD_ENV_VARS]
    if not all(values):
        return None
    db, sweep_id, run_id, agent_id, reconnect_timeout = values
    return db, sweep_id, run_id, agent_id, reconnect_timeout


@dataclass
class ProgramResult:
    """How a program run ended."""

    returncode: int
    terminated: bool = False  # the agent sent SIGTERM/SIGKILL after a stop
    tail: list[str] = field(default_factory=list)  # last output lines

    @property
    def error(self) -> str | None:
        """One line saying why the program failed, or None if it succeeded."""
        if self.returncode == 0:
            return None
        if self.returncode < 0:
            try:
                name = signal.Signals(-self.returncode).name
            except ValueError:
                name = f"signal {-self.returncode}"
            why = f"killed by {name}"
        else:
            why = f"exit status {self.returncode}"
        last = _exception_line(self.tail) or next(
            (line for line in reversed(self.tail) if line.strip()), ""
        )
        return f"{why}: {last.strip()}" if last else why


def _exception_line(lines: Sequence[str]) -> str | None:
    """The ``Error: message`` line of the last Python traceback in ``lines``, if any."""
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent")]
    if not starts:
        return None
    for line in lines[starts[-1] + 1 :]:
        if line.strip() and not line[0].isspace():
            return line
    return None


def run_program(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    should_stop,
    stop_grace: float = 10.0,
    kill_delay: float = 30.0,
    echo: bool = False,
    poll: float = 0.5,
) -> ProgramResult:
    """Run one program to its end; stop it if ``should_stop()`` turns True.

    Output (stdout and stderr) is read line by line: echoed to this process's stdout when
    ``echo``, and its last lines kept for the error message.
    """
    tail: collections.deque[str] = collections.deque(maxlen=20)
    # its own process group: signals reach the program's own subprocesses too
    proc = start_child(command, env, stderr=subprocess.STDOUT)

    def signal_group(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip("\n"))
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    stop_seen = term_sent = None
    try:
        while True:
            try:
                proc.wait(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if stop_seen is None and should_stop():
                stop_seen = now
            if stop_seen is not None and term_sent is None and now - stop_seen >= stop_grace:
                signal_group(signal.SIGTERM)
                term_sent = now
            elif term_sent is not None and now - term_sent >= kill_delay:
                signal_group(signal.SIGKILL)
    except BaseException:
        signal_group(signal.SIGTERM)
        try:
            proc.wait(timeout=kill_delay)
        except subprocess.TimeoutExpired:
            signal_group(signal.SIGKILL)
            proc.wait()
        raise
    finally:
        reader.join(timeout=2)
    return ProgramResult(proc.returncode, terminated=term_sent is not None, tail=list(tail))
