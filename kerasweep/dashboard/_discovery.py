"""Finding a dashboard that serves a given store, so that agents can say where it is.

A running dashboard leaves a small JSON note (its URL, process, host and a digest of the store's
path; mode 0600) in ``$XDG_RUNTIME_DIR/kerasweep/`` or ``~/.cache/kerasweep/dashboards/``, and
removes it when it stops. :func:`find_dashboard` trusts a note only if its process is alive on
this host and its URL answers ``/healthz`` with the same store.

Example:
    >>> dashboard_hint("k3x9q2ab", None)  # doctest: +SKIP
    'Watch it live: kerasweep serve k3x9q2ab  (then open http://127.0.0.1:8787)'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import urllib.request
from pathlib import Path
from urllib.parse import quote

from kerasweep.local._store import DB_ENV_VAR, redact, resolve_db_path
from kerasweep.local._store.runs import pid_alive

__all__ = ["dashboard_hint", "find_dashboard", "register", "store_key"]

_PROBE_TIMEOUT = 0.5


def store_key(location: str | os.PathLike[str]) -> str:
    """A digest naming a store (its resolved path, or its URL without the password), safe to
    show: no path, no secret."""
    text = str(location)
    text = redact(text) if "://" in text else str(Path(text).expanduser().resolve())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _notes_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "kerasweep"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "kerasweep" / "dashboards"


def register(location: str | os.PathLike[str], url: str, port: int) -> Path | None:
    """Leave the note for a dashboard now serving the store at ``location`` on ``url``;
    returns its path (None if no note could be written: agents then print the hint)."""
    key = store_key(location)
    note = _notes_dir() / f"{key}-{port}.json"
    record = {"url": url, "pid": os.getpid(), "host": socket.gethostname(), "store": key}
    try:
        note.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(note, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
    except OSError:
        return None
    return note


def _answers(url: str, key: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url.rstrip("/") + "/healthz", timeout=_PROBE_TIMEOUT) as response:
            return json.loads(response.read(4096)).get("store") == key
    except (OSError, ValueError):
        return False


def find_dashboard(db: str | os.PathLike[str] | None = None) -> str | None:
    """The URL of a live dashboard serving this store on this host, or None."""
    given = str(db) if db else os.environ.get(DB_ENV_VAR, "")
    key = store_key(given if "://" in given else resolve_db_path(db))
    folder = _notes_dir()
    if not folder.is_dir():
        return None
    for note in sorted(folder.glob(f"{key}-*.json")):
        try:
            record = json.loads(note.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.get("host") != socket.gethostname():
            continue
        pid, url = record.get("pid"), record.get("url")
        if not isinstance(pid, int) or not isinstance(url, str):
            continue
        if not pid_alive(pid):
            with contextlib.suppress(OSError):
                note.unlink()  # its dashboard is gone
            continue
        if _answers(url, key):
            return url
    return None


def dashboard_hint(
    sweep_id: str, db: str | os.PathLike[str] | None = None, command: str = "kerasweep"
) -> str:
    """One line for an agent's terminal: where the dashboard of this sweep is, or how to start
    one.

    The store is ``db``, else ``$KERASWEEP_DB`` (named in the line: the agents ``--gpus``
    starts get it that way, not the shell the line is read in), a URL's password masked.
    ``command`` starts kerasweep in the shell that reads the line (``.venv/bin/kerasweep``).
    """
    url = find_dashboard(db)
    if url is not None:
        return f"Dashboard: {url.rstrip('/')}/sweeps/{quote(str(sweep_id), safe='')}"
    shown = db or os.environ.get(DB_ENV_VAR)
    where = f" --db {redact(str(shown))}" if shown else ""
    return f"Watch it live: {command} serve {sweep_id}{where}  (then open http://127.0.0.1:8787)"
