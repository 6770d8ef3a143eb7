"""How the commands kerasweep suggests (``kerasweep serve ...``, ``wandb sync ...``) start, as
this shell can type them.

After ``.venv/bin/kerasweep run sweep.yaml`` in a shell where the virtual environment is not
active, a plain ``kerasweep`` is not on ``PATH`` (or is another installation): the hints then
name the path that started this one, relative to the current folder when it is inside it.

Example:
    >>> kerasweep_command()  # doctest: +SKIP
    '.venv/bin/kerasweep'
    >>> wandb_command()  # doctest: +SKIP
    'wandb'
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

__all__ = ["kerasweep_command", "wandb_command"]


def _as_typed(path: str) -> str:
    """``path`` as a shell runs it: relative to the current folder when inside it."""
    path = os.path.abspath(path)
    relative = os.path.relpath(path)
    if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
        path = relative if os.sep in relative else os.path.join(os.curdir, relative)
    return shlex.quote(path)


def _same_file(a: str | None, b: str) -> bool:
    try:
        return a is not None and os.path.samefile(a, b)
    except OSError:
        return False


def _script(name: str, path: str) -> str:
    """``name`` if the shell's ``PATH`` finds the script at ``path``, else ``path`` as typed."""
    return name if _same_file(shutil.which(name), path) else _as_typed(path)


def _started_script() -> str | None:
    """The ``kerasweep`` console script running now, else the one beside the Python in use."""
    started = sys.argv[0] if sys.argv else ""
    if os.path.basename(started).startswith("kerasweep") and os.path.isfile(started):
        return started
    beside = os.path.join(os.path.dirname(sys.executable), "kerasweep")
    return beside if sys.executable and os.path.isfile(beside) else None


def kerasweep_command() -> str:
    """The start of a ``kerasweep ...`` command that runs this kerasweep from this shell.

    ``kerasweep`` when ``PATH`` finds the script that started this process; else its path
    (``.venv/bin/kerasweep``); without a script (``python -m kerasweep`` of a checkout), the
    Python in use with ``-m kerasweep``.
    """
    script = _started_script()
    if script is not None:
        return _script("kerasweep", script)
    python = os.path.basename(sys.executable)
    found = shutil.which(python)
    same = found is not None and os.path.abspath(found) == os.path.abspath(sys.executable)
    return f"{python if same else _as_typed(sys.executable)} -m kerasweep"


def wandb_command() -> str:
    """The start of a ``wandb ...`` command for the wandb beside the Python in use."""
    beside = os.path.join(os.path.dirname(sys.executable), "wandb")
    if not sys.executable or not os.path.isfile(beside):
        return "wandb"
    return _script("wandb", beside)
