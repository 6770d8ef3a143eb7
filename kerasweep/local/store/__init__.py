"""The local sweep store: sweeps, runs and their logged rows, in SQLite or PostgreSQL.

A path (the default ``./kerasweep.db``) is an embedded SQLite file for one machine; a
``postgresql://user:password@host:port/dbname`` URL is a PostgreSQL server that agents on
many machines share (``pip install 'kerasweep[postgres]'``). Both behave the same: runs are
claimed atomically, heartbeats tell live agents from dead ones, and the schema carries its
version (older stores are migrated when opened).

Modules, by job: :mod:`~kerasweep.local.store.location` (paths, URLs, redaction),
:mod:`~kerasweep.local.store.database` (connections, transactions, reconnects),
:mod:`~kerasweep.local.store.schema` (tables, versions, migrations),
:mod:`~kerasweep.local.store.sweeps`, :mod:`~kerasweep.local.store.runs` (agents, claims,
ends), :mod:`~kerasweep.local.store.history` (logged rows) and
:mod:`~kerasweep.local.store.metrics` (the metric values hyperband reads, read as they come),
behind :class:`~kerasweep.local.store.store.Store`.

Example:
    >>> import tempfile, os
    >>> store = Store(os.path.join(tempfile.mkdtemp(), "kerasweep.db"))
    >>> sweep_id = store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    >>> [sweep.id for sweep in store.sweeps()] == [sweep_id]
    True
"""

from __future__ import annotations

from kerasweep.local.records import (
    Band,
    NewRun,
    RunRecord,
    RunState,
    StopReason,
    Sweep,
    SweepRecord,
)
from kerasweep.local.store.errors import (
    StoreError,
    StoreFullError,
    StoreLocationError,
    StoreLostError,
    StoreReadOnlyError,
    StoreUnavailableError,
    StoreVersionError,
    UnknownSweepError,
)
from kerasweep.local.store.location import (
    DB_ENV_VAR,
    DEFAULT_DB,
    StoreLocation,
    redact,
    resolve_db,
    resolve_db_path,
)
from kerasweep.local.store.metrics import SweepMetrics
from kerasweep.local.store.reader import StoreReader
from kerasweep.local.store.schema import SCHEMA_VERSION
from kerasweep.local.store.store import Store
from kerasweep.local.store.values import metric_value, plain

RUN_STATES = tuple(state.value for state in RunState)

__all__ = [
    "DB_ENV_VAR",
    "DEFAULT_DB",
    "RUN_STATES",
    "SCHEMA_VERSION",
    "Band",
    "NewRun",
    "RunRecord",
    "RunState",
    "StopReason",
    "Store",
    "StoreError",
    "StoreFullError",
    "StoreLocation",
    "StoreLocationError",
    "StoreLostError",
    "StoreReadOnlyError",
    "StoreReader",
    "StoreUnavailableError",
    "StoreVersionError",
    "Sweep",
    "SweepMetrics",
    "SweepRecord",
    "UnknownSweepError",
    "metric_value",
    "plain",
    "redact",
    "resolve_db",
    "resolve_db_path",
]
