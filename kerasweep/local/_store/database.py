"""Connections and transactions to a store, the same for SQLite and PostgreSQL.

Every store operation is one function of a connection run by :meth:`Database.transact`:

- SQLite: a write transaction is ``BEGIN IMMEDIATE`` (a writer waits for the others up to
  the busy timeout), the file is in WAL mode (readers never block writers) and is created
  with mode 0600 (it holds configs and metrics, nothing to share with other users).
  A store whose file or folder is not writable (a copied results folder, a read-only mount)
  is opened read-only: reads work (WAL mode would need a writable ``-shm`` file, so it is
  read with ``mode=ro``, else as ``immutable``), a write raises
  :class:`StoreReadOnlyError` naming the folder. A full file system raises
  :class:`StoreFullError`.
- PostgreSQL (psycopg 3): transactions are READ COMMITTED; operations that must see a
  stable sweep lock its row first (``SELECT ... FOR UPDATE``). A lost connection is
  replaced (``pool_pre_ping``) and the operation retried for up to ``reconnect_timeout``
  seconds; then it fails with one line naming the server.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import event

from kerasweep.local._store.errors import (
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from kerasweep.local._store.location import POSTGRES_EXTRA, StoreLocation, redact
from kerasweep.local._store.schema import SCHEMA_VERSION, ensure_schema, read_version

__all__ = ["Database"]

logger = logging.getLogger("kerasweep.local")

T = TypeVar("T")
_CONNECT_TIMEOUT = 10  # seconds for one connection attempt to a server
_SCHEMA_LOCK = 0x6B657261  # advisory lock taken while a PostgreSQL schema is made/migrated


class Database:
    """An open store: its engine and the transactions its operations run in.

    Args:
        location: Where the store is.
        create: Make the file or tables if missing. With False, a missing store raises
            :class:`StoreError` and nothing is written, and an SQLite file that cannot be
            written is opened read-only (:attr:`read_only`).
        busy_timeout: SQLite: seconds a writer waits for another writer.
        reconnect_timeout: PostgreSQL: seconds an operation keeps retrying while the
            server is away.
    """

    def __init__(
        self,
        location: StoreLocation,
        *,
        create: bool = True,
        busy_timeout: float = 60.0,
        reconnect_timeout: float = 60.0,
    ) -> None:
        self.location = location
        self.busy_timeout = float(busy_timeout)
        self.reconnect_timeout = float(reconnect_timeout)
        self._away_since: float | None = None  # PostgreSQL: the server stayed away since
        self.read_only = False  # SQLite: the file or its folder cannot be written
        if location.kind == "sqlite":
            self.engine = self._sqlite_engine(create)
        else:
            self.engine = self._postgres_engine()
        try:
            self._open_schema(create)
        except BaseException:
            self.engine.dispose()
            raise

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- engines ----------------------------------------------------------------------------

    def _sqlite_engine(self, create: bool) -> sa.Engine:
        path = self.location.path
        if not path.exists():
            if not create:
                raise StoreError(f"no kerasweep store at {path}")
            _create_private_file(path)
        elif path.is_dir():
            raise StoreError(f"{path} is a directory, not a kerasweep store")
        elif not _writable(path):
            if create:
                raise _read_only_error(path)
            self.read_only = True
        if not create:
            _require_sqlite_store(path)
        if self.read_only:
            return self._read_only_engine()
        engine = sa.create_engine(
            sa.URL.create("sqlite", database=str(path)),
            connect_args={"timeout": self.busy_timeout, "check_same_thread": False},
        )
        busy_ms = int(self.busy_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, record) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, not by sqlite3
            for pragma in (
                f"busy_timeout = {busy_ms}",
                "journal_mode = WAL",
                "synchronous = NORMAL",
                "foreign_keys = ON",
            ):
                dbapi_conn.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            write = conn.get_execution_options().get("kerasweep_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def _read_only_engine(self) -> sa.Engine:
        """An engine that only reads the SQLite file, writing nothing beside it."""
        path = self.location.path
        uri = _read_only_uri(path)
        timeout = self.busy_timeout
        engine = sa.create_engine(
            sa.URL.create("sqlite", database=str(path)),  # a file: a pool of connections
            creator=lambda: sqlite3.connect(
                uri, uri=True, timeout=timeout, check_same_thread=False
            ),
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, record) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine

    def _postgres_engine(self) -> sa.Engine:
        try:
            import psycopg  # noqa: F401  (the driver SQLAlchemy's dialect loads)
        except ImportError:
            raise StoreError(f"a PostgreSQL store needs psycopg: {POSTGRES_EXTRA}") from None
        return sa.create_engine(
            self.location.url,
            pool_pre_ping=True,
            pool_size=2,
            max_overflow=4,
            connect_args={"connect_timeout": _CONNECT_TIMEOUT},
            hide_parameters=True,
        )

    def _read_version(self, create: bool) -> int:
        try:
            return self.transact(read_version, write=False, retry=False)
        except sa.exc.DatabaseError as err:
            sqlite = self.location.kind == "sqlite"
            if not sqlite or create or self.read_only or not _cannot_write(err):
                raise StoreError(f"cannot open store {self.location}: {_reason(err)}") from None
        # writable as far as permissions tell, yet SQLite cannot write beside the file
        self.engine.dispose()
        self.read_only = True
        self.engine = self._read_only_engine()
        return self._read_version(create)

    def _open_schema(self, create: bool) -> None:
        version = self._read_version(create)
        if version == SCHEMA_VERSION:
            return
        if version == 0 and not create:
            raise StoreError(f"no kerasweep store at {self.location}")
        if self.read_only:
            raise _read_only_error(
                self.location.path, f"to migrate it from schema {version} to {SCHEMA_VERSION}"
            )

        def migrate(conn: sa.Connection) -> None:
            if self.dialect == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
            ensure_schema(conn, str(self.location))

        if version:
            logger.info("kerasweep: migrating %s from schema %d", self.location, version)
        self.transact(migrate, retry=False)

    # -- transactions -----------------------------------------------------------------------

    def transact(
        self,
        work: Callable[[sa.Connection], T],
        *,
        write: bool = True,
        retry: bool = True,
        flush: bool = True,
    ) -> T:
        """``work(conn)`` in one transaction, committed when it returns.

        On PostgreSQL, a lost connection, a serialization failure or a deadlock retries
        ``work`` (from the start, in a new transaction) until ``reconnect_timeout``; once an
        operation has failed so, later ones try once each until one succeeds. With
        ``flush=False`` (rows and heartbeats), PostgreSQL acknowledges the commit before its
        WAL reaches the disk, as SQLite's ``synchronous = NORMAL`` does: a restarted or
        stopped server keeps it; only a crash of the server itself can lose the last
        fraction of a second.

        Raises:
            StoreUnavailableError: The server stayed away, or refused the login.
            StoreReadOnlyError: A write to an SQLite store that cannot be written.
            StoreFullError: The file system holding an SQLite store is full.
        """
        if write and self.read_only:
            raise _read_only_error(self.location.path)
        # once the server stayed away for a whole window, each operation tries just once
        # until one gets through: an agent whose server is gone for good ends in bounded time
        window = 0.0 if self._away_since is not None else self.reconnect_timeout
        deadline = time.monotonic() + window
        delay = 0.1
        while True:
            try:
                with self.engine.connect() as conn:
                    if write:
                        conn.execution_options(kerasweep_write=True)
                    with conn.begin():
                        if not flush and self.dialect == "postgresql":
                            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                        result = work(conn)
                self._away_since = None
                return result
            except sa.exc.DBAPIError as err:
                if self.dialect == "sqlite":
                    if "database is locked" in str(err.orig):
                        raise StoreError(f"store {self.location}: {_reason(err)}") from None
                    if _full(err):
                        raise _full_error(self.location.path, err) from None
                    if write and _cannot_write(err):
                        raise _read_only_error(self.location.path) from None
                    raise
                unavailable = _unavailable(err, self.location)
                if unavailable is None:
                    raise
                left = deadline - time.monotonic()
                if not retry or _refused_login(err) or left <= 0:
                    if retry and not _refused_login(err) and self._away_since is None:
                        self._away_since = time.monotonic() - window
                    raise unavailable from None
                logger.debug("store %s: %s; retrying", self.location, _reason(err))
                time.sleep(min(delay, left))
                delay = min(2 * delay, 2.0)

    @property
    def away_for(self) -> float | None:
        """Seconds the server has been unreachable after a whole reconnect window, or None."""
        if self._away_since is None:
            return None
        return time.monotonic() - self._away_since

    def close(self) -> None:
        """Close every pooled connection of this store."""
        self.engine.dispose()


def _reason(err: BaseException) -> str:
    """The first line of a database error, as the driver says it, without passwords."""
    cause = getattr(err, "orig", None) or err
    text = str(cause).strip()
    return redact(text.splitlines()[0] if text else type(cause).__name__)


def _writable(path: Path) -> bool:
    """Whether SQLite can write the file and, beside it, its ``-wal`` and ``-shm`` files."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _cannot_write(err: sa.exc.DBAPIError) -> bool:
    """An SQLite error that says the file or its folder cannot be written."""
    text = str(getattr(err, "orig", err))
    return "unable to open database file" in text or "readonly database" in text


