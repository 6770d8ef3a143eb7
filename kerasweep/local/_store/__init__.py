"""The local sweep store: sweeps, runs and their logged rows, in SQLite or PostgreSQL.

A path (the default ``./kerasweep.db``) is an embedded SQLite file for one machine; a
``postgresql://user:password@host:port/dbname`` URL is a PostgreSQL server that agents on
many machines share (``pip install 'kerasweep[postgres]'``). Both behave the same: runs are
claimed atomically, heartbeats tell live agents from dead ones, and the schema carries its
version (older stores are migrated when opened).

Modules, by job: :mod:`~kerasweep.local._store.location` (paths, URLs, redaction),
:mod:`~kerasweep.local._store.database` (connections, transactions, reconnects),
:mod:`~kerasweep.local._store.schema` (tables, versions, migrations),
:mod:`~kerasweep.local._store.sweeps`, :mod:`~kerasweep.local._store.runs` (agents, claims,
ends), :mod:`~kerasweep.local._store.history` (logged rows) and
:mod:`~kerasweep.local._store.metrics` (the metric values hyperband reads, read as they come),
behind :class:`~kerasweep.local._store.store.Store`.

Example:
    >>> import tempfile, os
    >>> store = Store(os.path.join(tempfile.mkdtemp(), "kerasweep.db"))
    >>> sweep_id = store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    >>> [sweep.id for sweep in store.sweeps()] == [sweep_id]
    True
"""

from __future__ import annotations

from kerasweep.local._records import (
    Band,
    NewRun,
    RunRecord,
    RunState,
    StopReason,
    SweepRecord,
)
from kerasweep.local._store.errors import (
    StoreError,
    StoreFullError,
    StoreLocationError,
    StoreLostError,
    StoreReadOnlyError,
    StoreUnavailableError,
    StoreVersionError,
    UnknownSweepError,
)
from kerasweep.local._store.location import (
    DB_ENV_VAR,
    DEFAULT_DB,
    StoreLocation,
    redact,
    resolve_db,
    resolve_db_path,
)
from kerasweep.local._store.metrics import SweepMetrics
from kerasweep.local._store.reader import StoreReader
from kerasweep.local._store.runs import SweepSoFar
from kerasweep.local._store.schema import SCHEMA_VERSION
from kerasweep.local._store.store import Store
from kerasweep.local._store.values import metric_value, plain
from kerasweep.local._sweep import Sweep

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
    "SweepSoFar",
    "UnknownSweepError",
    "metric_value",
    "plain",
    "redact",
    "resolve_db",
    "resolve_db_path",
]
