"""The store's tables, its schema version, and the migrations from older versions.

The same tables on SQLite and PostgreSQL (SQLAlchemy Core)::

    sweeps(id, name, project, config JSON, seed, state running|finished, created_at)
    agents(id, sweep_id, host, pid, started_at, heartbeat_at unix, ended_at)
    runs(seq autoincrement, id unique, sweep_id, name, state, params JSON, agent_id,
         retry_of, search_info JSON, error, stop_band, stop_threshold, stop_value,
         stop_epoch, created_at, started_at, ended_at, heartbeat_at unix,
         resumed_at JSON list of epochs, reached_target)
    history(run_id, step, row JSON, metric finite-or-NULL)  primary key (run_id, step)
    bands(sweep_id, band, threshold)  latest hyperband thresholds

The version is ``PRAGMA user_version`` in an SQLite file (as in version 1, the first
release's) and the one row of ``kerasweep_schema`` on PostgreSQL. Versions:

1. the first release (SQLite only).
2. ``sweeps.seed`` (the search seed), an index on ``runs.retry_of``, PostgreSQL.
3. the ``preempted`` run state, ``runs.resumed_at`` (where a run was resumed) and runs
   indexed by sweep and state.
4. ``runs.reached_target``, indexed by sweep: whether a metric value of the run reached
   the sweep's ``metric.target`` (kept as rows are written, so that asking whether a sweep
   is over reads no rows).

Opening an older store migrates it in one transaction; a newer one is refused with a line
saying which kerasweep reads it.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from kerasweep.local._records import RunState
from kerasweep.local._store.errors import StoreError, StoreVersionError
from kerasweep.sweep_config._metric import Metric

__all__ = [
    "SCHEMA_VERSION",
    "agents",
    "bands",
    "ensure_schema",
    "history",
    "metadata",
    "read_version",
    "runs",
    "sweeps",
]

SCHEMA_VERSION = 4

metadata = sa.MetaData()
_STATES = ", ".join(f"'{state.value}'" for state in RunState)
# heartbeats are unix seconds; every other time is ISO 8601 text (UTC, milliseconds)
_Seconds = sa.Float(precision=53)

sweeps = sa.Table(
    "sweeps",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("project", sa.Text),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False, server_default="running"),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("seed", sa.BigInteger),
    sa.CheckConstraint("state IN ('running', 'finished')", name="sweeps_state"),
)

agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("sweep_id", sa.Text, sa.ForeignKey("sweeps.id"), nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Text, nullable=False),
    sa.Column("heartbeat_at", _Seconds, nullable=False),
    sa.Column("ended_at", sa.Text),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("sweep_id", sa.Text, sa.ForeignKey("sweeps.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("agent_id", sa.Text, sa.ForeignKey("agents.id")),
    sa.Column("retry_of", sa.Text, sa.ForeignKey("runs.id")),
    sa.Column("search_info", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("stop_band", sa.Integer),
    sa.Column("stop_threshold", _Seconds),
    sa.Column("stop_value", _Seconds),
    sa.Column("stop_epoch", sa.Integer),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("started_at", sa.Text),
    sa.Column("ended_at", sa.Text),
    sa.Column("heartbeat_at", _Seconds),
    sa.Column("resumed_at", sa.Text),
    sa.Column("reached_target", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint(f"state IN ({_STATES})", name="runs_state"),
    sa.Index("runs_by_sweep", "sweep_id", "seq"),
    sa.Index("runs_by_sweep_state", "sweep_id", "state"),
    sa.Index("runs_by_sweep_target", "sweep_id", "reached_target"),
    sa.Index("runs_by_retry_of", "retry_of"),
    sqlite_autoincrement=True,
)


def _positions_of(
    name: str, parent_key: str, parent: str, position: str, *columns: sa.Column
) -> sa.Table:
    """A table of what one parent row holds at integer positions: keyed by (parent, position),
    clustered by that key (no SQLite rowid)."""
    return sa.Table(
        name,
        metadata,
        sa.Column(parent_key, sa.Text, sa.ForeignKey(parent), primary_key=True),
        sa.Column(position, sa.Integer, primary_key=True, autoincrement=False),
        *columns,
        sqlite_with_rowid=False,
    )


# a run's logged rows by step; a sweep's latest hyperband thresholds by band
history = _positions_of(
    "history", "run_id", "runs.id", "step",
    sa.Column("row", sa.Text, nullable=False), sa.Column("metric", _Seconds),
)  # fmt: skip
bands = _positions_of("bands", "sweep_id", "sweeps.id", "band", sa.Column("threshold", _Seconds))


# PostgreSQL only: SQLite keeps the version in its file header (PRAGMA user_version)
_version = sa.Table(
    "kerasweep_schema", sa.MetaData(), sa.Column("version", sa.Integer, nullable=False)
)


def read_version(conn: sa.Connection) -> int:
    """The schema version of the store ``conn`` is on (0: no kerasweep store there)."""
    if conn.dialect.name == "sqlite":
        return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
    if not sa.inspect(conn).has_table(_version.name):
        return 0
    return int(conn.execute(sa.select(_version.c.version)).scalar_one_or_none() or 0)


def _write_version(conn: sa.Connection, version: int) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA user_version = {int(version)}")
        return
    _version.create(conn, checkfirst=True)
    conn.execute(_version.delete())
    conn.execute(_version.insert().values(version=version))


def _migrate_1_to_2(conn: sa.Connection) -> None:
    """Add ``sweeps.seed`` (unless a copy of version 1 already has it) and the retry index."""
    columns = {column["name"] for column in sa.inspect(conn).get_columns("sweeps")}
    if "seed" not in columns:
        conn.exec_driver_sql("ALTER TABLE sweeps ADD COLUMN seed BIGINT")
    metadata.create_all(conn)  # any table a damaged copy lacks (checked first, kept if there)
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS runs_by_retry_of ON runs (retry_of)")


def _migrate_2_to_3(conn: sa.Connection) -> None:
    """Add ``runs.resumed_at``, index runs by sweep and state, and let ``runs.state`` be
    ``preempted``.

    SQLite cannot alter a CHECK constraint: its text in the schema is rewritten in place
    (a looser check; the rows on disk are unchanged), as SQLite's documentation allows.
    """
    columns = {column["name"] for column in sa.inspect(conn).get_columns("runs")}
    if "resumed_at" not in columns:
        conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN resumed_at TEXT")
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS runs_by_sweep_state ON runs (sweep_id, state)"
    )
    check = f"CHECK (state IN ({_STATES}))"
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_state")
        conn.exec_driver_sql(f"ALTER TABLE runs ADD CONSTRAINT runs_state {check}")
        return
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
    ).scalar_one()
    new_sql = re.sub(r"CHECK \(state IN \([^)]*\)\)", lambda _: check, sql, count=1)
    if new_sql == sql:
        return
    schema_version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'runs'",
            (new_sql,),
        )
        conn.exec_driver_sql(f"PRAGMA schema_version = {int(schema_version) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def _migrate_3_to_4(conn: sa.Connection) -> None:
    """Add ``runs.reached_target``, indexed by sweep, and set it from the rows stored."""
    columns = {column["name"] for column in sa.inspect(conn).get_columns("runs")}
    if "reached_target" not in columns:
        false = "0" if conn.dialect.name == "sqlite" else "false"
        conn.exec_driver_sql(
            f"ALTER TABLE runs ADD COLUMN reached_target BOOLEAN NOT NULL DEFAULT {false}"
        )
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS runs_by_sweep_target ON runs (sweep_id, reached_target)"
    )
    for sweep_id, config in conn.execute(sa.select(sweeps.c.id, sweeps.c.config)).all():
        try:
            metric = Metric.from_config(json.loads(config))
        except (ValueError, TypeError, KeyError):
            continue  # not a config this kerasweep reads: no target to keep
        if metric is None or metric.target is None:
            continue
        value, target = history.c.metric, metric.target
        reaching = value >= target if metric.maximize else value <= target
        reached = sa.select(history.c.run_id).where(reaching)
        conn.execute(
            runs.update()
            .where(runs.c.sweep_id == sweep_id, runs.c.id.in_(reached))
            .values(reached_target=True)
        )


_MIGRATIONS = {1: _migrate_1_to_2, 2: _migrate_2_to_3, 3: _migrate_3_to_4}


def ensure_schema(conn: sa.Connection, where: str, *, version: int | None = None) -> None:
    """Bring the store on ``conn`` (inside a write transaction) to :data:`SCHEMA_VERSION`.

    An empty database gets the tables; an older store is migrated step by step. ``where``
    names the store in errors.

    Raises:
        StoreVersionError: The store is newer than this kerasweep.
        StoreError: The database holds other tables than a kerasweep store's.
    """
    found = read_version(conn) if version is None else version
    if found > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{where} has store schema {found}; this kerasweep reads schemas up to "
            f"{SCHEMA_VERSION}: upgrade kerasweep (pip install -U kerasweep) to open it"
        )
    if found == SCHEMA_VERSION:
        return
    if found == 0:
        if sa.inspect(conn).has_table("sweeps") or (
            conn.dialect.name == "sqlite" and sa.inspect(conn).get_table_names()
        ):
            raise StoreError(f"{where} holds other tables, not a kerasweep store")
        metadata.create_all(conn)
    else:
        for step in range(found, SCHEMA_VERSION):
            _MIGRATIONS[step](conn)
    _write_version(conn, SCHEMA_VERSION)