def _read_only_error(path: Path, purpose: str = "to write to it") -> StoreReadOnlyError:
    return StoreReadOnlyError(
        f"store {path} is read-only here: {purpose}, kerasweep needs its folder "
        f"{path.resolve().parent} (and the file) writable"
    )


def _full(err: sa.exc.DBAPIError) -> bool:
    orig = getattr(err, "orig", None)
    return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or (
        "database or disk is full" in str(orig)
    )


def _full_error(path: Path, err: sa.exc.DBAPIError) -> StoreFullError:
    folder = path.resolve().parent
    mount = folder
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    try:
        left = f", {shutil.disk_usage(folder).free // 1024} KiB free"
    except OSError:
        left = ""
    return StoreFullError(
        f"store {path}: the file system at {mount} is full ({_reason(err)}{left}); "
        "what was written is kept: free space there, or use a store elsewhere (--db)"
    )


def _read_only_uri(path: Path) -> str:
    """The URI that reads ``path`` without writing: ``mode=ro`` where SQLite can (the
    ``-shm`` file exists or is not needed), else ``immutable=1`` (its ``-wal`` file unread)."""
    base = path.resolve().as_uri()
    try:
        probe = sqlite3.connect(f"{base}?mode=ro", uri=True)
        try:
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return f"{base}?mode=ro"
        finally:
            probe.close()
    except sqlite3.DatabaseError:
        pass
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        logger.warning(
            "kerasweep: %s is read as of its last checkpoint: %s cannot be read in a "
            "read-only folder",
            path,
            wal.name,
        )
    return f"{base}?immutable=1"


