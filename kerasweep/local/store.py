"""The local sweep store: sweeps, runs and their logged rows in one SQLite file.

Several agent processes may share one store: every change is a transaction (``BEGIN
IMMEDIATE``, so a writer waits for the others up to the busy timeout), the file is in WAL mode
so readers never block writers, and it is created with mode 0600 (it holds configs and
metrics, nothing to share with other users).

Example:
    >>> import tempfile, os
    >>> store = Store(os.path.join(tempfile.mkdtemp(), "kerasweep.db"))
    >>> sweep_id = store.create_sweep({"method": "grid", "parameters": {"a": {"values": [1]}}})
    >>> store.sweep(sweep_id).config["method"]
    'grid'

Schema (``PRAGMA user_version`` = 1; a store made before ``sweeps.seed`` gains it when opened)::

    sweeps(id, name, project, config JSON, state running|finished, created_at, seed or NULL)
    agents(id, sweep_id, host, pid, started_at, heartbeat_at unix, ended_at)
    runs(seq autoincrement, id unique, sweep_id, name, state, params JSON, agent_id,
         retry_of, search_info JSON, error, stop_band, stop_threshold, stop_value,
         stop_epoch, created_at, started_at, ended_at, heartbeat_at unix)
    history(run_id, step, row JSON, metric REAL finite-or-NULL)  primary key (run_id, step)
    bands(sweep_id, band, threshold)  latest hyperband thresholds
"""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import sqlite3
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from numbers import Number
from pathlib import Path
from typing import Any

__all__ = [
    "DB_ENV_VAR",
    "DEFAULT_DB",
    "RUN_STATES",
    "NewRun",
    "RunRecord",
    "Store",
    "StoreError",
    "SweepRecord",
    "UnknownSweepError",
    "metric_value",
    "plain",
    "resolve_db_path",
]

