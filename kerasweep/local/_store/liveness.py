"""Which agents are live: the agents a sweep's shown state counts.

An agent is live while it has not ended, its last heartbeat is recent (within the agents'
default ``stale_after``) and, on this host, its process still exists: the same tests that
mark a silent agent's run crashed.
"""

from __future__ import annotations

import socket
import time

import sqlalchemy as sa

from kerasweep.local._store.runs import pid_alive
from kerasweep.local._store.schema import agents

__all__ = ["LIVE_WITHIN", "live_agents"]

#: An agent whose last heartbeat is older than this many seconds is not live.
LIVE_WITHIN = 60.0


def live_agents(conn: sa.Connection) -> dict[str, int]:
    """The number of live agents of each sweep that has any."""
    query = sa.select(agents.c.sweep_id, agents.c.host, agents.c.pid).where(
        agents.c.ended_at.is_(None), agents.c.heartbeat_at >= time.time() - LIVE_WITHIN
    )
    host = socket.gethostname()
    counts: dict[str, int] = {}
    for row in conn.execute(query):
        if row.host == host and not pid_alive(row.pid):
            continue
        counts[row.sweep_id] = counts.get(row.sweep_id, 0) + 1
    return counts
