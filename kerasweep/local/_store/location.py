"""Where a store lives: an SQLite file path (the default) or a PostgreSQL URL.

``--db``, ``$KERASWEEP_DB`` and the ``db=`` arguments take either: a path keeps the embedded
SQLite file, ``postgresql://user:password@host:port/dbname`` selects a PostgreSQL server
(driven by psycopg 3, the ``kerasweep[postgres]`` extra). A URL is never shown with its
password: :func:`redact` replaces it wherever a store location is printed.

Example:
    >>> str(resolve_db("postgresql://ana:s3cret@db.lab:5432/sweeps"))
    'postgresql://ana:***@db.lab:5432/sweeps'
    >>> resolve_db("runs/kerasweep.db").kind
    'sqlite'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from kerasweep.local._store.errors import StoreLocationError

__all__ = [
    "DB_ENV_VAR",
    "DEFAULT_DB",
    "POSTGRES_EXTRA",
    "StoreLocation",
    "is_url",
    "redact",
    "resolve_db",
    "resolve_db_path",
]

DEFAULT_DB = "kerasweep.db"
DB_ENV_VAR = "KERASWEEP_DB"
POSTGRES_EXTRA = "pip install 'kerasweep[postgres]'"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
# scheme://user:password@  (the password ends at the last "@" before the host)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    >>> redact("cannot reach postgresql://u:p@w@h/db")
    'cannot reach postgresql://u:***@h/db'
    """
    return _URL_PASSWORD.sub(r"\1***@", text)


def is_url(db: str | os.PathLike) -> bool:
    """True when ``db`` is written as a URL (``scheme://...``) rather than a path."""
    return "://" in str(db)


@dataclass(frozen=True)
class StoreLocation:
    """A resolved store: ``path`` for SQLite, ``url`` (psycopg dialect) for PostgreSQL.

    ``str()`` is the location as shown to people: the path, or the URL without password.
    """

    path: Path | None = None
    url: sa.URL | None = None

    @property
    def kind(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite" if self.url is None else "postgresql"

    @property
    def server(self) -> str:
        """``host:port`` of a PostgreSQL server (empty for SQLite)."""
        if self.url is None:
            return ""
        return f"{self.url.host or 'localhost'}:{self.url.port or 5432}"

    def __str__(self) -> str:
        if self.url is None:
            return str(self.path)
        shown = self.url.set(drivername="postgresql")
        return shown.render_as_string(hide_password=True)

    def reopen(self) -> str:
        """The location for another process, from any working directory (with password)."""
        if self.url is None:
            return str(Path(self.path).resolve())
        return self.url.render_as_string(hide_password=False)


def resolve_db(db: str | os.PathLike | StoreLocation | None = None) -> StoreLocation:
    """The store ``db`` names: a path or URL if given, else ``$KERASWEEP_DB``, else
    ``./kerasweep.db``.

    Raises:
        StoreLocationError: A URL with another scheme than ``postgresql://``, or one that
            cannot be parsed (the message never holds its password).
    """
    if isinstance(db, StoreLocation):
        return db
    if db is None or str(db) == "":
        db = os.environ.get(DB_ENV_VAR) or DEFAULT_DB
    if not is_url(db):
        return StoreLocation(path=Path(db).expanduser())
    text = str(db)
    try:
        url = sa.make_url(text)
    except Exception:
        raise StoreLocationError(f"store URL {redact(text)!r} cannot be parsed") from None
    if url.drivername not in _POSTGRES_SCHEMES:
        raise StoreLocationError(
            f"store URL {redact(text)!r}: expected a path or postgresql://user:password@host"
            f":port/dbname"
        )
    if not url.database:
        raise StoreLocationError(f"store URL {redact(text)!r} names no database")
    return StoreLocation(url=url.set(drivername="postgresql+psycopg"))


def resolve_db_path(db: str | os.PathLike | None = None) -> Path:
    """The SQLite store path: ``db`` if given, else ``$KERASWEEP_DB``, else
    ``./kerasweep.db`` (a PostgreSQL URL raises :class:`StoreLocationError`)."""
    location = resolve_db(db)
    if location.path is None:
        raise StoreLocationError(f"{location} is a PostgreSQL store, not a file")
    return location.path