def _refused_login(err: sa.exc.DBAPIError) -> bool:
    text = str(err.orig)
    return "password authentication failed" in text or "no password supplied" in text


def _unavailable(err: sa.exc.DBAPIError, location: StoreLocation) -> StoreError | None:
    """The one-line error for a PostgreSQL failure worth retrying, or None for others."""
    if not isinstance(err, sa.exc.OperationalError) and not err.connection_invalidated:
        return None
    url = location.url
    if _refused_login(err):
        return StoreUnavailableError(
            f"the PostgreSQL server at {location.server} refused the login of user "
            f"{url.username!r} to database {url.database!r} (wrong user or password?)"
        )
    text = str(err.orig)
    if f'database "{url.database}" does not exist' in text:
        return StoreUnavailableError(
            f"the PostgreSQL server at {location.server} has no database {url.database!r}: "
            f"create it (createdb {url.database}) or name another in the URL"
        )
    code = getattr(err.orig, "sqlstate", None) or ""
    if code.startswith("40"):  # serialization failure, deadlock: retry quietly
        return StoreUnavailableError(f"store {location}: {_reason(err)}")
    # psycopg: 'connection failed: connection to server at "h", port p failed: <why>'
    why = _reason(err).rsplit(" failed: ", 1)[-1]
    return StoreUnavailableError(f"cannot reach the PostgreSQL server at {location.server}: {why}")


def _create_private_file(path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as err:
        if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StoreReadOnlyError(
                f"cannot create store {path}: its folder {path.resolve().parent} is read-only "
                f"here ({err.strerror}); kerasweep needs it writable"
            ) from None
        raise StoreError(f"cannot create store {path}: {err.strerror}") from None
    os.close(fd)
    os.chmod(path, 0o600)


def _require_sqlite_store(path) -> None:
    """Refuse, without writing a byte, a file that is not already a kerasweep store."""
    if path.stat().st_size == 0:
        raise StoreError(f"{path} is an empty file, not a kerasweep store")
    try:
        probe = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            version = probe.execute("PRAGMA user_version").fetchone()[0]
        finally:
            probe.close()
    except sqlite3.DatabaseError as err:
        raise StoreError(f"cannot open store {path}: {err}") from None
    if version == 0:
        raise StoreError(f"{path} is not a kerasweep store")
