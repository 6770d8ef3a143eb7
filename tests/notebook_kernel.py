"""Run notebooks in a real IPython kernel started from this Python (nothing installed globally).

The kernel spec lives in a temporary Jupyter data folder (``JUPYTER_PATH``) and starts
``sys.executable -m ipykernel_launcher`` with this checkout on ``PYTHONPATH``, so a test sees
kerasweep as a notebook user would, in a fresh process: without the variables that quiet
TensorFlow and wandb or choose a store (the test process may have set them), ``HOME`` a
fresh folder (no W&B login).

Example:
    >>> nb = run_notebook([code_cell("1 + 1")], tmp_path)  # doctest: +SKIP
    >>> nb.cells[0].outputs[0]["data"]["text/plain"]  # doctest: +SKIP
    '2'
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "kerasweep-test-python"
# what a user's fresh kernel does not have: quieting, a chosen store, a W&B login
UNSET_PREFIXES = ("WANDB_", "KERASWEEP_", "TF_", "GRPC_", "PYTEST_")


def code_cell(source: str) -> Any:
    return nbformat.v4.new_code_cell(source)


def _kernel_spec(folder: Path, env: Mapping[str, str]) -> Path:
    """A kernel spec for this Python under ``folder/kernels``; returns the Jupyter path."""
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    kernel_env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    kernel_env.update(env)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "kerasweep test",
                "language": "python",
                "env": kernel_env,
            }
        )
    )
    return folder


def run_notebook(
    cells: Sequence[Any] | Any,
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: int = 600,
    allow_errors: bool = False,
    interrupt_when: Path | None = None,
) -> Any:
    """Execute a notebook (or a list of cells) in ``cwd``; returns the executed notebook.

    ``env`` is added to the kernel's environment. ``interrupt_when``: once a cell writes the
    kernel's pid (``os.getpid()``) in this file, the kernel gets SIGINT, as the notebook's
    stop button sends.
    """
    nb = cells if hasattr(cells, "cells") else nbformat.v4.new_notebook(cells=list(cells))
    home = cwd / ".home"
    home.mkdir(exist_ok=True)
    jupyter = _kernel_spec(cwd / ".jupyter-test", {"HOME": str(home), **(env or {})})
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith(UNSET_PREFIXES)]:
        del os.environ[name]
    os.environ["JUPYTER_PATH"] = str(jupyter)
    try:
        client = nbclient.NotebookClient(
            nb,
            kernel_name=KERNEL,
            timeout=timeout,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(cwd)}},
        )
        if interrupt_when is None:
            client.execute()
        else:
            _execute_interrupting(client, interrupt_when)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return nb


def _execute_interrupting(client: Any, when: Path) -> None:
    """Execute every cell; once ``when`` exists (a cell writes the kernel's pid in it), send
    the kernel SIGINT, as the notebook's stop button does."""
    import signal
    import threading
    import time

    done = threading.Event()

    def interrupt() -> None:
        while not done.is_set():
            if when.exists() and when.read_text().strip():
                os.kill(int(when.read_text()), signal.SIGINT)
                return
            time.sleep(0.1)

    client.reset_execution_trackers()
    with client.setup_kernel():
        watcher = threading.Thread(target=interrupt, daemon=True)
        watcher.start()
        try:
            for index, cell in enumerate(client.nb.cells):
                client.execute_cell(cell, index)
        finally:
            done.set()


def outputs(nb: Any, name: str | None = None) -> list[dict]:
    """Every output of every cell (``name``: only streams of that name)."""
    found = [out for cell in nb.cells for out in cell.get("outputs", [])]
    if name is not None:
        found = [o for o in found if o.get("output_type") == "stream" and o.get("name") == name]
    return found
