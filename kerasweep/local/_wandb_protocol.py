"""What ``wandb.agent`` hands a run, done the same way for a local run.

The protocol ``wandb.agent`` uses, checked against wandb 0.31 offline:

- the parameters are written as ``{key: {value: v}}`` YAML and ``WANDB_SWEEP_PARAM_PATH``
  points to the file; ``wandb.init(config=defaults)`` merges them over the defaults and locks
  those keys (offline, a later ``config.update`` of them is ignored with a warning; with
  ``mode="disabled"`` it raises).
- ``WANDB_RUN_ID`` becomes the run's id. ``wandb.agent`` calls ``wandb.teardown()`` before
  each run so the next ``wandb.init`` reads these variables again; the local agent makes
  wandb forget only the settings it read, keeping its service between runs (see
  :mod:`kerasweep.local._wandb_session`), and tears wandb down when it ends.
- ``WANDB_SWEEP_ID`` is *not* set: with it, ``wandb.init`` ignores its ``project``,
  ``entity`` and ``id`` arguments and records the sweep id in the run, and ``wandb sync``
  then fails with "sweep ... not found" (404) because the sweep exists only locally. Runs
  are labelled with the sweep instead by group (``sweep-<id>``, ``WANDB_RUN_GROUP``) and
  name (``<sweep id>-<n>``, ``WANDB_NAME``); ``wandb.init`` arguments still win.
  ``KERASWEEP_SWEEP_ID`` and ``KERASWEEP_RUN_ID`` name the sweep and run for the function.

Example:
    >>> with params_file(run, wandb_mode="offline") as path:  # doctest: +SKIP
    ...     with environ(run_environ(run, path, wandb_mode="offline")):
    ...         function()
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from kerasweep.local._run import LocalRun

__all__ = ["WANDB_MODES", "environ", "params_file", "resolve_wandb_mode", "run_environ"]

#: how a local run's wandb may run: syncable files, or nothing at all
WANDB_MODES = ("offline", "disabled")


def resolve_wandb_mode(mode: str | None) -> str:
    """``mode`` checked; None gives ``"disabled"`` if ``$WANDB_MODE`` says so, else offline.

    >>> resolve_wandb_mode("disabled")
    'disabled'
    """
    if mode is None:
        return "disabled" if os.environ.get("WANDB_MODE") == "disabled" else "offline"
    if mode not in WANDB_MODES:
        raise ValueError(f"wandb_mode {mode!r}: expected one of {', '.join(WANDB_MODES)}")
    return mode


@contextmanager
def params_file(run: LocalRun, *, wandb_mode: str) -> Iterator[Path]:
    """The run's ``{key: {value: v}}`` YAML, where ``wandb.agent`` puts it.

    Under ``$WANDB_DIR`` (or the working directory) ``wandb/sweep-<id>/``; in a temporary
    directory, removed after the block, when wandb is disabled.
    """
    import yaml

    tmp = None
    if wandb_mode == "disabled":
        tmp = base = Path(tempfile.mkdtemp(prefix="kerasweep-"))
    else:
        base = Path(os.environ.get("WANDB_DIR") or os.getcwd())
    path = base / "wandb" / f"sweep-{run.sweep_id}" / f"config-{run.id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    params = {key: {"value": value} for key, value in run.params.items()}
    path.write_text(yaml.safe_dump(params, default_flow_style=False, sort_keys=False))
    try:
        yield path
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_environ(run: LocalRun, params_path: Path, *, wandb_mode: str) -> dict[str, str | None]:
    """The variables a run's ``wandb.init`` reads (None: unset)."""
    env: dict[str, str | None] = {
        "WANDB_MODE": wandb_mode,
        "WANDB_SWEEP_PARAM_PATH": str(params_path),
        "WANDB_RUN_ID": run.id,
        "WANDB_SWEEP_ID": None,
        "WANDB_RUN_GROUP": f"sweep-{run.sweep_id}",
        "WANDB_NAME": run.name,
        "KERASWEEP_SWEEP_ID": run.sweep_id,
        "KERASWEEP_RUN_ID": run.id,
    }
    if run.sweep.project:
        env["WANDB_PROJECT"] = run.sweep.project
    return env


def with_environ(base: Mapping[str, str], values: Mapping[str, str | None]) -> dict[str, str]:
    """``base`` with ``values`` set (None: removed).

    >>> with_environ({"A": "1", "B": "2"}, {"A": None, "C": "3"})
    {'B': '2', 'C': '3'}
    """
    env = dict(base)
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@contextmanager
def environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables inside the block."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
