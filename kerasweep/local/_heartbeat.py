"""The agent's heartbeat: proof, every few seconds, that the agent and its run are alive.

Another agent marks a run preempted (to be resumed) once its heartbeat is stale. When the
store answers that the run is no longer this agent's, the run is asked to stop
(:meth:`LocalRun.request_stop`).

Example:
    >>> heartbeat = Heartbeat(store, agent_id, interval=10.0)  # doctest: +SKIP
    >>> heartbeat.start(); heartbeat.local_run = run  # doctest: +SKIP
    >>> heartbeat.stop()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading

from kerasweep.local._run import LocalRun
from kerasweep.local._store import Store

__all__ = ["Heartbeat"]

logger = logging.getLogger("kerasweep.local")


class Heartbeat(threading.Thread):
    """Refreshes the agent's and its run's heartbeat every ``interval`` seconds."""

    def __init__(self, store: Store, agent_id: str, interval: float) -> None:
        super().__init__(name="kerasweep-heartbeat", daemon=True)
        self.store, self.agent_id, self.interval = store, agent_id, interval
        self.local_run: LocalRun | None = None
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            local_run = self.local_run
            run_id = local_run.id if local_run is not None else None
            try:
                if not self.store.heartbeat(self.agent_id, run_id) and local_run is not None:
                    local_run.request_stop()  # the run is no longer this agent's
            except Exception:  # a busy store must not kill the heartbeat
                logger.debug("heartbeat failed", exc_info=True)
        self.store.close()

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=self.interval + 5)
