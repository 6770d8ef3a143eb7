"""The offline sweep controller: W&B's engine, state in SQLite.

:func:`local_sweep` stores a sweep config (the offline ``wandb.sweep``); :func:`local_agent`
runs its runs (the offline ``wandb.agent``), any number of agent processes per sweep.

Example:
    >>> from kerasweep.local import local_agent, local_sweep
    >>> sweep_id = local_sweep("examples/digits-sweep.yaml")  # doctest: +SKIP
    >>> local_agent(sweep_id, count=4)  # doctest: +SKIP
"""

from __future__ import annotations

from kerasweep.local._agent import AgentResult, local_agent
from kerasweep.local._controller import local_sweep
from kerasweep.local._progress import ProgressObserver
from kerasweep.local._records import Band, RunRecord, RunState, StopReason
from kerasweep.local._results import export_sweep, load_sweep
from kerasweep.local._run import LocalRun, current_run, stop_requested
from kerasweep.local._store import Store, StoreError, UnknownSweepError
from kerasweep.local._sweep import Sweep

__all__ = [
    "AgentResult",
    "Band",
    "LocalRun",
    "ProgressObserver",
    "RunRecord",
    "RunState",
    "StopReason",
    "Store",
    "StoreError",
    "Sweep",
    "UnknownSweepError",
    "current_run",
    "export_sweep",
    "load_sweep",
    "local_agent",
    "local_sweep",
    "stop_requested",
]