DEFAULT_DB = "kerasweep.db"
DB_ENV_VAR = "KERASWEEP_DB"
RUN_STATES = ("pending", "running", "finished", "stopped", "failed", "crashed")
TERMINAL_STATES = ("finished", "stopped", "failed", "crashed")
SCHEMA_VERSION = 1

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sweeps (
    id          TEXT PRIMARY KEY,
    name        TEXT,
    project     TEXT,
    config      TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'finished')),
    created_at  TEXT NOT NULL,
    seed        INTEGER
);
CREATE TABLE IF NOT EXISTS agents (
    id            TEXT PRIMARY KEY,
    sweep_id      TEXT NOT NULL REFERENCES sweeps(id),
    host          TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    started_at    TEXT NOT NULL,
    heartbeat_at  REAL NOT NULL,
    ended_at      TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    sweep_id        TEXT NOT NULL REFERENCES sweeps(id),
    name            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in RUN_STATES)})),
    params          TEXT NOT NULL,
    agent_id        TEXT REFERENCES agents(id),
    retry_of        TEXT REFERENCES runs(id),
    search_info     TEXT,
    error           TEXT,
    stop_band       INTEGER,
    stop_threshold  REAL,
    stop_value      REAL,
    stop_epoch      INTEGER,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    ended_at        TEXT,
    heartbeat_at    REAL
);
CREATE INDEX IF NOT EXISTS runs_by_sweep ON runs (sweep_id, seq);
CREATE TABLE IF NOT EXISTS history (
    run_id  TEXT NOT NULL REFERENCES runs(id),
    step    INTEGER NOT NULL,
    row     TEXT NOT NULL,
    metric  REAL,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bands (
    sweep_id   TEXT NOT NULL REFERENCES sweeps(id),
    band       INTEGER NOT NULL,
    threshold  REAL,
    PRIMARY KEY (sweep_id, band)
) WITHOUT ROWID;
"""

_ID_ALPHABET = string.ascii_lowercase + string.digits


class StoreError(RuntimeError):
    """The store cannot be opened or is not a kerasweep store."""


class UnknownSweepError(StoreError, KeyError):
    """No sweep with this id in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class SweepRecord:
    """One stored sweep."""

    id: str
    name: str | None
    project: str | None
    config: dict
    state: str
    created_at: str
    seed: int | None = None  # the search's seed (None: fresh entropy per proposal)

    @property
    def method(self) -> str:
        return str(self.config.get("method"))

    @property
    def metric(self) -> dict | None:
        """``{"name", "goal"}`` of the sweep metric (goal defaults to minimize), or None."""
        metric = self.config.get("metric")
        if not isinstance(metric, Mapping) or "name" not in metric:
            return None
        return {"name": str(metric["name"]), "goal": str(metric.get("goal", "minimize"))}


@dataclass(frozen=True)
class RunRecord:
    """One stored run; ``metric_values`` are its finite sweep-metric values in log order."""

    id: str
    seq: int
    sweep_id: str
    name: str
    state: str
    params: dict
    agent_id: str | None = None
    retry_of: str | None = None
    retried: bool = False
    error: str | None = None
    stop: dict | None = None
    created_at: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    metric_values: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class NewRun:
    """What a proposer hands :meth:`Store.claim_run`: the parameters of the run to start."""

    params: dict
    retry_of: str | None = None
    search_info: dict | None = None


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """The store path: ``db`` if given, else ``$KERASWEEP_DB``, else ``./kerasweep.db``."""
    if db is None or str(db) == "":
        db = os.environ.get(DB_ENV_VAR) or DEFAULT_DB
    return Path(db).expanduser()


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id(length: int = 8) -> str:
    """A random id in W&B's style: lowercase letters and digits."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


_DROP = object()


def plain(value: Any) -> Any:
    """``value`` as plain JSON-able Python (numpy and tensor scalars become numbers).

    Values that are not data (images, tables, arbitrary objects) are left out of mappings
    and become ``None`` elsewhere.

    >>> import numpy as np
    >>> plain({"a": np.float32(0.5), "b": [np.int64(2), object()], "c": object()})
    {'a': 0.5, 'b': [2, None]}
    """
    result = _plain(value)
    return None if result is _DROP else result


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            item = _plain(item)
            if item is not _DROP:
                out[str(key)] = item
        return out
    if isinstance(value, (list, tuple)):
        return [None if (item := _plain(v)) is _DROP else item for v in value]
    if hasattr(value, "numpy") and callable(value.numpy):  # eager tensors
        try:
            return _plain(value.numpy())
        except Exception:
            return _DROP
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        try:
            return _plain(value.tolist())
        except Exception:
            return _DROP
    if isinstance(value, Number):
        try:
            return float(value)
        except (TypeError, ValueError):
            return _DROP
    return _DROP


def metric_value(row: Mapping[str, Any], name: str) -> float | None:
    """The finite value of metric ``name`` in a logged row, else None.

    A dotted name also finds a nested value (``{"val": {"loss": 1}}`` for ``val.loss``).

    >>> metric_value({"val_loss": 0.25}, "val_loss")
    0.25
    >>> metric_value({"val_loss": float("nan")}, "val_loss") is None
    True
    """
    if name in row:
        value = row[name]
    else:
        value = row
        for part in name.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
    if isinstance(value, bool) or not isinstance(value, Number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child not yet reaped is a zombie: it runs nothing
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Store:
    """A kerasweep store in one SQLite file, safe to share between processes.

    Args:
        db: Path of the file; default ``$KERASWEEP_DB`` or ``./kerasweep.db``.
        create: Create the file (mode 0600) and its tables if missing. With False, a missing
            file raises :class:`StoreError` and nothing is written.
        busy_timeout: Seconds a writer waits for another writer before failing.
    """

    def __init__(
        self,
        db: str | os.PathLike | None = None,
        *,
        create: bool = True,
        busy_timeout: float = 60.0,
    ) -> None:
        self.path = resolve_db_path(db)
        self.busy_timeout = float(busy_timeout)
        self._local = threading.local()
        if not self.path.exists():
            if not create:
                raise StoreError(f"no kerasweep store at {self.path}")
            self._create_file()
        elif self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a kerasweep store")
        elif not create:
            self._require_existing_store()
        self._init_schema()

    # -- connections and transactions -------------------------------------------------------

    def _create_file(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        except OSError as err:
            raise StoreError(f"cannot create store {self.path}: {err.strerror}") from None
        os.close(fd)
        os.chmod(self.path, 0o600)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
                conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA foreign_keys = ON")
            except sqlite3.DatabaseError as err:
                raise StoreError(f"cannot open store {self.path}: {err}") from None
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection (others close when their thread's store goes)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _require_existing_store(self) -> None:
        """Refuse, without writing a byte, a file that is not already a kerasweep store."""
        if self.path.stat().st_size == 0:
            raise StoreError(f"{self.path} is an empty file, not a kerasweep store")
        try:
            probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                version = probe.execute("PRAGMA user_version").fetchone()[0]
            finally:
                probe.close()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open store {self.path}: {err}") from None
        if version == 0:
            raise StoreError(f"{self.path} is not a kerasweep store")

    def _init_schema(self) -> None:
        conn = self._conn()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            self._add_seed_column(conn)
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has store schema {version}; this kerasweep reads {SCHEMA_VERSION}"
            )
        try:
            with self._write() as conn:
                tables = {
                    r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                if tables and "sweeps" not in tables:
                    raise StoreError(f"{self.path} is an SQLite file but not a kerasweep store")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open store {self.path}: {err}") from None

    def _add_seed_column(self, conn: sqlite3.Connection) -> None:
        """Give a store made before sweeps had a seed its ``seed`` column (NULL: unseeded)."""
        if any(col[1] == "seed" for col in conn.execute("PRAGMA table_info(sweeps)")):
            return
        try:
            with self._write() as conn:
                if not any(col[1] == "seed" for col in conn.execute("PRAGMA table_info(sweeps)")):
                    conn.execute("ALTER TABLE sweeps ADD COLUMN seed INTEGER")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open store {self.path}: {err}") from None

    # -- sweeps ------------------------------------------------------------------------------

    def create_sweep(
        self,
        config: Mapping[str, Any],
        *,
        name: str | None = None,
        project: str | None = None,
        seed: int | None = None,
    ) -> str:
        """Store a (validated) sweep config and return the new sweep's id."""
        config = plain(dict(config))
        name = name if name is not None else config.get("name")
        project = project if project is not None else config.get("project")
        with self._write() as conn:
            while True:
                sweep_id = new_id()
                if not conn.execute("SELECT 1 FROM sweeps WHERE id=?", (sweep_id,)).fetchone():
                    break
            conn.execute(
                "INSERT INTO sweeps (id, name, project, config, created_at, seed)"
                " VALUES (?,?,?,?,?,?)",
                (sweep_id, name, project, _dumps(config), now_iso(), seed),
            )
        return sweep_id

    @staticmethod
    def _sweep_from_row(row: sqlite3.Row) -> SweepRecord:
        return SweepRecord(
            id=row["id"],
            name=row["name"],
            project=row["project"],
            config=json.loads(row["config"]),
            state=row["state"],
            created_at=row["created_at"],
            seed=row["seed"],
        )

    def sweep(self, sweep_id: str) -> SweepRecord:
        """The sweep ``sweep_id``; raises :class:`UnknownSweepError` if there is none."""
        row = self._conn().execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
        if row is None:
            raise UnknownSweepError(f"no sweep {sweep_id!r} in {self.path}")
        return self._sweep_from_row(row)

    def sweeps(self) -> list[SweepRecord]:
        """All sweeps, oldest first."""
        rows = self._conn().execute("SELECT * FROM sweeps ORDER BY created_at, rowid")
        return [self._sweep_from_row(row) for row in rows]

    def set_sweep_state(self, sweep_id: str, state: str) -> None:
        """Mark a sweep ``running`` or ``finished``."""
        with self._write() as conn:
            conn.execute("UPDATE sweeps SET state=? WHERE id=?", (state, sweep_id))

    # -- agents ------------------------------------------------------------------------------

    def register_agent(self, sweep_id: str) -> str:
        """Record an agent of this process working on ``sweep_id``; returns its id."""
        self.sweep(sweep_id)
        agent_id = new_id(12)
        with self._write() as conn:
            conn.execute(
                "INSERT INTO agents (id, sweep_id, host, pid, started_at, heartbeat_at)"
                " VALUES (?,?,?,?,?,?)",
                (agent_id, sweep_id, socket.gethostname(), os.getpid(), now_iso(), time.time()),
            )
        return agent_id

    def end_agent(self, agent_id: str) -> None:
        """Record that an agent has stopped."""
        with self._write() as conn:
            conn.execute("UPDATE agents SET ended_at=? WHERE id=?", (now_iso(), agent_id))

    def heartbeat(self, agent_id: str, run_id: str | None = None) -> bool:
        """Refresh the heartbeat of an agent and of its run; False if the run is no longer its."""
        now = time.time()
        with self._write() as conn:
            conn.execute("UPDATE agents SET heartbeat_at=? WHERE id=?", (now, agent_id))
            if run_id is None:
                return True
            cursor = conn.execute(
                "UPDATE runs SET heartbeat_at=? WHERE id=? AND agent_id=? AND state='running'",
                (now, run_id, agent_id),
            )
            return cursor.rowcount == 1

    # -- runs --------------------------------------------------------------------------------

    def _reap_stale(self, conn: sqlite3.Connection, sweep_id: str, stale_after: float) -> list[str]:
        host = socket.gethostname()
        now = time.time()
        reaped = []
        rows = conn.execute(
            "SELECT r.id, r.heartbeat_at, a.host, a.pid, a.ended_at FROM runs r"
            " LEFT JOIN agents a ON a.id = r.agent_id"
            " WHERE r.sweep_id=? AND r.state='running'",
            (sweep_id,),
        ).fetchall()
        for row in rows:
            if row["ended_at"] is not None:
                why = "its agent ended without finishing it"
            elif row["host"] == host and row["pid"] is not None and not _pid_alive(row["pid"]):
                why = f"its agent (process {row['pid']}) is gone"
            elif row["heartbeat_at"] is None or now - row["heartbeat_at"] > stale_after:
                why = f"no heartbeat from its agent for more than {stale_after:g} s"
            else:
                continue
            conn.execute(
                "UPDATE runs SET state='crashed', error=?, ended_at=? WHERE id=?",
                (f"crashed: {why}", now_iso(), row["id"]),
            )
            reaped.append(row["id"])
        return reaped

    def reap_stale(self, sweep_id: str, stale_after: float = 60.0) -> list[str]:
        """Mark crashed the running runs whose agent is gone or silent; returns their ids."""
        with self._write() as conn:
            return self._reap_stale(conn, sweep_id, stale_after)

    def _load_runs(self, conn: sqlite3.Connection, sweep_id: str) -> list[RunRecord]:
        values: dict[str, list[float]] = {}
        for row in conn.execute(
            "SELECT h.run_id, h.metric FROM history h JOIN runs r ON r.id = h.run_id"
            " WHERE r.sweep_id=? AND h.metric IS NOT NULL ORDER BY h.run_id, h.step",
            (sweep_id,),
        ):
            values.setdefault(row["run_id"], []).append(row["metric"])
        rows = conn.execute(
            "SELECT r.*, EXISTS (SELECT 1 FROM runs s WHERE s.retry_of = r.id) AS retried"
            " FROM runs r WHERE r.sweep_id=? ORDER BY r.seq",
            (sweep_id,),
        ).fetchall()
        return [self._run_from_row(row, values.get(row["id"], [])) for row in rows]

    @staticmethod
    def _run_from_row(row: sqlite3.Row, metric_values: list[float]) -> RunRecord:
        stop = None
        if row["stop_band"] is not None:
            stop = {
                "band": row["stop_band"],
                "threshold": row["stop_threshold"],
                "value": row["stop_value"],
                "epoch": row["stop_epoch"],
            }
        return RunRecord(
            id=row["id"],
            seq=row["seq"],
            sweep_id=row["sweep_id"],
            name=row["name"],
            state=row["state"],
            params=json.loads(row["params"]),
            agent_id=row["agent_id"],
            retry_of=row["retry_of"],
            retried=bool(row["retried"]),
            error=row["error"],
            stop=stop,
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            metric_values=list(metric_values),
        )

    def runs(self, sweep_id: str) -> list[RunRecord]:
        """The runs of a sweep in creation order, with their finite metric values."""
        self.sweep(sweep_id)
        with self._read() as conn:
            return self._load_runs(conn, sweep_id)

    def run(self, run_id: str) -> RunRecord:
        """One run by id (KeyError if unknown)."""
        conn = self._conn()
        row = conn.execute(
            "SELECT r.*, EXISTS (SELECT 1 FROM runs s WHERE s.retry_of = r.id) AS retried"
            " FROM runs r WHERE r.id=?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise KeyError(f"no run {run_id!r} in {self.path}")
        values = [
            r[0]
            for r in conn.execute(
                "SELECT metric FROM history WHERE run_id=? AND metric IS NOT NULL ORDER BY step",
                (run_id,),
            )
        ]
        return self._run_from_row(row, values)

    def claim_run(
        self,
        sweep_id: str,
        agent_id: str,
        propose: Callable[[SweepRecord, list[RunRecord]], NewRun | None],
        *,
        stale_after: float = 60.0,
    ) -> RunRecord | None:
        """Atomically pick and start the next run of a sweep for ``agent_id``.

        In one write transaction: running runs whose agent is gone are marked crashed, then
        ``propose(sweep, runs)`` sees every run so far and returns the next parameters (or
        None when the sweep has no more runs to give); the new run is recorded as running,
        owned by ``agent_id``. No two agents can be proposed the same point.
        """
        with self._write() as conn:
            row = conn.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
            if row is None:
                raise UnknownSweepError(f"no sweep {sweep_id!r} in {self.path}")
            sweep = self._sweep_from_row(row)
            self._reap_stale(conn, sweep_id, stale_after)
            runs = self._load_runs(conn, sweep_id)
            new = propose(sweep, runs)
            if new is None:
                return None
            while True:
                run_id = new_id()
                if not conn.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone():
                    break
            name = f"{sweep_id}-{len(runs) + 1}"
            now = now_iso()
            conn.execute(
                "INSERT INTO runs (id, sweep_id, name, state, params, agent_id, retry_of,"
                " search_info, created_at, started_at, heartbeat_at)"
                " VALUES (?,?,?,'running',?,?,?,?,?,?,?)",
                (
                    run_id,
                    sweep_id,
                    name,
                    _dumps(plain(new.params)),
                    agent_id,
                    new.retry_of,
                    None if new.search_info is None else _dumps(plain(new.search_info)),
                    now,
                    now,
                    time.time(),
                ),
            )
            return self._run_from_row(
                conn.execute(
                    "SELECT r.*, 0 AS retried FROM runs r WHERE r.id=?", (run_id,)
                ).fetchone(),
                [],
            )

    def append_rows(
        self,
        run_id: str,
        rows: Sequence[Mapping[str, Any]],
        metric: str | None,
        *,
        agent_id: str | None = None,
    ) -> bool:
        """Append logged rows to a running run; False (nothing written) if it is not running.

        ``metric`` names the sweep metric: its finite value in each row is indexed for
        hyperband and the leaderboard.
        """
        if not rows:
            return True
        with self._write() as conn:
            query = "SELECT state FROM runs WHERE id=?"
            args: tuple = (run_id,)
            if agent_id is not None:
                query += " AND agent_id=?"
                args += (agent_id,)
            found = conn.execute(query, args).fetchone()
            if found is None or found["state"] != "running":
                return False
            step = conn.execute(
                "SELECT COALESCE(MAX(step) + 1, 0) FROM history WHERE run_id=?", (run_id,)
            ).fetchone()[0]
            for offset, row in enumerate(rows):
                row = plain(dict(row))
                conn.execute(
                    "INSERT INTO history (run_id, step, row, metric) VALUES (?,?,?,?)",
                    (
                        run_id,
                        step + offset,
                        _dumps(row),
                        None if metric is None else metric_value(row, metric),
                    ),
                )
            conn.execute("UPDATE runs SET heartbeat_at=? WHERE id=?", (time.time(), run_id))
        return True

    def record_stop(
        self,
        run_id: str,
        *,
        band: int,
        threshold: float,
        value: float,
        epoch: int,
        bands: Sequence[tuple[int, float | None]] = (),
    ) -> None:
        """Record that hyperband stops ``run_id`` (first decision wins) and the band table."""
        with self._write() as conn:
            conn.execute(
                "UPDATE runs SET stop_band=?, stop_threshold=?, stop_value=?, stop_epoch=?"
                " WHERE id=? AND stop_band IS NULL",
                (int(band), float(threshold), float(value), int(epoch), run_id),
            )
            if bands:
                sweep_id = conn.execute("SELECT sweep_id FROM runs WHERE id=?", (run_id,))
                self._set_bands(conn, sweep_id.fetchone()[0], bands)

    def set_bands(self, sweep_id: str, bands: Sequence[tuple[int, float | None]]) -> None:
        """Replace the sweep's latest hyperband thresholds (None: no run reached the band)."""
        with self._write() as conn:
            self._set_bands(conn, sweep_id, bands)

    @staticmethod
    def _set_bands(
        conn: sqlite3.Connection, sweep_id: str, bands: Sequence[tuple[int, float | None]]
    ) -> None:
        conn.execute("DELETE FROM bands WHERE sweep_id=?", (sweep_id,))
        conn.executemany(
            "INSERT INTO bands (sweep_id, band, threshold) VALUES (?,?,?)",
            [(sweep_id, int(b), None if t is None else float(t)) for b, t in bands],
        )

    def bands(self, sweep_id: str) -> list[dict]:
        """The latest hyperband thresholds of a sweep, by band."""
        rows = self._conn().execute(
            "SELECT band, threshold FROM bands WHERE sweep_id=? ORDER BY band", (sweep_id,)
        )
        return [{"band": r["band"], "threshold": r["threshold"]} for r in rows]

    def finish_run(
        self, run_id: str, agent_id: str, outcome: str, error: str | None = None
    ) -> str | None:
        """End a run of ``agent_id``: outcome ``finished``, ``failed`` or ``crashed``.

        A finished run that hyperband stopped becomes ``stopped``. A run marked crashed in
        the meantime (its heartbeat looked stale) is corrected by its owner. Returns the
        state written, or None if the run is not this agent's.
        """
        if outcome not in ("finished", "failed", "crashed"):
            raise ValueError(f"outcome must be finished, failed or crashed, not {outcome!r}")
        with self._write() as conn:
            row = conn.execute(
                "SELECT state, stop_band FROM runs WHERE id=? AND agent_id=?", (run_id, agent_id)
            ).fetchone()
            if row is None or row["state"] not in ("running", "crashed"):
                return None
            state = outcome
            if outcome == "finished" and row["stop_band"] is not None:
                state = "stopped"
            conn.execute(
                "UPDATE runs SET state=?, error=?, ended_at=? WHERE id=?",
                (state, error, now_iso(), run_id),
            )
            return state

    def history(self, run_id: str) -> list[dict]:
        """The rows a run logged, in order."""
        rows = self._conn().execute(
            "SELECT row FROM history WHERE run_id=? ORDER BY step", (run_id,)
        )
        return [json.loads(r[0]) for r in rows]

    # -- views -------------------------------------------------------------------------------

    def snapshot(self, sweep_id: str) -> dict:
        """The whole sweep as plain JSON-able data (the shape the report reads).

        Returns ``{"sweep": {...}, "runs": [...], "bands": [...]}``: runs in creation order,
        each with its params, logged rows, best finite metric, epochs (rows holding a finite
        metric) and hyperband stop info.
        """
        with self._read() as conn:
            row = conn.execute("SELECT * FROM sweeps WHERE id=?", (sweep_id,)).fetchone()
            if row is None:
                raise UnknownSweepError(f"no sweep {sweep_id!r} in {self.path}")
            sweep = self._sweep_from_row(row)
            runs = self._load_runs(conn, sweep_id)
            histories: dict[str, list[dict]] = {}
            for h in conn.execute(
                "SELECT h.run_id, h.row FROM history h JOIN runs r ON r.id = h.run_id"
                " WHERE r.sweep_id=? ORDER BY h.run_id, h.step",
                (sweep_id,),
            ):
                histories.setdefault(h["run_id"], []).append(json.loads(h["row"]))
            bands = [
                {"band": b["band"], "threshold": b["threshold"]}
                for b in conn.execute(
                    "SELECT band, threshold FROM bands WHERE sweep_id=? ORDER BY band",
                    (sweep_id,),
                )
            ]
        metric = sweep.metric
        early = sweep.config.get("early_terminate")
        return {
            "sweep": {
                "id": sweep.id,
                "name": sweep.name,
                "project": sweep.project,
                "config": sweep.config,
                "method": sweep.method,
                "metric": metric,
                "early_terminate": dict(early) if isinstance(early, Mapping) else None,
                "state": sweep.state,
                "created_at": sweep.created_at,
                "seed": sweep.seed,
            },
            "runs": [
                {
                    "id": run.id,
                    "name": run.name,
                    "state": run.state,
                    "params": run.params,
                    "history": histories.get(run.id, []),
                    "metric": best_metric(run, metric),
                    "epochs": len(run.metric_values),
                    "stop": run.stop,
                    "error": run.error,
                    "created_at": run.created_at,
                    "started_at": run.started_at,
                    "ended_at": run.ended_at,
                }
                for run in runs
            ],
            "bands": bands,
        }


def best_metric(run: RunRecord, metric: Mapping[str, str] | None) -> float | None:
    """The best finite value of the sweep metric a run logged (None if none or no metric)."""
    if metric is None or not run.metric_values:
        return None
    pick = max if metric.get("goal") == "maximize" else min
    return pick(run.metric_values)
