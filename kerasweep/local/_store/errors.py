"""The errors a store raises: each says in one line what is wrong, never with a password."""

from __future__ import annotations

from kerasweep._errors import KerasweepError

__all__ = [
    "StoreError",
    "StoreFullError",
    "StoreLocationError",
    "StoreLostError",
    "StoreReadOnlyError",
    "StoreUnavailableError",
    "StoreVersionError",
    "UnknownSweepError",
]


class StoreError(KerasweepError, RuntimeError):
    """The store cannot be opened or is not a kerasweep store."""


class StoreLocationError(StoreError, ValueError):
    """A ``--db`` value that is neither a path nor a PostgreSQL URL."""


class StoreVersionError(StoreError):
    """The store's schema is newer than this kerasweep reads."""


class StoreReadOnlyError(StoreError):
    """A write to a store whose file or folder is read-only (reading it works).

    SQLite writes beside the file (its ``-wal`` and ``-shm`` files): the folder must be
    writable too.
    """


class StoreFullError(StoreError):
    """The file system holding an SQLite store is full: nothing more can be written.

    What was written before stays; the run in progress stops and is marked preempted (the
    next agent resumes it), with the reason.
    """


class StoreUnavailableError(StoreError):
    """The database server cannot be reached, refused the login, or stayed away too long."""


class StoreLostError(StoreUnavailableError):
    """The server went away while an agent worked and stayed away: the agent ends.

    Everything written before stays in the store; the agent's run is marked preempted once
    the server is back (its process is gone, or its heartbeat goes stale).
    """


class UnknownSweepError(StoreError, KeyError):
    """No sweep with this id in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
